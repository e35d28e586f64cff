"""Nodes as plain data, and the node operations node faults need through the API (cordon,
evict, watch Ready); what is done on the node itself is chaos.node's."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from chaos.errors import ClusterError, InjectionFailed, RollbackFailed
from chaos.k8s.client import Kube
from chaos.plan.drain import PodInfo

CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    effect: str
    value: str = ""


@dataclass(frozen=True, slots=True)
class NodeView:
    name: str
    ready: bool
    unschedulable: bool
    internal_ip: str
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()

    @property
    def control_plane(self) -> bool:
        return CONTROL_PLANE_LABEL in self.labels


def node_view(node: Any) -> NodeView:
    conditions = (node.status.conditions if node.status else None) or []
    addresses = (node.status.addresses if node.status else None) or []
    return NodeView(
        name=node.metadata.name,
        ready=any(c.type == "Ready" and c.status == "True" for c in conditions),
        unschedulable=bool(node.spec.unschedulable) if node.spec else False,
        internal_ip=next((a.address for a in addresses if a.type == "InternalIP"), ""),
        labels=dict(node.metadata.labels or {}),
        taints=tuple(Taint(t.key, t.effect, t.value or "")
                     for t in ((node.spec.taints if node.spec else None) or [])),
    )


def _fail(what: str, exc: BaseException) -> ClusterError:
    reason = exc.reason if isinstance(exc, ApiException) else str(exc)
    return ClusterError(f"{what}: {reason}")


def list_nodes(kube: Kube, label_selector: str | None = None) -> list[NodeView]:
    try:
        items = kube.core.list_node(label_selector=label_selector or None).items
    except (ApiException, HTTPError) as exc:
        raise _fail("cannot list nodes", exc) from exc
    return [node_view(n) for n in items]


def get_node(kube: Kube, name: str) -> NodeView | None:
    try:
        return node_view(kube.core.read_node(name))
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise _fail(f"cannot read node {name}", exc) from exc
    except HTTPError as exc:
        raise _fail(f"cannot read node {name}", exc) from exc


def set_unschedulable(kube: Kube, name: str, unschedulable: bool) -> None:
    """Cordon (True) or uncordon (False); idempotent, 404 is an error for cordon only."""
    try:
        kube.core.patch_node(name, {"spec": {"unschedulable": unschedulable or None}})
    except ApiException as exc:
        if exc.status == 404 and not unschedulable:
            return  # a node that is gone carries no cordon
        err = InjectionFailed if unschedulable else RollbackFailed
        raise err(f"cannot {'cordon' if unschedulable else 'uncordon'} node {name}: "
                  f"{exc.reason}") from exc
    except HTTPError as exc:
        err = InjectionFailed if unschedulable else RollbackFailed
        raise err(f"cannot {'cordon' if unschedulable else 'uncordon'} node {name}: "
                  f"{exc}") from exc


def cordon(kube: Kube, name: str) -> None:
    set_unschedulable(kube, name, True)


def uncordon(kube: Kube, name: str) -> None:
    set_unschedulable(kube, name, False)


# --- pods on a node ---------------------------------------------------------------------------

def _pod_info(pod: Any) -> PodInfo:
    owners = pod.metadata.owner_references or []
    controller = next((o for o in owners if o.controller), None)
    annotations = pod.metadata.annotations or {}
    volumes = pod.spec.volumes or []
    return PodInfo(
        name=pod.metadata.name,
        namespace=pod.metadata.namespace,
        node=pod.spec.node_name,
        owner_kind=controller.kind if controller else None,
        is_mirror="kubernetes.io/config.mirror" in annotations,
        phase=pod.status.phase or "",
        has_local_storage=any(v.empty_dir is not None for v in volumes),
    )


def pods_on_node(kube: Kube, node: str) -> list[PodInfo]:
    """Every pod bound to ``node``, all namespaces, excluding pods already being deleted."""
    try:
        items: list[Any] = kube.core.list_pod_for_all_namespaces(
            field_selector=f"spec.nodeName={node}").items
    except (ApiException, HTTPError) as exc:
        raise _fail(f"cannot list pods on node {node}", exc) from exc
    return [_pod_info(p) for p in items if p.metadata.deletion_timestamp is None]


def pod_names_on_node(kube: Kube, node: str, namespace: str | None = None) -> set[str]:
    """`namespace/name` of pods still bound to the node (terminating ones included)."""
    listing: Any
    try:
        if namespace:
            listing = kube.core.list_namespaced_pod(
                namespace, field_selector=f"spec.nodeName={node}")
        else:
            listing = kube.core.list_pod_for_all_namespaces(
                field_selector=f"spec.nodeName={node}")
    except (ApiException, HTTPError) as exc:
        raise _fail(f"cannot list pods on node {node}", exc) from exc
    return {f"{p.metadata.namespace}/{p.metadata.name}" for p in listing.items}


# --- eviction ---------------------------------------------------------------------------------

EvictionStatus = Literal["evicted", "blocked", "not-found", "namespace-terminating"]


@dataclass(frozen=True, slots=True)
class EvictionResult:
    pod: str  # namespace/name
    status: EvictionStatus
    pdbs: tuple[str, ...] = ()  # PDBs selecting the pod when blocked
    message: str = ""


def _matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against a pod's labels."""
    if selector is None:
        return False
    for k, v in (selector.match_labels or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.match_expressions or []:
        present = expr.key in labels
        values = set(expr.values or [])
        op = expr.operator
        if op == "In" and (not present or labels[expr.key] not in values):
            return False
        if op == "NotIn" and present and labels[expr.key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    # an empty selector {} selects every pod in the namespace (policy/v1 semantics)
    return True


def pdbs_for_pod(kube: Kube, namespace: str, labels: Mapping[str, str]) -> tuple[str, ...]:
    try:
        items: list[Any] = kube.policy.list_namespaced_pod_disruption_budget(namespace).items
    except (ApiException, HTTPError):
        return ()
    return tuple(sorted(p.metadata.name for p in items if _matches(p.spec.selector, labels)))


def _api_message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        return str(exc.reason)
    return str(body.get("message") or exc.reason) if isinstance(body, dict) else str(exc.reason)


def evict(kube: Kube, namespace: str, name: str,
          grace_period_s: int | None = None) -> EvictionResult:
    """POST a policy/v1 Eviction: the API server checks the pod's PDBs for us.

    429 means a PDB refuses the disruption right now; the caller decides whether to retry.
    """
    key = f"{namespace}/{name}"
    body = client.V1Eviction(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace),
        delete_options=client.V1DeleteOptions(grace_period_seconds=grace_period_s)
        if grace_period_s is not None else None,
    )
    try:
        kube.core.create_namespaced_pod_eviction(name, namespace, body)
    except ApiException as exc:
        if exc.status == 404:
            return EvictionResult(key, "not-found")
        if exc.status == 429:
            labels: Mapping[str, str] = {}
            try:
                pod: Any = kube.core.read_namespaced_pod(name, namespace)
                labels = pod.metadata.labels or {}
            except ApiException as read_exc:
                if read_exc.status == 404:
                    return EvictionResult(key, "not-found")
            return EvictionResult(key, "blocked", pdbs_for_pod(kube, namespace, labels),
                                  _api_message(exc))
        message = _api_message(exc)
        if exc.status == 403 and "being terminated" in message:
            # the namespace controller is deleting the pod anyway (kubectl drain waits for it)
            return EvictionResult(key, "namespace-terminating", message=message)
        raise InjectionFailed(f"cannot evict pod {key}: {message}") from exc
    except HTTPError as exc:
        raise InjectionFailed(f"cannot evict pod {key}: {exc}") from exc
    return EvictionResult(key, "evicted")


# --- waits: short watches that wake on the next change, each bounded by the caller ------------

def _watch_once(list_fn: Any, timeout_s: float, *args: Any, **kwargs: Any) -> None:
    """Block until the first event of a watch or ``timeout_s``; errors just end the wait."""
    secs = max(1, int(timeout_s))
    try:
        w: Any = watch.Watch()
        for _ in w.stream(list_fn, *args, timeout_seconds=secs, _request_timeout=secs + 5,
                          **kwargs):
            w.stop()
            break
    except (ApiException, HTTPError, OSError):
        time.sleep(min(1.0, timeout_s))


def wait_pod_change(kube: Kube, nodes: tuple[str, ...], timeout_s: float) -> None:
    """Wake on the next change of a pod bound to ``nodes[0]`` (a watch on one field only)."""
    _watch_once(kube.core.list_pod_for_all_namespaces, timeout_s,
                field_selector=f"spec.nodeName={nodes[0]}" if len(nodes) == 1 else None,
                resource_version=_pods_rv(kube))


def _pods_rv(kube: Kube) -> str | None:
    try:
        listing: Any = kube.core.list_pod_for_all_namespaces(limit=1)
        return str(listing.metadata.resource_version)
    except (ApiException, HTTPError):
        return None


def wait_node_change(kube: Kube, timeout_s: float) -> None:
    """Wake on the next node update (status heartbeats included) or after ``timeout_s``."""
    rv: str | None
    try:
        listing: Any = kube.core.list_node(limit=1)
        rv = listing.metadata.resource_version
    except (ApiException, HTTPError):
        rv = None
    _watch_once(kube.core.list_node, timeout_s, resource_version=rv)


class _Clock(Protocol):
    def monotonic(self) -> float: ...


def wait_node_ready(kube: Kube, name: str, timeout_s: float, clock: _Clock | None = None) -> bool:
    """True once the node reports Ready, False when ``timeout_s`` ran out."""
    mono = clock.monotonic if clock is not None else time.monotonic
    end = mono() + timeout_s
    while True:
        try:
            view = get_node(kube, name)
        except ClusterError:
            view = None  # API server briefly away (e.g. the control plane was the target)
        if view is not None and view.ready:
            return True
        left = end - mono()
        if left <= 0:
            return False
        _watch_once(kube.core.list_node, min(5.0, left),
                    field_selector=f"metadata.name={name}")


NOT_READY_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def eviction_tolerations(kube: Kube, namespace: str,
                         label_selector: str) -> dict[str, int | None]:
    """tolerationSeconds of the not-ready / unreachable NoExecute tolerations (None: forever).

    Taken from the first matching pod (pods of one workload share a template); a taint with no
    toleration at all evicts immediately, reported as 0.
    """
    try:
        pods: list[Any] = kube.core.list_namespaced_pod(
            namespace, label_selector=label_selector).items
    except (ApiException, HTTPError) as exc:
        raise _fail(f"cannot list pods {label_selector} in {namespace}", exc) from exc
    if not pods:
        return {}
    found: dict[str, int | None] = {}
    for key in NOT_READY_TAINTS:
        found[key] = 0
        for tol in pods[0].spec.tolerations or []:
            if tol.effect not in (None, "", "NoExecute"):
                continue
            if tol.key == key or (tol.key in (None, "") and tol.operator == "Exists"):
                found[key] = tol.toleration_seconds
                break
    return found
