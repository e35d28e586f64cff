"""Kubernetes Events on the objects a fault touches, so people watching the cluster
(`kubectl get events`, dashboards) see what a game day does while it does it."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from chaos.k8s.client import Kube

COMPONENT = "kube-chaos"


def announce(kube: Kube, namespace: str, kind: str, name: str, reason: str,
             message: str) -> bool:
    """Post a Warning Event about ``kind``/``name``; a Node's goes to the default namespace.
    Best effort: returns False when the API refused it (the audit log still has the action)."""
    now = datetime.now(UTC)
    ns = "default" if kind == "Node" else namespace
    body = client.CoreV1Event(
        metadata=client.V1ObjectMeta(generate_name=f"kube-chaos.{name[:40]}."),
        involved_object=client.V1ObjectReference(
            kind=kind, name=name, namespace=None if kind == "Node" else namespace,
            api_version="v1"),
        reason=reason, message=message[:1024], type="Warning",
        source=client.V1EventSource(component=COMPONENT), reporting_component=COMPONENT,
        first_timestamp=now, last_timestamp=now, count=1)
    with contextlib.suppress(ApiException, HTTPError, OSError, ValueError):
        # bounded: an Event is not worth a run stuck on an API server that does not answer
        kube.core.create_namespaced_event(ns, body, _request_timeout=5)
        return True
    return False
