"""Namespaces per test, deploying target workloads, waiting for rollouts."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kubernetes import client, utils, watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from chaos.errors import ChaosError, ClusterError
from chaos.k8s.client import Kube
from chaos.model.manifests import load_manifest_documents

MANAGED = {"app.kubernetes.io/managed-by": "kube-chaos"}


class DeployFailed(ChaosError):
    """The target workload did not become ready."""


def namespace_name(test_name: str) -> str:
    """A unique, DNS-safe namespace name derived from the test or experiment name."""
    base = re.sub(r"[^a-z0-9-]+", "-", test_name.lower()).strip("-")[:40].strip("-") or "test"
    return f"kc-{base}-{secrets.token_hex(3)}"


def create_namespace(kube: Kube, name: str, run_id: str) -> None:
    body = client.V1Namespace(metadata=client.V1ObjectMeta(
        name=name, labels={**MANAGED, "kube-chaos/run": run_id[:63]}))
    try:
        kube.core.create_namespace(body)
    except ApiException as exc:
        raise ClusterError(f"cannot create namespace {name}: {exc.reason}") from exc


def delete_namespace(kube: Kube, name: str, wait_s: float = 0) -> None:
    try:
        kube.core.delete_namespace(name, grace_period_seconds=0)
    except ApiException as exc:
        if exc.status != 404:
            raise ClusterError(f"cannot delete namespace {name}: {exc.reason}") from exc
        return
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            kube.core.read_namespace(name)
        except ApiException:
            return
        time.sleep(0.5)


def apply_manifests(kube: Kube, namespace: str, manifests: Sequence[Path], *,
                    allow_cluster_scoped: bool = False) -> list[dict[str, Any]]:
    """Create every object of the manifest files in `namespace`; return the documents.

    The files are read again here (they may have changed since collection) through the same
    bounded reader and object checks; a bad file raises ``ExperimentInvalid`` naming file:line.
    Cluster-scoped objects outlive the namespace: they are refused unless the caller allows
    them, and a caller that does must delete them (``WorkloadSpec.cluster_objects``).
    """
    docs: list[dict[str, Any]] = []
    for path in manifests:
        for doc in load_manifest_documents(path, allow_cluster_scoped=allow_cluster_scoped):
            doc.setdefault("metadata", {}).pop("namespace", None)
            docs.append(doc)
            try:
                _create_retrying_ports(kube, doc, namespace)
            except utils.FailToCreateError as exc:
                reasons = "; ".join(str(e.reason) for e in exc.api_exceptions)
                raise DeployFailed(
                    f"{path}: cannot create {doc.get('kind')} "
                    f"{doc.get('metadata', {}).get('name')}: {reasons}"
                ) from exc
    return docs


def _create_retrying_ports(kube: Kube, doc: dict[str, Any], namespace: str) -> None:
    """A NodePort freed by the previous test's namespace can take a moment to be released."""
    deadline = time.monotonic() + 30
    while True:
        try:
            utils.create_from_dict(kube.api, doc, namespace=namespace)
            return
        except utils.FailToCreateError as exc:
            text = " ".join(str(e.body) for e in exc.api_exceptions)
            if "already allocated" not in text or time.monotonic() > deadline:
                raise
            time.sleep(1)


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


def deployments_in(docs: Sequence[dict[str, Any]]) -> list[str]:
    return [d["metadata"]["name"] for d in docs if d.get("kind") == "Deployment"]


def wait_rollout(kube: Kube, namespace: str, name: str, timeout_s: float) -> None:
    """Until the Deployment's desired replicas are updated, available and ready."""
    deadline = time.monotonic() + timeout_s
    last = "not observed yet"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeployFailed(f"deployment {namespace}/{name} not ready within "
                               f"{timeout_s:.0f}s: {last}{_pod_hints(kube, namespace)}")
        w = watch.Watch()
        try:
            for ev in w.stream(kube.apps.list_namespaced_deployment, namespace,
                               field_selector=f"metadata.name={name}",
                               timeout_seconds=max(1, int(min(remaining, 10)))):
                dep = ev["object"]
                st, want = dep.status, dep.spec.replicas or 0
                last = (f"{st.ready_replicas or 0}/{want} ready, {st.updated_replicas or 0} "
                        f"updated, {st.available_replicas or 0} available")
                if (dep.metadata.generation or 0) <= (st.observed_generation or 0) and \
                        (st.updated_replicas or 0) == want and (st.ready_replicas or 0) == want \
                        and (st.available_replicas or 0) == want:
                    w.stop()
                    return
        except (ApiException, HTTPError) as exc:
            last = f"watch failed: {exc}"
            time.sleep(1)
        finally:
            w.stop()


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


def server_version(kube: Kube) -> str:
    try:
        return str(kube.version.get_code().git_version)
    except (ApiException, HTTPError) as exc:
        raise ClusterError(f"API server unreachable: {exc}") from exc
