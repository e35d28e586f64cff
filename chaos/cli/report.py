"""`kube-chaos report show | compare | html`: read report.json files (chaos.report)."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_report_html(args: argparse.Namespace) -> int:
    from chaos.report.html import write_experiment_html, write_index

    paths = _report_paths(args.paths)
    if not paths:
        print("no report.json found under " + ", ".join(map(str, args.paths)))
        return 1
    for p in paths:
        print(write_experiment_html(p, index_href="../index.html"))
    for run_dir in sorted({p.parent.parent for p in paths}):
        print(write_index(run_dir, [p for p in paths if p.parent.parent == run_dir]))
    return 0


def cmd_report_show(args: argparse.Namespace) -> int:
    from chaos.report.summary import summary_row, summary_table
    from chaos.report.writer import load_report

    paths = _report_paths(args.paths)
    if not paths:
        print("no report.json found under " + ", ".join(map(str, args.paths)))
        return 1
    from chaos.report.repeats import group, repeat_table, summarise

    reports = [load_report(p) for p in paths]
    print(summary_table([summary_row(r) for r in reports]))
    repeated = [summarise(n, rs) for n, rs in group(reports).items() if len(rs) > 1]
    if repeated:
        print()
        print(repeat_table(repeated))
    return 0


def cmd_report_compare(args: argparse.Namespace) -> int:
    """Environment differences first, then each figure judged against the noise; exit 1 on
    a regression (a CI gate), Markdown also to --markdown and $GITHUB_STEP_SUMMARY."""
    import os

    from chaos.report.compare import compare_runs, load_side, markdown

    base, cur = load_side(args.a), load_side(args.b)
    for side, reports in (("baseline", base), ("current", cur)):
        if not reports:
            print(f"kube-chaos report compare: no report.json under the {side} "
                  f"{args.a if side == 'baseline' else args.b}")
            return 2
    result = compare_runs(base, cur)
    text = markdown(result, str(args.a), str(args.b), base, cur)
    print(text, end="")
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(text)
    return 1 if result.regressions else 0


def _report_paths(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for p in paths:
        found += sorted(p.rglob("report.json")) if p.is_dir() else [p]
    return found


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser("report", help="show or compare recovery reports")
    rsub = report.add_subparsers(dest="action", required=True)
    show = rsub.add_parser("show", help="summary table of report.json files (or directories)")
    show.add_argument("paths", nargs="+", type=Path)
    show.set_defaults(handler=cmd_report_show)
    cmp_ = rsub.add_parser(
        "compare", help="baseline vs current: environment differences, then figures judged "
                        "against the noise; exit 1 on a regression",
        description="BASELINE and CURRENT are each a report.json or a directory of them (e.g. "
                    "a run of --chaos-repeat N). Lists what differs in the environment, then "
                    "compares median and 95% bootstrap interval of recovery, longest outage "
                    "and error rate; a figure is regressed only when the current interval lies "
                    "above the baseline's by more than its floor. Exit 1 on a regression.")
    cmp_.add_argument("a", type=Path, metavar="BASELINE")
    cmp_.add_argument("b", type=Path, metavar="CURRENT")
    cmp_.add_argument("--markdown", metavar="FILE", help="also write the Markdown here "
                                                          "($GITHUB_STEP_SUMMARY too, when set)")
    cmp_.set_defaults(handler=cmd_report_compare)
    html = rsub.add_parser("html", help="(re)write report.html for each report.json and an "
                                        "index.html per run directory")
    html.add_argument("paths", nargs="+", type=Path, help="report.json files or directories")
    html.set_defaults(handler=cmd_report_html)
