"""Namespaces per test, deploying target workloads, waiting for rollouts."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kubernetes import client, utils
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from chaos.clock import SYSTEM_CLOCK, Deadline
from chaos.errors import ChaosError, ClusterError, excerpt
from chaos.k8s.client import Kube
from chaos.k8s.wait import wait_for
from chaos.model.manifests import CLUSTER_SCOPED_KINDS, load_manifest_documents
from chaos.plan import rollout
from chaos.plan.manifests import WorkloadRef

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "kube-chaos"
MANAGED = {MANAGED_BY: MANAGER}  # on everything kube-chaos creates outside a namespace of its own
# on every namespace kube-chaos creates (the run's id): rollback deletes no namespace without it
RUN_LABEL = "kube-chaos/run"
ROLLOUT_CHUNK_S = 10.0  # each watch of a rollout lasts at most this long


class DeployFailed(ChaosError):
    """The target workload did not become ready."""


def namespace_name(test_name: str) -> str:
    """A unique, DNS-safe namespace name derived from the test or experiment name."""
    base = re.sub(r"[^a-z0-9-]+", "-", test_name.lower()).strip("-")[:40].strip("-") or "test"
    return f"kc-{base}-{secrets.token_hex(3)}"


def create_namespace(kube: Kube, name: str, run_id: str) -> None:
    body = client.V1Namespace(metadata=client.V1ObjectMeta(
        name=name, labels={**MANAGED, RUN_LABEL: run_id[:63]}))
    try:
        kube.core.create_namespace(body)
    except ApiException as exc:
        raise ClusterError(f"cannot create namespace {name}: {exc.reason}") from exc


def namespace_state(kube: Kube, name: str) -> str:
    """``absent``, ``terminating`` (deletion under way: Kubernetes finishes it) or ``active``."""
    try:
        ns: Any = kube.core.read_namespace(name)
    except ApiException as exc:
        if exc.status == 404:
            return "absent"
        raise ClusterError(f"cannot read namespace {name}: {exc.reason}") from exc
    except HTTPError as exc:
        raise ClusterError(f"API server unreachable reading namespace {name}: {exc}") from exc
    return "terminating" if ns.metadata.deletion_timestamp is not None else "active"


def namespace_labels(kube: Kube, name: str) -> dict[str, str]:
    """The namespace's labels; empty when it does not exist."""
    try:
        ns: Any = kube.core.read_namespace(name)
    except ApiException as exc:
        if exc.status == 404:
            return {}
        raise ClusterError(f"cannot read namespace {name}: {exc.reason}") from exc
    except HTTPError as exc:
        raise ClusterError(f"API server unreachable reading namespace {name}: {exc}") from exc
    return dict(ns.metadata.labels or {})


def delete_namespace(kube: Kube, name: str, wait_s: float = 0) -> None:
    try:
        kube.core.delete_namespace(name, grace_period_seconds=0)
    except ApiException as exc:
        if exc.status != 404:
            raise ClusterError(f"cannot delete namespace {name}: {exc.reason}") from exc
        return
    if wait_s > 0:
        Deadline(SYSTEM_CLOCK, wait_s).until(lambda: not _namespace_exists(kube, name), 0.5)


def _namespace_exists(kube: Kube, name: str) -> bool:
    try:
        kube.core.read_namespace(name)
    except ApiException:
        return False
    return True


Manifest = tuple[Path, dict[str, Any]]  # a document and the file it came from


def read_manifests(manifests: Sequence[Path], *,
                   allow_cluster_scoped: bool = False) -> list[Manifest]:
    """The manifests' objects, namespace fields dropped (the harness deploys into its own).

    The files are read again here (they may have changed since collection) through the same
    bounded reader and object checks; a bad file raises ``ExperimentInvalid`` naming file:line.
    Cluster-scoped objects outlive the namespace: they are refused unless the caller allows
    them, and a caller that does must delete them (``WorkloadSpec.cluster_objects``).
    """
    out: list[Manifest] = []
    for path in manifests:
        for doc in load_manifest_documents(path, allow_cluster_scoped=allow_cluster_scoped):
            doc.setdefault("metadata", {}).pop("namespace", None)
            out.append((path, doc))
    return out


def owned(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` labelled as kube-chaos's when it is cluster-scoped: the namespace's deletion does
    not reach it, and rollback deletes no object without that label."""
    if doc.get("kind") not in CLUSTER_SCOPED_KINDS:
        return doc
    meta = dict(doc.get("metadata") or {})
    meta["labels"] = {**(meta.get("labels") or {}), **MANAGED}
    return {**doc, "metadata": meta}


def apply_documents(kube: Kube, namespace: str, docs: Sequence[Manifest]) -> list[dict[str, Any]]:
    """Create every document in `namespace` (cluster-scoped ones labelled as kube-chaos's);
    return the documents."""
    docs = [(path, owned(doc)) for path, doc in docs]
    for path, doc in docs:
        try:
            _create_retrying_ports(kube, doc, namespace)
        except utils.FailToCreateError as exc:
            reasons = "; ".join(str(e.reason) for e in exc.api_exceptions)
            raise DeployFailed(
                f"{path}: cannot create {excerpt(doc.get('kind'))} "
                f"{excerpt(doc.get('metadata', {}).get('name'))}: {reasons}"
            ) from exc
    return [doc for _, doc in docs]


def apply_manifests(kube: Kube, namespace: str, manifests: Sequence[Path], *,
                    allow_cluster_scoped: bool = False) -> list[dict[str, Any]]:
    """Create every object of the manifest files in `namespace`; return the documents."""
    return apply_documents(kube, namespace, read_manifests(
        manifests, allow_cluster_scoped=allow_cluster_scoped))


def _create_retrying_ports(kube: Kube, doc: dict[str, Any], namespace: str) -> None:
    """A NodePort freed by the previous test's namespace can take a moment to be released;
    one still held after 30 s is an error naming the port and the Service holding it."""
    deadline = Deadline(SYSTEM_CLOCK, 30)
    while True:
        try:
            utils.create_from_dict(kube.api, doc, namespace=namespace)
            return
        except utils.FailToCreateError as exc:
            text = " ".join(str(e.body) for e in exc.api_exceptions)
            if "already allocated" not in text:
                raise
            if deadline.expired():
                raise DeployFailed(_port_conflict(kube, doc)) from exc
            deadline.sleep(1)


def node_ports_in_use(kube: Kube) -> dict[int, str]:
    """Every NodePort a Service of the cluster holds, with that Service ("namespace/name")."""
    try:
        services: list[Any] = kube.core.list_service_for_all_namespaces().items
    except (ApiException, HTTPError) as exc:
        raise ClusterError(f"cannot list the cluster's Services: {exc}") from exc
    held: dict[int, str] = {}
    for svc in services:
        for port in svc.spec.ports or ():
            if port.node_port:
                held.setdefault(int(port.node_port),
                                f"{svc.metadata.namespace}/{svc.metadata.name}")
    return held


def _port_conflict(kube: Kube, doc: dict[str, Any]) -> str:
    wanted: set[int] = {int(p["nodePort"]) for p in (doc.get("spec") or {}).get("ports") or ()
                        if isinstance(p, dict) and isinstance(p.get("nodePort"), int)}
    try:
        in_use = node_ports_in_use(kube)
    except ClusterError:
        in_use = {}
    holders = [f"nodePort {port} is held by Service {svc}"
               for port, svc in sorted(in_use.items()) if port in wanted]
    name = (doc.get("metadata") or {}).get("name")
    held = "; ".join(holders) or f"nodePort(s) {sorted(wanted)} already allocated"
    return (f"cannot create Service {name}: {held}. If that namespace was left by a crashed "
            "run, `kube-chaos rollback` (or the next session's orphan check) deletes it; "
            "otherwise delete it or choose another nodePort")


def release_node_ports(kube: Kube, namespace: str) -> None:
    """Delete the namespace's Services first, so their NodePorts are free for the next test
    at once rather than when namespace finalization gets round to them."""
    try:
        services: list[Any] = kube.core.list_namespaced_service(namespace).items
        for svc in services:
            kube.core.delete_namespaced_service(svc.metadata.name, namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise ClusterError(f"cannot delete services in {namespace}: {exc.reason}") from exc


def wait_rollouts(kube: Kube, namespace: str, refs: Sequence[WorkloadRef],
                  timeout_s: float) -> None:
    """Until every listed Deployment, StatefulSet and DaemonSet has rolled out, all within one
    deadline."""
    deadline = Deadline(SYSTEM_CLOCK, timeout_s)
    for ref in refs:
        wait_rollout(kube, namespace, ref, max(1.0, deadline.remaining()))


def wait_rollout(kube: Kube, namespace: str, ref: WorkloadRef, timeout_s: float) -> None:
    """Until the controller's rollout is complete (``chaos.plan.rollout`` has the rules)."""
    deadline = Deadline(SYSTEM_CLOCK, timeout_s)
    last = ["not observed yet"]

    def done(obj: dict[str, Any]) -> bool:
        state = rollout.status(ref.kind, obj)
        last[0] = state.summary
        return state.done

    def failed(exc: Exception) -> None:
        last[0] = f"watch failed: {exc}"

    # None: the deadline passed, or the object was deleted (watched again, until the deadline)
    while wait_for(kube, namespace, ref.kind, ref.name, done, deadline, chunk_s=ROLLOUT_CHUNK_S,
                   on_error=failed) is None:
        if deadline.expired():
            raise DeployFailed(f"{ref} in {namespace} not ready within "
                               f"{timeout_s:.0f}s: {last[0]}{_pod_hints(kube, namespace)}")


def _pod_hints(kube: Kube, namespace: str) -> str:
    """Why pods are not ready, in one line each (image errors, pending reasons)."""
    hints = []
    try:
        pods: list[Any] = kube.core.list_namespaced_pod(namespace).items
        for pod in pods:
            for cs in pod.status.container_statuses or []:
                if cs.state and cs.state.waiting:
                    hints.append(f"{pod.metadata.name}: {cs.state.waiting.reason}")
            for cond in pod.status.conditions or []:
                if cond.type == "PodScheduled" and cond.status != "True":
                    hints.append(f"{pod.metadata.name}: unschedulable: {cond.message}")
    except ApiException:
        return ""
    return ("; pods: " + "; ".join(hints[:5])) if hints else ""


def node_port_of(kube: Kube, namespace: str, service: str) -> int | None:
    try:
        svc: Any = kube.core.read_namespaced_service(service, namespace)
    except ApiException as exc:
        raise DeployFailed(f"service {namespace}/{service} not found: {exc.reason}") from exc
    for port in svc.spec.ports or []:
        if port.node_port:
            return int(port.node_port)
    return None


def service_port(kube: Kube, namespace: str, service: str, node_port: int | None) -> int:
    """The Service's own port in the cluster: the one behind ``node_port`` when given, else
    its first (in-cluster load reaches the Service by its DNS name on this port)."""
    try:
        svc: Any = kube.core.read_namespaced_service(service, namespace)
    except ApiException as exc:
        raise DeployFailed(f"service {namespace}/{service} not found: {exc.reason}") from exc
    ports = list(svc.spec.ports or [])
    chosen = [p for p in ports if node_port is not None and p.node_port == node_port] or ports
    if not chosen:
        raise DeployFailed(f"service {namespace}/{service} has no port")
    return int(chosen[0].port)


def server_version(kube: Kube) -> str:
    try:
        return str(kube.version.get_code().git_version)
    except (ApiException, HTTPError) as exc:
        raise ClusterError(f"API server unreachable: {exc}") from exc
