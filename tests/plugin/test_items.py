"""An experiment item's life around its run (chaos.plugin.items, chaos.plugin.collect): the
cluster refused or halted before it, each repeat handed to the run, a crash in the harness
shown as the traceback it is, where pytest says the item is, and tags registered as markers
unless the project describes them. The run itself is a stub (see test_verdicts.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from plugin_project import add_workload, experiment

# the experiment reader loaded before any inner session: pytester unloads the modules a session
# imported first, and a reader loaded again by a later session then failed on YAML nodes of the
# first (seen under mutmut's trampolines, where the outer session had not loaded it yet)
import chaos.model.parse  # noqa: F401
from chaos.model.abort import HaltMarker

pytest_plugins = ["pytester"]

STUB = '''\
import pytest

from chaos.errors import ClusterError, HaltActive
from chaos.model.abort import HaltMarker
from chaos.plugin import environment, record

RUNS = []


def run_env(config):
    name = config.getini("chaos_cluster_name") or "ok"
    if name == "halted":
        raise HaltActive(HaltMarker(by="ops@box (pid 1)", at=0.0, reason="incident 42"),
                         "kind-kc")
    if name == "broken":
        raise ClusterError("kind create cluster kc: exit status 1")
    return "the env"


def run_and_record(config, node, exp, env, repeat=None):
    print(f"RUN {node.name} {repeat}")
    if exp.name == "crash":
        raise RuntimeError("the harness broke")
    from types import SimpleNamespace
    return SimpleNamespace(verdict="pass", abort=None)


def pytest_configure(config):
    mp = pytest.MonkeyPatch()
    mp.setattr(environment, "run_env", run_env)
    mp.setattr(record, "run_and_record", run_and_record)
    config.add_cleanup(mp.undo)
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    add_workload(pytester.path / "workloads")
    (pytester.path / "conftest.py").write_text(STUB)
    return pytester


def _run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest_inprocess("-p", "no:locust", "-p", "no:cacheprovider", *args)


def _write(project: pytest.Pytester, *names: str, tags: str | None = None) -> None:
    for name in names:
        (project.path / f"{name}.yaml").write_text(experiment(name, tags=tags))


def test_a_halted_cluster_fails_the_item_and_stops_the_session(
        project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nchaos_cluster_name = halted\n")
    _write(project, "a-first", "b-second")
    result = _run(project)
    result.assert_outcomes(failed=1)
    marker = HaltMarker(by="ops@box (pid 1)", at=0.0, reason="incident 42")
    reason = (f"cluster kind-kc is {marker.describe()}; no experiment may start until "
              "`kube-chaos halt --clear --context kind-kc`")
    result.stdout.fnmatch_lines([f"kube-chaos: {reason}",
                                 f"*! Interrupted: {reason} !*"])
    assert "RUN" not in result.stdout.str()


def test_a_cluster_that_cannot_be_prepared_fails_each_item_naming_why(
        project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nchaos_cluster_name = broken\n")
    _write(project, "a-first", "b-second")
    result = _run(project)
    result.assert_outcomes(failed=2)  # the next item tries again
    result.stdout.fnmatch_lines(["kube-chaos could not prepare the cluster: kind create "
                                 "cluster kc: exit status 1"] * 2)


def test_each_repeat_is_handed_to_the_run(project: pytest.Pytester) -> None:
    _write(project, "kill")
    result = _run(project, "-s", "--chaos-repeat=2")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*RUN kill[[]1] (1, 2)*", "*RUN kill[[]2] (2, 2)*"])
    result = _run(project, "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*RUN kill None*"])


def test_a_crash_in_the_harness_is_shown_as_its_traceback(project: pytest.Pytester) -> None:
    _write(project, "crash")
    result = _run(project, "--tb=short")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*_ experiment: crash _*", "conftest.py:*: in run_and_record",
                                 "E   RuntimeError: the harness broke"])


def test_pytest_places_an_item_at_the_top_of_its_file(project: pytest.Pytester) -> None:
    _write(project, "kill")
    result = _run(project, "--junitxml=junit.xml", "-o", "junit_family=xunit1")
    result.assert_outcomes(passed=1)
    case = ET.parse(project.path / "junit.xml").getroot().find(".//testcase")
    assert case is not None
    assert (case.get("name"), case.get("file"), case.get("line")) == ("kill", "kill.yaml", "0")


def test_a_file_that_breaks_the_reader_is_a_collection_error_with_its_traceback(
        project: pytest.Pytester) -> None:
    (project.path / "conftest.py").write_text(
        "import chaos.model.parse as parse\n\n"
        "def pytest_configure(config):\n"
        "    def broken(path, allow_paths=()):\n"
        "        raise RuntimeError('the reader broke')\n"
        "    original = parse.load_experiment\n"
        "    parse.load_experiment = broken\n"
        "    config.add_cleanup(lambda: setattr(parse, 'load_experiment', original))\n")
    _write(project, "kill")
    result = _run(project, "--collect-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*_ ERROR collecting kill.yaml _*", "conftest.py:5: in broken",
                                 "E   RuntimeError: the reader broke"])
    assert "invalid experiment" not in result.stdout.str()


def test_tags_the_project_describes_keep_its_description(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nmarkers =\n    smoke: the quick ones\n"
                    "    slow_net(delay): experiments on a slow network\n")
    _write(project, "kill", tags="[smoke, slow_net, game-day]")
    items, _rec = project.inline_genitems("-p", "no:locust", "--strict-markers")
    assert [i.name for i in items] == ["kill"]
    ours = ("smoke", "slow_net", "game_day")  # leaving out other plugins' markers
    assert [m for m in items[0].config.getini("markers") if m.startswith(ours)] == [
        "smoke: the quick ones", "slow_net(delay): experiments on a slow network",
        "game_day: kube-chaos experiment tag"]
