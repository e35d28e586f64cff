"""Seeded, reproducible choice of fault targets."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from chaos.errors import NotEnoughTargets


def target_count(available: int, *, count: int | None = None, percent: float | None = None) -> int:
    """How many targets ``count`` or ``percent`` asks for (percent rounds up, at least 1)."""
    if count is not None and percent is not None:
        raise ValueError("give either count or percent, not both")
    if percent is not None:
        if not 0 < percent <= 100:
            raise ValueError(f"percent must be in (0, 100], got {percent}")
        return max(1, math.ceil(available * percent / 100 - 1e-9)) if available else 0
    wanted = 1 if count is None else count
    if wanted < 1:
        raise ValueError(f"count must be positive, got {wanted}")
    return wanted


def choose(
    candidates: Sequence[str],
    *,
    seed: int,
    salt: str,
    count: int | None = None,
    percent: float | None = None,
) -> tuple[str, ...]:
    """Pick targets: the same (candidates, seed, salt) always gives the same answer.

    Candidates are de-duplicated and sorted first so the order the API listed them in does not
    matter. ``salt`` (e.g. ``"fault-0:pod-kill"``) keeps two faults of one run independent.
    An empty candidate list is an error, never a silent no-op fault.
    """
    pool = sorted(set(candidates))
    if not pool:
        raise NotEnoughTargets(f"{salt}: no candidate targets")
    wanted = target_count(len(pool), count=count, percent=percent)
    if wanted > len(pool):
        raise NotEnoughTargets(
            f"{salt}: asked for {wanted} targets but only {len(pool)} exist ({', '.join(pool)})"
        )
    rng = random.Random(f"{seed}:{salt}")
    return tuple(sorted(rng.sample(pool, wanted)))
