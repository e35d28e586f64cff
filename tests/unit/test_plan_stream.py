"""One-pass figures agree with the list-based ones in chaos.plan.timeline, in flat memory."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from chaos.load.records import CAPTURE_HEADER, iter_captures
from chaos.model.timeline import RequestRecord
from chaos.plan import timeline as tl
from chaos.plan.stream import (
    LatencyHistogram,
    OnePass,
    RunPass,
    RunWindows,
    last_record,
    one_pass,
    run_figures,
    upper_edge,
)


def _run(seed: int, n: int = 3000, scheduled: bool = True) -> list[RequestRecord]:
    """An open-loop run at 100/s with two outages; returned in completion order."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        t = 1000.0 + i / 100
        down = 1005.0 <= t < 1008.5 or 1020.0 <= t < 1020.3
        if down:
            rec = RequestRecord(t, rnd.uniform(0.5, 1.0), False, 0, "timeout", scheduled,
                                t if scheduled else None)
        else:
            rec = RequestRecord(t, rnd.expovariate(1 / 0.02), True, 200, None, scheduled,
                                t if scheduled else None)
        out.append(rec)
    return sorted(out, key=lambda r: r.end)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("scheduled", [True, False])
def test_one_pass_equals_the_list_figures(seed: int, scheduled: bool) -> None:
    recs = _run(seed, scheduled=scheduled)
    start, end = 1003.0, 1025.0
    figs = one_pass(recs, start, end)
    assert figs.requests == len(tl.in_window(recs, start, end))
    assert figs.error_rate == tl.error_rate(recs, start, end)
    assert figs.outages == tuple(tl.outages(recs, start, end))
    assert figs.longest_outage_s == pytest.approx(tl.longest_outage_s(recs, start, end))
    for q, got in ((95, figs.p95_s), (99, figs.p99_s)):
        exact = tl.latency_percentile(recs, q, start, end)
        assert exact is not None and got is not None
        # the histogram's resolution, never below the exact value nor above its bucket's edge
        assert exact <= got <= min(exact + 1e-3 + 1e-9, upper_edge(exact))
    assert figs.requests_total == len(recs) and figs.out_of_order == 0


def test_the_reorder_buffer_is_bounded_by_the_horizon() -> None:
    recs = _run(4, n=20_000)
    acc = OnePass(horizon_s=2.0)
    for r in recs:
        acc.add(r)
    figs = acc.finish()
    assert acc.peak_buffer < 100 * 2.0 + 150  # ~rate x (horizon + the longest latency)
    assert figs.outages == tuple(tl.outages(recs))


def test_a_record_later_than_the_horizon_is_counted_not_lost() -> None:
    recs = [RequestRecord(float(i), 0.01, True, 200) for i in range(10)]
    recs.append(RequestRecord(0.5, 0.01, False, 0, "x"))  # arrives after t = 9 was released
    figs = one_pass(recs, horizon_s=1.0)
    assert figs.requests == 11 and figs.failures == 1 and figs.out_of_order == 1


def test_histograms_merge_exactly_where_averaged_percentiles_lie() -> None:
    fast, slow = LatencyHistogram(), LatencyHistogram()
    for _ in range(990):
        fast.add(0.010)
    for _ in range(10):
        slow.add(2.0)
    averaged = ((fast.percentile(99) or 0) + (slow.percentile(99) or 0)) / 2
    fast.merge(slow)
    assert fast.total == 1000
    assert fast.percentile(99) == 0.010  # 990 of 1000 are fast
    assert fast.percentile(99.5) == 2.0
    assert averaged == pytest.approx(1.005)  # the Krkn way: a number no request had


def test_percentile_bounds() -> None:
    h = LatencyHistogram()
    assert h.percentile(99) is None
    with pytest.raises(ValueError):
        h.percentile(101)
    for v in (0.00004, 0.5, 1.5, 12.345, 500.0):
        h.add(v)
    assert h.percentile(0) == 0.00004  # each bucket reports the largest latency it saw
    assert h.percentile(100) == 500.0
    h.add(0.000049)  # same bucket as 0.00004: the larger one stands for both
    assert h.percentile(0) == 0.000049 <= upper_edge(0.00004) == pytest.approx(0.0001)


def test_worker_files_merge_on_one_timeline(tmp_path: Path) -> None:
    recs = _run(5, n=1000)
    paths = [tmp_path / "requests-w0.tsv", tmp_path / "requests-w1.tsv"]
    for i, path in enumerate(paths):
        lines = "".join(f"{r.t:.6f}\t{r.sent:.6f}\t{r.latency_s:.6f}\t{int(r.ok)}\t{r.status}\t"
                        f"{r.error or ''}\n" for r in recs[i::2])
        path.write_text(CAPTURE_HEADER + lines)
    merged = list(iter_captures(paths))
    assert len(merged) == len(recs)
    assert [r.end for r in merged] == sorted(r.end for r in merged)
    assert one_pass(merged).outages == tuple(tl.outages(recs))


# -- a whole run: RunPass against the list figures the runner used to compute ------------------


def _within_bucket(exact: float | None, got: float | None) -> bool:
    """A streamed percentile: never below the exact one, never above its bucket's edge."""
    if exact is None or got is None:
        return exact is got
    return exact <= got <= upper_edge(exact) + 1e-12


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("scheduled", [True, False])
def test_run_figures_equal_the_list_figures(seed: int, scheduled: bool) -> None:
    recs = _run(seed, scheduled=scheduled)
    window = (1004.0, recs[-1].end)
    lifts = (1008.6, 1021.0, 1029.0)
    origin = 999.95
    figs = run_figures(recs, RunWindows(origin=origin, fault_window=window, lifts=lifts,
                                        steady=(1026.0, 1031.0)))
    # counters and throughput
    assert figs.requests_total == len(recs)
    assert figs.requests_failed == sum(1 for r in recs if not r.ok)
    assert figs.rps == pytest.approx(tl.throughput_rps(recs))
    assert figs.first_t == min(r.t for r in recs) and figs.out_of_order == 0
    # the fault window: what the SLAs and report.json's load section read
    assert figs.fault is not None
    assert figs.fault.error_rate == tl.error_rate(recs, *window)
    assert figs.fault.outages == tuple(tl.outages(recs, *window))
    assert figs.fault.longest_outage_s == tl.longest_outage_s(recs, *window)
    assert _within_bucket(tl.latency_percentile(recs, 95, *window), figs.fault.p95_s)
    assert _within_bucket(tl.latency_percentile(recs, 99, *window), figs.fault.p99_s)
    # the per-bucket timeline of the chart, bucket by bucket
    listed = tl.buckets(recs, 0.1, start=origin)
    assert len(figs.buckets) == len(listed)
    for got, want in zip(figs.buckets, listed, strict=True):
        assert (got.start, got.requests, got.failures) == pytest.approx(
            (want.start, want.requests, want.failures))
        assert got.p95_s == want.p95_s  # exact: over the bucket's own latencies
    # after each lift, and the fault's end
    for t in lifts:
        assert figs.lifts[t].errors_stop_after_s == tl.errors_stop_after(recs, t)
        assert figs.lifts[t].last_unserved_after_s == tl.last_unserved_after(recs, t)
    assert figs.steady_again_at == pytest.approx(tl.steady_again_at(recs, window[0]))
    assert figs.steady_error_rate == tl.error_rate(recs, 1026.0, 1031.0)


def test_run_figures_cases_the_lists_answer_with_none() -> None:
    down = [RequestRecord(10.0 + i, 0.01, False, 0, "x") for i in range(5)]
    figs = run_figures(down, RunWindows(origin=10.0, fault_window=(11.0, 15.0),
                                        lifts=(12.0, 99.0)))
    assert figs.steady_again_at is None is tl.steady_again_at(down, 11.0)  # still failing
    assert figs.lifts[12.0].errors_stop_after_s is None is tl.errors_stop_after(down, 12.0)
    assert figs.lifts[99.0].errors_stop_after_s is None  # nothing started after it
    assert figs.lifts[99.0].last_unserved_after_s == 0.0
    healthy = [RequestRecord(10.0 + i, 0.01, True, 200) for i in range(5)]
    figs = run_figures(healthy, RunWindows(origin=10.0, fault_window=(11.0, 15.0),
                                           lifts=(12.0,)))
    assert figs.steady_again_at == 11.0 == tl.steady_again_at(healthy, 11.0)
    assert figs.lifts[12.0].errors_stop_after_s == 0.0 == tl.errors_stop_after(healthy, 12.0)
    empty = run_figures([], RunWindows(origin=0.0, fault_window=(1.0, 2.0)))
    assert empty.requests_total == 0 and empty.rps is None and empty.buckets == ()
    assert empty.fault is not None and empty.fault.error_rate is None
    assert empty.fault.longest_outage_s is None


def test_run_figures_hold_no_records_only_buckets() -> None:
    """10^5 records at 1000/s: the reorder buffer stays near rate x horizon, the timeline has
    one small bucket per 0.1 s, and nothing else grows with the count."""
    n = 100_000
    acc = RunPass(RunWindows(origin=0.0, fault_window=(10.0, 100.0)), horizon_s=2.0)
    for i in range(n):
        acc.add(RequestRecord(i / 1000, 0.005, i % 97 != 0, 200, None, True, i / 1000))
    figs = acc.finish()
    assert figs.requests_total == n and len(figs.buckets) == 1000
    assert acc.peak_buffer <= 1000 * 2.0 + 10


def test_unfinished_arrivals_are_counted_apart_from_every_figure() -> None:
    """An arrival still in flight when the load stopped was neither served nor failed: it is
    counted (nothing silently skipped) but changes no rate, outage or percentile."""
    recs = [RequestRecord(float(i), 0.01, True, 200, None, True, float(i)) for i in range(10)]
    stuck = RequestRecord(9.5, 0.3, False, 0, "Unfinished: load stopped 300 ms after sending",
                          True, 9.5)
    assert stuck.unfinished and not recs[0].unfinished
    assert not RequestRecord(1.0, 0.3, False, 0, "Unfinished: x").unfinished  # closed loop
    windows = RunWindows(origin=0.0, fault_window=(5.0, 11.0), steady=(7.0, 11.0))
    plain, with_stuck = run_figures(recs, windows), run_figures([*recs, stuck], windows)
    assert with_stuck.requests_in_flight_at_stop == 1 and plain.requests_in_flight_at_stop == 0
    assert with_stuck.requests_failed == 0 and with_stuck.requests_total == 10
    assert with_stuck.fault == plain.fault and with_stuck.steady_error_rate == 0.0
    assert one_pass([*recs, stuck], 5.0, 11.0) == one_pass(recs, 5.0, 11.0)


def test_last_record_without_reading_what_knows_it() -> None:
    recs = _run(6, n=50)
    assert last_record(recs) == recs[-1] and last_record(()) is None
    assert last_record(iter(recs)) == recs[-1]  # streamed once


def test_failures_are_sampled_by_message_in_bounded_size() -> None:
    from chaos.plan.stream import MAX_ERROR_KINDS, OTHER_ERRORS
    recs = [RequestRecord(float(i), 0.01, False, 503, None) for i in range(5)]
    recs += [RequestRecord(10.0 + i, 1.0, False, 0, "timeout") for i in range(3)]
    recs += [RequestRecord(20.0 + i, 0.01, False, 0, f"odd {i}") for i in range(50)]
    recs.append(RequestRecord(99.0, 0.01, True, 200))
    errors = run_figures(recs, RunWindows(origin=0.0)).errors
    assert len(errors) == MAX_ERROR_KINDS + 1  # however many distinct messages came
    assert (errors[0].error, errors[0].count, errors[0].first_t, errors[0].last_t) == (
        OTHER_ERRORS, 50 - (MAX_ERROR_KINDS - 2), 38.0, 69.0)
    assert (errors[1].error, errors[1].count) == ("HTTP 503", 5)
    assert (errors[2].error, errors[2].count, errors[2].last_t) == ("timeout", 3, 12.0)
    assert sum(e.count for e in errors) == 58


@pytest.mark.parametrize(("seconds", "edge"), [
    (0.0, 0.0001),
    (0.99995, 1.0),  # the last 0.1 ms bucket
    (1.0, 1.001),  # the first 1 ms bucket
    (2.5, 2.501),
    (9.9995, 10.0),  # the last 1 ms bucket
    (10.0, 10.01),  # the first 10 ms bucket
    (15.0, 15.01),
])
def test_upper_edge_of_each_resolution_and_at_its_boundaries(seconds: float, edge: float) -> None:
    assert upper_edge(seconds) == pytest.approx(edge, rel=1e-12, abs=1e-12)
