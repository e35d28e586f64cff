"""Load figures in one pass over a stream of records, in memory that does not grow with the run.

A long game day sends millions of requests; holding them to sort and count would make the
runner's memory grow with the run. Here records are consumed as they are read (in completion
order, as capture files hold them: ``chaos.load.records.iter_capture``) and folded into
counters, a latency histogram and the outage runs. Outages need start-time order: records wait
in a small reorder buffer until no record still to come can start before them (a request ends
at most ``horizon_s`` after it started), so the buffer holds ``rate x horizon`` records at most.

The figures mean what ``chaos.plan.timeline`` says they mean (error rate over the window,
outages as maximal runs of unserved requests in start order, nearest-rank percentiles over
latency, failures included); percentiles come from a histogram (``LatencyHistogram``) whose
resolution is 0.1 ms below 1 s, 1 ms below 10 s and 10 ms above, reported at a bucket's upper
edge so they never under-report. Histograms merge by adding counts: per-worker figures
combine exactly, never by averaging percentiles.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from chaos.model.timeline import RequestRecord
from chaos.plan.timeline import STALL_S, Outage, served

_FINE, _MID = 1e4, 1e3  # buckets per second below 1 s, from 1 s to 10 s
_COARSE = 100.0  # beyond 10 s


def _code(seconds: float) -> int:
    s = max(0.0, seconds)
    if s < 1.0:
        return int(s * _FINE)
    if s < 10.0:
        return 10_000 + int((s - 1.0) * _MID)
    return 19_000 + int((s - 10.0) * _COARSE)


def _upper(code: int) -> float:
    if code < 10_000:
        return (code + 1) / _FINE
    if code < 19_000:
        return 1.0 + (code - 10_000 + 1) / _MID
    return 10.0 + (code - 19_000 + 1) / _COARSE


class LatencyHistogram:
    """Latency counts by bucket; at most ~30,000 buckets below 2 minutes, whatever the count."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()
        self.total = 0

    def add(self, seconds: float) -> None:
        self.counts[_code(seconds)] += 1
        self.total += 1

    def merge(self, other: LatencyHistogram) -> None:
        self.counts.update(other.counts)
        self.total += other.total

    def percentile(self, q: float) -> float | None:
        """Nearest-rank percentile (q in 0..100), at the upper edge of its bucket."""
        if not 0 <= q <= 100:
            raise ValueError(f"percentile must be within 0..100, got {q}")
        if not self.total:
            return None
        rank = max(1, math.ceil(q / 100 * self.total - 1e-9))
        seen = 0
        for code in sorted(self.counts):
            seen += self.counts[code]
            if seen >= rank:
                return _upper(code)
        raise AssertionError("unreachable: counts add up to total")


@dataclass(frozen=True, slots=True)
class LoadFigures:
    """What one pass measured over the window ``[start, end)`` (by start, or intended start)."""

    requests: int
    failures: int
    dropped: int
    outages: tuple[Outage, ...]
    p95_s: float | None
    p99_s: float | None
    requests_total: int  # the whole run, not just the window
    failures_total: int
    out_of_order: int  # records that came later than the reorder horizon allowed

    @property
    def error_rate(self) -> float | None:
        return self.failures / self.requests if self.requests else None

    @property
    def longest_outage_s(self) -> float | None:
        """None when nothing started in the window (unmeasured), else 0.0 or more."""
        if not self.requests:
            return None
        return max((o.seconds for o in self.outages), default=0.0)


class OnePass:
    """Fold records into :class:`LoadFigures`; feed with :meth:`add`, end with :meth:`finish`."""

    def __init__(self, start: float | None = None, end: float | None = None, *,
                 stall_s: float = STALL_S, horizon_s: float = 120.0) -> None:
        self.start, self.end = start, end
        self.stall_s, self.horizon_s = stall_s, horizon_s
        self.histogram = LatencyHistogram()
        self._heap: list[tuple[float, int, RequestRecord]] = []
        self._seq = 0
        self._last_t = -math.inf
        self.requests = self.failures = self.dropped = 0
        self.requests_total = self.failures_total = 0
        self.out_of_order = 0
        self._outages: list[Outage] = []
        self._run_start: float | None = None
        self._run_end = 0.0
        self._run_failures = 0
        self.peak_buffer = 0

    def add(self, r: RequestRecord) -> None:
        self.requests_total += 1
        self.failures_total += not r.ok
        if (self.start is not None and r.t < self.start) or (self.end is not None
                                                             and r.t >= self.end):
            return
        self.requests += 1
        self.failures += not r.ok
        self.dropped += r.dropped
        self.histogram.add(r.latency_s)
        heapq.heappush(self._heap, (r.t, self._seq, r))
        self._seq += 1
        self.peak_buffer = max(self.peak_buffer, len(self._heap))
        watermark = r.end - self.horizon_s
        while self._heap and self._heap[0][0] < watermark:
            self._ordered(heapq.heappop(self._heap)[2])

    def _ordered(self, r: RequestRecord) -> None:
        """The next record in start order: extend or close the current outage run."""
        if r.t < self._last_t:
            self.out_of_order += 1
        self._last_t = max(self._last_t, r.t)
        if not served(r, self.stall_s):
            if self._run_start is None:
                self._run_start, self._run_failures, self._run_end = r.t, 0, r.end
            self._run_failures += 1
            self._run_end = max(self._run_end, r.end)
        elif self._run_start is not None:
            self._outages.append(Outage(self._run_start, r.t, self._run_failures))
            self._run_start = None

    def finish(self) -> LoadFigures:
        while self._heap:
            self._ordered(heapq.heappop(self._heap)[2])
        if self._run_start is not None:
            self._outages.append(Outage(self._run_start, self._run_end, self._run_failures))
            self._run_start = None
        return LoadFigures(
            requests=self.requests, failures=self.failures, dropped=self.dropped,
            outages=tuple(self._outages), p95_s=self.histogram.percentile(95),
            p99_s=self.histogram.percentile(99), requests_total=self.requests_total,
            failures_total=self.failures_total, out_of_order=self.out_of_order)


def one_pass(records: Iterable[RequestRecord], start: float | None = None,
             end: float | None = None, *, stall_s: float = STALL_S,
             horizon_s: float = 120.0) -> LoadFigures:
    """:class:`LoadFigures` of a stream of records (completion order is fine)."""
    acc = OnePass(start, end, stall_s=stall_s, horizon_s=horizon_s)
    for r in records:
        acc.add(r)
    return acc.finish()
