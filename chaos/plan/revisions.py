"""The pod template a rollout applies, and the one a rollback returns to.

Pure: templates and the objects that hold revisions are the API's JSON (camelCase dicts); each
function returns a new template and never changes its input.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chaos.errors import ChaosError

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
TEMPLATE_HASH_LABEL = "pod-template-hash"


class RevisionError(ChaosError, ValueError):
    """The change or the rollback cannot be made (no such container, no previous revision)."""


@dataclass(frozen=True, slots=True)
class TemplateChange:
    container: str | None = None  # None: the first container
    image: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    args: tuple[str, ...] | None = None

    def describe(self) -> str:
        parts = []
        if self.image is not None:
            parts.append(f"image={self.image}")
        parts += [f"env {k}={v}" for k, v in self.env]
        if self.args is not None:
            parts.append(f"args={list(self.args)}")
        return ", ".join(parts) or "nothing"


def container_names(template: Mapping[str, Any]) -> list[str]:
    return [str(c.get("name")) for c in (template.get("spec") or {}).get("containers") or ()]


def apply_change(template: Mapping[str, Any], change: TemplateChange
                 ) -> tuple[dict[str, Any], str]:
    """``template`` with ``change`` made to one container, and that container's name.

    An env variable already set is replaced (its ``valueFrom`` too), a new one is appended;
    ``args`` replace the old ones entirely, as `kubectl set` does.
    """
    new: dict[str, Any] = copy.deepcopy(dict(template))
    containers = (new.get("spec") or {}).get("containers") or []
    if not containers:
        raise RevisionError("the pod template has no containers")
    if change.container is None:
        target = containers[0]
    else:
        found = [c for c in containers if c.get("name") == change.container]
        if not found:
            raise RevisionError(f"no container {change.container!r} in the pod template "
                                f"(containers: {', '.join(container_names(new))})")
        target = found[0]
    if change.image is not None:
        target["image"] = change.image
    if change.env:
        env: list[dict[str, Any]] = list(target.get("env") or [])
        for name, value in change.env:
            entry = {"name": name, "value": value}
            at = next((i for i, e in enumerate(env) if e.get("name") == name), None)
            if at is None:
                env.append(entry)
            else:
                env[at] = entry
        target["env"] = env
    if change.args is not None:
        target["args"] = list(change.args)
    return new, str(target.get("name"))


def _revision(obj: Mapping[str, Any]) -> int:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION_ANNOTATION)
    try:
        return int(str(raw))
    except (TypeError, ValueError):
        return -1


def _owned_by(obj: Mapping[str, Any], uid: str) -> bool:
    return any(ref.get("uid") == uid and ref.get("controller")
               for ref in (obj.get("metadata") or {}).get("ownerReferences") or ())


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


@dataclass(frozen=True, slots=True)
class Previous:
    """The revision a rollback returns to."""

    name: str  # the ReplicaSet or ControllerRevision holding it
    revision: int
    template: dict[str, Any]
    current: str  # the ReplicaSet or ControllerRevision rolled back from
    current_revision: int
    pod_revision: str  # the revision label its pods carry (pod-template-hash, or the CR name)


def previous_replicaset(deployment: Mapping[str, Any], replicasets: Iterable[Mapping[str, Any]]
                        ) -> Previous:
    """What `kubectl rollout undo` returns a Deployment to: the template of its ReplicaSet with
    the second-highest revision, without the pod-template-hash label the controller added."""
    uid = str((deployment.get("metadata") or {}).get("uid") or "")
    owned = sorted((rs for rs in replicasets if _owned_by(rs, uid) and _revision(rs) >= 0),
                   key=_revision, reverse=True)
    if len(owned) < 2:
        raise RevisionError(f"Deployment {_name(deployment)} has no previous revision "
                            f"({len(owned)} ReplicaSet(s) with a revision)")
    current, previous = owned[0], owned[1]
    template = copy.deepcopy(dict((previous.get("spec") or {}).get("template") or {}))
    labels = (template.get("metadata") or {}).get("labels")
    pod_revision = ""
    if isinstance(labels, dict):
        pod_revision = str(labels.pop(TEMPLATE_HASH_LABEL, ""))
    return Previous(_name(previous), _revision(previous), template, _name(current),
                    _revision(current), pod_revision)


def previous_controller_revision(statefulset: Mapping[str, Any],
                                 revisions: Iterable[Mapping[str, Any]]) -> Previous:
    """The StatefulSet's revision before its update revision (`kubectl rollout undo`): the
    template stored in that ControllerRevision's data, which the controller wrote as a
    replacing patch of spec.template."""
    uid = str((statefulset.get("metadata") or {}).get("uid") or "")
    update = str((statefulset.get("status") or {}).get("updateRevision") or "")
    owned = {_name(r): r for r in revisions if _owned_by(r, uid)}
    if update not in owned:
        raise RevisionError(f"StatefulSet {_name(statefulset)}: its update revision "
                            f"{update or '(none)'} is not among its ControllerRevisions")
    current_no = int(owned[update].get("revision") or 0)
    older = sorted((r for r in owned.values() if int(r.get("revision") or 0) < current_no),
                   key=lambda r: int(r.get("revision") or 0), reverse=True)
    if not older:
        raise RevisionError(f"StatefulSet {_name(statefulset)} has no revision before "
                            f"{update} (revision {current_no})")
    previous = older[0]
    template = copy.deepcopy(dict(((previous.get("data") or {}).get("spec") or {})
                                  .get("template") or {}))
    template.pop("$patch", None)
    if not template:
        raise RevisionError(f"ControllerRevision {_name(previous)} holds no pod template")
    return Previous(_name(previous), int(previous.get("revision") or 0), template, update,
                    current_no, _name(previous))


def stuck_pods(statefulset: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> list[str]:
    """Pods a StatefulSet will not replace by itself after its template was reverted: made from
    another revision than its update revision, and not Ready. With the default OrderedReady
    policy the controller waits for such a pod forever (the "forced rollback" of the
    StatefulSet documentation): they must be deleted so it recreates them."""
    update = str((statefulset.get("status") or {}).get("updateRevision") or "")
    out = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            continue
        if (meta.get("labels") or {}).get("controller-revision-hash") == update:
            continue
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (pod.get("status") or {}).get("conditions") or ())
        if not ready:
            out.append(str(meta.get("name")))
    return sorted(out)
