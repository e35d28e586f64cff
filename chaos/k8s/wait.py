"""One wait on one object: watch it until a predicate holds (as lightkube's ``Client.wait`` and
kr8s's ``wait`` do), bounded by a :class:`~chaos.clock.Deadline`.

The objects are the server's own JSON (plain dicts, ``deserialize=False``), which is what the pure
rules in ``chaos.plan`` read. Pods, endpoints and nodes are not waited on here: the Observer
watches those (``Observer.wait_change``), and nothing watches them twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes import watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from chaos.clock import Deadline
from chaos.errors import ClusterError
from chaos.k8s.client import Kube

WATCH_CHUNK_S = 5.0  # each watch request ends after this long, so a stop request is seen
RETRY_S = 1.0  # a dropped watch is re-opened after this long (never past the deadline)
# what a dropped watch raises (API server restarting, a node lost, a connection reset)
WATCH_ERRORS = (ApiException, HTTPError, OSError, ValueError)
Predicate = Callable[[dict[str, Any]], bool]


def lister(kube: Kube, kind: str) -> Callable[..., Any]:
    """The namespaced list function a watch of ``kind`` streams."""
    apps = kube.apps
    table: dict[str, Callable[..., Any]] = {
        "Deployment": apps.list_namespaced_deployment,
        "StatefulSet": apps.list_namespaced_stateful_set,
        "DaemonSet": apps.list_namespaced_daemon_set,
    }
    if kind not in table:
        raise ClusterError(f"cannot wait for a {kind}: only {', '.join(table)} are waited on")
    return table[kind]


def wait_for(kube: Kube, namespace: str, kind: str, name: str, predicate: Predicate,
             deadline: Deadline, *, stop: Callable[[], bool] = lambda: False,
             chunk_s: float = WATCH_CHUNK_S,
             on_error: Callable[[Exception], None] | None = None) -> dict[str, Any] | None:
    """Watch ``kind`` ``namespace/name``, calling ``predicate`` with every version of it (the
    current one first) until it returns True; return that version. None when ``deadline``
    passes, ``stop()`` turns true, or the object is deleted. A dropped watch is reported to
    ``on_error`` and re-opened ``RETRY_S`` later; each watch request lasts at most
    ``chunk_s`` (whole seconds, at least one)."""
    list_fn = lister(kube, kind)
    while not stop():
        if deadline.expired():
            return None
        chunk = max(1, int(min(deadline.remaining(), chunk_s)))
        w = watch.Watch()
        try:
            for event in w.stream(list_fn, namespace, field_selector=f"metadata.name={name}",
                                  timeout_seconds=chunk, _request_timeout=chunk + 5,
                                  deserialize=False):
                if event.get("type") == "DELETED":
                    return None
                obj = event.get("object")
                if event.get("type") in ("ADDED", "MODIFIED") and isinstance(obj, dict) \
                        and predicate(obj):
                    return obj
                if stop() or deadline.expired():
                    return None
        except WATCH_ERRORS as exc:
            if on_error is not None:
                on_error(exc)
            deadline.sleep(RETRY_S)
        finally:
            w.stop()
    return None
