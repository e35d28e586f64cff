"""How much CPU the local load processes got while they sent: the kernel's counters, sampled.

``/proc/<pid>/task/<tid>/schedstat`` holds, per thread, the time it ran, the time it was
runnable but waited for a CPU, and how many times it was put on one (Linux, no schedstats
switch needed). chaos.plan.generator judges the figures; this module only reads them.

The counters of a process that has exited are gone, so a thread samples them while the load
runs: the first sample once the processes send (their start-up, imports included, is not the
run's), the last just before they exit (at most ``every_s`` of the end is missed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from chaos.plan.generator import CpuTimes

PROC = Path("/proc")


def read_process(pid: int, proc: Path = PROC) -> CpuTimes | None:
    """The counters of every thread of ``pid``, summed; None when it is gone or the kernel
    does not keep them (not Linux)."""
    total, seen = CpuTimes(), False
    try:
        tasks = list((proc / str(pid) / "task").iterdir())
    except OSError:
        return None
    for task in tasks:
        times = read_task(task / "schedstat")
        if times is not None:
            total, seen = total + times, True
    return total if seen else None


def read_task(path: Path) -> CpuTimes | None:
    """One thread's ``schedstat`` line: ``<run ns> <wait ns> <timeslices>``."""
    try:
        fields = path.read_text().split()
        run_ns, wait_ns, slices = int(fields[0]), int(fields[1]), int(fields[2])
    except (OSError, IndexError, ValueError):  # gone between listing and reading, or garbled
        return None
    return CpuTimes(run_ns / 1e9, wait_ns / 1e9, slices)


class CpuWatch:
    """Samples ``pids`` every ``every_s`` from :meth:`start` to :meth:`stop`; :meth:`figures`
    is what they got between the first sample after ``sending()`` turned true and the last."""

    def __init__(self, pids: Sequence[int], sending: Callable[[], bool], *,
                 every_s: float = 0.5, proc: Path = PROC) -> None:
        self.pids = tuple(pids)
        self.sending = sending
        self.every_s = every_s
        self.proc = proc
        self._first: dict[int, CpuTimes] = {}
        self._last: dict[int, CpuTimes] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kube-chaos-cpu-watch",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)

    def sample(self) -> None:
        if not self.sending():
            return
        for pid in self.pids:
            times = read_process(pid, self.proc)
            if times is None:  # exited: its last sample stands
                continue
            self._first.setdefault(pid, times)
            self._last[pid] = times

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.sample()

    def figures(self) -> CpuTimes | None:
        """What the processes got between their first and last samples; None when no
        process was sampled twice while it sent (too short a run, or no /proc)."""
        spans = [self._last[pid] - first for pid, first in list(self._first.items())
                 if self._last[pid] is not first]
        return sum(spans, CpuTimes()) if spans else None
