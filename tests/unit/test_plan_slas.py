"""Every SLA kind must be able to pass, fail, and fail when unmeasured."""

from __future__ import annotations

import pytest

from chaos.errors import SLAViolated
from chaos.model import RequestRecord, SLAResult, SLASpec
from chaos.plan.slas import Observation, evaluate, verdict

T0 = 1000.0


def records(fail_from: float = 3.0, fail_to: float = 5.3, slow: float = 0.02):
    out = []
    for i in range(1000):
        rel = i * 0.01
        bad = fail_from <= rel < fail_to
        out.append(RequestRecord(T0 + rel, slow if not bad else 0.001, not bad, 200))
    return tuple(out)


def obs(**kw: object) -> Observation:
    base: dict[str, object] = {
        "records": records(),
        "fault_window": (T0 + 2.0, T0 + 10.0),
        "recovery_seconds": 4.0,
        "restarts": 1,
        "steady_state_restored": True,
        "drain_blocked": False,
        "rollout_stalled": True,
    }
    base.update(kw)
    return Observation(**base)  # type: ignore[arg-type]


def one(slas: SLASpec, o: Observation) -> SLAResult:
    (result,) = evaluate(slas, o)
    return result


# (spec that passes, spec that fails, expected observed value, name, unit)
CASES = [
    (SLASpec(max_error_rate=0.3), SLASpec(max_error_rate=0.2), 230 / 800, "maxErrorRate", "ratio"),
    (SLASpec(max_failed_requests=230), SLASpec(max_failed_requests=229), 230.0,
     "maxFailedRequests", "count"),
    (SLASpec(max_outage_s=2.5), SLASpec(max_outage_s=2.0), 2.3, "maxOutage", "s"),
    (SLASpec(p95_latency_ms=20), SLASpec(p95_latency_ms=10), 20.0, "p95Latency", "ms"),
    (SLASpec(p99_latency_ms=25), SLASpec(p99_latency_ms=19), 20.0, "p99Latency", "ms"),
    (SLASpec(max_recovery_s=5), SLASpec(max_recovery_s=3), 4.0, "maxRecovery", "s"),
    (SLASpec(expected_restarts=1), SLASpec(expected_restarts=2), 1.0, "expectedRestarts", "count"),
    (SLASpec(max_restarts=1), SLASpec(max_restarts=0), 1.0, "maxRestarts", "count"),
    (
        SLASpec(steady_state_restored=True),
        None,
        1.0,
        "steadyStateRestored",
        "bool",
    ),
    (SLASpec(expect_blocked=False), SLASpec(expect_blocked=True), 0.0, "expectBlocked", "bool"),
    (SLASpec(expect_stalled=True), SLASpec(expect_stalled=False), 1.0, "expectStalled", "bool"),
]


@pytest.mark.parametrize(("good", "bad", "observed", "name", "unit"), CASES)
def test_each_sla_passes_and_fails(
    good: SLASpec, bad: SLASpec | None, observed: float, name: str, unit: str
) -> None:
    r = one(good, obs())
    assert (r.name, r.passed, r.unit) == (name, True, unit)
    assert r.observed == pytest.approx(observed, abs=0.011)
    if bad is not None:
        assert one(bad, obs()).passed is False


def test_steady_state_not_restored_fails() -> None:
    assert (
        one(SLASpec(steady_state_restored=True), obs(steady_state_restored=False)).passed is False
    )


@pytest.mark.parametrize("spec", [c[0] for c in CASES])
def test_unmeasured_fails(spec: SLASpec) -> None:
    empty = obs(
        records=(),
        recovery_seconds=None,
        restarts=None,
        steady_state_restored=None,
        drain_blocked=None,
        rollout_stalled=None,
    )
    r = one(spec, empty)
    assert r.observed is None and r.passed is False


def test_one_result_per_declared_sla_and_message() -> None:
    spec = SLASpec(
        max_error_rate=0.05,
        max_outage_s=1.0,
        p95_latency_ms=500,
        p99_latency_ms=1000,
        max_recovery_s=30,
        expected_restarts=1,
        max_restarts=3,
        steady_state_restored=True,
        expect_blocked=False,
        expect_stalled=True,
    )
    results = evaluate(spec, obs())
    assert [r.name for r in results] == [
        "maxErrorRate",
        "maxOutage",
        "p95Latency",
        "p99Latency",
        "maxRecovery",
        "expectedRestarts",
        "maxRestarts",
        "steadyStateRestored",
        "expectBlocked",
        "expectStalled",
    ]
    assert evaluate(SLASpec(), obs()) == []
    msg = str(SLAViolated(results))
    assert "maxErrorRate: observed 0.2875 (28.75%) exceeds threshold 0.0500 (5.00%)" in msg
    assert "maxOutage: observed 2.3s exceeds threshold 1s" in msg


def test_a_rollout_that_completed_fails_expect_stalled() -> None:
    r = one(SLASpec(expect_stalled=True), obs(rollout_stalled=False))
    assert (r.passed, r.observed, r.threshold) == (False, 0.0, 1.0)


def test_outage_outside_fault_window_is_not_counted() -> None:
    assert one(SLASpec(max_outage_s=0.1), obs(fault_window=(T0 + 6, T0 + 10))).passed


def test_verdict() -> None:
    ok = [SLAResult("maxOutage", 1, 0.5, True, "s")]
    bad = [SLAResult("maxOutage", 1, 2.0, False, "s")]
    assert verdict(ok, "pass") == "pass"
    assert verdict(bad, "pass") == "fail"
    assert verdict(bad, "fail") == "pass"  # negative control breached as expected
    assert verdict(ok, "fail") == "fail"
    assert verdict(ok, "pass", errored=True) == "error"
    assert verdict([], "pass") == "error"


def test_expect_blocked_false_alone_is_a_declared_sla() -> None:
    """'The drain must get through' is a claim that can fail; it was once refused as no SLA."""
    assert SLASpec(expect_blocked=False).declared()
    assert not SLASpec().declared()


def test_every_declaration_reads_a_figure_the_run_record_has() -> None:
    """A declared SLA names its figure by name: a typo, or a figure nobody measures, must fail
    here rather than as an AttributeError after a run."""
    import dataclasses

    from chaos.model.slas import SETTINGS, SLA_INFOS
    from chaos.plan.stream import LoadFigures

    def figures(cls: type) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)} | {
            k for k, v in vars(cls).items() if isinstance(v, property)}

    observed, load = figures(Observation), figures(LoadFigures)
    for info in SLA_INFOS:
        for name in filter(None, (info.reads, info.bound)):
            source, _, attr = name.rpartition(".")
            assert attr in (load if source == "load" else observed), (info.yaml, name)
    assert [s.yaml for s in SETTINGS] == ["outageBound"]  # read, never judged


def test_every_declared_sla_yields_one_result_and_fails_unmeasured() -> None:
    from chaos.model.slas import SLA_INFOS
    from chaos.plan.stream import one_pass

    empty = one_pass((), T0, T0 + 1.0, stall_s=1.0)
    blank = Observation(records=(), fault_window=(T0, T0 + 1.0), load=empty)
    for info in SLA_INFOS:
        value = True if info.check == "==" else 1
        (result,) = evaluate(SLASpec(**{info.attr: value}), blank)
        assert (result.name, result.op, result.unit) == (info.yaml, info.check, info.unit)
        if info.reads is not None and not info.reads.startswith("load."):
            assert result.observed is None and not result.passed, info.yaml
