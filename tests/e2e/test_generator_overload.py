"""The load generator's own lateness on the real cluster (chaos.plan.generator): a run whose
generator could not keep its schedule is `error: load generator overloaded` and judges no
SLA; the same experiment at a rate the generator keeps is judged, with the figures that
cleared it in report.json, in both load modes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from chaos.model.parse import load_experiment
from chaos.model.timeline import LATE_DROP

pytestmark = pytest.mark.chaos
EXPERIMENTS = Path(__file__).parents[2] / "experiments"


def _generator(report_path: Path | None) -> dict[str, object]:
    report = json.loads(Path(report_path or "").read_text())
    generator: dict[str, object] = report["load"]["generator"]
    return generator


def test_negative_control_a_schedule_the_generator_cannot_keep_is_not_blamed_on_the_service(
        chaos_experiment) -> None:  # type: ignore[no-untyped-def]
    """The replicated pod kill, which passes at its own load, with 50,000 arrivals/s from one
    process: several times what a locust process sends on any machine (≈ 200 µs of CPU each
    here), so its scheduler falls behind and drops arrivals as late. Bounded: 10 s of load,
    400,000 arrivals at most."""
    exp = load_experiment(EXPERIMENTS / "pod-kill-replicated.yaml")
    load = replace(exp.load, mode="open", rate_segments=((50000.0, 50000.0, None),),
                   warmup_s=2.0, tail_s=3.0, max_duration_s=10.0, max_requests=400000,
                   max_in_flight=50)
    result = chaos_experiment(replace(exp, load=load, timeout_s=60.0))
    assert result.verdict == "error" and result.slas == []
    assert result.error is not None and result.error.startswith("load generator overloaded:")
    assert any(r.late_drop for r in result.records)
    assert all((r.error or "").startswith(LATE_DROP) for r in result.records if r.late_drop)
    generator = _generator(result.report_path)
    assert generator["overloaded"] is True and generator["late_drops"]
    assert generator["reason"] and "too late to send" in str(generator["reason"])
    # measured though the run ended before its tail (the steady state failed on late drops)
    assert isinstance(generator["cpu_seconds"], float) and generator["cpu_seconds"] > 0


@pytest.mark.parametrize("name", ["pod-kill-replicated.yaml",
                                  "pod-kill-single-open-negative.yaml"])
def test_a_generator_that_keeps_its_schedule_leaves_the_run_to_its_slas(
        chaos_experiment, name: str) -> None:  # type: ignore[no-untyped-def]
    """Positive controls: the closed-loop replicated kill passes and the open-loop
    single-replica kill fails its SLAs (it is a negative control of the service), each judged,
    each with its generator's figures measured under the bound."""
    exp = load_experiment(EXPERIMENTS / name)
    result = chaos_experiment(replace(exp, expect="pass"))
    assert result.error is None, result.error
    assert result.verdict == ("pass" if name == "pod-kill-replicated.yaml" else "fail")
    assert result.slas
    generator = _generator(result.report_path)
    assert generator["overloaded"] is False and generator["reason"] is None
    assert generator["late_drops"] == 0 and generator["bound_ms"] == 100.0
    cpu, wait = generator["cpu_seconds"], generator["mean_cpu_wait_ms"]
    assert isinstance(cpu, float) and cpu > 0
    assert isinstance(wait, float) and 0 <= wait < 100.0
    lag = generator["send_lag_p99_ms"]
    if exp.load.mode == "open":
        assert isinstance(lag, float) and 0 <= lag < 100.0
    else:
        assert lag is None  # closed-loop users have no schedule to be late for
