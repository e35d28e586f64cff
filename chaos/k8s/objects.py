"""Any object by apiVersion, kind and name, through the API's discovery: for the cluster-scoped
objects an experiment may create (a ClusterRole, a CRD...) and must delete afterwards."""

from __future__ import annotations

from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError
from urllib3.exceptions import HTTPError

from chaos.errors import ClusterError
from chaos.k8s.client import Kube


def _resource(kube: Kube, api_version: str, kind: str) -> Any:
    try:
        return DynamicClient(kube.api).resources.get(api_version=api_version, kind=kind)
    except ResourceNotFoundError:
        return None  # the API (a CRD's) is gone, and with it every such object
    except (ApiException, HTTPError) as exc:
        raise ClusterError(f"cannot discover {api_version} {kind}: {exc}") from exc


def object_state(kube: Kube, api_version: str, kind: str, name: str,
                 namespace: str | None = None) -> str:
    """``absent``, ``terminating`` or ``present``."""
    resource = _resource(kube, api_version, kind)
    if resource is None:
        return "absent"
    try:
        obj = resource.get(name=name, namespace=namespace)
    except NotFoundError:
        return "absent"
    except (ApiException, HTTPError) as exc:
        raise ClusterError(f"cannot read {kind} {name}: {exc}") from exc
    return "terminating" if obj.metadata.get("deletionTimestamp") else "present"


def object_labels(kube: Kube, api_version: str, kind: str, name: str,
                  namespace: str | None = None) -> dict[str, str] | None:
    """The object's labels; None when it does not exist (or its API is gone)."""
    resource = _resource(kube, api_version, kind)
    if resource is None:
        return None
    try:
        obj = resource.get(name=name, namespace=namespace)
    except NotFoundError:
        return None
    except (ApiException, HTTPError) as exc:
        raise ClusterError(f"cannot read {kind} {name}: {exc}") from exc
    labels = obj.metadata.get("labels") or {}
    return {str(k): str(v) for k, v in dict(labels).items()}


def delete_object(kube: Kube, api_version: str, kind: str, name: str,
                  namespace: str | None = None) -> None:
    resource = _resource(kube, api_version, kind)
    if resource is None:
        return
    try:
        resource.delete(name=name, namespace=namespace)
    except NotFoundError:
        return
    except (ApiException, HTTPError) as exc:
        raise ClusterError(f"cannot delete {kind} {name}: {exc}") from exc
