"""Request timelines: buckets, outage windows, error rates and latency percentiles.

Records are placed by the time the request *started*; windows are half-open ``[start, end)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chaos.model.timeline import DEFAULT_OUTAGE_BOUND_S, Bucket, RequestRecord

DEFAULT_BUCKET_S = 0.1
# Epoch floats carry ~1e-7 s of rounding; without slack, t = origin + 0.1 can land in bucket 0.
_EPS = 1e-4


def _index(t: float, origin: float, width: float) -> int:
    return max(0, math.floor((t - origin) / width + _EPS))


@dataclass(frozen=True, slots=True)
class Outage:
    """A maximal run of consecutive unserved requests (failed, or answered only after the
    outage bound)."""

    start: float
    end: float
    failures: int

    @property
    def seconds(self) -> float:
        return self.end - self.start


def in_window(
    records: Iterable[RequestRecord], start: float | None = None, end: float | None = None
) -> list[RequestRecord]:
    """Records started in ``[start, end)``, in time order."""
    return sorted(
        (r for r in records if (start is None or r.t >= start) and (end is None or r.t < end)),
        key=lambda r: r.t,
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100); None for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered) - 1e-9))
    return ordered[rank - 1]


def latency_percentile(
    records: Iterable[RequestRecord],
    q: float,
    start: float | None = None,
    end: float | None = None,
    *,
    ok_only: bool = False,
) -> float | None:
    """Latency percentile in seconds over requests in the window (failures included by default:
    that is what clients experienced)."""
    return percentile(
        [r.latency_s for r in in_window(records, start, end) if r.ok or not ok_only], q
    )


def error_rate(
    records: Iterable[RequestRecord], start: float | None = None, end: float | None = None
) -> float | None:
    """Failed / total in the window; None when no request started in it."""
    window = in_window(records, start, end)
    if not window:
        return None
    return sum(1 for r in window if not r.ok) / len(window)


def buckets(
    records: Iterable[RequestRecord],
    width: float = DEFAULT_BUCKET_S,
    start: float | None = None,
    end: float | None = None,
) -> list[Bucket]:
    """Fixed-width buckets from ``start`` (default: first request) to ``end``, empty ones kept."""
    if width <= 0:
        raise ValueError("bucket width must be positive")
    rows = in_window(records, start, end)
    if not rows and (start is None or end is None):
        return []
    origin = start if start is not None else rows[0].t
    if end is not None:
        n = max(1, math.ceil((end - origin) / width - _EPS))
    else:
        n = _index(rows[-1].t, origin, width) + 1
    grouped: list[list[RequestRecord]] = [[] for _ in range(n)]
    for r in rows:
        grouped[min(n - 1, _index(r.t, origin, width))].append(r)
    return [
        Bucket(
            start=origin + i * width,
            width=width,
            requests=len(g),
            failures=sum(1 for r in g if not r.ok),
            p95_s=percentile([r.latency_s for r in g], 95),
        )
        for i, g in enumerate(grouped)
    ]


# A request not answered (successfully) within this many seconds is part of an outage even if
# it finally succeeds: when a Service has no endpoints, new connections hang in SYN retries
# rather than fail (seen on kind with kube-proxy nftables), and users experience that as the
# service being down. The default of ``slas.outageBound`` (``SLASpec.outage_bound_s``).
STALL_S = DEFAULT_OUTAGE_BOUND_S


def served(r: RequestRecord, stall_s: float = STALL_S) -> bool:
    """Did this request count as service: succeeded, in less than ``stall_s`` (the outage
    bound). The same rule in both load modes: an open-loop arrival (``r.scheduled``) whose
    latency, from its intended start, reaches the bound is unserved whatever the client
    timeout let it wait (with a 5 s timeout a 3 s hang fails nothing, yet serves nobody)."""
    return r.ok and r.latency_s < stall_s


def outages(
    records: Iterable[RequestRecord],
    start: float | None = None,
    end: float | None = None,
    stall_s: float = STALL_S,
) -> list[Outage]:
    """Maximal runs of consecutive unserved requests (failed, or not answered within
    ``stall_s``, the outage bound) in start-time order; open-loop arrivals by intended start,
    dropped ones included (see ``served``).

    A run lasts from its first unserved request's start to the start of the next served
    request, or, when nothing was served afterwards, to the end of the last unserved one.
    ``failures`` counts the unserved requests in the run.
    """
    result: list[Outage] = []
    run_start: float | None = None
    run_end = 0.0
    failures = 0
    for r in in_window(records, start, end):
        if not served(r, stall_s):
            if run_start is None:
                run_start, failures, run_end = r.t, 0, r.end
            failures += 1
            run_end = max(run_end, r.end)
        elif run_start is not None:
            result.append(Outage(run_start, r.t, failures))
            run_start = None
    if run_start is not None:
        result.append(Outage(run_start, run_end, failures))
    return result


def longest_outage_s(
    records: Iterable[RequestRecord],
    start: float | None = None,
    end: float | None = None,
    stall_s: float = STALL_S,
) -> float:
    """Seconds of the longest outage; 0.0 when every request was served."""
    return max((o.seconds for o in outages(records, start, end, stall_s)), default=0.0)


def steady_again_at(
    records: Iterable[RequestRecord], fault_t: float, width: float = DEFAULT_BUCKET_S
) -> float | None:
    """Start of the first bucket at or after ``fault_t`` from which no later bucket has failures.

    None when the last bucket still has failures or there are no requests after the fault.
    """
    rows = buckets(records, width, start=fault_t)
    if not rows or rows[-1].failures:
        return None
    for i in range(len(rows) - 1, -1, -1):
        if rows[i].failures:
            return rows[i + 1].start
    return rows[0].start


def throughput_rps(records: Sequence[RequestRecord]) -> float | None:
    """Requests per second over the span from the first start to the last end."""
    if not records:
        return None
    span = max(r.end for r in records) - min(r.t for r in records)
    return len(records) / span if span > 0 else None


def errors_stop_after(records: Iterable[RequestRecord], t: float) -> float | None:
    """Seconds from ``t`` (a fault lifted) until requests stop failing: the start of the first
    request started at or after ``t`` from which every later-started one succeeded, minus ``t``.

    0.0 when nothing that started from ``t`` on failed; None when the last request failed (the
    errors never stopped) or no request started after ``t``.
    """
    rows = in_window(records, t)
    if not rows or not rows[-1].ok:
        return None
    last_bad = max((i for i, r in enumerate(rows) if not r.ok), default=None)
    if last_bad is None:
        return 0.0
    return rows[last_bad + 1].t - t


def last_unserved_after(records: Iterable[RequestRecord], t: float,
                        stall_s: float = STALL_S) -> float:
    """Seconds from ``t`` to the end of the last unserved request (failed, or slower than
    ``stall_s``, as outages count them) that ended after it: how long clients kept *seeing*
    the fault, requests caught in flight included (a call stuck in a partition fails, or
    crawls through on a retry, only later). 0.0 when none did."""
    ends = [r.end for r in records if not served(r, stall_s) and r.end > t]
    return max(ends) - t if ends else 0.0
