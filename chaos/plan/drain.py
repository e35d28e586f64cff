"""Which pods a node drain evicts, skips or refuses, with the reason for each (kubectl's rules)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

FINISHED_PHASES = frozenset({"Succeeded", "Failed"})
Action = Literal["evict", "skip", "refuse"]


@dataclass(frozen=True, slots=True)
class PodInfo:
    name: str
    namespace: str
    node: str | None
    owner_kind: str | None  # kind of the controlling owner; None for a bare pod
    is_mirror: bool = False
    phase: str = "Running"
    has_local_storage: bool = False  # an emptyDir volume, lost on eviction


@dataclass(frozen=True, slots=True)
class DrainDecision:
    pod: PodInfo
    action: Action
    reason: str


@dataclass(frozen=True, slots=True)
class DrainPlan:
    node: str
    decisions: tuple[DrainDecision, ...]

    def _of(self, action: Action) -> tuple[DrainDecision, ...]:
        return tuple(d for d in self.decisions if d.action == action)

    @property
    def evict(self) -> tuple[PodInfo, ...]:
        return tuple(d.pod for d in self._of("evict"))

    @property
    def skipped(self) -> tuple[DrainDecision, ...]:
        return self._of("skip")

    @property
    def refused(self) -> tuple[DrainDecision, ...]:
        """Pods that stop the drain unless forced (kubectl errors out on them)."""
        return self._of("refuse")


def decide(pod: PodInfo, *, delete_local_data: bool = True, force: bool = False) -> DrainDecision:
    if pod.is_mirror:
        return DrainDecision(pod, "skip", "mirror (static) pod: managed by the kubelet")
    if pod.owner_kind == "DaemonSet":
        return DrainDecision(pod, "skip", "managed by a DaemonSet: would be recreated on the node")
    if pod.phase in FINISHED_PHASES:
        return DrainDecision(pod, "skip", f"finished pod (phase {pod.phase})")
    if pod.owner_kind is None and not force:
        return DrainDecision(pod, "refuse", "not managed by a controller: would not come back")
    if pod.has_local_storage and not delete_local_data:
        return DrainDecision(pod, "refuse", "uses local storage (emptyDir): its data would be lost")
    return DrainDecision(pod, "evict", "evict through the eviction API (honours PDBs)")


def plan_drain(
    pods: Iterable[PodInfo], node: str, *, delete_local_data: bool = True, force: bool = False
) -> DrainPlan:
    """Decisions for the pods on ``node`` (others are ignored), sorted by namespace/name."""
    on_node = sorted((p for p in pods if p.node == node), key=lambda p: (p.namespace, p.name))
    return DrainPlan(
        node,
        tuple(decide(p, delete_local_data=delete_local_data, force=force) for p in on_node),
    )
