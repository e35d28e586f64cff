"""What pytest makes of an experiment's verdict, for every verdict and every ``expect``.

A YAML experiment item runs through the real plugin (collection, ExperimentItem.runtest,
repr_failure, the session's exit code); only the run itself is replaced, by a conftest that
returns a constructed ExperimentResult. An audit found that runtest's "not a pass" branch could
be deleted with every test still passing: each case here fails without the branch it needs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from plugin_project import add_workload, experiment

pytest_plugins = ["pytester"]

VERDICTS = ("pass", "fail", "error", "aborted")
EXPECTS = ("pass", "fail")


def _experiment(verdict: str, expect: str) -> str:
    """The experiment's name tells the stub run which verdict to return."""
    return experiment(f"{verdict}-expect-{expect}", expect=expect, max_duration="40s",
                      timeout="40s", slas="{maxErrorRate: 0.01, maxOutage: 0.5s}",
                      fault="{type: probe-break, probe: readiness, count: 1, duration: 30s, "
                            "method: admin}")


# The run replaced for the inner session only: patched in pytest_configure, restored by the
# config's cleanup (the inner session runs in this process). Each SLA list is checked against
# chaos.plan.slas.verdict, so that every case is one the runner can really return.
STUB_RUNS = '''\
import pytest

from chaos.plugin import environment, record
from chaos.model.abort import Breach
from chaos.model.timeline import SLAResult
from chaos.plan.slas import verdict
from chaos.report.data import AbortRecord
from chaos.engine.runner import ExperimentResult

T0 = 1_700_000_000.0
HELD = [SLAResult("maxErrorRate", 0.01, 0.0, True, "ratio"),
        SLAResult("maxOutage", 0.5, 0.2, True, "s", bound_s=0.5)]
BREACHED = [SLAResult("maxErrorRate", 0.01, 0.2345, False, "ratio"),
            SLAResult("maxOutage", 0.5, 3.25, False, "s", bound_s=0.5)]
CUT = ("the run did not happen as declared, so no SLA was judged: probe-break held 21.7s of 30s "
       "(the experiment's timeout is 40s; deploy took 14.3s). Raise spec.timeout, or shorten "
       "what it must hold")


def stub_run(config, node, exp, env, repeat=None):
    wanted = exp.name.split("-expect-")[0]
    slas, error, abort = [], None, None
    if wanted in ("pass", "fail"):
        # a pass of a negative control is a breach; a fail of it is every SLA held
        breach_wanted = (wanted == "pass") == (exp.expect == "fail")
        slas = BREACHED if breach_wanted else HELD
        assert verdict(slas, exp.expect) == wanted, (wanted, exp.expect)
    elif wanted == "error":
        error = CUT
        assert verdict([], exp.expect, errored=True) == "error"
    else:
        abort = AbortRecord(Breach("errors", "error-rate", 0.6, 0.5,
                                   "error rate 60% over the last 2s", T0), T0 + 0.4)
        assert verdict([], exp.expect, aborted=True) == "aborted"
    return ExperimentResult(
        experiment=exp, verdict=wanted, slas=slas, recovery_seconds=None,
        longest_outage_s=None, requests_total=100, requests_failed=0,
        error_rate_during_fault=None, restarts=None, faults=[], report_path=None,
        namespace="ns", error=error, abort=abort)


def pytest_configure(config):
    mp = pytest.MonkeyPatch()
    mp.setattr(environment, "run_env", lambda config: object())
    mp.setattr(record, "run_and_record", stub_run)
    config.add_cleanup(mp.undo)
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    add_workload(pytester.path / "workloads")
    (pytester.path / "conftest.py").write_text(STUB_RUNS)
    return pytester


def _run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest_inprocess("-p", "no:locust", "-p", "no:cacheprovider", *args)


def _write(project: pytest.Pytester, verdict: str, expect: str) -> Path:
    path = project.path / f"{verdict}_{expect}.yaml"
    path.write_text(_experiment(verdict, expect))
    return path


@pytest.mark.parametrize("expect", EXPECTS)
def test_a_pass_passes_and_the_session_exits_0(project: pytest.Pytester, expect: str) -> None:
    """pass: the SLAs held (expect: pass) or a negative control's breakage was detected."""
    _write(project, "pass", expect)
    result = _run(project)
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    out = result.stdout.str()
    assert "violated" not in out and "did not detect" not in out


def test_a_breached_sla_fails_naming_each_sla_threshold_and_figure(
        project: pytest.Pytester) -> None:
    _write(project, "fail", "pass")
    result = _run(project)
    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "fail-expect-pass: 2 SLAs violated" in out
    assert "maxErrorRate: observed 0.2345 (23.45%) exceeds threshold 0.0100 (1.00%)" in out
    assert "maxOutage: observed 3.25s exceeds threshold 0.5s" in out
    assert "negative control" not in out and "Traceback" not in out


def test_an_undetected_negative_control_fails_saying_it_was_not_detected(
        project: pytest.Pytester) -> None:
    """expect: fail, every SLA held: the harness missed the breakage it was meant to see."""
    _write(project, "fail", "fail")
    result = _run(project)
    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert ("negative control held every SLA, but it was expected to breach at least one: the "
            "harness did not detect the failure") in out
    assert "SLAs violated" not in out and "Traceback" not in out


@pytest.mark.parametrize("expect", EXPECTS)
def test_an_error_fails_showing_the_reason_whatever_the_expectation(
        project: pytest.Pytester, expect: str) -> None:
    """A run cut short by its timeout is `error`: failed with why, never judged on SLAs."""
    _write(project, "error", expect)
    result = _run(project)
    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert ("experiment errored: the run did not happen as declared, so no SLA was judged: "
            "probe-break held 21.7s of 30s (the experiment's timeout is 40s; deploy took 14.3s)"
            ) in out
    assert "violated" not in out and "did not detect" not in out and "Traceback" not in out


@pytest.mark.parametrize("expect", EXPECTS)
def test_an_aborted_run_fails_naming_the_guard_whatever_the_expectation(
        project: pytest.Pytester, expect: str) -> None:
    _write(project, "aborted", expect)
    result = _run(project)
    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert ("aborted: guard errors (error-rate) breached: 0.6 (threshold 0.5): error rate 60% "
            "over the last 2s") in out
    assert "violated" not in out and "did not detect" not in out and "Traceback" not in out


def test_every_verdict_and_expectation_in_one_session(project: pytest.Pytester) -> None:
    """The whole table at once: only the two passes pass, and the session exits 1."""
    for verdict in VERDICTS:
        for expect in EXPECTS:
            _write(project, verdict, expect)
    result = _run(project, "-rA")
    result.assert_outcomes(passed=2, failed=6)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines_random([
        "PASSED pass_pass.yaml::pass-expect-pass", "PASSED pass_fail.yaml::pass-expect-fail",
        "FAILED fail_pass.yaml::fail-expect-pass*", "FAILED fail_fail.yaml::fail-expect-fail*",
        "FAILED error_pass.yaml::error-expect-pass*", "FAILED error_fail.yaml::error-expect-fail*",
        "FAILED aborted_pass.yaml::aborted-expect-pass*",
        "FAILED aborted_fail.yaml::aborted-expect-fail*"])


def test_one_failing_item_in_a_directory_makes_the_session_exit_1(
        project: pytest.Pytester) -> None:
    suite = project.path / "suite"
    suite.mkdir()
    add_workload(suite / "workloads")
    (suite / "a.yaml").write_text(_experiment("pass", "pass"))
    (suite / "b.yaml").write_text(_experiment("fail", "pass"))
    result = _run(project, "suite")
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # and the same directory without the failing item exits 0: the 1 is that item's
    (suite / "b.yaml").unlink()
    result = _run(project, "suite")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
