"""HTML reports: one page per experiment run (report.html next to report.json) and an index
per run directory (index.html). Each is a single file with its CSS and chart inline and no
script, so it opens offline from disk, from a CI artifact or an e-mail attachment.

Both are regenerable from the JSON alone: ``kube-chaos report html REPORT.json...``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.report.chart import LANES, lane_of, timeline_svg
from chaos.report.repeats import FIGURES, fmt_estimate, group, summarise
from chaos.report.summary import format_value
from chaos.report.types import ReportDict
from chaos.report.writer import REPORT_NAME, load_report

if TYPE_CHECKING:
    import jinja2

HTML_NAME = "report.html"
INDEX_NAME = "index.html"


def _env() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("chaos.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    env.filters["lane"] = lambda kind: LANES[lane_of(kind)][0]
    return env


def _num(value: object, digits: int = 3) -> str:
    return format_value(value, digits, ("yes", "no"))  # a page is read, not parsed


def _duration(report: ReportDict) -> float | None:
    try:
        a = datetime.fromisoformat(report["started_at"])
        b = datetime.fromisoformat(report["ended_at"])
    except ValueError:
        return None
    return (b - a).total_seconds()


def render_experiment(report: ReportDict, index_href: str | None = None) -> str:
    """The page of one run: headline, chart, SLAs, faults, outages, events, manifest."""
    from markupsafe import Markup

    svg = timeline_svg(report)
    return str(_env().get_template("experiment.html.j2").render(
        r=report, chart=Markup(svg), index_href=index_href, duration=_duration(report),
        manifest=report.get("manifest"), lanes=[name for name, _, _ in LANES]))


def write_experiment_html(report_path: str | os.PathLike[str],
                          index_href: str | None = None) -> Path:
    """report.html next to ``report_path`` (a report.json or its directory)."""
    p = Path(report_path)
    if p.is_dir():
        p = p / REPORT_NAME
    out = p.parent / HTML_NAME
    _write(out, render_experiment(load_report(p), index_href))
    return out


def render_index(entries: Sequence[tuple[str, ReportDict]], title: str) -> str:
    """``entries``: (href of the experiment page, its report), in run order."""
    reports = [r for _, r in entries]
    summaries = [summarise(name, rs) for name, rs in group(reports).items()]
    repeated = [s for s in summaries if s.runs > 1]
    return str(_env().get_template("index.html.j2").render(
        title=title, entries=entries, repeated=repeated, figures=FIGURES,
        fmt_estimate=fmt_estimate, seeds=sorted({r["seed"] for r in reports})))


def write_index(run_dir: str | os.PathLike[str],
                reports: Sequence[str | os.PathLike[str]] | None = None) -> Path:
    """index.html of a run directory, linking every report.html under it (written first)."""
    root = Path(run_dir)
    paths = [Path(p) for p in reports] if reports is not None else sorted(
        root.rglob(REPORT_NAME), key=lambda p: p.stat().st_mtime)
    entries: list[tuple[str, ReportDict]] = []
    for p in paths:
        html = p.parent / HTML_NAME
        href = os.path.relpath(html, root)
        entries.append((Path(href).as_posix(), load_report(p)))
    out = root / INDEX_NAME
    _write(out, render_index(entries, title=f"kube-chaos run {root.name}"))
    return out


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
