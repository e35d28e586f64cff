"""Median and a seeded percentile-bootstrap confidence interval (pure, no numpy).

Repeated runs of one experiment differ (scheduling, image start, kube-proxy sync): a figure
is reported as the median of the runs with a 95 % bootstrap interval, and two sets of runs
are compared on those intervals (chaos.report.compare), never on single values.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class Estimate:
    """The median of ``n`` values and its confidence interval [low, high]. With one value
    the interval is that value: one run says nothing about the noise."""

    median: float
    low: float
    high: float
    n: int


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default, 'linear')."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = q * (len(sorted_values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def bootstrap_median(values: Sequence[float], seed: int, resamples: int = BOOTSTRAP_RESAMPLES,
                     confidence: float = CONFIDENCE) -> Estimate | None:
    """Median and percentile-bootstrap CI of the median; ``seed`` makes it reproducible
    (the run's seed: the same runs always give the same interval). None without values."""
    data = [float(v) for v in values]
    if not data:
        return None
    median = statistics.median(data)
    if len(data) == 1:
        return Estimate(median, median, median, 1)
    rng = random.Random(seed)
    n = len(data)
    medians = sorted(statistics.median(rng.choices(data, k=n)) for _ in range(resamples))
    tail = (1.0 - confidence) / 2.0
    return Estimate(median, _quantile(medians, tail), _quantile(medians, 1.0 - tail), n)
