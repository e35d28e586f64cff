"""Injectable clocks and deadlines, so every wait is bounded and tests never sleep."""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def monotonic(self) -> float: ...

    def wall(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: ``time.monotonic`` for deadlines, ``time.time`` for timelines."""

    __slots__ = ()

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A manual clock for tests: ``sleep`` and ``advance`` move both readings forward."""

    __slots__ = ("_mono", "_wall", "sleeps")

    def __init__(self, monotonic: float = 0.0, wall: float = 1_700_000_000.0) -> None:
        self._mono = monotonic
        self._wall = wall
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._mono

    def wall(self) -> float:
        return self._wall

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._mono += seconds
        self._wall += seconds


class Deadline:
    """A budget of ``seconds`` measured on ``clock.monotonic()`` from construction."""

    __slots__ = ("_clock", "_end", "seconds")

    def __init__(self, clock: Clock, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"deadline must be non-negative, got {seconds}")
        self._clock = clock
        self.seconds = seconds
        self._end = clock.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock.monotonic())

    def expired(self) -> bool:
        return self._clock.monotonic() >= self._end

    def check(self, what: str) -> None:
        if self.expired():
            raise TimeoutError(f"{what}: deadline of {self.seconds:g}s exceeded")
