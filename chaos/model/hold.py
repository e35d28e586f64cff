"""How long a fault held, next to how long it declared it would.

A fault that holds (a probe break, a partition, a node loss, a load spike) is judged on the
assumption that it held for its declared ``duration``. When the run's budget (spec.timeout)
runs out first, the hold is cut, and whatever the SLAs would say is about a different
experiment: such a run is ``error``, never pass or fail (chaos.engine.phases, chaos.engine.runner).
"""

from __future__ import annotations

from dataclasses import dataclass

# A hold this much shorter than declared, with no abort, still counts as held: the loops that
# hold wake on the Observer's changes and stop at their end, a few milliseconds either side.
HOLD_SLACK_S = 0.25


def shortfall(what: str, got_s: float, planned_s: float) -> str | None:
    """How a declared wait of ``planned_s`` that got only ``got_s`` is recorded ("tail ran
    1.2s of 5s"), or None when it got what it declared, within the slack. A recorded shortfall
    makes the run `error`: its SLAs would be judged on a shorter experiment than declared."""
    if got_s < planned_s - HOLD_SLACK_S:
        return f"{what} {got_s:.1f}s of {planned_s:g}s"
    return None


@dataclass(frozen=True, slots=True)
class Hold:
    """One hold: the seconds declared, the part the run's budget granted, the seconds held,
    and whether an abort (a guard breach, a halt) ended it."""

    planned_s: float
    granted_s: float
    held_s: float
    aborted: bool = False

    @property
    def cut_by_budget(self) -> bool:
        return self.granted_s < self.planned_s - HOLD_SLACK_S

    @property
    def short(self) -> bool:
        """Held less than declared for a reason other than an abort."""
        if self.aborted:
            return False
        return self.cut_by_budget or self.held_s < self.planned_s - HOLD_SLACK_S

    def describe(self, fault: str) -> str:
        return f"{fault} held {self.held_s:.1f}s of {self.planned_s:g}s"
