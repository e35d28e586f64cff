"""SLA evaluation: every declared SLA yields exactly one result; unmeasured means failed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, cast

from chaos.model.slas import SLAInfo, SLASpec
from chaos.model.timeline import RequestRecord, SLAResult
from chaos.plan.stream import LoadFigures, one_pass

Verdict = Literal["pass", "fail", "error", "aborted"]


@dataclass(frozen=True, slots=True)
class Observation:
    """What one run measured.

    ``fault_window`` runs from the first fault's start to the end of the observation (normally
    the end of the load tail), so errors that follow a quick fault still count.
    ``None`` in any figure means it could not be measured.
    """

    records: Iterable[RequestRecord]  # read once, only when ``load`` is None
    fault_window: tuple[float, float]
    recovery_seconds: float | None = None
    restarts: int | None = None
    steady_state_restored: bool | None = None
    drain_blocked: bool | None = None
    rollout_stalled: bool | None = None
    api_longest_outage_s: float | None = None  # the API-server probe's, in the fault window
    # the load figures over fault_window, computed in one pass (chaos.plan.stream)
    load: LoadFigures | None = None
    scale_out_s: float | None = None  # chaos.plan.autoscale: first added pod Ready
    scale_in_s: float | None = None  # pod count back after the faults' hold


def _figure(obs: Observation, load: LoadFigures, name: str) -> object:
    """The run record's figure an SLA reads: ``load.<field>`` or an Observation field."""
    source, _, attr = name.rpartition(".")
    return getattr(load if source == "load" else obs, attr)


def judge(info: SLAInfo, threshold: object, observed: object) -> SLAResult:
    """One SLA's result, as its declaration says: a missing figure fails it."""
    if info.check == "==":
        seen = None if observed is None else float(cast(bool, observed))
        return SLAResult(info.yaml, float(cast(bool, threshold)), seen,
                         observed is threshold, info.unit, "==")
    limit = cast(float, threshold)  # as declared: an int count stays one in report.json
    value = None if observed is None else float(cast(float, observed)) * info.scale
    passed = value is not None and (value <= limit if info.check == "<=" else value >= limit)
    return SLAResult(info.yaml, limit, value, passed, info.unit, cast(str, info.check))


def evaluate(slas: SLASpec, obs: Observation) -> list[SLAResult]:
    """One ``SLAResult`` per declared SLA, in declaration order of ``SLASpec``'s fields."""
    start, end = obs.fault_window
    load = obs.load if obs.load is not None else one_pass(obs.records, start, end,
                                                          stall_s=slas.outage_bound_s)
    results: list[SLAResult] = []
    for info, threshold in slas.judged():
        result = judge(info, threshold, _figure(obs, load, cast(str, info.reads)))
        if info.bound is not None:
            # judged with the bound the figure was measured with (the runner's pass uses the
            # experiment's), and the result says which
            result = replace(result, bound_s=cast(float, _figure(obs, load, info.bound)))
        results.append(result)
    return results


def verdict(
    results: Sequence[SLAResult],
    expect: Literal["pass", "fail"],
    *,
    errored: bool = False,
    aborted: bool = False,
) -> Verdict:
    """``pass`` when the outcome matches ``expect``: a negative control (expect: fail) passes
    only when at least one SLA failed. Any harness error is ``error``, never a pass (an undo
    left unconfirmed after an abort too: the cluster may still carry the fault). A run stopped
    by an abort guard or a halt is ``aborted``, whatever its SLAs or ``expect`` say."""
    if errored:
        return "error"
    if aborted:
        return "aborted"
    if not results:
        return "error"
    all_held = all(r.passed for r in results)
    return "pass" if all_held == (expect == "pass") else "fail"
