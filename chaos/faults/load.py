"""load-spike: the spike itself is in the load's schedule (the parser wrote it there, see
``chaos.model.parse``), so this fault changes nothing in the cluster and has nothing to undo.
It holds for the spike's duration so the run's phases (recovery, tail) follow the spike, and
marks its start and end on the timeline."""

from __future__ import annotations

from chaos.faults.base import FaultContext, FaultOutcome, implements
from chaos.journal.store import UndoOutcome
from chaos.model.faults import LoadSpike


@implements(LoadSpike)
class LoadSpikeFault:
    def __init__(self, spec: LoadSpike) -> None:
        self.spec = spec

    def inject(self, ctx: FaultContext) -> FaultOutcome:
        spec = self.spec
        outcome = FaultOutcome(type=spec.type, started_at=ctx.clock.wall())
        detail = (f"arrivals ramp to {spec.rate:g}/s over {spec.ramp_up_s:g}s, held until "
                  f"{spec.duration_s:g}s")
        outcome.details = {"rate_per_s": spec.rate, "ramp_up_s": spec.ramp_up_s,
                           "duration_s": spec.duration_s}
        ctx.emit("fault-start", "", detail)  # no object to announce it on
        ctx.hold(spec.duration_s)  # an abort cuts it short; the load's schedule goes on
        outcome.lifted_at = outcome.ended_at = ctx.clock.wall()
        ctx.emit("fault-end", "", "arrivals back at the base rate")
        return outcome

    def undo(self, ctx: FaultContext) -> list[UndoOutcome]:
        return []
