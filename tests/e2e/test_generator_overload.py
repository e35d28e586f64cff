"""The load generator's own lateness on the real cluster (chaos.plan.generator): a run whose
generator could not keep its schedule is `error: load generator overloaded` and judges no
SLA, and side by side it halves the session's pace. The positive controls (runs judged, with
the figures that cleared them, in both load modes) are asked of runs other e2e tests make:
generator_checks.assert_kept_schedule."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from suite_runs import run_suite, suite_experiment

from chaos.model.parse import load_experiment
from chaos.model.timeline import LATE_DROP

pytestmark = pytest.mark.chaos
EXPERIMENTS = Path(__file__).parents[2] / "experiments"
WORKLOAD = EXPERIMENTS / "workloads" / "httpd-replicated.yaml"


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


def _suite_experiment(name: str, load: str, lag: str) -> str:
    return suite_experiment(
        name, manifest="httpd.yaml", port="auto",
        load=f"{load}, warmup: 2s, tail: 3s, maxGeneratorLag: {lag}",
        fault="{type: pod-kill, count: 1, gracePeriod: 0}",
        slas="maxErrorRate: 0.3, maxOutage: 10s, maxRecovery: 60s", timeout="90s")


@pytest.mark.timeout(600)
def test_side_by_side_an_overloaded_run_halves_the_pace_and_goes_again(
        chaos_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A session of its own with `--chaos-parallel 2`, as a user runs a folder: one experiment
    asks more arrivals than its generator can send, the other is an ordinary pod kill. The
    overloaded one errors, the session's pace halves to one (the warning says so in pytest's
    summary, from the xdist worker) and it goes once more, with both reports kept; the other
    is judged and passes (its bound is raised: the overloaded generator beside it takes CPU,
    and this test is about the pace, not about it)."""
    assert chaos_env.cluster_name, "needs the session's kind cluster"
    folder = tmp_path / "suite"
    (folder / "workloads").mkdir(parents=True)
    (folder / "workloads" / "httpd.yaml").write_text(WORKLOAD.read_text())
    (folder / "overloaded.yaml").write_text(_suite_experiment(
        "overloaded", "mode: open, rate: 50000, maxInFlight: 50, maxDuration: 10s, "
        "maxRequests: 400000", "100ms"))
    (folder / "steady.yaml").write_text(_suite_experiment(
        "steady", "users: 2, spawnRate: 2, wait: 50ms, maxDuration: 60s", "2s"))
    reports = tmp_path / "reports"
    proc = run_suite(folder, chaos_env.cluster_name, reports, parallel=2)
    out = proc.stdout
    print(out[-4000:])
    assert proc.returncode == 1, out[-3000:] + proc.stderr[-2000:]
    assert "1 failed, 1 passed" in out
    assert "PaceWarning" in out and "overloaded: its load generator fell behind with 2 " \
        "experiments at once: 1 from now" in " ".join(out.split())
    found = {p.parent.name: json.loads(p.read_text()) for p in reports.glob("*/*/report.json")}
    assert set(found) == {"overloaded", "overloaded-2", "steady"}, sorted(found)
    for name in ("overloaded", "overloaded-2"):
        assert found[name]["verdict"] == "error"
        assert found[name]["experiment"]["error"].startswith("load generator overloaded:")
        assert found[name]["load"]["generator"]["overloaded"] is True
    assert found["steady"]["verdict"] == "pass"
