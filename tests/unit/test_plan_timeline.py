from __future__ import annotations

import pytest

from chaos.model import RequestRecord
from chaos.plan import timeline as tl

T0 = 1_700_000_000.0


def synthetic(n: int = 1000, step: float = 0.01, fail: tuple[float, float] = (3.0, 5.3)):
    """``n`` requests every ``step`` s; those started in ``fail`` (relative) fail."""
    out = []
    for i in range(n):
        rel = round(i * step, 6)
        bad = fail[0] <= rel < fail[1]
        out.append(
            RequestRecord(
                T0 + rel,
                0.5 if bad else 0.005,
                not bad,
                0 if bad else 200,
                "ConnectionRefused" if bad else None,
            )
        )
    return out


def test_longest_outage_of_2_3_seconds() -> None:
    records = synthetic()
    assert tl.longest_outage_s(records) == pytest.approx(2.3, abs=0.1)
    (outage,) = tl.outages(records)
    assert outage.failures == 230
    assert outage.start == pytest.approx(T0 + 3.0)
    assert outage.end == pytest.approx(T0 + 5.3)


def test_outage_runs_are_broken_by_successes_and_trailing_run_ends_at_last_failure() -> None:
    r = [
        RequestRecord(T0 + 0.0, 0.1, False, 503),
        RequestRecord(T0 + 0.2, 0.1, False, 503),
        RequestRecord(T0 + 0.3, 0.1, True, 200),
        RequestRecord(T0 + 0.5, 0.4, False, 0, "timeout"),
        RequestRecord(T0 + 0.6, 0.1, False, 0, "timeout"),
    ]
    windows = [(o.start - T0, o.end - T0) for o in tl.outages(list(reversed(r)))]
    assert windows == [pytest.approx((0.0, 0.3)), pytest.approx((0.5, 0.9))]
    assert tl.longest_outage_s([]) == 0.0
    assert tl.longest_outage_s(r[2:3]) == 0.0


def test_buckets() -> None:
    rows = tl.buckets(synthetic())
    assert len(rows) == 100
    assert sum(b.requests for b in rows) == 1000
    assert sum(b.failures for b in rows) == 230
    assert rows[0].requests == 10 and rows[0].failures == 0 and rows[0].p95_s == 0.005
    assert rows[35].failures == 10 and rows[35].error_rate == 1.0
    gap = tl.buckets([RequestRecord(T0, 0.1, True, 200)], start=T0, end=T0 + 0.5)
    assert [b.requests for b in gap] == [1, 0, 0, 0, 0] and gap[1].error_rate is None
    assert tl.buckets([]) == []


def test_error_rate_and_window() -> None:
    records = synthetic()
    assert tl.error_rate(records) == pytest.approx(0.23)
    assert tl.error_rate(records, T0 + 3.0, T0 + 5.3) == 1.0
    assert tl.error_rate(records, T0, T0 + 3.0) == 0.0
    assert tl.error_rate(records, T0 + 20, T0 + 30) is None


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert tl.percentile(values, 95) == 95.0
    assert tl.percentile(values, 99) == 99.0
    assert tl.percentile(values, 100) == 100.0
    assert tl.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert tl.percentile([], 95) is None
    with pytest.raises(ValueError):
        tl.percentile(values, 101)
    records = synthetic()
    assert tl.latency_percentile(records, 95) == 0.5
    assert tl.latency_percentile(records, 95, ok_only=True) == 0.005
    assert tl.latency_percentile(records, 50, T0, T0 + 1) == 0.005


def test_steady_again_at() -> None:
    records = synthetic()
    assert tl.steady_again_at(records, T0 + 2.0) == pytest.approx(T0 + 5.3, abs=0.1)
    assert tl.steady_again_at(records, T0 + 6.0) == pytest.approx(T0 + 6.0)
    still_failing = synthetic(fail=(8.0, 99.0))
    assert tl.steady_again_at(still_failing, T0 + 2.0) is None
    assert tl.steady_again_at(records, T0 + 50) is None


def test_throughput() -> None:
    assert tl.throughput_rps(synthetic()) == pytest.approx(1000 / 9.995, rel=0.01)
    assert tl.throughput_rps([]) is None


def test_requests_that_hang_count_as_outage_even_if_they_finally_succeed() -> None:
    # a Service without endpoints makes new connections hang in SYN retries: 10 users'
    # requests start at 9.9 s, succeed only at 12.9 s; served traffic resumes at 12.95 s
    fast = [RequestRecord(T0 + i * 0.01, 0.005, True, 200) for i in range(990)]
    hung = [RequestRecord(T0 + 9.9, 3.0, True, 200) for _ in range(10)]
    after = [RequestRecord(T0 + 12.95 + i * 0.01, 0.005, True, 200) for i in range(100)]
    records = fast + hung + after
    assert tl.longest_outage_s(records) == pytest.approx(3.05, abs=0.01)
    # with a stall threshold above the hang, the same run shows no outage
    assert tl.longest_outage_s(records, stall_s=5.0) == 0.0


def _req(rel: float, latency: float, ok: bool) -> RequestRecord:
    return RequestRecord(T0 + rel, latency, ok, 200 if ok else 504, None if ok else "504")


def test_errors_stop_after_a_lift_counts_requests_started_from_it() -> None:
    records = [_req(9.0, 1.5, False), _req(9.8, 1.5, False), _req(10.2, 1.5, False),
               _req(10.6, 0.01, True), _req(10.7, 0.01, True), _req(11.0, 0.02, True)]
    lift = T0 + 10.0
    # started after the lift: 10.2 failed, 10.6 is the first of an unbroken run of successes
    assert tl.errors_stop_after(records, lift) == pytest.approx(0.6)
    # and clients saw the last error (10.2 + 1.5) 1.7 s after the lift
    assert tl.last_unserved_after(records, lift) == pytest.approx(1.7)


def test_errors_stop_at_once_when_nothing_after_the_lift_failed() -> None:
    records = [_req(9.0, 1.5, False), _req(10.1, 0.01, True), _req(10.3, 0.01, True)]
    lift = T0 + 10.0
    assert tl.errors_stop_after(records, lift) == 0.0
    # the request caught in flight still failed after the lift
    assert tl.last_unserved_after(records, lift) == pytest.approx(0.5)


def test_errors_that_never_stop_or_no_requests_after_the_lift() -> None:
    lift = T0 + 10.0
    assert tl.errors_stop_after([_req(10.5, 0.1, True), _req(11.0, 0.1, False)], lift) is None
    assert tl.errors_stop_after([_req(9.0, 0.1, True)], lift) is None
    assert tl.last_unserved_after([_req(9.0, 0.1, True)], lift) == 0.0


def test_a_stalled_success_after_the_lift_is_still_unserved() -> None:
    records = [_req(9.5, 1.2, True), _req(10.2, 0.01, True)]  # crawled through on a retry
    assert tl.last_unserved_after(records, T0 + 10.0) == pytest.approx(0.7)
    assert tl.errors_stop_after(records, T0 + 10.0) == 0.0
