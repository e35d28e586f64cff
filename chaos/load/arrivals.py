"""Open-loop arrival schedules: when each request is *meant* to start, whatever the service does.

Standard library only, and no import from ``chaos``: the locust subprocess loads this file by
path (``openloop.py``), and the harness unit-tests it as ``chaos.load.arrivals``.

A schedule is a list of segments ``(rate_from, rate_to, seconds)``; the rate moves linearly
from ``rate_from`` to ``rate_to`` over the segment (constant when they are equal), and the last
segment may last forever (``seconds`` None).  Arrival ``k`` (0, 1, 2 ...) is intended at the
time ``t`` where the expected number of arrivals since the start, the integral of the rate,
reaches ``k``: a deterministic schedule, so two runs are comparable arrival for arrival.
Worker ``i`` of ``n`` takes arrivals ``i, i + n, i + 2n ...`` of one shared schedule.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

Segment = tuple[float, float, float | None]


def check_segments(segments: Sequence[Segment]) -> None:
    """Raise ValueError unless the segments make a schedule that keeps arriving."""
    if not segments:
        raise ValueError("an arrival schedule needs at least one segment")
    for i, (r0, r1, seconds) in enumerate(segments):
        if not (math.isfinite(r0) and math.isfinite(r1)) or r0 < 0 or r1 < 0:
            raise ValueError(f"segment {i}: rates must be finite and >= 0, got {r0}, {r1}")
        last = i == len(segments) - 1
        if seconds is None and not last:
            raise ValueError(f"segment {i}: only the last segment may last forever")
        if seconds is not None and (not math.isfinite(seconds) or seconds <= 0):
            raise ValueError(f"segment {i}: duration must be > 0, got {seconds}")
        if last and seconds is None and r0 != r1:
            raise ValueError(f"segment {i}: a segment that lasts forever needs a constant rate")
    if segments[-1][1] <= 0 and segments[-1][2] is None:
        raise ValueError("the last segment's rate is 0: the schedule would stop arriving")


def _time_within(r0: float, r1: float, seconds: float | None, n: float) -> float | None:
    """Time into one segment at which ``n`` arrivals (expected) have accumulated in it; None
    when the segment ends first."""
    if seconds is None or r0 == r1:
        if r0 <= 0:
            return None
        t = n / r0
        return t if seconds is None or t <= seconds else None
    a = (r1 - r0) / (2.0 * seconds)  # N(t) = r0 t + a t^2
    disc = r0 * r0 + 4.0 * a * n
    if disc < 0:
        return None
    # the numerically stable root of a t^2 + r0 t - n = 0 (no cancellation when a is small)
    root = math.sqrt(disc)
    t = 2.0 * n / (r0 + root) if r0 + root > 0 else 0.0
    return t if t <= seconds else None


def _segment_count(r0: float, r1: float, seconds: float) -> float:
    return (r0 + r1) / 2.0 * seconds


def offsets(segments: Sequence[Segment], *, worker: int = 0, workers: int = 1,
            until_s: float = math.inf, limit: int | None = None) -> Iterator[float]:
    """Intended start offsets (seconds from the schedule's start), ascending, of this worker's
    arrivals before ``until_s``; at most ``limit`` of them."""
    check_segments(segments)
    if workers < 1 or not 0 <= worker < workers:
        raise ValueError(f"worker {worker} of {workers}")
    k = worker
    emitted = 0
    start = 0.0  # the current segment's start time
    before = 0.0  # expected arrivals before it
    index = 0
    while index < len(segments) and (limit is None or emitted < limit):
        r0, r1, seconds = segments[index]
        t = _time_within(r0, r1, seconds, k - before)
        if t is None:  # k falls in a later segment
            assert seconds is not None
            before += _segment_count(r0, r1, seconds)
            start += seconds
            index += 1
            continue
        at = start + t
        if at >= until_s:
            return
        yield at
        emitted += 1
        k += workers


def total_rate(segments: Sequence[Segment], t: float) -> float:
    """The scheduled rate at offset ``t`` (for reports and tests)."""
    start = 0.0
    for r0, r1, seconds in segments:
        if seconds is None or t < start + seconds:
            frac = 0.0 if seconds is None else (t - start) / seconds
            return r0 + (r1 - r0) * frac
        start += seconds
    return segments[-1][1]
