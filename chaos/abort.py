"""The run's abort signal: set once by a guard breach (or a halt), observed by every wait.

A fault that holds (node loss, probe break, cordon with a duration, a drain's retries) waits
through ``FaultContext.sleep`` or on the Observer's changes; the signal sets an event those
sleeps wait on and, through its listeners, wakes the Observer's waiters (the runner registers
one that emits an ``abort`` timeline event), so each fault returns to its own undo at once.
Pure threading: no I/O, no cluster.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from chaos.model.abort import Breach


class AbortSignal:
    """Set at most once; the first breach wins and later ones are ignored."""

    __slots__ = ("_breach", "_event", "_listeners", "_lock")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._breach: Breach | None = None
        self._listeners: list[Callable[[Breach], None]] = []

    @property
    def event(self) -> threading.Event:
        return self._event

    @property
    def breach(self) -> Breach | None:
        return self._breach

    def is_set(self) -> bool:
        return self._event.is_set()

    def listen(self, fn: Callable[[Breach], None]) -> None:
        """Call ``fn(breach)`` when the signal is set (at once if it already is)."""
        with self._lock:
            self._listeners.append(fn)
            breach = self._breach
        if breach is not None:
            with contextlib.suppress(Exception):
                fn(breach)

    def trigger(self, breach: Breach) -> bool:
        """Set the signal; False when it was already set (the first breach is kept)."""
        with self._lock:
            if self._breach is not None:
                return False
            self._breach = breach
            self._event.set()
            listeners = list(self._listeners)
        for fn in listeners:
            with contextlib.suppress(Exception):  # a listener never stops the abort
                fn(breach)
        return True
