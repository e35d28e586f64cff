"""Injectable clocks and deadlines, so every wait is bounded and tests never sleep."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final, Protocol, runtime_checkable


class Ticker(Protocol):
    """A periodic call started by ``Clock.every``; ``stop`` ends it (idempotent)."""

    def stop(self, join_s: float = 1.0) -> None: ...


@runtime_checkable
class Clock(Protocol):
    def monotonic(self) -> float: ...

    def wall(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Sleep until ``event`` is set or ``seconds`` pass; True when it is set."""
        ...

    def every(self, interval_s: float, fn: Callable[[], None], name: str,
              first_s: float | None = None) -> Ticker:
        """Call ``fn`` every ``interval_s`` until the returned ticker is stopped, the first
        time ``first_s`` from now (default: one interval). A call that overruns delays only
        its own next call."""
        ...


class _ThreadTicker:
    __slots__ = ("_stop", "_thread")

    def __init__(self, interval_s: float, fn: Callable[[], None], name: str,
                 first_s: float) -> None:
        self._stop = threading.Event()
        first_due = time.monotonic() + first_s

        def loop() -> None:
            due = first_due
            while not self._stop.wait(max(0.0, due - time.monotonic())):
                fn()
                # never a burst of catch-up calls after a slow one
                due = max(due + interval_s, time.monotonic())

        self._thread = threading.Thread(target=loop, name=name, daemon=True)
        self._thread.start()

    def stop(self, join_s: float = 1.0) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=join_s)


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

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(0.0, seconds))

    def every(self, interval_s: float, fn: Callable[[], None], name: str,
              first_s: float | None = None) -> Ticker:
        return _ThreadTicker(interval_s, fn, name, interval_s if first_s is None else first_s)


class _FakeTicker:
    __slots__ = ("clock", "due", "fn", "interval_s", "stopped")

    def __init__(self, clock: FakeClock, interval_s: float, fn: Callable[[], None],
                 first_s: float) -> None:
        self.clock, self.interval_s, self.fn = clock, interval_s, fn
        self.due = clock.monotonic() + first_s
        self.stopped = False

    def stop(self, join_s: float = 1.0) -> None:
        self.stopped = True


class FakeClock:
    """A manual clock for tests: ``sleep`` and ``advance`` move both readings forward, firing
    the calls ``every`` scheduled at their due times, in order, on the caller's thread."""

    __slots__ = ("_mono", "_tickers", "_wall", "sleeps")

    def __init__(self, monotonic: float = 0.0, wall: float = 1_700_000_000.0) -> None:
        self._mono = monotonic
        self._wall = wall
        self.sleeps: list[float] = []
        self._tickers: list[_FakeTicker] = []

    def monotonic(self) -> float:
        return self._mono

    def wall(self) -> float:
        return self._wall

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Advance until ``event`` is set (by a scheduled call) or ``seconds`` passed."""
        end = self._mono + max(0.0, seconds)
        while not event.is_set() and self._mono < end:
            due = [t.due for t in self._tickers if not t.stopped and t.due < end]
            self.advance(max(0.0, min(due, default=end) - self._mono))
        return event.is_set()

    def every(self, interval_s: float, fn: Callable[[], None], name: str,
              first_s: float | None = None) -> Ticker:
        if interval_s <= 0:
            raise ValueError("a ticker needs a positive interval")
        ticker = _FakeTicker(self, interval_s, fn, interval_s if first_s is None else first_s)
        self._tickers.append(ticker)
        return ticker

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        end = self._mono + seconds
        while True:
            live = [t for t in self._tickers if not t.stopped and t.due <= end]
            if not live:
                break
            ticker = min(live, key=lambda t: t.due)
            self._set(ticker.due)
            ticker.due += ticker.interval_s
            ticker.fn()
        self._set(end)

    def _set(self, mono: float) -> None:
        step = max(0.0, mono - self._mono)
        self._mono += step
        self._wall += step


SYSTEM_CLOCK: Final[Clock] = SystemClock()  # for the waits that are not given a clock


class Deadline:
    """A budget of ``seconds`` on ``clock.monotonic()`` from construction. Every bounded wait
    of the harness goes through one (a test drives it with a :class:`FakeClock`); a budget
    that is already spent (zero or negative) is expired at once, as ``now + seconds`` was."""

    __slots__ = ("_clock", "_end", "seconds")

    def __init__(self, clock: Clock, seconds: float) -> None:
        self._clock = clock
        self.seconds = max(0.0, seconds)
        self._end = clock.monotonic() + self.seconds

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def end(self) -> float:
        """The ``clock.monotonic()`` reading it ends at, for the float deadlines the runner
        and the faults share (``RunState.deadline``, ``FaultContext.deadline``)."""
        return self._end

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock.monotonic())

    def expired(self) -> bool:
        return self._clock.monotonic() >= self._end

    def check(self, what: str) -> None:
        if self.expired():
            raise TimeoutError(f"{what}: deadline of {self.seconds:g}s exceeded")

    def within(self, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now, never past this one."""
        return Deadline(self._clock, min(seconds, self.remaining()))

    def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds``, cut at the end; whether time remains after it."""
        self._clock.sleep(min(max(0.0, seconds), self.remaining()))
        return not self.expired()

    def wait(self, event: threading.Event, seconds: float | None = None) -> bool:
        """Wait until ``event`` is set, at most ``seconds`` (default: all that remains) and
        never past the end; whether it is set."""
        left = self.remaining()
        return self._clock.wait(event, left if seconds is None else min(max(0.0, seconds), left))

    def until(self, predicate: Callable[[], bool], interval_s: float) -> bool:
        """Call ``predicate`` at once and then every ``interval_s`` until it holds (True) or
        the deadline passes (False); the last call is made at the end, so a condition that
        became true while we slept is not missed."""
        if interval_s <= 0:
            raise ValueError(f"a poll needs a positive interval, got {interval_s}")
        while True:
            if predicate():
                return True
            if self.expired():
                return False
            self.sleep(interval_s)
