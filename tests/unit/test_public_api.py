"""The public Python API: what `chaos` exports, that each name is the one its module defines,
that `import chaos` stays cheap, and assert_slas over results built from the real types."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import chaos
from chaos import (
    AbortRecord,
    Breach,
    ExperimentAborted,
    ExperimentError,
    ExperimentResult,
    SLAResult,
    SLAViolated,
    assert_slas,
    load_experiment,
)

ROOT = Path(__file__).parents[2]
EXPERIMENT = ROOT / "experiments" / "pod-kill-replicated.yaml"


def test_all_lists_exactly_the_exported_names() -> None:
    assert set(chaos.__all__) == {"__version__", *chaos._EXPORTS}
    assert len(chaos.__all__) == len(set(chaos.__all__))
    for name in ("load_experiment", "run_experiment", "assert_slas", "ExperimentResult",
                 "RunEnv", "Experiment", "SLAResult", "ChaosError"):
        assert name in chaos.__all__


@pytest.mark.parametrize("name", sorted(chaos._EXPORTS))
def test_each_name_is_the_object_its_module_defines(name: str) -> None:
    source = importlib.import_module(chaos._EXPORTS[name])
    assert getattr(chaos, name) is getattr(source, name)


def test_star_import_and_unknown_names() -> None:
    namespace: dict[str, object] = {}
    exec("from chaos import *", namespace)  # what a user may write
    runner = importlib.import_module("chaos.engine.runner")
    assert namespace["run_experiment"] is runner.run_experiment
    assert "_EXPORTS" not in namespace
    with pytest.raises(AttributeError, match="no attribute 'run_experimnet'"):
        _ = chaos.run_experimnet  # type: ignore[attr-defined]
    assert "assert_slas" in dir(chaos)


def test_a_patched_runner_is_what_chaos_hands_out(monkeypatch: pytest.MonkeyPatch) -> None:
    import chaos.engine.runner

    def fake(*args: object, **kwargs: object) -> None:
        return None

    monkeypatch.setattr(chaos.engine.runner, "run_experiment", fake)
    assert chaos.run_experiment is fake


def test_importing_chaos_pulls_in_no_cluster_client_load_generator_or_runner() -> None:
    code = ("import sys, chaos, chaos.errors; "
            "print(sorted(m for m in ('kubernetes', 'locust', 'gevent', 'chaos.engine.runner', "
            "'chaos.plugin') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


def _result(slas: list[SLAResult], **over: object) -> ExperimentResult:
    exp = load_experiment(EXPERIMENT)
    fields: dict[str, object] = dict(
        experiment=exp, verdict="pass" if all(s.passed for s in slas) else "fail", slas=slas,
        recovery_seconds=4.0, longest_outage_s=0.3, requests_total=200, requests_failed=0,
        error_rate_during_fault=0.0, restarts=0, faults=[], report_path=None, namespace="ns")
    fields.update(over)
    return ExperimentResult(**fields)  # type: ignore[arg-type]


HELD = SLAResult("maxOutage", 2.0, 0.3, True, "s", bound_s=2.0)
BREACHED = SLAResult("maxErrorRate", 0.01, 0.25, False, "ratio")


def test_assert_slas_passes_when_every_sla_held() -> None:
    assert assert_slas(_result([HELD])) is None


def test_assert_slas_fails_naming_each_breached_sla() -> None:
    result = _result([HELD, BREACHED])
    with pytest.raises(SLAViolated) as info:
        assert_slas(result)
    assert str(info.value) == (f"{result.experiment.name}: 1 SLA violated:\n"
                               "  maxErrorRate: observed 0.2500 (25.00%) exceeds threshold "
                               "0.0100 (1.00%)")
    assert info.value.failed == [BREACHED] and info.value.results == [HELD, BREACHED]


def test_assert_slas_fails_an_errored_or_aborted_run_with_its_reason() -> None:
    with pytest.raises(ExperimentError, match="experiment errored: CaptureFormatError: x"):
        assert_slas(_result([], verdict="error", error="CaptureFormatError: x"))
    breach = Breach("ready", "http", 503, "2xx", "GET http://127.0.0.1/: HTTP 503", 1.0)
    with pytest.raises(ExperimentAborted, match=r"guard ready \(http\) breached"):
        assert_slas(_result([], verdict="aborted", abort=AbortRecord(breach, 1.2)))
