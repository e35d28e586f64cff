"""The build cache: one directory per machine, keyed by pinned versions."""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def cache_root() -> Path:
    """`$KUBE_CHAOS_CACHE`, else `$XDG_CACHE_HOME/kube-chaos`, else ~/.cache/kube-chaos."""
    explicit = os.environ.get("KUBE_CHAOS_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "kube-chaos"


def digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:12]


def file_digest(*paths: Path) -> str:
    return digest(*(p.read_bytes() for p in sorted(paths)))


class Stamp:
    """A marker file recording that a step finished for a given key.

    Written only after the step succeeded, so an interrupted build resumes at
    the interrupted step instead of trusting half-written output.
    """

    def __init__(self, root: Path, step: str, key: str) -> None:
        self.path = root / "stamps" / f"{step}.{key}"

    def done(self) -> bool:
        return self.path.exists()

    def mark(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("ok\n")


@contextmanager
def build_lock(root: Path, step: str, waiting: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the machine-wide lock of one build step while checking its stamp and building.

    Builds run from several processes at once: CI prebuilds the optional components in the
    background (``kube-chaos cluster prebuild``) while the tests that need them may reach the
    same build. The second process waits here and then finds the stamp of the first instead of
    building into the same directories. ``waiting`` is called once when the lock is held by
    someone else, so the caller can say why it stalls. The lock dies with its holder (flock).
    """
    path = root / "locks" / f"{step}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                waiting()
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
