"""One experiment run from pytest (chaos.plugin.record): the experiment read, the run's claims,
report and HTML page kept as the item's user properties (JUnit properties too), a halt that
stops the whole session, and an HTML page that cannot be drawn named in the log."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chaos.errors import ExperimentInvalid, HaltActive
from chaos.model.abort import Breach, HaltMarker
from chaos.plan.claims import claims_of
from chaos.plugin import record
from chaos.plugin.parallel import CLAIMS_PROPERTY, REPORT_PROPERTY


@pytest.fixture
def exp_file(exp_dir: Path, good: str) -> Path:
    path = exp_dir / "exp.yaml"
    path.write_text(good)
    return path


def test_an_experiment_is_read_from_its_file_or_taken_as_given(exp_file: Path) -> None:
    exp = record.as_experiment(exp_file, {})
    assert exp.name == "pod-kill-replicated"
    assert record.as_experiment(str(exp_file), {}) == exp
    assert record.as_experiment(exp, {}) is exp  # no override: the very object, not a copy
    assert record.as_experiment(exp, {"timeout_s": 99.0}) == replace(exp, timeout_s=99.0)
    assert record.as_experiment(exp_file, {"timeout_s": 99.0}) == replace(exp, timeout_s=99.0)


def test_an_experiment_file_may_use_manifests_of_the_allowed_folders(exp_dir: Path,
                                                                     good: str) -> None:
    shared = exp_dir.parent / "shared"
    shared.mkdir()
    (shared / "httpd.yaml").write_text((exp_dir / "workloads" / "httpd.yaml").read_text())
    path = exp_dir / "exp.yaml"
    path.write_text(good.replace("[workloads/httpd.yaml]", "[../shared/httpd.yaml]"))
    with pytest.raises(ExperimentInvalid):
        record.as_experiment(path, {})
    exp = record.as_experiment(path, {}, allow_paths=(shared,))
    assert exp.workload.manifests == ((shared / "httpd.yaml").resolve(),)


class Node:
    """What run_and_record touches of a pytest item."""

    def __init__(self) -> None:
        self.user_properties: list[tuple[str, object]] = []
        self.session = SimpleNamespace(shouldstop=False)


def _result(report: Path | None, breach: str | None = None) -> Any:
    abort = None if breach is None else SimpleNamespace(
        breach=Breach("g", breach, 1.0, 0.5, "ops@box: game day over", 0.0))
    return SimpleNamespace(report_path=report, abort=abort, verdict="pass")


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The run, the report reader and the HTML writer as fakes: set "result" or "raise"."""
    from chaos.engine import runner
    from chaos.report import html, summary, writer

    seen: dict[str, Any] = {"runs": [], "html": [], "html_error": None}

    def run_experiment(exp: Any, env: Any, *, repeat: Any = "missing") -> Any:
        seen["runs"].append((exp.name, env, repeat))
        if "raise" in seen:
            raise seen["raise"]
        return seen["result"]

    def write_experiment_html(path: Path, *, index_href: str = "missing") -> Path:
        seen["html"].append((path, index_href))
        if seen["html_error"] is not None:
            raise seen["html_error"]
        return path.with_name("report.html")

    monkeypatch.setattr(runner, "run_experiment", run_experiment)
    monkeypatch.setattr(writer, "load_report", lambda path: {"read": str(path)})
    monkeypatch.setattr(summary, "junit_properties", lambda report: [
        ("chaos.verdict", "pass"), ("chaos.read", report["read"])])
    monkeypatch.setattr(html, "write_experiment_html", write_experiment_html)
    return seen


def _env() -> Any:
    lines: list[str] = []
    return SimpleNamespace(log=lines.append, lines=lines)


def test_a_run_keeps_its_claims_report_junit_figures_and_html_page(
        runs: dict[str, Any], exp_file: Path, tmp_path: Path) -> None:
    exp = record.as_experiment(exp_file, {})
    report = tmp_path / "run" / "exp" / "report.json"
    runs["result"] = _result(report)
    node, env = Node(), _env()
    assert record.run_and_record(None, node, exp, env, (2, 3)) is runs["result"]  # type: ignore[arg-type]
    assert runs["runs"] == [("pod-kill-replicated", env, (2, 3))]
    assert runs["html"] == [(report, "../index.html")]
    assert node.user_properties == [
        (CLAIMS_PROPERTY, claims_of(exp).describe()),
        (REPORT_PROPERTY, str(report)),
        ("chaos.verdict", "pass"), ("chaos.read", str(report)),
        ("chaos.html", str(report.with_name("report.html")))]
    assert node.session.shouldstop is False
    assert env.lines == []


def test_a_single_run_is_no_repeat(runs: dict[str, Any], exp_file: Path) -> None:
    exp = record.as_experiment(exp_file, {})
    runs["result"] = _result(None)
    node = Node()
    record.run_and_record(None, node, exp, _env())  # type: ignore[arg-type]
    assert runs["runs"][0][2] is None
    assert node.user_properties == [(CLAIMS_PROPERTY, claims_of(exp).describe())]  # no report
    assert runs["html"] == []


def test_a_report_page_that_cannot_be_drawn_is_logged_and_left_out(
        runs: dict[str, Any], exp_file: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    runs["result"] = _result(report)
    runs["html_error"] = ValueError("no figures")
    node, env = Node(), _env()
    record.run_and_record(None, node, record.as_experiment(exp_file, {}), env)  # type: ignore[arg-type]
    assert [k for k, _v in node.user_properties] == [
        CLAIMS_PROPERTY, REPORT_PROPERTY, "chaos.verdict", "chaos.read"]
    assert env.lines == [f"could not write the HTML report of {report}: ValueError: no figures"]


def test_a_halt_during_the_run_stops_the_session_naming_it(
        runs: dict[str, Any], exp_file: Path) -> None:
    runs["result"] = _result(None, breach="halt")
    node = Node()
    record.run_and_record(None, node, record.as_experiment(exp_file, {}), _env())  # type: ignore[arg-type]
    assert node.session.shouldstop == "kube-chaos halt: ops@box: game day over"


def test_another_guard_aborting_the_run_lets_the_session_go_on(
        runs: dict[str, Any], exp_file: Path) -> None:
    runs["result"] = _result(None, breach="error-rate")
    node = Node()
    record.run_and_record(None, node, record.as_experiment(exp_file, {}), _env())  # type: ignore[arg-type]
    assert node.session.shouldstop is False


def test_a_cluster_halted_before_the_run_stops_the_session(
        runs: dict[str, Any], exp_file: Path) -> None:
    exc = HaltActive(HaltMarker(by="ops@box", at=0.0, reason="incident"), "kind-kc")
    runs["raise"] = exc
    node = Node()
    with pytest.raises(HaltActive):
        record.run_and_record(None, node, record.as_experiment(exp_file, {}), _env())  # type: ignore[arg-type]
    assert node.session.shouldstop == str(exc)
    assert str(exc).startswith("cluster kind-kc is ")
