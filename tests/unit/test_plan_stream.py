"""One-pass figures agree with the list-based ones in chaos.plan.timeline, in flat memory."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from chaos.load.records import CAPTURE_HEADER, iter_captures
from chaos.model.timeline import RequestRecord
from chaos.plan import timeline as tl
from chaos.plan.stream import LatencyHistogram, OnePass, one_pass


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
        # the histogram's resolution, never below the exact value
        assert exact <= got <= exact + 1e-3 + 1e-9
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
    assert fast.percentile(99) == pytest.approx(0.0101)  # 990 of 1000 are fast
    assert fast.percentile(99.5) == pytest.approx(2.001)
    assert averaged == pytest.approx(1.00555)  # the Krkn way: a number no request had


def test_percentile_bounds() -> None:
    h = LatencyHistogram()
    assert h.percentile(99) is None
    with pytest.raises(ValueError):
        h.percentile(101)
    for v in (0.00004, 0.5, 1.5, 12.345, 500.0):
        h.add(v)
    assert h.percentile(0) == pytest.approx(0.0001)
    assert h.percentile(100) == pytest.approx(500.01)


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
