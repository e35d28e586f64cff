"""Controller rollouts: when one is complete (by the rules `kubectl rollout status` applies) or
stalled, what its strategy allows, and what its pods actually did.

Pure: each function reads the object as the API serialises it (camelCase dicts), or pod states
from the Observer's snapshots.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


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


# --- what a rollout may do: the strategy, resolved as the controllers resolve it ------------------


@dataclass(frozen=True, slots=True)
class Strategy:
    """A controller's update strategy with its bounds resolved to pod counts.

    ``max_surge`` / ``max_unavailable`` are what the controller allows beyond / below
    ``replicas`` during an update (Recreate: no surge, every pod unavailable); ``declared``
    keeps the manifest's own values ("25%", 1) for the report.
    """

    kind: str
    type: str  # RollingUpdate, Recreate (Deployment) or RollingUpdate, OnDelete (StatefulSet)
    replicas: int
    max_surge: int
    max_unavailable: int
    declared: Mapping[str, int | str | None]
    progress_deadline_s: int | None = None  # Deployments only
    min_ready_s: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"type": self.type, "replicas": self.replicas, "max_surge": self.max_surge,
                "max_unavailable": self.max_unavailable, "declared": dict(self.declared),
                "progress_deadline_s": self.progress_deadline_s, "min_ready_s": self.min_ready_s}


def scaled(value: int | str | None, replicas: int, *, round_up: bool, default: int | str) -> int:
    """An int-or-percent bound as pods (the API's GetScaledValueFromIntOrPercent): percentages
    round up for maxSurge and down for maxUnavailable. ValueError for anything else."""
    if value is None:
        value = default
    if isinstance(value, bool):
        raise ValueError(f"not an int or percentage: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"negative: {value}")
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        share = int(value[:-1]) * replicas
        return -(-share // 100) if round_up else share // 100
    raise ValueError(f"not an int or percentage: {value!r}")


def _replicas(spec: Mapping[str, Any]) -> int:
    return 1 if spec.get("replicas") is None else int(spec["replicas"])


def strategy(kind: str, obj: Mapping[str, Any]) -> Strategy:
    """The strategy of a Deployment or StatefulSet as the API serialises it. ValueError when a
    bound is malformed (the API server would not have accepted it)."""
    spec = obj.get("spec") or {}
    replicas = _replicas(spec)
    min_ready = int(spec.get("minReadySeconds") or 0)
    if kind == "Deployment":
        st = spec.get("strategy") or {}
        stype = st.get("type") or "RollingUpdate"
        deadline = spec.get("progressDeadlineSeconds")
        deadline = 600 if deadline is None else int(deadline)
        if stype == "Recreate":
            return Strategy(kind, stype, replicas, 0, replicas, {}, deadline, min_ready)
        ru = st.get("rollingUpdate") or {}
        declared = {"maxSurge": ru.get("maxSurge", "25%"),
                    "maxUnavailable": ru.get("maxUnavailable", "25%")}
        surge = scaled(ru.get("maxSurge"), replicas, round_up=True, default="25%")
        unavailable = scaled(ru.get("maxUnavailable"), replicas, round_up=False, default="25%")
        if surge == 0 and unavailable == 0:
            unavailable = 1  # the controller's fencepost: some progress must be possible
        return Strategy(kind, stype, replicas, surge, unavailable, declared, deadline, min_ready)
    if kind == "StatefulSet":
        st = spec.get("updateStrategy") or {}
        stype = st.get("type") or "RollingUpdate"
        ru = st.get("rollingUpdate") or {}
        raw = ru.get("maxUnavailable")
        declared = {"maxUnavailable": 1 if raw is None else raw,
                    "partition": ru.get("partition") or 0}
        unavailable = max(1, scaled(raw, replicas, round_up=False, default=1))
        return Strategy(kind, stype, replicas, 0, unavailable, declared, None, min_ready)
    raise ValueError(f"no rollout strategy for kind {kind!r}")


# --- where a rollout stands -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Progress:
    """One reading of the controller during a rollout."""

    observed: bool  # the controller has seen the current spec (observedGeneration)
    done: bool
    stalled_at: str | None  # ProgressDeadlineExceeded's lastUpdateTime (RFC 3339), if stalled
    stall_message: str
    summary: str
    revision: str  # Deployment: revision annotation; StatefulSet: status.updateRevision


def progress(kind: str, obj: Mapping[str, Any]) -> Progress:
    """Complete (as `kubectl rollout status` judges) or stalled at the progress deadline.

    Only a Deployment has a progress deadline; only a condition the controller wrote for the
    current generation counts, so a stall left from an earlier rollout is not taken for this
    one's.
    """
    state = status(kind, obj)
    observed = _observed(obj)
    stalled_at, message = None, ""
    meta = obj.get("metadata") or {}
    st = obj.get("status") or {}
    if kind == "Deployment":
        revision = str((meta.get("annotations") or {}).get("deployment.kubernetes.io/revision")
                       or "")
        for cond in st.get("conditions") or ():
            if cond.get("type") == "Progressing" and cond.get("status") == "False" and \
                    cond.get("reason") == "ProgressDeadlineExceeded" and observed:
                stalled_at = str(cond.get("lastUpdateTime") or cond.get("lastTransitionTime")
                                 or "")
                message = str(cond.get("message") or "")
    else:
        revision = str(st.get("updateRevision") or "")
    return Progress(observed, state.done and observed, stalled_at, message, state.summary,
                    revision)


# --- what the pods did: counted from the Observer's snapshots ---------------------------------


REVISION_LABELS = ("pod-template-hash", "controller-revision-hash")


class PodLike(Protocol):
    """What counting needs of a pod (chaos.k8s.observe.PodState has it)."""

    @property
    def ready(self) -> bool: ...

    @property
    def terminating(self) -> bool: ...

    @property
    def labels(self) -> Mapping[str, str]: ...


def revision_of(labels: Mapping[str, str]) -> str:
    """The controller revision a pod was made from (ReplicaSet hash or ControllerRevision)."""
    for key in REVISION_LABELS:
        if key in labels:
            return labels[key]
    return ""


@dataclass(frozen=True, slots=True)
class PodCounts:
    total: int  # every pod, terminating ones too
    active: int  # not terminating: what the controller counts against maxSurge
    ready: int  # Ready and not terminating: what it (and a Service) counts as available
    ready_by_revision: Mapping[str, int]


def count_pods(pods: Iterable[PodLike], selector: Mapping[str, str]) -> PodCounts:
    """The controller's pods (matching its selector) among ``pods``, counted."""
    total = active = ready = 0
    by_revision: dict[str, int] = {}
    for pod in pods:
        if not all(pod.labels.get(k) == v for k, v in selector.items()):
            continue
        total += 1
        if pod.terminating:
            continue
        active += 1
        if pod.ready:
            ready += 1
            rev = revision_of(pod.labels)
            by_revision[rev] = by_revision.get(rev, 0) + 1
    return PodCounts(total, active, ready, by_revision)


@dataclass
class Peaks:
    """Extremes over every snapshot of a rollout, against ``replicas``: the surge and the
    unavailability actually seen, to set next to what the strategy allows. ``old`` are the
    revisions whose pods served before the rollout: how few of them stayed Ready tells
    whether the old pods kept serving."""

    replicas: int
    old: frozenset[str] = frozenset()
    max_surge: int = 0
    max_unavailable: int = 0
    max_total: int = 0
    min_ready: int | None = None
    min_old_ready: int | None = None
    samples: int = 0

    def add(self, counts: PodCounts) -> None:
        self.samples += 1
        self.max_surge = max(self.max_surge, counts.active - self.replicas)
        self.max_unavailable = max(self.max_unavailable, self.replicas - counts.ready)
        self.max_total = max(self.max_total, counts.total)
        self.min_ready = counts.ready if self.min_ready is None else \
            min(self.min_ready, counts.ready)
        old_ready = sum(n for rev, n in counts.ready_by_revision.items() if rev in self.old)
        self.min_old_ready = old_ready if self.min_old_ready is None else \
            min(self.min_old_ready, old_ready)

    def as_dict(self) -> dict[str, int | None]:
        return {"max_surge_observed": self.max_surge,
                "max_unavailable_observed": self.max_unavailable,
                "max_pods_observed": self.max_total, "min_ready_observed": self.min_ready,
                "min_old_ready_observed": self.min_old_ready}
