"""Load figures in one pass over a stream of records, in memory that does not grow with the run.

A long game day sends millions of requests; holding them to sort and count would make the
runner's memory grow with the run. Here records are consumed as they are read (in completion
order, as capture files hold them: ``chaos.load.records.iter_capture``) and folded into
counters, a latency histogram and the outage runs. Outages need start-time order: records wait
in a small reorder buffer until no record still to come can start before them (a request ends
at most ``horizon_s`` after it started), so the buffer holds ``rate x horizon`` records at most.

The figures mean what ``chaos.plan.timeline`` says they mean (error rate over the window,
outages as maximal runs of unserved requests in start order, unserved meaning failed or not
answered within ``stall_s``, the experiment's ``slas.outageBound``, nearest-rank percentiles over
latency, failures included); percentiles come from a histogram (``LatencyHistogram``) whose
resolution is 0.1 ms below 1 s, 1 ms below 10 s and 10 ms above, reported as the largest
latency seen in the rank's bucket: never under the exact figure, never over the bucket's upper
edge (an SLA of 10 ms still holds when every request took exactly 10 ms). Histograms merge by
adding counts: per-worker figures combine exactly, never by averaging percentiles.

``RunPass`` extends this to everything a run's report reads (the per-bucket timeline, the
figures after each lifted fault, the steady-state window at the end), so the runner holds no
record: it streams the capture files once (``chaos.load.records.CaptureRecords``).
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from chaos.model.timeline import Bucket, RequestRecord
from chaos.plan.timeline import _EPS, DEFAULT_BUCKET_S, STALL_S, Outage, percentile, served

_FINE, _MID = 1e4, 1e3  # buckets per second below 1 s, from 1 s to 10 s
_COARSE = 100.0  # beyond 10 s


def _code(seconds: float) -> int:
    s = max(0.0, seconds)
    if s < 1.0:
        return int(s * _FINE)
    if s < 10.0:
        return 10_000 + int((s - 1.0) * _MID)
    return 19_000 + int((s - 10.0) * _COARSE)


def upper_edge(seconds: float) -> float:
    """The upper edge of the bucket ``seconds`` falls in: no percentile reported for it exceeds
    this."""
    return _upper(_code(seconds))


def _upper(code: int) -> float:
    if code < 10_000:
        return (code + 1) / _FINE
    if code < 19_000:
        return 1.0 + (code - 10_000 + 1) / _MID
    return 10.0 + (code - 19_000 + 1) / _COARSE


class LatencyHistogram:
    """Latency counts by bucket, and the largest latency each bucket saw; at most ~30,000
    buckets below 2 minutes, whatever the count."""

    __slots__ = ("counts", "maxima", "total")

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()
        self.maxima: dict[int, float] = {}
        self.total = 0

    def add(self, seconds: float) -> None:
        code = _code(seconds)
        self.counts[code] += 1
        if seconds > self.maxima.get(code, -math.inf):
            self.maxima[code] = seconds
        self.total += 1

    def merge(self, other: LatencyHistogram) -> None:
        self.counts.update(other.counts)
        for code, top in other.maxima.items():
            if top > self.maxima.get(code, -math.inf):
                self.maxima[code] = top
        self.total += other.total

    def percentile(self, q: float) -> float | None:
        """Nearest-rank percentile (q in 0..100): the largest latency seen in the bucket that
        holds the rank. Never below the exact percentile, less than one bucket above it (at
        most the bucket's upper edge), and exact when that bucket's latencies are equal."""
        if not 0 <= q <= 100:
            raise ValueError(f"percentile must be within 0..100, got {q}")
        if not self.total:
            return None
        rank = max(1, math.ceil(q / 100 * self.total - 1e-9))
        seen = 0
        for code in sorted(self.counts):
            seen += self.counts[code]
            if seen >= rank:
                return self.maxima[code]
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
    # requests not answered successfully within this many seconds were unserved (outages)
    outage_bound_s: float = STALL_S

    @property
    def error_rate(self) -> float | None:
        return self.failures / self.requests if self.requests else None

    @property
    def failed_requests(self) -> int | None:
        """The window's failures; None when no request started in it (then 0 failures would
        say the service held when nothing measured it)."""
        return self.failures if self.requests else None

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

    def count(self, r: RequestRecord) -> bool:
        """Count ``r`` (any order); True when it started in the window (then it is for
        :meth:`ordered`, in start order)."""
        if r.unfinished:  # never answered, never failed: counted apart by RunPass
            return False
        self.requests_total += 1
        self.failures_total += not r.ok
        if (self.start is not None and r.t < self.start) or (self.end is not None
                                                             and r.t >= self.end):
            return False
        self.requests += 1
        self.failures += not r.ok
        self.dropped += r.dropped
        self.histogram.add(r.latency_s)
        return True

    def add(self, r: RequestRecord) -> None:
        if not self.count(r):
            return
        heapq.heappush(self._heap, (r.t, self._seq, r))
        self._seq += 1
        self.peak_buffer = max(self.peak_buffer, len(self._heap))
        watermark = r.end - self.horizon_s
        while self._heap and self._heap[0][0] < watermark:
            self.ordered(heapq.heappop(self._heap)[2])

    def ordered(self, r: RequestRecord) -> None:
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
            self.ordered(heapq.heappop(self._heap)[2])
        if self._run_start is not None:
            self._outages.append(Outage(self._run_start, self._run_end, self._run_failures))
            self._run_start = None
        return LoadFigures(
            requests=self.requests, failures=self.failures, dropped=self.dropped,
            outages=tuple(self._outages), p95_s=self.histogram.percentile(95),
            p99_s=self.histogram.percentile(99), requests_total=self.requests_total,
            failures_total=self.failures_total, out_of_order=self.out_of_order,
            outage_bound_s=self.stall_s)


def one_pass(records: Iterable[RequestRecord], start: float | None = None,
             end: float | None = None, *, stall_s: float = STALL_S,
             horizon_s: float = 120.0) -> LoadFigures:
    """:class:`LoadFigures` of a stream of records (completion order is fine)."""
    acc = OnePass(start, end, stall_s=stall_s, horizon_s=horizon_s)
    for r in records:
        acc.add(r)
    return acc.finish()


# -- a whole run's figures --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunWindows:
    """Where a run's figures are taken, all known before the pass (epoch seconds).

    ``origin``: the per-bucket timeline's grid origin (the run's start); ``fault_window``: the
    SLAs' window; ``lifts``: when faults lifted themselves; ``steady``: the window judged for
    steady state at the end (``[end - windowS, end + 1)`` with ``end`` the last record's start).
    """

    origin: float
    bucket_s: float = DEFAULT_BUCKET_S
    fault_window: tuple[float, float] | None = None
    lifts: tuple[float, ...] = ()
    steady: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class LiftFigures:
    errors_stop_after_s: float | None  # as chaos.plan.timeline.errors_stop_after
    last_unserved_after_s: float  # as chaos.plan.timeline.last_unserved_after


MAX_ERROR_KINDS = 20  # distinct failure messages a report lists; the rest are "(other)"
OTHER_ERRORS = "(other)"


@dataclass(frozen=True, slots=True)
class ErrorKind:
    """How often one failure message was seen, and when (starts, epoch s)."""

    error: str
    count: int
    first_t: float
    last_t: float


@dataclass(frozen=True, slots=True)
class RunFigures:
    """Everything the runner, the SLAs and the report read from a run's records, in bounded
    size: counters, one ``Bucket`` per ``bucket_s`` of the run, the outages and per-lift
    figures. ``fault`` is None without a fault window."""

    requests_total: int
    requests_failed: int
    requests_dropped: int
    # open-loop arrivals sent but unanswered when the load stopped: in none of the figures
    requests_in_flight_at_stop: int
    send_lag_p99_s: float | None
    # open-loop arrivals dropped because the generator reached them too late (in ``dropped``)
    requests_dropped_late: int
    rps: float | None
    first_t: float | None
    buckets: tuple[Bucket, ...]
    fault: LoadFigures | None
    steady_again_at: float | None  # as chaos.plan.timeline.steady_again_at(fault start)
    lifts: dict[float, LiftFigures]
    steady_error_rate: float | None
    out_of_order: int
    peak_buffer: int
    # the failures by message, most frequent first: a bounded sample of what failed
    errors: tuple[ErrorKind, ...] = ()


class _Lift:
    __slots__ = ("after_bad", "at", "bad", "last_unserved_end", "pending", "seen")

    def __init__(self, at: float) -> None:
        self.at = at
        self.bad = self.pending = self.seen = False
        self.after_bad: float | None = None
        self.last_unserved_end: float | None = None

    def ordered(self, r: RequestRecord) -> None:
        if r.t < self.at:
            return
        self.seen = True
        if not r.ok:
            self.bad = self.pending = True
        elif self.pending:
            self.after_bad, self.pending = r.t, False

    def figures(self) -> LiftFigures:
        if not self.seen or self.pending:
            stop: float | None = None
        elif not self.bad:
            stop = 0.0
        else:
            assert self.after_bad is not None
            stop = self.after_bad - self.at
        last = self.last_unserved_end
        return LiftFigures(stop, 0.0 if last is None else last - self.at)


class RunPass:
    """Fold a run's records (completion order, as capture files hold them) into
    :class:`RunFigures` in one pass. Memory: the reorder buffer (rate x horizon records), the
    open bucket's latencies, one small ``Bucket`` per closed bucket and the outages; never the
    records. A bucket's p95 is exact (nearest rank over its own latencies, as
    ``chaos.plan.timeline.buckets``); the window's come from a histogram."""

    def __init__(self, windows: RunWindows, *, stall_s: float = STALL_S,
                 horizon_s: float = 120.0) -> None:
        if windows.bucket_s <= 0:
            raise ValueError("bucket width must be positive")
        self.w = windows
        self.stall_s, self.horizon_s = stall_s, horizon_s
        start, end = windows.fault_window if windows.fault_window else (None, None)
        self._fault = OnePass(start, end, stall_s=stall_s, horizon_s=horizon_s) \
            if windows.fault_window else None
        self._lifts = [_Lift(t) for t in windows.lifts]
        self._heap: list[tuple[float, int, bool, RequestRecord]] = []
        self._seq = 0
        self.peak_buffer = 0
        self.total = self.failed = self.dropped = self.unfinished = self.late = 0
        self._lag = LatencyHistogram()
        self._first_t = math.inf
        self._last_end = -math.inf
        self._steady_n = self._steady_failed = 0
        # steady_again_at: bucket indices from the fault start, of the last request and of
        # the last failing one
        self._again_max: int | None = None
        self._again_fail: int | None = None
        # the per-bucket timeline, built in start order: closed buckets, the open one
        self._buckets: list[Bucket] = []
        self._index: int | None = None  # the open bucket's index from origin
        self._first_index: int | None = None
        self._b_requests = self._b_failures = 0
        self._b_latencies: list[float] = []  # the open bucket's only: exact p95, bounded
        self._late: Counter[int] = Counter()  # index -> failures of records come too late
        self._late_n: Counter[int] = Counter()
        self.out_of_order = 0
        self._last_ordered_t = -math.inf
        self._errors: dict[str, list[float]] = {}  # message -> [count, first t, last t]

    def add(self, r: RequestRecord) -> None:
        if r.unfinished:
            self.unfinished += 1
            return
        self.total += 1
        self.failed += not r.ok
        if not r.ok:
            self._error(r)
        self.dropped += r.dropped
        self.late += r.late_drop
        if r.scheduled and r.sent is not None:
            self._lag.add(r.sent - r.t)
        end = r.t + r.latency_s
        if r.t < self._first_t:
            self._first_t = r.t
        if end > self._last_end:
            self._last_end = end
        in_fault = self._fault is not None and self._fault.count(r)
        steady = self.w.steady
        if steady is not None and steady[0] <= r.t < steady[1]:
            self._steady_n += 1
            self._steady_failed += not r.ok
        if self.w.fault_window is not None and r.t >= self.w.fault_window[0]:
            i = _grid_index(r.t, self.w.fault_window[0], self.w.bucket_s)
            if self._again_max is None or i > self._again_max:
                self._again_max = i
            if not r.ok and (self._again_fail is None or i > self._again_fail):
                self._again_fail = i
        if self._lifts and not served(r, self.stall_s):
            for lift in self._lifts:
                if end > lift.at:
                    lift.last_unserved_end = end if lift.last_unserved_end is None else max(
                        lift.last_unserved_end, end)
        heap = self._heap
        heapq.heappush(heap, (r.t, self._seq, in_fault, r))
        self._seq += 1
        if len(heap) > self.peak_buffer:
            self.peak_buffer = len(heap)
        watermark = end - self.horizon_s
        while heap and heap[0][0] < watermark:
            _, _, fault, first = heapq.heappop(heap)
            self._ordered(first, fault)

    def _ordered(self, r: RequestRecord, in_fault: bool) -> None:
        if in_fault:
            assert self._fault is not None
            self._fault.ordered(r)
        for lift in self._lifts:
            lift.ordered(r)
        if r.t < self._last_ordered_t:
            self.out_of_order += 1
        else:
            self._last_ordered_t = r.t
        i = _grid_index(r.t, self.w.origin, self.w.bucket_s)
        if self._index is None:
            self._index = self._first_index = i
        if i < self._index:  # later than the horizon allowed: counted, p95 left as it was
            self._late_n[i] += 1
            self._late[i] += not r.ok
            return
        while self._index < i:
            self._close()
        self._b_requests += 1
        self._b_failures += not r.ok
        self._b_latencies.append(r.latency_s)

    def _error(self, r: RequestRecord) -> None:
        key = r.error or f"HTTP {r.status}"
        if key not in self._errors and len(self._errors) >= MAX_ERROR_KINDS:
            key = OTHER_ERRORS
        seen = self._errors.get(key)
        if seen is None:
            self._errors[key] = [1.0, r.t, r.t]
        else:
            seen[0] += 1
            seen[1] = min(seen[1], r.t)
            seen[2] = max(seen[2], r.t)

    def _close(self) -> None:
        assert self._index is not None
        self._buckets.append(Bucket(
            start=self.w.origin + self._index * self.w.bucket_s, width=self.w.bucket_s,
            requests=self._b_requests, failures=self._b_failures,
            p95_s=percentile(self._b_latencies, 95)))
        self._index += 1
        self._b_requests = self._b_failures = 0
        self._b_latencies = []

    def finish(self) -> RunFigures:
        while self._heap:
            _, _, fault, first = heapq.heappop(self._heap)
            self._ordered(first, fault)
        if self._index is not None:
            self._close()
        buckets = self._buckets
        if self._late_n:
            assert self._first_index is not None
            for i, n in self._late_n.items():
                b = buckets[i - self._first_index]
                buckets[i - self._first_index] = Bucket(b.start, b.width, b.requests + n,
                                                        b.failures + self._late[i], b.p95_s)
        again: float | None = None
        if self.w.fault_window is not None and self._again_max is not None and (
                self._again_fail is None or self._again_fail < self._again_max):
            fault_t = self.w.fault_window[0]
            again = fault_t if self._again_fail is None else \
                fault_t + (self._again_fail + 1) * self.w.bucket_s
        span = self._last_end - self._first_t
        lag = self._lag.percentile(99)
        return RunFigures(
            requests_total=self.total, requests_failed=self.failed,
            requests_dropped=self.dropped, requests_in_flight_at_stop=self.unfinished,
            send_lag_p99_s=lag, requests_dropped_late=self.late,
            rps=self.total / span if self.total and span > 0 else None,
            first_t=self._first_t if self.total else None, buckets=tuple(buckets),
            fault=self._fault.finish() if self._fault is not None else None,
            steady_again_at=again, lifts={lift.at: lift.figures() for lift in self._lifts},
            steady_error_rate=self._steady_failed / self._steady_n if self._steady_n else None,
            out_of_order=self.out_of_order, peak_buffer=self.peak_buffer,
            errors=tuple(sorted((ErrorKind(k, int(c), a, b)
                                 for k, (c, a, b) in self._errors.items()),
                                key=lambda e: (-e.count, e.first_t))))


def _grid_index(t: float, origin: float, width: float) -> int:
    """Like ``chaos.plan.timeline``'s bucket index, but records before the origin get
    negative indices instead of joining the first bucket."""
    return math.floor((t - origin) / width + _EPS)


def run_figures(records: Iterable[RequestRecord], windows: RunWindows, *,
                stall_s: float = STALL_S, horizon_s: float = 120.0) -> RunFigures:
    """:class:`RunFigures` of a stream of records (completion order is fine)."""
    acc = RunPass(windows, stall_s=stall_s, horizon_s=horizon_s)
    for r in records:
        acc.add(r)
    return acc.finish()


@runtime_checkable
class KnowsLast(Protocol):
    """Records that know their last one without being read (``chaos.load.CaptureRecords``)."""

    @property
    def last(self) -> RequestRecord | None: ...


def last_record(records: Iterable[RequestRecord]) -> RequestRecord | None:
    """The last record in completion order: known, a sequence's last item, or streamed."""
    if isinstance(records, KnowsLast):
        return records.last
    if isinstance(records, Sequence):
        return records[-1] if records else None
    last = None
    for last in records:  # noqa: B007  # the loop keeps the last one
        pass
    return last
