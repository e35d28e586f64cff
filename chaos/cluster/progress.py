"""Progress lines for long build steps: which step, elapsed time, cache hits."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self._stream = stream or sys.stderr
        self._quiet = quiet
        self._t0 = time.monotonic()

    def say(self, message: str) -> None:
        if not self._quiet:
            elapsed = time.monotonic() - self._t0
            print(f"[kube-chaos {elapsed:7.1f}s] {message}", file=self._stream, flush=True)

    def cached(self, what: str) -> None:
        self.say(f"{what}: cached")

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        start = time.monotonic()
        self.say(f"{what} ...")
        yield
        self.say(f"{what}: done in {time.monotonic() - start:.1f}s")
