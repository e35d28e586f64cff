"""Cluster health: every node Ready, every kube-system pod Running and Ready."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from chaos.clock import SYSTEM_CLOCK, Deadline
from chaos.errors import ClusterError
from chaos.k8s.client import Kube, connect

MARKER_NAMESPACE = "kube-system"
MARKER_NAME = "kube-chaos-cluster"


def node_ready(node: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def pod_ready(pod: Any) -> bool:
    if pod.status.phase != "Running":
        return False
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def pull_errors(pod: Any) -> list[str]:
    found = []
    for cs in (pod.status.container_statuses or []) + (pod.status.init_container_statuses or []):
        waiting = cs.state.waiting if cs.state else None
        if waiting and waiting.reason in ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull"):
            found.append(f"{pod.metadata.name}/{cs.name}: {waiting.reason}")
    return found


def problems_of(kube: Kube, expected_nodes: int) -> list[str]:
    problems: list[str] = []
    nodes: list[Any] = kube.core.list_node().items
    if len(nodes) != expected_nodes:
        problems.append(f"{len(nodes)} nodes registered, expected {expected_nodes}")
    problems += [f"node {n.metadata.name} not Ready" for n in nodes if not node_ready(n)]
    pods: list[Any] = kube.core.list_namespaced_pod("kube-system").items
    if not pods:
        problems.append("no kube-system pods yet")
    for pod in pods:
        problems += pull_errors(pod)
        if not pod_ready(pod):
            problems.append(f"pod kube-system/{pod.metadata.name} {pod.status.phase}, not Ready")
    want = {"kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler", "coredns",
            "kube-proxy", "kindnet"}
    have = {(p.metadata.labels or {}).get("component") or (p.metadata.labels or {}).get("k8s-app")
            or (p.metadata.labels or {}).get("app") for p in pods}
    have = {"coredns" if h == "kube-dns" else h for h in have}
    problems += [f"no {w} pod yet" for w in sorted(want - have)]
    return problems


def cluster_problems(kubeconfig: Path, context: str, expected_nodes: int) -> list[str]:
    try:
        kube = connect(kubeconfig, context)
        return problems_of(kube, expected_nodes)
    except (ApiException, HTTPError, ClusterError, OSError) as exc:
        return [f"API server unreachable: {exc}"]


def wait_cluster_ready(kubeconfig: Path, context: str, expected_nodes: int,
                       timeout_s: float) -> None:
    """Block until healthy, re-checking whenever a node or kube-system pod changes."""
    deadline = Deadline(SYSTEM_CLOCK, timeout_s)
    problems = ["not checked yet"]
    while not deadline.expired():
        problems = cluster_problems(kubeconfig, context, expected_nodes)
        if not problems:
            return
        try:
            kube = connect(kubeconfig, context)
            # a short watch: wakes us on the next pod change instead of a blind sleep
            w = watch.Watch()
            for _ in w.stream(kube.core.list_namespaced_pod, "kube-system",
                              timeout_seconds=max(1, int(min(5, deadline.remaining())))):
                w.stop()
        except (ApiException, HTTPError, ClusterError, OSError):
            deadline.sleep(1)
    raise ClusterError(
        f"cluster not Ready within {timeout_s:.0f}s: " + "; ".join(problems[:8])
    )


def cluster_identity(kube: Kube) -> dict[str, str]:
    """What makes this cluster this one: the kube-system namespace's UID (new with every
    cluster) and the API server URL we reach it at."""
    try:
        ns: Any = kube.core.read_namespace(MARKER_NAMESPACE)
        uid = str(ns.metadata.uid)
    except (ApiException, HTTPError) as exc:
        raise ClusterError(f"cannot read namespace {MARKER_NAMESPACE}: {exc}") from exc
    return {"kube-system-uid": uid, "server": str(kube.api.configuration.host)}


def mark_provisioned(kubeconfig: Path, context: str, name: str, image: str) -> None:
    """Record that kube-chaos made this cluster, with the cluster's identity: faults are
    allowed on it by default. Rewritten when it exists (an older marker had no identity)."""
    from kubernetes import client

    kube = connect(kubeconfig, context)
    body = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=MARKER_NAME, namespace=MARKER_NAMESPACE,
                                     labels={"app.kubernetes.io/managed-by": "kube-chaos"}),
        data={"cluster": name, "node-image": image,
              "created": datetime.now(UTC).isoformat(timespec="seconds"),
              **cluster_identity(kube)},
    )
    try:
        kube.core.create_namespaced_config_map(MARKER_NAMESPACE, body)
    except ApiException as exc:
        if exc.status != 409:
            raise ClusterError(f"cannot record cluster marker: {exc.reason}") from exc
        try:
            kube.core.replace_namespaced_config_map(MARKER_NAME, MARKER_NAMESPACE, body)
        except ApiException as again:
            raise ClusterError(f"cannot record cluster marker: {again.reason}") from again


def refresh_marker(kubeconfig: Path, context: str) -> None:
    """A cluster we made before markers carried an identity: add it. A cluster with no marker
    stays without one (it is not ours to claim)."""
    kube = connect(kubeconfig, context)
    try:
        cm: Any = kube.core.read_namespaced_config_map(MARKER_NAME, MARKER_NAMESPACE)
    except (ApiException, HTTPError):
        return
    data = dict(cm.data or {})
    if "kube-system-uid" not in data:
        mark_provisioned(kubeconfig, context, data.get("cluster", ""), data.get("node-image", ""))


def marker_problem(marker: dict[str, str] | None, identity: dict[str, str]) -> str | None:
    """Why a marker does not prove kube-chaos made this cluster (None: it does). Its mere
    existence proves nothing: anyone can create a ConfigMap; it must name this cluster."""
    if marker is None:
        return f"no {MARKER_NAMESPACE}/{MARKER_NAME} marker"
    for key, value in identity.items():
        if marker.get(key) != value:
            return (f"the {MARKER_NAMESPACE}/{MARKER_NAME} marker does not match this cluster "
                    f"({key} is {marker.get(key)!r}, the cluster's is {value!r})")
    return None


def provisioned_problem(kube: Kube) -> str | None:
    try:
        cm: Any = kube.core.read_namespaced_config_map(MARKER_NAME, MARKER_NAMESPACE)
        marker: dict[str, str] | None = dict(cm.data or {})
    except ApiException:
        marker = None
    except HTTPError as exc:
        return f"API server unreachable: {exc}"
    try:
        return marker_problem(marker, cluster_identity(kube))
    except ClusterError as exc:
        return str(exc)


def is_provisioned_by_us(kube: Kube) -> bool:
    return provisioned_problem(kube) is None


def cluster_summary(kubeconfig: Path, context: str) -> dict[str, object]:
    try:
        kube = connect(kubeconfig, context)
        nodes: list[Any] = kube.core.list_node().items
        pods: list[Any] = kube.core.list_namespaced_pod("kube-system").items
        version = kube.version.get_code().git_version
    except (ApiException, HTTPError, ClusterError, OSError) as exc:
        return {"api": f"unreachable: {exc}"}
    return {
        "kubernetes": version,
        "nodes": {n.metadata.name: ("Ready" if node_ready(n) else "NotReady")
                  + (",SchedulingDisabled" if n.spec.unschedulable else "") for n in nodes},
        "kube_system_ready": f"{sum(pod_ready(p) for p in pods)}/{len(pods)}",
    }
