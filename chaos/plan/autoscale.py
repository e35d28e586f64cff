"""Autoscaling figures from the Observer's timeline (pure): how many pods the workload had
over time, when the first one added after the faults' start turned Ready (scale-out), and when
the count fell back to where it was (scale-in). An HPA's decisions show as its Kubernetes
Events (``SuccessfulRescale``), which the Observer records too."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chaos.model.timeline import ClusterEvent

RESCALE = "SuccessfulRescale"


@dataclass(frozen=True, slots=True)
class ReplicaPoint:
    t: float
    pods: int  # the workload's pods that exist (terminating ones leave at deletion)
    ready: int


@dataclass(frozen=True, slots=True)
class Scaling:
    """``None``: did not happen within what was observed."""

    series: tuple[ReplicaPoint, ...]
    initial_pods: int
    peak_pods: int
    first_rescale_s: float | None  # faults' start -> the first HPA rescale Event
    first_pod_added_s: float | None  # faults' start -> the first pod created after it
    scale_out_s: float | None  # faults' start -> that first added pod Ready
    scale_in_s: float | None  # end of the faults' hold -> pod count back at initial_pods
    rescales: tuple[tuple[float, str], ...]  # (seconds after the faults' start, message)


def replica_series(events: Iterable[ClusterEvent], initial: Sequence[str],
                   initial_ready: Iterable[str]) -> list[ReplicaPoint]:
    """Pods and Ready pods after every pod event, starting from the pods that existed."""
    pods, ready = set(initial), set(initial_ready)
    out: list[ReplicaPoint] = []
    for ev in sorted(events, key=lambda e: e.t):
        if ev.kind == "pod-added":
            pods.add(ev.name)
        elif ev.kind == "pod-deleted":
            pods.discard(ev.name)
            ready.discard(ev.name)
        elif ev.kind == "pod-ready":
            pods.add(ev.name)
            ready.add(ev.name)
        elif ev.kind == "pod-unready":
            ready.discard(ev.name)
        else:
            continue
        out.append(ReplicaPoint(ev.t, len(pods), len(ready)))
    return out


def scaling(events: Sequence[ClusterEvent], start: float, hold_end: float,
            initial: Sequence[str], initial_ready: Iterable[str]) -> Scaling:
    """The figures for one run whose faults began at ``start`` and held until ``hold_end``
    (wall-clock seconds, the timeline's axis); ``initial``: the pods at ``start``."""
    before = [e for e in events if e.t < start]
    after = sorted((e for e in events if e.t >= start), key=lambda e: e.t)
    # the pods that existed at the start, whatever the caller knew
    base = _alive(before, initial)
    series = [ReplicaPoint(start, len(base), len(set(initial_ready) & base)),
              *replica_series(after, sorted(base), set(initial_ready) & base)]
    added = [e for e in after if e.kind == "pod-added" and e.name not in base]
    added_names = {e.name for e in added}
    first_ready = next((e for e in after if e.kind == "pod-ready" and e.name in added_names),
                       None)
    rescales = tuple((round(e.t - start, 3), e.detail) for e in after
                     if e.kind == "event" and e.detail.startswith(RESCALE))
    scale_in = None
    if added:
        back = next((p for p in series if p.t >= max(hold_end, added[0].t)
                     and p.pods <= len(base)), None)
        scale_in = None if back is None else max(0.0, back.t - hold_end)
    return Scaling(
        series=tuple(series),
        initial_pods=len(base),
        peak_pods=max(p.pods for p in series),
        first_rescale_s=rescales[0][0] if rescales else None,
        first_pod_added_s=added[0].t - start if added else None,
        scale_out_s=first_ready.t - start if first_ready else None,
        scale_in_s=scale_in,
        rescales=rescales,
    )


def _alive(before: Sequence[ClusterEvent], initial: Sequence[str]) -> set[str]:
    pods = set(initial)
    for ev in sorted(before, key=lambda e: e.t):
        if ev.kind in ("pod-added", "pod-ready"):
            pods.add(ev.name)
        elif ev.kind == "pod-deleted":
            pods.discard(ev.name)
    return pods
