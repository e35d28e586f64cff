"""The cluster-wide kill switch: a ConfigMap that every run watches and no run starts under.

``kube-chaos halt`` creates it (who, when, why); each running experiment's built-in halt guard
reads it every quarter second and aborts; ``run_experiment`` and the plugin refuse to start while
it exists; ``kube-chaos halt --clear`` deletes it. It lives in kube-system next to the
``kube-chaos-cluster`` marker, so it is one per cluster, whoever started the runs and from
whichever machine.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from chaos.errors import ClusterError
from chaos.k8s.client import Kube
from chaos.model.abort import HaltMarker

HALT_NAMESPACE = "kube-system"
HALT_NAME = "kube-chaos-halt"


def _marker(cm: Any) -> HaltMarker:
    data = cm.data or {}
    try:
        at = float(data.get("epoch", ""))
    except ValueError:
        created = cm.metadata.creation_timestamp
        at = created.timestamp() if created is not None else 0.0
    return HaltMarker(by=data.get("by", "?"), at=at, reason=data.get("reason", ""))


def read_halt(kube: Kube, timeout_s: float = 5.0) -> HaltMarker | None:
    """The halt marker, None when the cluster is not halted. Raises ClusterError when the API
    server cannot say."""
    try:
        cm = kube.core.read_namespaced_config_map(HALT_NAME, HALT_NAMESPACE,
                                                  _request_timeout=timeout_s)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise ClusterError(f"cannot read the halt marker {HALT_NAMESPACE}/{HALT_NAME}: "
                           f"{exc.reason}") from exc
    except (HTTPError, OSError) as exc:
        raise ClusterError(f"cannot read the halt marker: {exc}") from exc
    return _marker(cm)


def write_halt(kube: Kube, marker: HaltMarker) -> tuple[HaltMarker, bool]:
    """Create the marker; (the marker in force, True) or, when the cluster is halted already,
    (the earlier marker, False): the first halt's record is kept."""
    when = datetime.fromtimestamp(marker.at, UTC).isoformat(timespec="milliseconds")
    body = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=HALT_NAME, namespace=HALT_NAMESPACE,
                                     labels={"app.kubernetes.io/managed-by": "kube-chaos"}),
        data={"by": marker.by, "at": when, "epoch": repr(marker.at), "reason": marker.reason})
    try:
        kube.core.create_namespaced_config_map(HALT_NAMESPACE, body, _request_timeout=10)
    except ApiException as exc:
        if exc.status == 409:
            existing = read_halt(kube)
            if existing is not None:
                return existing, False
        raise ClusterError(f"cannot write the halt marker: {exc.reason}") from exc
    except (HTTPError, OSError) as exc:
        raise ClusterError(f"cannot write the halt marker: {exc}") from exc
    return marker, True


def clear_halt(kube: Kube) -> HaltMarker | None:
    """Delete the marker; returns what it said, None when there was none."""
    existing = read_halt(kube)
    if existing is None:
        return None
    try:
        kube.core.delete_namespaced_config_map(HALT_NAME, HALT_NAMESPACE, _request_timeout=10)
    except ApiException as exc:
        if exc.status != 404:
            raise ClusterError(f"cannot delete the halt marker: {exc.reason}") from exc
    except (HTTPError, OSError) as exc:
        raise ClusterError(f"cannot delete the halt marker: {exc}") from exc
    return existing
