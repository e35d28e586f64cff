"""The positive control of the load generator's lateness check (chaos.plan.generator), asked of
runs the e2e tests make anyway: a generator that kept its schedule is measured, under its
bound, and the run was judged. The negative control is tests/e2e/test_generator_overload.py."""

from __future__ import annotations

from typing import Any


def assert_kept_schedule(report: dict[str, Any]) -> None:
    generator = report["load"]["generator"]
    assert generator["overloaded"] is False and generator["reason"] is None, generator
    assert generator["late_drops"] == 0 and generator["bound_ms"] == 100.0
    cpu, wait = generator["cpu_seconds"], generator["mean_cpu_wait_ms"]
    assert isinstance(cpu, float) and cpu > 0, generator
    assert isinstance(wait, float) and 0 <= wait < 100.0, generator
    lag = generator["send_lag_p99_ms"]
    if report["load"]["mode"] == "open":
        assert isinstance(lag, float) and 0 <= lag < 100.0, generator
    else:
        assert lag is None, generator  # closed-loop users have no schedule to be late for
    assert report["slas"], "a run whose generator kept up is judged"
