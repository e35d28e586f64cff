"""Recovery figures from the cluster event stream (pod readiness, endpoints, restarts, nodes)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chaos.model.timeline import ClusterEvent

_READY_UP = frozenset({"pod-ready"})
_READY_DOWN = frozenset({"pod-unready", "pod-deleted"})
_EP_UP = frozenset({"endpoint-added"})
_EP_DOWN = frozenset({"endpoint-removed"})


@dataclass(frozen=True, slots=True)
class FaultWindow:
    name: str
    start: float
    end: float | None


def _ordered(events: Iterable[ClusterEvent]) -> list[ClusterEvent]:
    return sorted(events, key=lambda e: e.t)


def ready_counts(
    events: Iterable[ClusterEvent], initial_ready_pods: Iterable[str]
) -> list[tuple[float, int]]:
    """(time, Ready pod count) after each readiness-changing event."""
    ready = set(initial_ready_pods)
    out: list[tuple[float, int]] = []
    for e in _ordered(events):
        if e.kind in _READY_UP:
            ready.add(e.name)
        elif e.kind in _READY_DOWN:
            ready.discard(e.name)
        else:
            continue
        out.append((e.t, len(ready)))
    return out


def recovery_seconds(
    events: Iterable[ClusterEvent],
    fault_t: float,
    desired_ready: int,
    initial_ready_pods: Iterable[str],
    initial_endpoints: Iterable[str] | None = None,
) -> float | None:
    """Seconds from ``fault_t`` until Ready pods (and endpoints, if any endpoint events were seen)
    are back to ``desired_ready`` after the fault's disruption.

    0.0 when nothing was ever disrupted after the fault; None when it never recovered. Recovery
    is the *last* return to health, so a flap after a first recovery extends it.
    """
    evs = _ordered(events)
    track_endpoints = any(e.kind in _EP_UP or e.kind in _EP_DOWN for e in evs)
    ready = set(initial_ready_pods)
    endpoints = set(initial_endpoints if initial_endpoints is not None else ready)
    # the Service may front only some of the workload's pods (a frontend tier before its
    # backends): then its endpoints are whole again at their count before the fault
    desired_endpoints = min(desired_ready, len(endpoints)) if endpoints else desired_ready

    def healthy() -> bool:
        return len(ready) >= desired_ready and (
            not track_endpoints or len(endpoints) >= desired_endpoints
        )

    healthy_since: float | None = None
    disrupted = False
    for e in evs:
        if e.kind in _READY_UP:
            ready.add(e.name)
        elif e.kind in _READY_DOWN:
            ready.discard(e.name)
        elif e.kind in _EP_UP:
            endpoints.add(e.name)
        elif e.kind in _EP_DOWN:
            endpoints.discard(e.name)
        else:
            continue
        if e.t < fault_t:
            continue
        if healthy():
            if healthy_since is None:
                healthy_since = e.t
        else:
            disrupted = True
            healthy_since = None
    if not disrupted:
        return 0.0 if healthy() else None
    if healthy_since is None:
        return None
    return max(0.0, healthy_since - fault_t)


def restarts(
    events: Iterable[ClusterEvent], since: float | None = None, until: float | None = None
) -> int:
    """Container restarts seen (one ``restart`` event each) in ``[since, until)``."""
    return sum(
        1
        for e in events
        if e.kind == "restart"
        and (since is None or e.t >= since)
        and (until is None or e.t < until)
    )


def first_event_after(
    events: Iterable[ClusterEvent], kind: str, t: float, name: str | None = None
) -> ClusterEvent | None:
    for e in _ordered(events):
        if e.kind == kind and e.t >= t and (name is None or e.name == name):
            return e
    return None


def seconds_to(
    events: Iterable[ClusterEvent], kind: str, fault_t: float, name: str | None = None
) -> float | None:
    """Seconds from ``fault_t`` to the first ``kind`` event (e.g. ``node-notready``)."""
    e = first_event_after(events, kind, fault_t, name)
    return None if e is None else e.t - fault_t


def time_to_node_notready(
    events: Iterable[ClusterEvent], fault_t: float, node: str | None = None
) -> float | None:
    return seconds_to(events, "node-notready", fault_t, node)


def fault_windows(events: Sequence[ClusterEvent]) -> list[FaultWindow]:
    """Pair ``fault-start``/``fault-end`` events by name; an unmatched start has ``end=None``."""
    open_: dict[str, float] = {}
    out: list[FaultWindow] = []
    for e in _ordered(events):
        if e.kind == "fault-start":
            open_[e.name] = e.t
        elif e.kind == "fault-end" and e.name in open_:
            out.append(FaultWindow(e.name, open_.pop(e.name), e.t))
    out.extend(FaultWindow(n, t, None) for n, t in open_.items())
    return sorted(out, key=lambda w: w.start)
