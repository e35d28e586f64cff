"""SLA evaluation: every declared SLA yields exactly one result; unmeasured means failed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from chaos.model.experiment import SLASpec
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


def _upper(name: str, threshold: float, observed: float | None, unit: str) -> SLAResult:
    passed = observed is not None and observed <= threshold
    return SLAResult(name, threshold, observed, passed, unit, "<=")


def _lower(name: str, threshold: float, observed: float | None, unit: str) -> SLAResult:
    passed = observed is not None and observed >= threshold
    return SLAResult(name, threshold, observed, passed, unit, ">=")


def _equal(name: str, expected: bool, observed: bool | None) -> SLAResult:
    value = None if observed is None else float(observed)
    return SLAResult(name, float(expected), value, observed is expected, "bool", "==")


def evaluate(slas: SLASpec, obs: Observation) -> list[SLAResult]:
    """One ``SLAResult`` per declared SLA, in declaration order of ``SLASpec``'s fields."""
    start, end = obs.fault_window
    load = obs.load if obs.load is not None else one_pass(obs.records, start, end,
                                                          stall_s=slas.outage_bound_s)
    results: list[SLAResult] = []
    if slas.max_error_rate is not None:
        results.append(_upper("maxErrorRate", slas.max_error_rate, load.error_rate, "ratio"))
    if slas.max_outage_s is not None:
        # judged with the bound the figure was measured with (the runner's pass uses the
        # experiment's), and the result says which
        results.append(replace(_upper("maxOutage", slas.max_outage_s, load.longest_outage_s,
                                      "s"), bound_s=load.outage_bound_s))
    for name, seconds, limit in (
        ("p95Latency", load.p95_s, slas.p95_latency_ms),
        ("p99Latency", load.p99_s, slas.p99_latency_ms),
    ):
        if limit is not None:
            observed = None if seconds is None else seconds * 1000.0
            results.append(_upper(name, limit, observed, "ms"))
    if slas.max_recovery_s is not None:
        results.append(_upper("maxRecovery", slas.max_recovery_s, obs.recovery_seconds, "s"))
    if slas.expected_restarts is not None:
        observed_r = None if obs.restarts is None else float(obs.restarts)
        results.append(_lower("expectedRestarts", slas.expected_restarts, observed_r, "count"))
    if slas.max_restarts is not None:
        observed_r = None if obs.restarts is None else float(obs.restarts)
        results.append(_upper("maxRestarts", slas.max_restarts, observed_r, "count"))
    if slas.steady_state_restored:
        results.append(_equal("steadyStateRestored", True, obs.steady_state_restored))
    if slas.expect_blocked is not None:
        results.append(_equal("expectBlocked", slas.expect_blocked, obs.drain_blocked))
    if slas.expect_stalled is not None:
        results.append(_equal("expectStalled", slas.expect_stalled, obs.rollout_stalled))
    if slas.max_api_outage_s is not None:
        results.append(_upper("maxApiOutage", slas.max_api_outage_s, obs.api_longest_outage_s,
                              "s"))
    if slas.max_scale_out_s is not None:
        results.append(_upper("maxScaleOutTime", slas.max_scale_out_s, obs.scale_out_s, "s"))
    if slas.max_scale_in_s is not None:
        results.append(_upper("maxScaleInTime", slas.max_scale_in_s, obs.scale_in_s, "s"))
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
