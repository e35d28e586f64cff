"""Experiments side by side under pytest-xdist (chaos.plugin.parallel): real workers, real file
locks; only the run itself is replaced, by a conftest that records when each one held the
cluster and sleeps. The timeline is then checked: an exclusive experiment overlaps nothing,
two that name one NodePort never overlap, and shared ones do run at the same time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from plugin_project import add_workload, experiment

pytest_plugins = ["pytester"]

# the run's body replaced in each worker (run_experiment itself, which holds the claims, is
# real): a window [start, end] per experiment, appended to a file the test reads (O_APPEND
# lines from several processes)
STUB = '''\
import json, os, time
from types import SimpleNamespace

import pytest

import chaos.engine.runner as runner
from chaos.plugin import environment

WINDOWS = os.environ["CHAOS_TEST_WINDOWS"]
LOCKS = os.environ["CHAOS_TEST_LOCKS"]


def body(exp, env, ports, namespace, repeat):
    start = time.time()
    time.sleep(1.5)
    end = time.time()
    with open(WINDOWS, "a") as fh:
        fh.write(json.dumps({"name": exp.name, "start": start, "end": end,
                             "pid": os.getpid()}) + "\\n")
    return runner.ExperimentResult(
        experiment=exp, verdict="pass", slas=[], recovery_seconds=None, longest_outage_s=None,
        requests_total=0, requests_failed=0, error_rate_during_fault=None, restarts=None,
        faults=[], report_path=None, namespace="ns")


def pytest_configure(config):
    mp = pytest.MonkeyPatch()
    config.add_cleanup(mp.undo)
    env = SimpleNamespace(lock_dir=__import__("pathlib").Path(LOCKS), log=print,
                          allow_hosts=(), plan=None, parallel=2, run_id="session")
    mp.setattr(environment, "run_env", lambda config: env)
    # the real run_experiment, which holds the claims; its cluster checks and the run itself
    # (what follows once the claims are held) replaced
    for check in ("check_safety", "check_guard_hosts", "check_not_halted"):
        mp.setattr(runner, check, lambda *args: None)
    mp.setattr(runner, "cluster_ports", lambda env: SimpleNamespace(cluster=None))
    mp.setattr(runner, "_run", body)
'''


def _windows(path: Path) -> dict[str, dict[str, float]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {r["name"]: r for r in rows}


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
          tmp_path: Path) -> tuple[pytest.Pytester, Path]:
    windows = tmp_path / "windows.jsonl"
    monkeypatch.setenv("CHAOS_TEST_WINDOWS", str(windows))
    monkeypatch.setenv("CHAOS_TEST_LOCKS", str(tmp_path / "locks"))
    (pytester.path / "conftest.py").write_text(STUB)
    for port in (30080, 30081, 30082):
        wl = add_workload(pytester.path / "workloads", f"httpd-{port}.yaml")
        wl.write_text(wl.read_text().replace("nodePort: 30080", f"nodePort: {port}"))

    def write(name: str, port: int, fault: str = "{type: pod-kill, count: 1}") -> None:
        text = experiment(name, manifest=f"workloads/httpd-{port}.yaml", fault=fault)
        (pytester.path / f"{name}.yaml").write_text(
            text.replace("nodePort: 30080", f"nodePort: {port}"))

    write("shared-a", 30080)
    write("shared-b", 30081)
    write("same-port-1", 30082)
    write("same-port-2", 30082)
    write("drain-alone", 30080, "{type: drain, count: 1, timeout: 60s}")
    return pytester, windows


@pytest.mark.spawns_sessions
def test_an_exclusive_experiment_overlaps_nothing_and_one_port_is_taken_in_turn(
        suite: tuple[pytest.Pytester, Path]) -> None:
    pytester, windows = suite
    result = pytester.runpytest_subprocess("-p", "no:locust", "--chaos-parallel", "3", "-v")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*created: 3/3 workers*"])
    w = _windows(windows)
    assert set(w) == {"shared-a", "shared-b", "same-port-1", "same-port-2", "drain-alone"}
    pids = {r["pid"] for r in w.values()}
    # spread over the workers, and over no more than asked for (a worker reading
    # --chaos-parallel again would start workers of its own)
    assert 2 <= len(pids) <= 3, pids
    alone = w.pop("drain-alone")
    for name, other in w.items():
        assert not _overlap(alone, other), f"drain-alone overlapped {name}"
    assert not _overlap(w["same-port-1"], w["same-port-2"]), "one NodePort held by two runs"
    # the shared ones did run side by side (3 workers, 4 shared runs, one port held twice)
    shared = [w["shared-a"], w["shared-b"], w["same-port-1"], w["same-port-2"]]
    assert any(_overlap(a, b) for i, a in enumerate(shared) for b in shared[i + 1:])


@pytest.mark.spawns_sessions
@pytest.mark.parametrize("locked", [True, False])
def test_two_runs_on_two_workers_overlap_only_without_the_locks(
        suite: tuple[pytest.Pytester, Path], locked: bool) -> None:
    """The negative control of the test above: two workers, one item each, so both start at
    once; with the locks the exclusive one waits, without them (a stub env with no lock
    folder) the two overlap, so the overlap check can fail."""
    pytester, windows = suite
    for name in ("shared-b", "same-port-1", "same-port-2"):
        (pytester.path / f"{name}.yaml").unlink()
    if not locked:
        conftest = pytester.path / "conftest.py"
        text = conftest.read_text()
        conftest.write_text(text.replace('lock_dir=__import__("pathlib").Path(LOCKS)',
                                         "lock_dir=None"))
        assert "lock_dir=None" in conftest.read_text()
    result = pytester.runpytest_subprocess("-p", "no:locust", "--chaos-parallel", "2")
    result.assert_outcomes(passed=2)
    w = _windows(windows)
    assert _overlap(w["drain-alone"], w["shared-a"]) is not locked


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_a_bad_degree_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    result = pytester.runpytest("-p", "no:locust", f"--chaos-parallel={value}", "--co")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--chaos-parallel must be a whole number of at least 1, "
                                 "or auto*"])


def test_auto_degree_suits_the_machine() -> None:
    from chaos.plugin.parallel import auto_degree

    assert auto_degree(1) == 2 and auto_degree(2) == 4 and auto_degree(64) == 8
