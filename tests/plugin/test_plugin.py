"""The pytest plugin, exercised with pytester (no cluster needed: collection and options)."""

from __future__ import annotations

import pytest
from plugin_project import WORKLOADS, add_workload, experiment

pytest_plugins = ["pytester"]

GOOD = experiment(tags="[smoke]")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    add_workload(pytester.path / "workloads")
    return pytester


def test_options_are_in_one_chaos_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    out = result.stdout.str()
    assert "kube-chaos: chaos experiments on Kubernetes" in out
    for opt in ("--chaos-kubeconfig", "--chaos-context", "--chaos-keep-cluster",
                "--chaos-keep-namespace", "--chaos-reports", "--chaos-seed",
                "--chaos-allow-context", "--chaos-allow-host"):
        assert opt in out


def test_chaos_marker_is_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("import pytest\n@pytest.mark.chaos\ndef test_x():\n    pass\n")
    result = pytester.runpytest("--strict-markers", "-m", "chaos")
    result.assert_outcomes(passed=1)


def test_yaml_experiments_are_collected_as_chaos_items(project: pytest.Pytester) -> None:
    (project.path / "kill.yaml").write_text(GOOD)
    result = project.runpytest("--collect-only", "-q", "-m", "chaos and smoke")
    result.stdout.fnmatch_lines(["kill.yaml::kill-one"])
    assert result.ret == 0


def test_workload_manifests_are_not_collected(project: pytest.Pytester) -> None:
    result = project.runpytest("--collect-only", "-q", "workloads")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_invalid_experiment_is_one_collection_error_naming_file_line_and_field(
    project: pytest.Pytester,
) -> None:
    (project.path / "kill.yaml").write_text(GOOD)
    (project.path / "bad.yaml").write_text(GOOD.replace("count: 1", "count: many"))
    result = project.runpytest("--collect-only", "-q")
    out = result.stdout.str()
    assert "bad.yaml:13: spec.faults[0].count: expected a positive integer, got 'many'" in out
    assert "Traceback" not in out
    result.stdout.fnmatch_lines(["kill.yaml::kill-one", "*1 error*"])


def test_unknown_fault_type_lists_the_known_ones(project: pytest.Pytester) -> None:
    (project.path / "bad.yaml").write_text(GOOD.replace("pod-kill", "pod-nuke"))
    result = project.runpytest("--collect-only", "-q")
    out = result.stdout.str()
    assert "bad.yaml:13: spec.faults[0].type: unknown fault type 'pod-nuke'" in out
    assert "pod-kill" in out and "Traceback" not in out


def test_broken_yaml_syntax_names_the_line(project: pytest.Pytester) -> None:
    (project.path / "bad.yaml").write_text(GOOD.replace("selector: {app: httpd}",
                                                        "selector: {app: httpd"))
    result = project.runpytest("--collect-only", "-q")
    out = result.stdout.str()
    assert "bad.yaml:" in out and "invalid experiment" in out and "Traceback" not in out


def test_seed_must_be_an_integer(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--chaos-seed=abc")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--chaos-seed must be an integer, got 'abc'*"])


def test_seed_is_reported_in_the_header_and_taken_from_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nchaos_seed = 1234\n")
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["kube-chaos: seed 1234, run *-1234"])


def test_selector_matching_no_pod_is_a_collection_error(project: pytest.Pytester) -> None:
    (project.path / "bad.yaml").write_text(GOOD.replace("selector: {app: httpd}",
                                                        "selector: {app: htpd}"))
    result = project.runpytest("--collect-only", "-q")
    out = result.stdout.str()
    assert ("bad.yaml:7: spec.workload.selector: 'app=htpd' matches no pod the workload "
            "manifests create") in out
    assert "Traceback" not in out


def test_sigterm_interrupts_like_ctrl_c(pytester: pytest.Pytester) -> None:
    """A cancelled CI job's SIGTERM must run `finally` blocks (the undo), as Ctrl-C does."""
    pytester.makepyfile(
        """
        import os, pathlib, signal

        def test_cut_short():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
            finally:
                pathlib.Path("undone").write_text("yes")

        def test_never_reached():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:locust")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*KeyboardInterrupt*"])
    assert (pytester.path / "undone").read_text() == "yes"


def test_tags_are_registered_markers_under_strict_markers(project: pytest.Pytester) -> None:
    (project.path / "kill.yaml").write_text(
        GOOD.replace("tags: [smoke]", "tags: [smoke, slow-net]"))
    (project.path / "other.yaml").write_text(
        GOOD.replace("name: kill-one, tags: [smoke]", "name: other"))
    result = project.runpytest("--strict-markers", "--collect-only", "-q", "-m", "slow_net")
    result.stdout.fnmatch_lines(["kill.yaml::kill-one", "*1/2 tests collected (1 deselected)*"])
    assert result.ret == 0
    result = project.runpytest("--strict-markers", "--collect-only", "-q", "-m", "not smoke")
    result.stdout.fnmatch_lines(["other.yaml::other", "*1/2 tests collected (1 deselected)*"])


def test_a_tag_pytest_cannot_take_is_a_collection_error(project: pytest.Pytester) -> None:
    (project.path / "bad.yaml").write_text(GOOD.replace("tags: [smoke]", "tags: [smoke, skip]"))
    result = project.runpytest("--strict-markers", "--collect-only", "-q")
    out = result.stdout.str()
    assert ("bad.yaml:3: metadata.tags[1]: 'skip' is pytest's own 'skip' marker and would "
            "change how the experiment runs") in out
    assert "Traceback" not in out


def test_utf16_experiment_is_collected_and_refused_clearly(project: pytest.Pytester) -> None:
    (project.path / "wide.yaml").write_bytes(GOOD.encode("utf-16"))
    result = project.runpytest("--collect-only", "-q")
    out = result.stdout.str()
    assert ("wide.yaml:1: document: UTF-16 text (byte-order mark FF FE): save the file as "
            "UTF-8") in out
    assert "Traceback" not in out


def test_cluster_scoped_manifest_object_is_a_collection_error(project: pytest.Pytester) -> None:
    crb = ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
           "metadata: {name: httpd-admin}\nroleRef: {apiGroup: rbac.authorization.k8s.io, "
           "kind: ClusterRole, name: cluster-admin}\n")
    (project.path / "workloads" / "rbac.yaml").write_text(crb)
    both = GOOD.replace("[workloads/httpd-replicated.yaml]",
                        "[workloads/httpd-replicated.yaml, workloads/rbac.yaml]")
    (project.path / "kill.yaml").write_text(both)
    result = project.runpytest("--collect-only", "-q")
    out = result.stdout.str()
    assert ("rbac.yaml:2: kind: ClusterRoleBinding 'httpd-admin' is cluster-scoped: deleting the "
            "test's namespace would leave it behind") in out
    assert "Traceback" not in out
    (project.path / "kill.yaml").write_text(
        both.replace("replicas: 3", "replicas: 3\n    clusterScoped: allow"))
    result = project.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["kill.yaml::kill-one"])


FAKE_RUNS = """\
import pytest

import chaos.plugin.environment as environment
import chaos.engine.runner as runner
from chaos.errors import HaltActive
from chaos.model.abort import Breach, HaltMarker
from chaos.report.data import AbortRecord

T0 = 1_700_000_000.0


def pytest_configure(config):
    # undone when the inner session ends: a process that imported chaos.runner before (mutmut's
    # does) keeps the module across pytester sessions, and a stub left in it leaks into the next
    mp = pytest.MonkeyPatch()
    config.add_cleanup(mp.undo)
    mp.setattr(environment, "run_env", lambda config: object())

    def run(exp, env, repeat=None):
        if exp.name.startswith("halted"):
            raise HaltActive(HaltMarker("ops@box (pid 9)", T0, "incident 42"), "kind-x")
        breach = Breach("outage", "outage", 2.5, 2.0, "outage of 2.50s going on", T0)
        return runner.ExperimentResult(
            experiment=exp, verdict="aborted", slas=[], recovery_seconds=None,
            longest_outage_s=None, requests_total=0, requests_failed=0,
            error_rate_during_fault=None, restarts=None, faults=[], report_path=None,
            namespace="ns", abort=AbortRecord(breach, T0 + 0.3))

    mp.setattr(runner, "run_experiment", run)
"""


def test_an_aborted_experiment_fails_naming_the_guard(project: pytest.Pytester) -> None:
    (project.path / "conftest.py").write_text(FAKE_RUNS)
    (project.path / "kill.yaml").write_text(GOOD)
    result = project.runpytest("-p", "no:locust")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*aborted: guard outage (outage) breached: 2.5 (threshold 2): "
                                 "outage of 2.50s going on*"])


def test_a_halted_cluster_stops_the_session_before_the_next_experiment(
        project: pytest.Pytester) -> None:
    (project.path / "conftest.py").write_text(FAKE_RUNS)
    (project.path / "a.yaml").write_text(GOOD.replace("name: kill-one", "name: halted-a"))
    (project.path / "b.yaml").write_text(GOOD.replace("name: kill-one", "name: halted-b"))
    result = project.runpytest("-p", "no:locust")
    result.assert_outcomes(failed=1)  # b never runs
    result.stdout.fnmatch_lines([
        "*cluster kind-x is halted by ops@box (pid 9) at 2023-11-14T22:13:20+00:00: incident 42;"
        " no experiment may start until `kube-chaos halt --clear --context kind-x`*",
        "*Interrupted*halted by ops@box*"])


def test_allow_host_option_and_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nchaos_allow_host = prom.example.com grafana.example.com\n")
    pytester.makeconftest(
        "def pytest_configure(config):\n"
        "    from chaos.plugin.options import option\n"
        "    print('HOSTS', option(config, 'chaos_allow_host'))\n")
    result = pytester.runpytest("-s", "--co", "-q")
    result.stdout.fnmatch_lines(["HOSTS ['prom.example.com', 'grafana.example.com']"])
    result = pytester.runpytest("-s", "--co", "-q", "--chaos-allow-host=a.example.com")
    result.stdout.fnmatch_lines(["HOSTS ['a.example.com']"])


def test_assert_slas_fails_an_aborted_run_naming_the_guard() -> None:
    from pathlib import Path as P

    from chaos import assert_slas
    from chaos.engine.runner import ExperimentResult
    from chaos.errors import ExperimentAborted
    from chaos.model.abort import Breach
    from chaos.model.parse import parse_experiment
    from chaos.report.data import AbortRecord

    exp = parse_experiment(GOOD.replace("[workloads/httpd-replicated.yaml]",
                                        f"[{WORKLOADS / 'httpd-replicated.yaml'}]"), P("x.yaml"))
    breach = Breach("ready", "http", 503, "2xx", "GET http://127.0.0.1/: HTTP 503", 1.0)
    result = ExperimentResult(exp, "aborted", [], None, None, 0, 0, None, None, [], None, "ns",
                              abort=AbortRecord(breach, 1.2))
    with pytest.raises(ExperimentAborted, match=r"guard ready \(http\) breached: 503"):
        assert_slas(result)


def test_repeat_collects_each_experiment_n_times(project: pytest.Pytester) -> None:
    (project.path / "kill.yaml").write_text(GOOD)
    result = project.runpytest("--collect-only", "-q", "--chaos-repeat=3", "kill.yaml")
    result.stdout.fnmatch_lines(["kill.yaml::kill-one[[]1[]]", "kill.yaml::kill-one[[]2[]]",
                                 "kill.yaml::kill-one[[]3[]]"])
    result = project.runpytest("--collect-only", "-q", "--chaos-repeat=0")
    result.stderr.fnmatch_lines(["*--chaos-repeat must be a positive integer, got 0*"])


def test_build_progress_reaches_the_terminal_while_the_test_is_captured(
        pytester: pytest.Pytester) -> None:
    """A passing test's output is never shown: progress lines must bypass capture, with a
    heartbeat while a step runs long."""
    pytester.makepyfile("""
        import time
        from chaos.cluster.progress import Progress

        def test_build():
            print("captured, never shown")
            p = Progress(heartbeat_s=0.2)
            p.cached("node image kind/node:x")
            with p.step("building the node image"):
                time.sleep(0.7)
    """)
    result = pytester.runpytest("-p", "no:locust")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "*] node image kind/node:x: cached",
        "*] building the node image ...",
        "*] building the node image: still running, 0s so far",
        "*] building the node image: done in 0.*s"])
    assert "captured, never shown" not in result.stdout.str()
