"""Progress lines for long build steps: which step, elapsed time, cache hits.

Lines go to stderr, or to the sink a host installs with ``set_sink``: the pytest plugin
installs one that writes through the terminal reporter with capture suspended (as pytest's
own live logging does), so a first ``make experiments`` shows its builds while they run. A
step that runs longer than ``HEARTBEAT_S`` says it is still running, every ``HEARTBEAT_S``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

HEARTBEAT_S = 20.0

Sink = Callable[[str], None]
_sink: Sink | None = None


def set_sink(sink: Sink | None) -> Sink | None:
    """Route every Progress without an explicit stream to ``sink``; returns the previous."""
    global _sink
    previous, _sink = _sink, sink
    return previous


class Progress:
    def __init__(self, stream: TextIO | None = None, quiet: bool = False,
                 heartbeat_s: float = HEARTBEAT_S) -> None:
        self._stream = stream
        self._quiet = quiet
        self._t0 = time.monotonic()
        self._heartbeat_s = heartbeat_s

    def say(self, message: str) -> None:
        if self._quiet:
            return
        elapsed = time.monotonic() - self._t0
        line = f"[kube-chaos {elapsed:7.1f}s] {message}"
        sink = _sink
        if self._stream is None and sink is not None:
            sink(line)
        else:
            print(line, file=self._stream or sys.stderr, flush=True)

    def cached(self, what: str) -> None:
        self.say(f"{what}: cached")

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        start = time.monotonic()
        self.say(f"{what} ...")
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self._heartbeat_s):
                self.say(f"{what}: still running, {time.monotonic() - start:.0f}s so far")

        beater = threading.Thread(target=beat, name="kube-chaos-heartbeat", daemon=True)
        beater.start()
        try:
            yield
        finally:
            stop.set()
            beater.join(timeout=1.0)
        self.say(f"{what}: done in {time.monotonic() - start:.1f}s")
