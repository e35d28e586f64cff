"""What the runner hands the reporter: the raw observations of one run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from chaos.model.abort import Breach, GuardStats
from chaos.model.experiment import Experiment, FaultSpec
from chaos.model.hold import Hold
from chaos.model.timeline import ClusterEvent, RequestRecord, SLAResult
from chaos.plan.generator import GeneratorFigures
from chaos.plan.stream import RunFigures
from chaos.plan.timeline import DEFAULT_BUCKET_S
from chaos.report.types import ManifestDict


@dataclass(frozen=True, slots=True)
class FaultRecord:
    """One injected fault: what was hit, when, and its own figures (e.g. node-notready s)."""

    index: int
    spec: FaultSpec
    targets: tuple[str, ...]
    started_at: float | None
    ended_at: float | None
    recovery_seconds: float | None = None
    figures: Mapping[str, float | None] = field(default_factory=dict)
    # everything the fault recorded (blocking PDBs, tolerations, probe settings ...), JSON-able
    details: Mapping[str, object] = field(default_factory=dict)
    holds: tuple[Hold, ...] = ()  # declared, granted and actual hold seconds


@dataclass(frozen=True, slots=True)
class AbortRecord:
    """The guards of one run: the breach that aborted it (None: none did), when its undo was
    complete (epoch s), and how each guard was evaluated."""

    breach: Breach | None
    undo_complete_at: float | None = None
    guards: tuple[GuardStats, ...] = ()

    @property
    def breach_to_undo_s(self) -> float | None:
        if self.breach is None or self.undo_complete_at is None:
            return None
        return max(0.0, self.undo_complete_at - self.breach.at)


@dataclass(frozen=True, slots=True)
class ReportData:
    """All times are epoch seconds; the report stores timeline times relative to ``started_at``.

    ``fault_window`` is the window SLAs were judged over (first fault start -> end of load).
    """

    experiment: Experiment
    seed: int
    started_at: float
    ended_at: float
    verdict: Literal["pass", "fail", "error", "aborted"]
    # re-iterable (a tuple, or capture files streamed again); read only when ``load`` is None
    records: Iterable[RequestRecord] = ()
    events: tuple[ClusterEvent, ...] = ()
    faults: tuple[FaultRecord, ...] = ()
    fault_window: tuple[float, float] | None = None
    slas: tuple[SLAResult, ...] = ()
    recovery_seconds: float | None = None
    restarts: int | None = None
    cluster: Mapping[str, str | int | float | bool | list[str] | None] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    bucket_s: float = DEFAULT_BUCKET_S
    # every undo of the run, in order: {id, kind, action, status, reason, at, journal, ...}
    undo: tuple[Mapping[str, object], ...] = ()
    abort: AbortRecord | None = None  # None: the guards never ran (no fault was reached)
    manifest: ManifestDict | None = None  # what produced the run (chaos.report.provenance)
    # the API-server probe's figures (chaos.plan.apiprobe.figures), None when it did not run
    api_server: Mapping[str, object] | None = None
    # in-cluster load: each worker pod's measured clock offset to the master (already applied
    # to its records) with its error bound, and its records received / sent
    load_generators: tuple[Mapping[str, float | int | str | None], ...] = ()
    # the load figures of ``records`` (chaos.plan.stream.run_figures with this run's windows),
    # when the runner computed them in its one pass; None: the writer computes them
    load: RunFigures | None = None
    # the load generator's own lateness and its bound (chaos.plan.generator); None in reports
    # judged before it was measured
    generator: GeneratorFigures | None = None
    autoscaling: Mapping[str, object] | None = None  # chaos.plan.autoscale figures
