"""The end of a session on the terminal (chaos.plugin.terminal.pytest_terminal_summary): the
section, one row per run, the repeats' table, where the reports and HTML indexes are; nothing
from an xdist worker or a session without experiment reports. The tables themselves are
chaos.report's (tests/unit/test_terminal_text.py): here they are fakes that name their input."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chaos.plugin import terminal
from chaos.plugin.parallel import REPORT_PROPERTY
from chaos.plugin.session import STATE, ChaosState


class Reporter:
    """The terminal reporter: the test reports pytest kept, and each line written."""

    def __init__(self, *report_paths: Path, other: tuple[Any, ...] = ()) -> None:
        self.stats: dict[str, list[Any]] = {
            "passed": [SimpleNamespace(user_properties=[("chaos.claims", "the cluster shared"),
                                                        (REPORT_PROPERTY, str(p))])
                       for p in report_paths],
            "warnings": [SimpleNamespace()],  # a warning report has no user properties
            "failed": list(other)}
        self.lines: list[str] = []

    def write_sep(self, sep: str, title: str) -> None:
        self.lines.append(f"{sep * 3} {title} {sep * 3}")

    def write_line(self, line: str) -> None:
        self.lines.append(line)


def _config(seed: int | None = 42, **attrs: Any) -> Any:
    config = SimpleNamespace(stash=pytest.Stash(), **attrs)
    if seed is not None:
        config.stash[STATE] = ChaosState(seed=seed)
    return config


@pytest.fixture
def tables(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, list[Path]]]:
    """The report reader, tables and HTML index as fakes; returns the indexes written."""
    from chaos.report import html, repeats, summary, writer

    indexes: list[tuple[Path, list[Path]]] = []

    def group(loaded: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
        out: dict[str, list[dict[str, str]]] = {}
        for r in loaded:
            out.setdefault(r["name"], []).append(r)
        return out

    def write_index(run_dir: Path, paths: list[Path]) -> Path:
        indexes.append((run_dir, paths))
        return run_dir / "index.html"

    monkeypatch.setattr(writer, "load_report", lambda p: {"name": p.parent.name.split("-")[0],
                                                          "path": str(p)})
    monkeypatch.setattr(summary, "summary_row", lambda r: f"row {r['path']}")
    monkeypatch.setattr(summary, "summary_table", lambda rows: " | ".join(rows))
    monkeypatch.setattr(repeats, "group", group)
    monkeypatch.setattr(repeats, "summarise", lambda name, rs: f"{name} x{len(rs)}")
    monkeypatch.setattr(repeats, "repeat_table", lambda rows: "repeats: " + ", ".join(rows))
    monkeypatch.setattr(html, "write_index", write_index)
    return indexes


def test_each_run_is_a_row_and_each_run_folder_gets_its_index(
        tables: list[tuple[Path, list[Path]]], tmp_path: Path) -> None:
    a = tmp_path / "r1" / "kill-1" / "report.json"
    b = tmp_path / "r1" / "kill-2" / "report.json"
    c = tmp_path / "r0" / "drain-1" / "report.json"
    reporter = Reporter(a, b, c, a)  # a report named twice is one row
    terminal.pytest_terminal_summary(reporter, _config())
    assert reporter.lines == [
        "=== kube-chaos experiments ===",
        f"row {a} | row {b} | row {c}",
        "",
        "repeats: kill x2",  # only what ran more than once
        f"reports: {tmp_path / 'r0'}, {tmp_path / 'r1'}  (seed 42)",
        f"html: {tmp_path / 'r0' / 'index.html'}",
        f"html: {tmp_path / 'r1' / 'index.html'}",
    ]
    assert tables == [(tmp_path / "r0", [c]), (tmp_path / "r1", [a, b])]


def test_runs_of_one_each_have_no_repeat_table(tables: list[tuple[Path, list[Path]]],
                                               tmp_path: Path) -> None:
    a = tmp_path / "r1" / "kill-1" / "report.json"
    b = tmp_path / "r1" / "drain-1" / "report.json"
    reporter = Reporter(a, b)
    terminal.pytest_terminal_summary(reporter, _config(seed=7))
    assert reporter.lines == [
        "=== kube-chaos experiments ===",
        f"row {a} | row {b}",
        f"reports: {tmp_path / 'r1'}  (seed 7)",
        f"html: {tmp_path / 'r1' / 'index.html'}",
    ]


def test_an_index_that_cannot_be_written_is_named_and_the_summary_goes_on(
        tables: list[tuple[Path, list[Path]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from chaos.report import html

    def write_index(run_dir: Path, paths: list[Path]) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr(html, "write_index", write_index)
    a = tmp_path / "r1" / "kill-1" / "report.json"
    reporter = Reporter(a)
    terminal.pytest_terminal_summary(reporter, _config())
    assert reporter.lines[-1] == f"reports: {tmp_path / 'r1'}  (seed 42)"
    assert capsys.readouterr().err == (
        f"kube-chaos: could not write {tmp_path / 'r1'}/index.html: OSError: disk full\n")


@pytest.mark.parametrize(("reporter", "config"), [
    (Reporter(Path("/r/kill-1/report.json")), _config(workerinput={})),  # an xdist worker
    (Reporter(Path("/r/kill-1/report.json")), _config(seed=None)),  # the plugin not configured
    (Reporter(other=(SimpleNamespace(user_properties=[("other", "x")]),)), _config()),
])
def test_nothing_is_written_without_experiment_reports_or_in_a_worker(
        tables: list[tuple[Path, list[Path]]], reporter: Reporter, config: Any) -> None:
    terminal.pytest_terminal_summary(reporter, config)
    assert reporter.lines == [] and tables == []
