"""Durations as written in experiment files: ``30s``, ``1m30s``, ``500ms``, ``1h``, or a number."""

from __future__ import annotations

import math
import re

from chaos.errors import excerpt

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|h|m|s))+")
_SCALE = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(value: object) -> float:
    """Seconds as a float; raises ValueError on anything else (negatives included).

    Numbers mean seconds. Booleans are refused even though Python treats them as ints.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {excerpt(value)}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if _WHOLE.fullmatch(text):
            seconds = sum(float(num) * _SCALE[unit] for num, unit in _PART.findall(text))
        else:
            try:
                seconds = float(text)
            except ValueError:
                raise ValueError(f"not a duration: {excerpt(value)}") from None
    else:
        raise ValueError(f"not a duration: {excerpt(value)}")
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
        raise ValueError(f"not a non-negative duration: {excerpt(value)}")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest of our own spellings that reads back as ``seconds``."""
    if seconds < 1 and seconds != 0:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"
