"""The one-pass figures at their edges: which record counts in which window, the order records
starting at one instant are taken in, records later than the reorder horizon, and every counter
of a run's figures pinned whole."""

from __future__ import annotations

import pytest

from chaos.model.timeline import Bucket, RequestRecord
from chaos.plan import timeline as tl
from chaos.plan.stream import (
    ErrorKind,
    LatencyHistogram,
    RunWindows,
    one_pass,
    run_figures,
    upper_edge,
)
from chaos.plan.timeline import Outage


def ok(t: float, latency: float = 0.01) -> RequestRecord:
    return RequestRecord(t, latency, True, 200)


def failed(t: float, latency: float = 0.01) -> RequestRecord:
    return RequestRecord(t, latency, False, 503)


# -- counters ----------------------------------------------------------------------------------


def test_arrivals_the_generator_reached_too_late_are_counted_apart_among_the_drops() -> None:
    late = RequestRecord(1.0, 0.0, False, 0, "Dropped: late, 2.0 s behind schedule", True, None)
    no_sender = RequestRecord(2.0, 0.5, False, 0, "Dropped: no free sender", True, None)
    figs = run_figures([late, no_sender], RunWindows(origin=0.0))
    assert (figs.requests_dropped, figs.requests_dropped_late) == (2, 1)


def test_one_pass_counts_failures_and_drops_of_the_whole_run_and_of_its_window() -> None:
    drop = "Dropped: no free sender"
    recs = [failed(1.0), RequestRecord(2.0, 0.5, False, 0, drop, True, None),
            RequestRecord(3.0, 0.5, False, 0, drop, True, None),
            RequestRecord(4.0, 0.01, True, 200, None, True, 4.0)]
    figs = one_pass(recs, 2.0, 5.0)
    assert (figs.requests, figs.failures, figs.dropped) == (3, 2, 2)
    assert (figs.requests_total, figs.failures_total) == (4, 3)


def test_the_steady_window_holds_its_start_not_its_end() -> None:
    recs = [failed(9.9), failed(10.0), ok(10.5), ok(11.0), ok(11.5), failed(12.0)]
    figs = run_figures(recs, RunWindows(origin=9.0, steady=(10.0, 12.0)))
    assert figs.steady_error_rate == 0.25  # 10.0 (failed), 10.5, 11.0, 11.5
    assert figs.steady_error_rate == tl.error_rate(recs, 10.0, 12.0)


def test_the_send_lag_is_its_99th_percentile_not_the_worst() -> None:
    recs = [RequestRecord(float(i), 0.5, True, 200, None, True, i + 0.25) for i in range(99)]
    recs.append(RequestRecord(99.0, 1.0, True, 200, None, True, 99.75))
    assert run_figures(recs, RunWindows(origin=0.0)).send_lag_p99_s == 0.25


def test_throughput_needs_a_span_and_the_first_start_a_request() -> None:
    instant = run_figures([ok(5.0, latency=0.0)], RunWindows(origin=5.0))
    assert (instant.rps, instant.first_t) == (None, 5.0)  # no span: no rate
    short = run_figures([ok(5.0), ok(5.25, latency=0.25)], RunWindows(origin=5.0))
    assert (short.rps, short.first_t) == (4.0, 5.0)  # 2 requests in half a second
    empty = run_figures([], RunWindows(origin=5.0))
    assert (empty.rps, empty.first_t, empty.requests_total) == (None, None, 0)


def test_failure_kinds_keep_their_first_and_last_start_whatever_the_reading_order() -> None:
    recs = [failed(5.0), failed(3.0, latency=2.5), failed(4.0, latency=1.5)]
    assert run_figures(recs, RunWindows(origin=0.0)).errors == (
        ErrorKind("HTTP 503", 3, 3.0, 5.0),)


# -- buckets -----------------------------------------------------------------------------------


def test_a_buckets_p95_is_the_nearest_rank_95th_of_its_own_latencies() -> None:
    recs = [ok(i / 100, latency=(i + 1) / 100) for i in range(20)]
    figs = run_figures(recs, RunWindows(origin=0.0, bucket_s=1.0))
    assert figs.buckets == (Bucket(0.0, 1.0, 20, 0, 0.19),)  # rank 19 of 20, not the 20th


def test_records_later_than_the_horizon_join_their_bucket_one_by_one() -> None:
    """The grid starts two buckets before the first record; three records come after the
    horizon has passed them (two failed), all in the second bucket of the timeline."""
    recs = [ok(float(i)) for i in range(10)]
    recs += [failed(1.2), failed(1.4), ok(1.6)]
    figs = run_figures(recs, RunWindows(origin=-2.0, bucket_s=1.0), horizon_s=1.0)
    assert figs.buckets == (
        Bucket(0.0, 1.0, 1, 0, 0.01), Bucket(1.0, 1.0, 4, 2, 0.01),
        *(Bucket(float(i), 1.0, 1, 0, 0.01) for i in range(2, 10)))
    assert figs.out_of_order == 3 == one_pass(recs, horizon_s=1.0).out_of_order
    assert figs.requests_total == 13 and figs.requests_failed == 2


# -- order -------------------------------------------------------------------------------------


def test_records_starting_at_one_instant_are_taken_in_the_order_read() -> None:
    """A failure, two served requests and a failure, all started at 10.0: the first outage
    closes at once, the second runs to the end of the last failure; none is out of order."""
    recs = [failed(10.0, 0.01), ok(10.0, 0.02), ok(10.0, 0.03), failed(10.0, 0.04)]
    expected = (Outage(10.0, 10.0, 1), Outage(10.0, 10.04, 1))
    assert tuple(tl.outages(recs)) == expected
    single = one_pass(recs)
    assert (single.outages, single.out_of_order) == (expected, 0)
    figs = run_figures(recs, RunWindows(origin=10.0, fault_window=(10.0, 11.0)))
    assert figs.fault is not None
    assert (figs.fault.outages, figs.out_of_order) == (expected, 0)


def test_a_record_one_horizon_before_the_last_end_still_waits_for_earlier_starts() -> None:
    """With a 1 s horizon, the record started at 1.0 is not released when a request ends at
    2.0: one still to come may start before it (here at 0.5), and is then in order."""
    recs = [ok(1.0, 0.1), ok(2.0, 0.0), failed(0.5, 1.5)]
    assert one_pass(recs, horizon_s=1.0).out_of_order == 0
    assert run_figures(recs, RunWindows(origin=0.0), horizon_s=1.0).out_of_order == 0


def test_the_default_horizon_is_two_minutes_and_a_given_one_is_used() -> None:
    """The record started at 1.0 is released once a request ends 120 s after it (at 121.5),
    so one started at 0.5 that ends then too comes out of order; a longer horizon keeps both."""
    recs = [ok(1.0), ok(121.5, 0.0), failed(0.5, 121.0)]
    assert one_pass(recs).out_of_order == 1
    assert run_figures(recs, RunWindows(origin=0.0)).out_of_order == 1
    assert one_pass(recs, horizon_s=200.0).out_of_order == 0
    assert run_figures(recs, RunWindows(origin=0.0), horizon_s=200.0).out_of_order == 0


# -- the fault window and the lifts ------------------------------------------------------------


def test_a_failure_at_the_faults_start_is_in_its_first_bucket() -> None:
    recs = [failed(10.0), ok(10.25), ok(10.35)]
    figs = run_figures(recs, RunWindows(origin=10.0, fault_window=(10.0, 11.0)))
    assert figs.steady_again_at == pytest.approx(10.1)
    assert tl.steady_again_at(recs, 10.0) == pytest.approx(10.1)


def test_a_request_started_at_the_lift_is_after_it() -> None:
    recs = [failed(12.0), ok(13.0)]
    figs = run_figures(recs, RunWindows(origin=12.0, lifts=(12.0,)))
    assert figs.lifts[12.0].errors_stop_after_s == 1.0 == tl.errors_stop_after(recs, 12.0)


def test_the_outage_bound_given_decides_what_a_lift_counts_unserved() -> None:
    recs = [ok(10.0, latency=0.75), ok(11.0)]
    bounded = run_figures(recs, RunWindows(origin=10.0, lifts=(10.5,)), stall_s=0.5)
    assert bounded.lifts[10.5].last_unserved_after_s == 0.25
    assert tl.last_unserved_after(recs, 10.5, stall_s=0.5) == 0.25
    default = run_figures(recs, RunWindows(origin=10.0, lifts=(10.5,)))
    assert default.lifts[10.5].last_unserved_after_s == 0.0  # 0.75 s is served within 1 s


def test_the_last_unserved_end_is_the_latest_whatever_the_reading_order() -> None:
    recs = [RequestRecord(10.0, 3.0, False, 0, "timeout"), failed(11.0, latency=0.5)]
    figs = run_figures(recs, RunWindows(origin=10.0, lifts=(10.5,)))
    assert figs.lifts[10.5].last_unserved_after_s == 2.5 == tl.last_unserved_after(recs, 10.5)


# -- the histogram -----------------------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "edge"), [(1.5, 1.501), (10.5, 10.51)])
def test_upper_edge_inside_the_millisecond_and_ten_millisecond_ranges(seconds: float,
                                                                     edge: float) -> None:
    assert upper_edge(seconds) == pytest.approx(edge, rel=1e-12, abs=1e-12)


def test_a_percentile_out_of_range_is_refused_by_name() -> None:
    h = LatencyHistogram()
    h.add(0.5)
    with pytest.raises(ValueError) as info:
        h.percentile(101)
    assert str(info.value) == "percentile must be within 0..100, got 101"
