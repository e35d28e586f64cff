"""An experiment written as a plain pytest test: a test function that uses the public API
(``from chaos import ...``) and the plugin's fixtures, run in a pytester session.

The run itself is replaced (as in test_verdicts.py) by a conftest that returns an
ExperimentResult built from the real model types: the experiment loaded from YAML, SLAResults
held or breached. Without the stub the same file runs against a kubeconfig that does not exist:
the chaos tests error naming it, and the pure one still passes.
"""

from __future__ import annotations

import pytest
from plugin_project import add_workload, experiment

pytest_plugins = ["pytester"]

KILL = experiment(slas="{maxOutage: 1s, maxErrorRate: 0.01}")

# what a user writes: nothing in it knows about the stub
PLAIN_TESTS = '''\
import pytest

from chaos import (
    Experiment,
    ExperimentResult,
    SLAViolated,
    assert_slas,
    load_experiment,
)


@pytest.mark.chaos
def test_kill_one_keeps_its_slas(chaos_experiment):
    result = chaos_experiment("experiments/kill.yaml")
    assert isinstance(result, ExperimentResult) and result.verdict == "pass"
    assert result.recovery_seconds < 20
    assert_slas(result)


@pytest.mark.chaos
def test_kill_one_on_a_slower_service(chaos_experiment):
    exp = load_experiment("experiments/kill.yaml")
    assert isinstance(exp, Experiment) and exp.slas.max_outage_s == 1.0
    result = chaos_experiment(exp, name="kill-one-slow")  # an override, as users write them
    assert_slas(result)


def test_assert_slas_is_an_assertion_users_can_expect():
    assert issubclass(SLAViolated, Exception)
    with pytest.raises(SLAViolated):
        raise SLAViolated([])
'''

STUB_RUN = '''\
import pytest

import chaos.engine.runner
from chaos.model.timeline import SLAResult
from chaos.plan.slas import verdict
from chaos.plugin import environment


def run(exp, env, repeat=None):
    slow = exp.name.endswith("-slow")
    slas = [SLAResult("maxErrorRate", 0.01, 0.002, True, "ratio"),
            SLAResult("maxOutage", 1.0, 3.25 if slow else 0.4, not slow, "s", bound_s=1.0)]
    return chaos.engine.runner.ExperimentResult(
        experiment=exp, verdict=verdict(slas, exp.expect), slas=slas, recovery_seconds=6.5,
        longest_outage_s=3.25 if slow else 0.4, requests_total=400, requests_failed=1,
        error_rate_during_fault=0.002, restarts=0, faults=[], report_path=None, namespace="ns")


def pytest_configure(config):
    mp = pytest.MonkeyPatch()
    mp.setattr(environment, "run_env", lambda config: object())
    mp.setattr(chaos.engine.runner, "run_experiment", run)
    config.add_cleanup(mp.undo)
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    add_workload(pytester.path / "experiments" / "workloads")
    (pytester.path / "experiments" / "kill.yaml").write_text(KILL)
    (pytester.path / "test_checkout.py").write_text(PLAIN_TESTS)
    return pytester


def _run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    # test_checkout.py only: the experiments folder's YAML would be collected as items too
    return project.runpytest_inprocess("-p", "no:locust", "-p", "no:cacheprovider",
                                       "test_checkout.py", *args)


def test_a_plain_test_passes_on_held_slas_and_fails_naming_the_breached_one(
        project: pytest.Pytester) -> None:
    (project.path / "conftest.py").write_text(STUB_RUN)
    result = _run(project, "-rA")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines_random([
        "PASSED test_checkout.py::test_kill_one_keeps_its_slas",
        "PASSED test_checkout.py::test_assert_slas_is_an_assertion_users_can_expect",
        "FAILED test_checkout.py::test_kill_one_on_a_slower_service*"])
    out = result.stdout.str()
    assert "kill-one-slow: 1 SLA violated" in out
    assert "maxOutage: observed 3.25s exceeds threshold 1s" in out
    assert "maxErrorRate: observed" not in out  # the SLA that held is not named


def test_chaos_m_selects_the_plain_experiments(project: pytest.Pytester) -> None:
    (project.path / "conftest.py").write_text(STUB_RUN)
    result = _run(project, "-m", "chaos", "--strict-markers")
    result.assert_outcomes(passed=1, failed=1, deselected=1)


def test_without_a_cluster_the_chaos_tests_error_naming_why(project: pytest.Pytester) -> None:
    """The same file, nothing stubbed, a kubeconfig that does not exist: the fixture stops
    each chaos test at setup naming the file; the pure test passes."""
    missing = project.path / "no-such-kubeconfig"
    result = _run(project, f"--chaos-kubeconfig={missing}")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines([f"*kube-chaos could not prepare the cluster: cannot load "
                                 f"kubeconfig {missing}*"])
