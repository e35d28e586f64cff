"""What every fault family shares: its context, its outcome, the undo contract."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from chaos.abort import AbortSignal
from chaos.clock import SYSTEM_CLOCK, Clock, Deadline
from chaos.errors import InjectionFailed
from chaos.faults.targets import Scope
from chaos.journal.store import Journal, UndoAction, UndoOutcome
from chaos.k8s.client import Kube
from chaos.k8s.observe import ObserverView, Snapshot
from chaos.model.experiment import FaultSpec, Selector
from chaos.model.hold import Hold, shortfall
from chaos.node.runtime import NodeRuntime, journal_keys


@dataclass
class FaultContext:
    """Everything a fault needs to act; built by the runner for one experiment."""

    kube: Kube
    namespace: str
    journal: Journal
    seed: int
    clock: Clock
    workload_selector: Selector
    cluster_name: str | None  # kind cluster name, when node containers are reachable
    kubeconfig: str
    emit: Callable[[str, str, str], None]  # (kind, name, detail) -> timeline event
    observer: ObserverView  # the one watcher of pods, endpoints and nodes: read, never re-poll
    deadline: float  # monotonic; no wait may outlive it
    index: int = 0  # position of this fault in the experiment (salts target choice)
    # every undo run for this fault (by undo_pending), confirmed or not: for report.json
    undo_outcomes: list[UndoOutcome] = field(default_factory=list)
    # set by a guard breach or a halt: every wait below returns at once, so the fault's own
    # undo runs now instead of at the end of its duration
    abort: AbortSignal = field(default_factory=AbortSignal)
    holds: list[Hold] = field(default_factory=list)  # every hold, planned and actual
    # waits other than holds that the run's budget cut before they could end as declared (a
    # drain blocked for less than its timeout, a rollout followed for less than its wait)
    budget_cuts: list[str] = field(default_factory=list)
    # how node-level actions reach the nodes (chaos.node); None: this run has no node access,
    # and node-level faults refuse (``need_node``)
    node: NodeRuntime | None = None

    def scope(self) -> Scope:
        return Scope(self.kube, self.namespace, self.seed, self.index, self.workload_selector)

    def remaining(self) -> float:
        return self.deadline - self.clock.monotonic()

    def budget(self, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now on the context's clock, never past the run's."""
        return Deadline(self.clock, min(seconds, self.remaining()))

    @property
    def aborted(self) -> bool:
        return self.abort.is_set()

    def sleep(self, seconds: float) -> bool:
        """Hold for ``seconds`` (never past the deadline); True when cut short by an abort."""
        return self.clock.wait(self.abort.event, max(0.0, min(seconds, self.remaining())))

    @contextlib.contextmanager
    def holding(self, planned_s: float) -> Iterator[float]:
        """Hold for the fault's declared ``planned_s``: yields the seconds granted (never past
        the run's deadline) and records what was planned, granted and held, so that a hold the
        budget cut short is never judged as if it had run (see :class:`Hold`)."""
        granted = max(0.0, min(planned_s, self.remaining()))
        start = self.clock.monotonic()
        try:
            yield granted
        finally:
            self.holds.append(Hold(planned_s=planned_s, granted_s=granted,
                                   held_s=round(self.clock.monotonic() - start, 3),
                                   aborted=self.aborted))

    def cut_short(self, planned_s: float, granted_s: float, what: str) -> None:
        """Record that the budget cut a declared wait of ``planned_s`` to ``granted_s``, and
        the wait ended on that cut (an outcome observed early is no cut)."""
        cut = shortfall(what, granted_s, planned_s)
        if cut is not None and not self.aborted:
            self.budget_cuts.append(cut)

    def hold(self, planned_s: float) -> float:
        """Sleep through a declared hold (cut short by an abort); returns the seconds held."""
        with self.holding(planned_s) as granted:
            self.sleep(granted)
        return self.holds[-1].held_s

    def target(self) -> dict[str, str]:
        """Where an undo must be sent, recorded with it for `kube-chaos rollback`."""
        return {
            "kubeconfig": self.kubeconfig,
            "context": self.kube.context,
            "cluster": self.cluster_name or "",
            "namespace": self.namespace,
            # how the undo reaches the nodes again (chaos.node.access.for_access)
            "node_access": self.node.access if self.node is not None else "",
            # what else that runtime needs to find its way back (the agent's session)
            **journal_keys(self.node),
        }

    def need_node(self, refusal: str) -> NodeRuntime:
        """The node runtime, or InjectionFailed(``refusal``) when this run has none."""
        if self.node is None:
            raise InjectionFailed(refusal)
        return self.node

    def record_undo(self, kind: str, **params: str) -> UndoAction:
        """Journal the undo before the fault acts; JournalWriteFailed stops the fault."""
        return self.journal.record(UndoAction(kind=kind, params=params, target=self.target()))

    def await_state(self, predicate: Callable[[Snapshot], bool], timeout_s: float) -> bool:
        """Wait, on the Observer's changes, until ``predicate`` holds for its state; False when
        ``timeout_s`` (never past the deadline) runs out first, or the run is aborted."""
        deadline = self.budget(timeout_s)
        snap = self.observer.snapshot()
        while not predicate(snap):
            if deadline.expired() or self.aborted:  # an abort wakes the Observer's waiters
                return False
            snap = self.observer.wait_change(snap.version, deadline.remaining())
        return True


@dataclass
class FaultOutcome:
    """What a fault did, for the report (times are wall-clock epoch seconds)."""

    type: str
    targets: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=SYSTEM_CLOCK.wall)  # faults pass their clock's
    ended_at: float | None = None
    # faults that hold and then lift themselves: when the lift began (the runner measures
    # from it how long errors outlast the fault)
    lifted_at: float | None = None
    # the answer to the question its type declares (``FaultSpec.question``; a drain: was it
    # blocked? a rollout: did it stall?), judged by the SLA that expects one; None: not recorded
    answer: bool | None = None
    details: dict[str, object] = field(default_factory=dict)
    undo: list[UndoAction] = field(default_factory=list)
    # the fault's holds (declared duration, granted by the budget, actually held); set by the
    # runner from the fault's context once inject returns
    holds: list[Hold] = field(default_factory=list)


class Fault(Protocol):
    """What the runner drives: inject once, undo always (also after a failed inject)."""

    def inject(self, ctx: FaultContext) -> FaultOutcome:
        """Choose targets, record undo actions in the journal, then act.

        May block for the fault's own duration (drain, node loss, probe break);
        must return by ctx.deadline.
        """
        ...

    def undo(self, ctx: FaultContext) -> list[UndoOutcome]:
        """Put back whatever is still in place (idempotent); one outcome per undo action,
        confirmed or failed with its reason, never raised."""
        ...


_IMPLEMENTATIONS: dict[type[FaultSpec], Callable[[Any], Fault]] = {}
F = TypeVar("F")


def implements(spec_type: type[FaultSpec]) -> Callable[[F], F]:
    """Register the decorated class as the implementation of ``spec_type``."""

    def register(cls: F) -> F:
        if spec_type in _IMPLEMENTATIONS:
            raise TypeError(f"{spec_type.type} is implemented twice")
        _IMPLEMENTATIONS[spec_type] = cls  # type: ignore[assignment]
        return cls

    return register


def implementations() -> dict[type[FaultSpec], Callable[[Any], Fault]]:
    return dict(_IMPLEMENTATIONS)


def build(spec: FaultSpec) -> Fault:
    factory = _IMPLEMENTATIONS.get(type(spec))
    if factory is None:
        raise InjectionFailed(f"no implementation for fault type {spec.type!r}")
    return factory(spec)
