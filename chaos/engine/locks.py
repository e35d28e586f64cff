"""The locks concurrent runs on one cluster share: across the processes of a session (its
pytest-xdist workers) and across sessions on this machine, as files in one folder per cluster.

- the cluster: experiments whose faults stay inside their own namespace hold it shared; one
  whose fault reaches past it (a node, the control plane, every pod's CPU) holds it alone, so
  nothing runs beside it and nothing it does lands on another experiment's figures
  (chaos.plan.claims says which, from the fault declarations);
- a key per named thing only one run may hold at a time (a fixed NodePort, a cluster-scoped
  object): taken in sorted order, after the cluster lock, so two runs never wait on each other;
- a NodePort picked for ``nodePort: auto``: tried without waiting, the first free one is kept;
- a session's pace: how many of its runs go at once (its parallel degree at first), as slots;
  lowered when a run's load generator fell behind (chaos.plan.generator), so the runs after it
  get more of the machine.

filelock does the locking (a SQLite reader/writer lock for the cluster, whose pending writer
holds back new readers, so an exclusive experiment is not starved; flock files for the keys).
A crashed process's locks go with it: the kernel drops them.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from filelock import FileLock, ReadWriteLock, Timeout

from chaos.errors import ChaosError
from chaos.plan.claims import Claims

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class PaceWarning(UserWarning):
    """A session ran fewer experiments at once because a run's load generator fell behind: a
    warning, so pytest lists it in its summary, from xdist workers too (their own terminal
    output is not shown)."""


class LockTimeout(ChaosError):
    """A lock was not granted in time (another run held it throughout)."""


def folder_for(root: Path, cluster: str) -> Path:
    """One folder per cluster (a kind cluster's name, a kubeconfig context): readable, and
    unique even when two names differ only in characters a file name cannot hold."""
    digest = hashlib.sha256(cluster.encode()).hexdigest()[:10]
    return root / f"{_UNSAFE.sub('_', cluster)[:60]}-{digest}"


class ClusterLocks:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder

    @contextlib.contextmanager
    def cluster(self, *, exclusive: bool, timeout_s: float = -1) -> Iterator[None]:
        """Hold the cluster shared, or alone (``exclusive``); ``timeout_s`` -1 waits forever."""
        # one instance per hold: an instance is reused per path and thread otherwise, and a
        # thread that holds it shared could not then wait for it exclusively
        lock = ReadWriteLock(self.folder / "cluster.db", is_singleton=False)
        try:
            acquire = lock.write_lock if exclusive else lock.read_lock
            with acquire(timeout=timeout_s):
                yield
        except Timeout as exc:
            mode = "alone" if exclusive else "shared"
            raise LockTimeout(f"the cluster could not be held {mode} within {timeout_s:g}s: "
                              f"another run held it (locks in {self.folder})") from exc
        finally:
            lock.close()

    @contextlib.contextmanager
    def keys(self, names: Iterable[str], timeout_s: float = -1) -> Iterator[None]:
        """Hold every named key, waiting for each in sorted order."""
        with contextlib.ExitStack() as stack:
            for name in sorted(set(names)):
                lock = FileLock(self._key_file(name), is_singleton=False)
                try:
                    stack.enter_context(lock.acquire(timeout=timeout_s))
                except Timeout as exc:
                    raise LockTimeout(f"{name} was held by another run throughout "
                                      f"{timeout_s:g}s (locks in {self.folder})") from exc
            yield

    def try_key(self, name: str) -> FileLock | None:
        """The key's lock, held, when no one else holds it; else None at once."""
        lock = FileLock(self._key_file(name), is_singleton=False)
        try:
            lock.acquire(blocking=False)
        except Timeout:
            return None
        return lock

    def _key_file(self, name: str) -> Path:
        return self.folder / f"key-{_UNSAFE.sub('_', name)}.lock"



@contextlib.contextmanager
def hold_claims(folder: Path | None, claims: Claims,
                say: Callable[[str], None]) -> Iterator[None]:
    """Hold what a run claims: the cluster (shared, or alone), then its keys. No folder (a
    cluster whose locks are not known): nothing is held."""
    if folder is None:
        yield
        return
    locks = ClusterLocks(folder)
    started = time.monotonic()
    with locks.cluster(exclusive=not claims.shares_cluster), locks.keys(claims.keys):
        waited = time.monotonic() - started
        if waited >= 1.0:
            say(f"waited {waited:.0f}s to hold {claims.describe()}")
        yield


class Pace:
    """How many runs of one session (``session``: its run id, shared by its xdist workers) go
    at once: ``degree`` slots at first, each run holding one; :meth:`back_off` halves them.
    The slots are flock files like the keys, so a crashed worker's slot frees itself; the
    current number is a small file, written under a lock of its own."""

    def __init__(self, folder: Path, session: str, degree: int, poll_s: float = 0.5) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.name = _UNSAFE.sub("_", session)
        self.folder = folder
        self.start = max(1, degree)
        self.poll_s = poll_s

    @property
    def _file(self) -> Path:
        return self.folder / f"pace-{self.name}"

    def degree(self) -> int:
        """The slots now: the starting degree until a back-off wrote fewer."""
        try:
            return max(1, min(self.start, int(self._file.read_text())))
        except (OSError, ValueError):
            return self.start

    def back_off(self) -> tuple[int, int]:
        """Halve the slots (never below one); (before, after)."""
        with FileLock(self.folder / f"pace-{self.name}.lock", is_singleton=False):
            before = self.degree()
            after = max(1, before // 2)
            self._file.write_text(f"{after}\n")
        return before, after

    @contextlib.contextmanager
    def slot(self, say: Callable[[str], None]) -> Iterator[int]:
        """Hold a free slot among the current ones, waiting (and saying so) until one is."""
        started = time.monotonic()
        while True:
            for i in range(self.degree()):
                lock = FileLock(self.folder / f"pace-{self.name}-{i}.lock", is_singleton=False)
                try:
                    lock.acquire(blocking=False)
                except Timeout:
                    continue
                try:
                    waited = time.monotonic() - started
                    if waited >= 1.0:
                        say(f"waited {waited:.0f}s for one of {self.degree()} run slots")
                    yield i
                finally:
                    lock.release()
                return
            time.sleep(self.poll_s)
