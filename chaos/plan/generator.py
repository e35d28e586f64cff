"""Whether the load generator kept its schedule: its own lateness, told apart from the service's.

A load generator starved of CPU times every answer late and, in open loop, sends late: the
figures then measure the load machine, and an SLA judged on them blames the service for it.
Running experiments side by side on a small machine makes this likely, so each run measures it
and a run whose generator fell behind is an error, not a verdict (chaos.report.evaluate).

Two measures, each held against the run's bound (``spec.load.maxGeneratorLag``):

- open loop: how late the scheduler handed its arrivals to senders, as the p99 of the send lag
  (the actual start minus the intended one); an arrival it reached so late that it dropped it
  (chaos.model.timeline.LATE_DROP) is overload on its own, whatever the bound;
- both modes, for the load processes on this machine: how long they waited for a CPU each time
  they woke, the kernel's run-queue delay (``/proc/<pid>/schedstat``) over the number of times
  they were scheduled. An answer that arrives while its process waits for a CPU is timed that
  much late. The mean is the only figure the kernel keeps without schedstats enabled; it is a
  lower bound of what the worst requests saw.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """What the kernel counted for one process or more (``/proc/<pid>/schedstat``): time on a
    CPU, time runnable but waiting for one, and how many times it was put on a CPU."""

    cpu_s: float = 0.0
    wait_s: float = 0.0
    slices: int = 0

    def __add__(self, other: CpuTimes) -> CpuTimes:
        return CpuTimes(self.cpu_s + other.cpu_s, self.wait_s + other.wait_s,
                        self.slices + other.slices)

    def __sub__(self, other: CpuTimes) -> CpuTimes:
        return CpuTimes(self.cpu_s - other.cpu_s, self.wait_s - other.wait_s,
                        self.slices - other.slices)

    @property
    def mean_wait_s(self) -> float | None:
        """The mean wait for a CPU per wake-up; None before the process ever ran."""
        return self.wait_s / self.slices if self.slices > 0 else None


@dataclass(frozen=True, slots=True)
class GeneratorFigures:
    """One run's load-generator lateness and the bound it was held to (seconds)."""

    bound_s: float
    send_lag_p99_s: float | None  # open loop only
    late_drops: int  # open-loop arrivals dropped because the generator reached them too late
    cpu: CpuTimes | None  # the local load processes' counters; None: not measured here

    @property
    def mean_cpu_wait_s(self) -> float | None:
        return self.cpu.mean_wait_s if self.cpu is not None else None

    @property
    def overload(self) -> str | None:
        """Why the generator did not keep its schedule, or None when it did."""
        why = []
        if self.late_drops:
            why.append(f"{self.late_drops} arrival(s) dropped because the generator reached "
                       "them too late to send")
        if self.send_lag_p99_s is not None and self.send_lag_p99_s > self.bound_s:
            why.append(f"send lag p99 {self.send_lag_p99_s * 1000:.0f} ms")
        wait = self.mean_cpu_wait_s
        if wait is not None and wait > self.bound_s:
            why.append(f"its processes waited {wait * 1000:.0f} ms for a CPU per wake-up")
        if not why:
            return None
        return f"{'; '.join(why)} (bound {self.bound_s * 1000:g} ms)"


OVERLOADED = "load generator overloaded:"


def overloaded(error: str | None) -> bool:
    """Whether a run's error is its generator's overload (the run may be tried again with
    fewer experiments beside it: chaos.engine.locks.Pace)."""
    return error is not None and error.startswith(OVERLOADED)


def overload_error(reason: str) -> str:
    """The run's error when its generator fell behind: what, and what to do about it."""
    return (f"{OVERLOADED} {reason}. The figures measure the load machine, not "
            "the service, so no SLA was judged. Run fewer experiments at once "
            "(--chaos-parallel), give the load more CPU, or raise spec.load.maxGeneratorLag")
