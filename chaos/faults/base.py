"""What every fault family shares: its context, its outcome, the undo contract."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from chaos.clock import Clock
from chaos.journal import Journal, UndoAction, UndoOutcome
from chaos.k8s.client import Kube
from chaos.model.experiment import FaultSpec, Selector


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
    deadline: float  # monotonic; no wait may outlive it
    index: int = 0  # position of this fault in the experiment (salts target choice)
    # every undo run for this fault (by undo_pending), confirmed or not: for report.json
    undo_outcomes: list[UndoOutcome] = field(default_factory=list)

    def remaining(self) -> float:
        return self.deadline - self.clock.monotonic()

    def target(self) -> dict[str, str]:
        """Where an undo must be sent, recorded with it for `kube-chaos rollback`."""
        return {
            "kubeconfig": self.kubeconfig,
            "context": self.kube.context,
            "cluster": self.cluster_name or "",
            "namespace": self.namespace,
        }

    def record_undo(self, kind: str, **params: str) -> UndoAction:
        """Journal the undo before the fault acts; JournalWriteFailed stops the fault."""
        return self.journal.record(UndoAction(kind=kind, params=params, target=self.target()))


@dataclass
class FaultOutcome:
    """What a fault did, for the report (times are wall-clock epoch seconds)."""

    type: str
    targets: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None
    details: dict[str, object] = field(default_factory=dict)
    undo: list[UndoAction] = field(default_factory=list)


class Fault(Protocol):
    spec: FaultSpec

    def inject(self, ctx: FaultContext) -> FaultOutcome:
        """Choose targets, record undo actions in the journal, then act.

        May block for the fault's own duration (drain, node loss, probe break);
        must return by ctx.deadline.
        """
        ...
