"""Open-loop load on the real cluster: the negative control where `maxErrorRate` and
`p99Latency` now fail, from a timeline in which no arrival was skipped."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import pytest

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
    # the outage is a run of arrivals that failed one after another by intended start: on a
    # 10 ms grid it lasts 10 ms per failed arrival in it, no more
    report = json.loads(Path(result.report_path or "").read_text())
    origin = report["timeline"]["origin"]
    start = origin + report["fault"]["window"]["start"]
    end = origin + report["fault"]["window"]["end"]
    unfinished = [r for r in records if r.unfinished]
    assert report["load"]["requests_in_flight_at_stop"] == len(unfinished)
    assert report["load"]["requests_total"] == len(records) - len(unfinished)
    window = [r for r in records if start <= r.t < end and not r.unfinished]
    failed = [r for r in window if not r.ok]
    outage = report["load"]["longest_outage_seconds"]
    assert outage > 1.0
    assert 0.5 * len(failed) / 100.0 <= outage <= len(failed) / 100.0 + 0.02
    assert errors.observed == pytest.approx(len(failed) / len(window))
    # the p99 is the failures' wait: arrivals that got no answer waited out the timeout (the
    # whole request is bounded by it, so no more than that plus the send's own delay)
    timeouts = [r for r in failed if "no answer within" in (r.error or "")]
    assert timeouts, {r.error for r in failed}
    assert all(0.9 * exp.load.timeout_s <= r.latency_s <= exp.load.timeout_s
               + exp.load.drop_after_s + 0.2 for r in timeouts)
    assert p99.observed >= 0.9 * exp.load.timeout_s * 1000
