"""Deployments and StatefulSets as the API serialises them: read, change the pod template, watch.

Objects are returned as the server's own JSON (plain dicts), not the client's models: a template
recorded for an undo must go back exactly as it was read (the models drop null fields), and the
pure rules in ``chaos.plan.rollout`` / ``chaos.plan.revisions`` read that JSON. Pods are not
watched here: the Observer does that (one watcher).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from typing import Any, Literal

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from chaos.clock import SYSTEM_CLOCK, Deadline
from chaos.errors import ClusterError
from chaos.k8s.client import Kube
from chaos.k8s.wait import wait_for
from chaos.model.selector import Selector
from chaos.plan import revisions as prev
from chaos.plan import rollout as prollout

Kind = Literal["Deployment", "StatefulSet"]
KINDS: tuple[Kind, ...] = ("Deployment", "StatefulSet")
JSON_PATCH = "application/json-patch+json"


def _apps(kube: Kube, kind: str) -> tuple[Callable[..., Any], Callable[..., Any],
                                           Callable[..., Any]]:
    """read, patch and list functions for ``kind``."""
    apps = kube.apps
    if kind == "Deployment":
        return (apps.read_namespaced_deployment, apps.patch_namespaced_deployment,
                apps.list_namespaced_deployment)
    if kind == "StatefulSet":
        return (apps.read_namespaced_stateful_set, apps.patch_namespaced_stateful_set,
                apps.list_namespaced_stateful_set)
    raise ClusterError(f"not a Deployment or StatefulSet: {kind}")


def _raw(response: Any) -> Any:
    """The JSON body of a response read with ``_preload_content=False``."""
    data = response.data
    return json.loads(data.decode() if isinstance(data, bytes) else data)


def _failed(doing: str, exc: BaseException) -> ClusterError:
    if isinstance(exc, ApiException):
        detail = exc.reason
        with contextlib.suppress(TypeError, ValueError):
            detail = json.loads(exc.body or "{}").get("message") or detail
        return ClusterError(f"cannot {doing}: {detail}")
    return ClusterError(f"cannot {doing}: API server unreachable ({exc})")


def read(kube: Kube, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
    """The object as the server has it; None when it does not exist."""
    read_fn, _, _ = _apps(kube, kind)
    try:
        obj: dict[str, Any] = _raw(read_fn(name, namespace, _preload_content=False))
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise _failed(f"read {kind} {namespace}/{name}", exc) from exc
    except HTTPError as exc:
        raise _failed(f"read {kind} {namespace}/{name}", exc) from exc
    return obj


def template_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    template: dict[str, Any] = (obj.get("spec") or {}).get("template") or {}
    return template


def find(kube: Kube, namespace: str, selector: Selector) -> list[tuple[Kind, str]]:
    """The Deployments and StatefulSets whose pod template ``selector`` matches."""
    found: list[tuple[Kind, str]] = []
    for kind in KINDS:
        _, _, list_fn = _apps(kube, kind)
        try:
            items = _raw(list_fn(namespace, _preload_content=False)).get("items") or []
        except (ApiException, HTTPError) as exc:
            raise _failed(f"list {kind}s in {namespace}", exc) from exc
        for obj in items:
            labels = (template_of(obj).get("metadata") or {}).get("labels") or {}
            if selector.matches(labels):
                found.append((kind, str(obj["metadata"]["name"])))
    return found


def patch_template(kube: Kube, namespace: str, kind: str, name: str,
                   template: Mapping[str, Any], *, resource_version: str | None = None
                   ) -> dict[str, Any]:
    """Replace spec.template, exactly; returns the object after the change. With
    ``resource_version`` the change applies only to the object as it was read then (a JSON
    Patch test), so a template recorded from that read is the one replaced."""
    _, patch_fn, _ = _apps(kube, kind)
    ops: list[dict[str, Any]] = []
    if resource_version is not None:
        ops.append({"op": "test", "path": "/metadata/resourceVersion",
                    "value": resource_version})
    ops.append({"op": "replace", "path": "/spec/template", "value": dict(template)})
    try:
        obj: dict[str, Any] = _raw(patch_fn(name, namespace, ops, _content_type=JSON_PATCH,
                                            _preload_content=False))
    except ApiException as exc:
        if resource_version is not None and exc.status in (409, 422):
            # a failed JSON Patch test is a bare 422 Invalid: tell it from a bad template
            now = read(kube, namespace, kind, name)
            current = None if now is None else now["metadata"].get("resourceVersion")
            if current != resource_version:
                raise ClusterError(f"{kind} {namespace}/{name} changed since it was read "
                                   f"(resourceVersion {resource_version}, now {current}); "
                                   "its template was not replaced") from exc
        raise _failed(f"change the pod template of {kind} {namespace}/{name}", exc) from exc
    except HTTPError as exc:
        raise _failed(f"change the pod template of {kind} {namespace}/{name}", exc) from exc
    return obj


def revisions(kube: Kube, namespace: str, kind: str) -> list[dict[str, Any]]:
    """Where the controller keeps its revisions: ReplicaSets (Deployment) or
    ControllerRevisions (StatefulSet) of the namespace; callers pick the owned ones."""
    apps = kube.apps
    fn = (apps.list_namespaced_replica_set if kind == "Deployment"
          else apps.list_namespaced_controller_revision)
    try:
        items: list[dict[str, Any]] = _raw(fn(namespace, _preload_content=False)
                                           ).get("items") or []
    except (ApiException, HTTPError) as exc:
        raise _failed(f"list the revisions of {kind}s in {namespace}", exc) from exc
    return items


def force_stuck_pods(kube: Kube, namespace: str, statefulset: Mapping[str, Any]) -> list[str]:
    """The StatefulSet "forced rollback": once the controller has seen a reverted template,
    delete its pods of another revision that are not Ready, which OrderedReady management
    would otherwise wait on forever. Returns the pods deleted (none for Parallel management,
    where the controller replaces them itself)."""
    spec = statefulset.get("spec") or {}
    if (spec.get("podManagementPolicy") or "OrderedReady") != "OrderedReady":
        return []
    labels = ((spec.get("selector") or {}).get("matchLabels")) or {}
    try:
        pods = _raw(kube.core.list_namespaced_pod(
            namespace, label_selector=Selector.of(labels).to_label_selector(),
            _preload_content=False)).get("items") or []
    except (ApiException, HTTPError) as exc:
        raise _failed(f"list the pods of StatefulSet {namespace}", exc) from exc
    stuck = prev.stuck_pods(statefulset, pods)
    for name in stuck:
        try:
            kube.core.delete_namespaced_pod(name, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise _failed(f"delete stuck pod {namespace}/{name}", exc) from exc
        except HTTPError as exc:
            raise _failed(f"delete stuck pod {namespace}/{name}", exc) from exc
    return stuck


def watch_until(kube: Kube, namespace: str, kind: str, name: str,
                until: Callable[[dict[str, Any]], bool], timeout_s: float,
                stop: Callable[[], bool] = lambda: False) -> dict[str, Any] | None:
    """Watch one Deployment or StatefulSet, calling ``until`` with every version of it (the
    current one first) until it returns True; returns that version. None when ``timeout_s``
    runs out, ``stop()`` turns true, or the object is deleted. A dropped watch is re-opened
    (``chaos.k8s.wait.wait_for``, on a deadline of ``timeout_s``)."""
    if kind not in KINDS:
        raise ClusterError(f"not a Deployment or StatefulSet: {kind}")
    return wait_for(kube, namespace, kind, name, until, Deadline(SYSTEM_CLOCK, timeout_s),
                    stop=stop)


def await_rollout(kube: Kube, namespace: str, kind: str, name: str, generation: int,
                  timeout_s: float) -> tuple[prollout.Progress | None, list[str]]:
    """After a template change (``generation`` is the object's after it): wait until the
    controller reports the rollout complete, forcing a StatefulSet's stuck pods out once it has
    seen the change. Returns the last progress read (None if the object is gone) and the pods
    forced out."""
    forced: list[str] = []
    tried = False
    last: list[prollout.Progress] = []

    def seen(obj: dict[str, Any]) -> bool:
        nonlocal tried
        if int((obj.get("metadata") or {}).get("generation") or 0) < generation:
            return False  # an older version still in flight
        state = prollout.progress(kind, obj)
        last[:] = [state]
        if kind == "StatefulSet" and state.observed and not tried:
            tried = True
            forced.extend(force_stuck_pods(kube, namespace, obj))
        return state.done

    watch_until(kube, namespace, kind, name, seen, timeout_s)
    return (last[0] if last else None), forced
