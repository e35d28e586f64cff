"""When a controller's rollout is complete, by the rules `kubectl rollout status` applies.

Pure: each function reads the object as the API serialises it (camelCase dicts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RolloutStatus:
    done: bool
    summary: str  # one line for a timeout message, e.g. "2/3 ready, 3 updated"


def _observed(obj: Mapping[str, Any]) -> bool:
    generation = (obj.get("metadata") or {}).get("generation") or 0
    return bool(generation <= ((obj.get("status") or {}).get("observedGeneration") or 0))


def deployment(obj: Mapping[str, Any]) -> RolloutStatus:
    st = obj.get("status") or {}
    want = (obj.get("spec") or {}).get("replicas")
    want = 1 if want is None else int(want)
    ready, updated = st.get("readyReplicas") or 0, st.get("updatedReplicas") or 0
    available, total = st.get("availableReplicas") or 0, st.get("replicas") or 0
    summary = f"{ready}/{want} ready, {updated} updated, {available} available"
    # total == want: old pods of a previous rollout have gone, as kubectl requires
    done = _observed(obj) and updated == want and ready == want and available == want \
        and total == want
    return RolloutStatus(done, summary)


def statefulset(obj: Mapping[str, Any]) -> RolloutStatus:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    want = 1 if spec.get("replicas") is None else int(spec["replicas"])
    ready, updated = st.get("readyReplicas") or 0, st.get("updatedReplicas") or 0
    summary = f"{ready}/{want} ready, {updated} updated"
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        return RolloutStatus(_observed(obj) and ready == want, summary)
    partition = ((strategy.get("rollingUpdate") or {}).get("partition")) or 0
    if partition:
        # only ordinals >= partition are updated; kubectl waits for exactly those
        return RolloutStatus(_observed(obj) and ready == want
                             and updated >= want - partition, summary)
    same_revision = st.get("updateRevision") == st.get("currentRevision")
    return RolloutStatus(_observed(obj) and ready == want and updated == want
                         and same_revision, summary)


def daemonset(obj: Mapping[str, Any]) -> RolloutStatus:
    st = obj.get("status") or {}
    want = st.get("desiredNumberScheduled") or 0
    updated = st.get("updatedNumberScheduled") or 0
    available = st.get("numberAvailable") or 0
    ready = st.get("numberReady") or 0
    summary = f"{ready}/{want} ready, {updated} updated, {available} available"
    return RolloutStatus(_observed(obj) and updated == want and available == want
                         and ready == want, summary)


RULES = {"Deployment": deployment, "StatefulSet": statefulset, "DaemonSet": daemonset}


def status(kind: str, obj: Mapping[str, Any]) -> RolloutStatus:
    return RULES[kind](obj)
