"""Pods as plain data, and the few pod operations faults need."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from chaos.errors import InjectionFailed
from chaos.k8s.client import Kube
from chaos.model.experiment import Selector


@dataclass(frozen=True)
class PodView:
    name: str
    uid: str
    node: str
    phase: str
    ready: bool
    ip: str
    containers: tuple[str, ...]
    container_ids: dict[str, str] = field(default_factory=dict)  # name -> runtime id (no scheme)
    restart_counts: dict[str, int] = field(default_factory=dict)
    deleting: bool = False


def view(pod: Any) -> PodView:
    statuses = pod.status.container_statuses or []
    ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
    return PodView(
        name=pod.metadata.name,
        uid=pod.metadata.uid,
        node=pod.spec.node_name or "",
        phase=pod.status.phase or "",
        ready=ready and pod.status.phase == "Running",
        ip=pod.status.pod_ip or "",
        containers=tuple(c.name for c in pod.spec.containers),
        container_ids={s.name: (s.container_id or "").split("://")[-1] for s in statuses
                       if s.container_id and s.state and s.state.running},
        restart_counts={s.name: s.restart_count for s in statuses},
        deleting=pod.metadata.deletion_timestamp is not None,
    )


def list_pods(kube: Kube, namespace: str, selector: Selector) -> list[PodView]:
    try:
        items = kube.core.list_namespaced_pod(
            namespace, label_selector=selector.to_label_selector()).items
    except ApiException as exc:
        raise InjectionFailed(f"cannot list pods {selector.to_label_selector()} in "
                              f"{namespace}: {exc.reason}") from exc
    return [view(p) for p in items]


def running_pods(kube: Kube, namespace: str, selector: Selector) -> list[PodView]:
    pods = [p for p in list_pods(kube, namespace, selector) if p.phase == "Running"
            and not p.deleting]
    if not pods:
        raise InjectionFailed(
            f"selector {selector.to_label_selector()!r} matches no running pod in namespace "
            f"{namespace!r}"
        )
    return pods


def delete_pod(kube: Kube, namespace: str, name: str, grace_period_s: int | None) -> None:
    body = client.V1DeleteOptions(grace_period_seconds=grace_period_s)
    try:
        kube.core.delete_namespaced_pod(name, namespace, body=body,
                                        grace_period_seconds=grace_period_s)
    except ApiException as exc:
        if exc.status != 404:
            raise InjectionFailed(f"cannot delete pod {namespace}/{name}: {exc.reason}") from exc

