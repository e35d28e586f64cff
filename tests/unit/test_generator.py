"""The load generator's lateness (chaos.plan.generator) and the kernel counters it is read from
(chaos.load.schedstat): each measure can call a run overloaded on its own, none does below its
bound, and the counters are read from this machine's /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaos.load.schedstat import CpuWatch, read_process, read_task
from chaos.plan.generator import CpuTimes, GeneratorFigures, overload_error

BOUND = 0.1


def _figs(lag: float | None = None, late: int = 0, cpu: CpuTimes | None = None) -> GeneratorFigures:
    return GeneratorFigures(BOUND, lag, late, cpu)


def test_within_the_bound_nothing_is_overloaded() -> None:
    assert _figs().overload is None
    assert _figs(lag=BOUND, cpu=CpuTimes(1.0, 1.0, 10)).overload is None  # at the bound


@pytest.mark.parametrize(("figs", "says"), [
    (_figs(lag=0.1005), "send lag p99 100 ms (bound 100 ms)"),
    (_figs(late=2), "2 arrival(s) dropped because the generator reached them too late"),
    (_figs(cpu=CpuTimes(1.0, 1.2, 10)), "its processes waited 120 ms for a CPU per wake-up"),
])
def test_each_measure_alone_calls_the_generator_overloaded(figs: GeneratorFigures,
                                                           says: str) -> None:
    assert figs.overload is not None and says in figs.overload


def test_every_reason_is_given_at_once() -> None:
    reason = _figs(lag=0.3, late=1, cpu=CpuTimes(1.0, 5.0, 10)).overload
    assert reason is not None and reason.count(";") == 2 and reason.endswith("(bound 100 ms)")


def test_counters_subtract_and_add_and_a_process_that_never_ran_has_no_mean() -> None:
    a, b = CpuTimes(1.0, 0.5, 10), CpuTimes(3.0, 0.7, 30)
    assert b - a == CpuTimes(2.0, pytest.approx(0.2), 20)  # type: ignore[arg-type]
    assert a + b == CpuTimes(4.0, 1.2, 40)
    assert CpuTimes().mean_wait_s is None and a.mean_wait_s == pytest.approx(0.05)
    assert _figs().mean_cpu_wait_s is None


def test_the_error_says_what_to_do() -> None:
    text = overload_error("send lag p99 300 ms (bound 100 ms)")
    assert text.startswith("load generator overloaded: send lag p99 300 ms")
    assert "not the service" in text and "--chaos-parallel" in text


def test_a_schedstat_line_is_read_and_a_garbled_or_missing_one_is_not(tmp_path: Path) -> None:
    line = tmp_path / "schedstat"
    line.write_text("2500000000 500000000 40\n")
    assert read_task(line) == CpuTimes(2.5, 0.5, 40)
    line.write_text("12 x 4\n")
    assert read_task(line) is None
    assert read_task(tmp_path / "gone") is None


def test_a_process_is_the_sum_of_its_threads(tmp_path: Path) -> None:
    for tid, text in (("7", "1000000000 100000000 5"), ("8", "3000000000 300000000 15")):
        (tmp_path / "42" / "task" / tid).mkdir(parents=True)
        (tmp_path / "42" / "task" / tid / "schedstat").write_text(text)
    assert read_process(42, tmp_path) == CpuTimes(4.0, pytest.approx(0.4), 20)  # type: ignore[arg-type]
    assert read_process(43, tmp_path) is None


@pytest.mark.skipif(not Path("/proc/self/schedstat").exists(), reason="needs Linux /proc")
def test_a_real_busy_process_is_measured_from_when_it_sends() -> None:
    busy = subprocess.Popen([sys.executable, "-c",
                             "import time\nt = time.time()\nwhile time.time() - t < 1.5: pass"])
    sending = [False]
    watch = CpuWatch([busy.pid], lambda: sending[0], every_s=0.05)
    try:
        watch.start()
        time.sleep(0.3)
        assert watch.figures() is None  # nothing is taken before it sends
        sending[0] = True
        busy.wait(timeout=30)
    finally:
        watch.stop()
        busy.kill()
        busy.wait()
    cpu = watch.figures()
    assert cpu is not None and 0.3 < cpu.cpu_s < 1.5 and cpu.slices > 0 and cpu.wait_s >= 0
    mine = read_process(os.getpid())
    assert mine is not None and mine.cpu_s > 0


def test_the_error_in_full() -> None:
    assert overload_error("send lag p99 300 ms (bound 100 ms)") == (
        "load generator overloaded: send lag p99 300 ms (bound 100 ms). The figures measure "
        "the load machine, not the service, so no SLA was judged. Run fewer experiments at "
        "once (--chaos-parallel), give the load more CPU, or raise "
        "spec.load.maxGeneratorLag")
