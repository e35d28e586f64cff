"""The end of a session on the terminal: one row per experiment run, the repeats' medians and
intervals, where the reports and the HTML index are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chaos.plugin.parallel import REPORT_PROPERTY
from chaos.plugin.session import STATE


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    state = config.stash.get(STATE, None)
    paths = report_paths(terminalreporter.stats)
    if state is None or not paths:
        return
    from chaos.report.repeats import group, repeat_table, summarise
    from chaos.report.summary import summary_row, summary_table
    from chaos.report.writer import load_report

    loaded = [load_report(p) for p in paths]
    rows = [summary_row(r) for r in loaded]
    terminalreporter.write_sep("=", "kube-chaos experiments")
    terminalreporter.write_line(summary_table(rows))
    repeated = [summarise(name, rs) for name, rs in group(loaded).items() if len(rs) > 1]
    if repeated:
        terminalreporter.write_line("")
        terminalreporter.write_line(repeat_table(repeated))
    reports = sorted({p.parent.parent for p in paths})
    terminalreporter.write_line(f"reports: {', '.join(map(str, reports))}  (seed {state.seed})")
    for run_dir in reports:
        index = _write_index(run_dir, [p for p in paths if p.parent.parent == run_dir])
        if index is not None:
            terminalreporter.write_line(f"html: {index}")


def report_paths(stats: dict[str, list[Any]]) -> list[Path]:
    """The report each experiment wrote, in the order their tests ended, read from the test
    reports pytest keeps: in one process, and from xdist's workers, whose reports carry the
    same user properties to the controller."""
    found: dict[str, None] = {}
    for reports in stats.values():
        for report in reports:
            for key, value in getattr(report, "user_properties", ()):
                if key == REPORT_PROPERTY:
                    found.setdefault(str(value))
    return [Path(p) for p in found]


def _write_index(run_dir: Path, paths: list[Path]) -> Path | None:
    from chaos.report.html import write_index

    try:
        return write_index(run_dir, paths)
    except Exception as exc:  # the reports are written; the index is a view of them
        import sys

        print(f"kube-chaos: could not write {run_dir}/index.html: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return None

