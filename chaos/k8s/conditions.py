"""Read one object's status conditions, for the ``kubernetes`` abort guard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from chaos.errors import ClusterError
from chaos.k8s.client import Kube


def _reader(kube: Kube, kind: str) -> Callable[..., Any]:
    readers: dict[str, Callable[..., Any]] = {
        "Pod": kube.core.read_namespaced_pod_status,
        "Node": kube.core.read_node_status,
        "Deployment": kube.apps.read_namespaced_deployment_status,
        "StatefulSet": kube.apps.read_namespaced_stateful_set_status,
        "DaemonSet": kube.apps.read_namespaced_daemon_set_status,
        "ReplicaSet": kube.apps.read_namespaced_replica_set_status,
        "Job": kube.batch.read_namespaced_job_status,
    }
    return readers[kind]


def read_conditions(kube: Kube, kind: str, name: str, namespace: str | None,
                    timeout_s: float) -> dict[str, str] | None:
    """type -> status of the object's conditions; None when the object does not exist.
    Raises ClusterError when the API server cannot say (the guard counts that as an error)."""
    args: tuple[str, ...] = (name,) if namespace is None else (name, namespace)
    try:
        obj = _reader(kube, kind)(*args, _request_timeout=timeout_s)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise ClusterError(f"cannot read {kind}/{name}: {exc.reason}") from exc
    except (HTTPError, OSError) as exc:
        raise ClusterError(f"cannot read {kind}/{name}: {exc}") from exc
    conditions = getattr(obj.status, "conditions", None) or []
    return {str(c.type): str(c.status) for c in conditions}
