"""Arrival rates as written in experiment files: ``200/s``, ``6000/m``, ``36000/h``, or a number
(per second)."""

from __future__ import annotations

import math
import re

from chaos.errors import excerpt

ARRIVAL_RATE_HINT = "an arrival rate such as 200/s, 6000/m or 50"
_RATE = re.compile(r"(\d+(?:\.\d+)?)\s*/\s*(s|m|h|sec|min)")
_PER = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_arrival_rate(value: object) -> float:
    """Arrivals per second, above zero; ValueError on anything else."""
    if isinstance(value, bool):
        raise ValueError(f"not a rate: {excerpt(value)}")
    if isinstance(value, int | float):
        rate = float(value)
    elif isinstance(value, str):
        m = _RATE.fullmatch(value.strip())
        if m is None:
            try:
                rate = float(value.strip())
            except ValueError:
                raise ValueError(f"not a rate: {excerpt(value)}") from None
        else:
            rate = float(m.group(1)) / _PER[m.group(2)]
    else:
        raise ValueError(f"not a rate: {excerpt(value)}")
    if math.isnan(rate) or math.isinf(rate) or rate <= 0:
        raise ValueError(f"not a rate above zero: {excerpt(value)}")
    return rate


def format_arrival_rate(per_s: float) -> str:
    return f"{per_s:g}/s"
