"""Open-loop load on the real cluster: the negative control where `maxErrorRate`,
`maxOutage` and `p99Latency` now fail, from a timeline in which no arrival was skipped; and
with the default 5 s client timeout, where arrivals wait through the outage instead of
failing, `maxOutage: 1s` still fails (issue 18: it used to report no outage at all)."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import pytest
from generator_checks import assert_kept_schedule

from chaos.model import LoadProfile
from chaos.model.parse import load_experiment

pytestmark = pytest.mark.chaos
EXPERIMENTS = Path(__file__).parents[2] / "experiments"


def test_open_loop_single_replica_pod_kill_fails_error_rate_and_p99(chaos_experiment) -> None:
    exp = load_experiment(EXPERIMENTS / "pod-kill-single-open-negative.yaml")
    result = chaos_experiment(replace(exp, expect="pass"))  # judged as a normal experiment
    assert result.error is None, result.error
    assert result.verdict == "fail"
    errors, p99 = result.sla("maxErrorRate"), result.sla("p99Latency")
    assert not errors.passed and errors.observed is not None and errors.observed > 0.05
    assert not p99.passed and p99.observed is not None and p99.observed > 500

    records = sorted(result.records, key=lambda r: r.t)
    assert all(r.scheduled for r in records), "every record is an arrival on the schedule"
    # nothing skipped: the intended starts are the 100/s grid, without a gap to the very end
    # (arrivals still in flight when the load stopped are recorded too, as Unfinished)
    body = [r.t for r in records]
    gaps = [b - a for a, b in itertools.pairwise(body)]
    assert max(gaps) == pytest.approx(0.01, abs=1e-3) and len(body) > 1000
    # the outage is a run of arrivals unserved one after another by intended start (failed,
    # or answered only after the 1 s outage bound, the send lag included): on a 10 ms grid it
    # lasts 10 ms per unserved arrival in it, no more
    report = json.loads(Path(result.report_path or "").read_text())
    assert_kept_schedule(report)  # open loop: judged, so its generator kept up
    origin = report["timeline"]["origin"]
    start = origin + report["fault"]["window"]["start"]
    end = origin + report["fault"]["window"]["end"]
    unfinished = [r for r in records if r.unfinished]
    assert report["load"]["requests_in_flight_at_stop"] == len(unfinished)
    assert report["load"]["requests_total"] == len(records) - len(unfinished)
    window = [r for r in records if start <= r.t < end and not r.unfinished]
    failed = [r for r in window if not r.ok]
    unserved = [r for r in window if not r.ok or r.latency_s >= 1.0]
    outage = report["load"]["longest_outage_seconds"]
    assert outage > 1.0 and report["load"]["outage_bound_seconds"] == 1.0
    assert 0.5 * len(unserved) / 100.0 <= outage <= len(unserved) / 100.0 + 0.02
    assert not result.sla("maxOutage").passed
    assert errors.observed == pytest.approx(len(failed) / len(window))
    # the p99 is the failures' wait: arrivals that got no answer waited out the timeout (the
    # whole request is bounded by it, so no more than that plus the send's own delay)
    timeouts = [r for r in failed if "no answer within" in (r.error or "")]
    assert timeouts, {r.error for r in failed}
    assert all(0.9 * exp.load.timeout_s <= r.latency_s <= exp.load.timeout_s
               + exp.load.drop_after_s + 0.2 for r in timeouts)
    assert p99.observed >= 0.9 * exp.load.timeout_s * 1000


def test_open_loop_pod_kill_with_the_default_timeout_fails_max_outage(chaos_experiment) -> None:
    """The same kill with the default client timeout (5 s): arrivals wait out the hang (about
    3 s) and then succeed, so few or none fail; those not answered within the outage bound
    (1 s) were not served all the same, and `maxOutage: 1s` fails."""
    exp = load_experiment(EXPERIMENTS / "pod-kill-single-open-negative.yaml")
    default_timeout = LoadProfile().timeout_s
    assert default_timeout == 5.0 and exp.slas.max_outage_s == 1.0
    exp = replace(exp, expect="pass", load=replace(exp.load, timeout_s=default_timeout))
    result = chaos_experiment(exp)
    assert result.error is None, result.error
    assert result.verdict == "fail"
    outage = result.sla("maxOutage")
    assert not outage.passed and outage.observed is not None and outage.observed > 1.0
    assert outage.bound_s == 1.0
    report = json.loads(Path(result.report_path or "").read_text())
    assert report["load"]["outage_bound_seconds"] == 1.0
    [row] = [s for s in report["slas"] if s["name"] == "maxOutage"]
    assert row["outage_bound_seconds"] == 1.0 and not row["passed"]
    # the arrivals waited rather than failed: the outage is made of slow successes
    origin = report["timeline"]["origin"]
    start = origin + report["fault"]["window"]["start"]
    end = origin + report["fault"]["window"]["end"]
    window = [r for r in result.records if start <= r.t < end and not r.unfinished]
    slow = [r for r in window if r.ok and r.latency_s >= 1.0]
    failed = [r for r in window if not r.ok]
    assert len(slow) > len(failed), (len(slow), len(failed))
    print(f"default timeout: outage {outage.observed:.2f} s, {len(slow)} slow successes, "
          f"{len(failed)} failed of {len(window)}")
