"""`kube-chaos run | report | rollback` (experiment-side commands)."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_run(args: argparse.Namespace) -> int:
    """Game-day entry point: the same pytest run as `pytest -m chaos <paths>`."""
    import pytest

    argv = ["-m", "chaos", "-p", "no:cacheprovider", "-p", "no:locust", "-v",
            *[str(p) for p in args.paths]]
    for flag, value in (("--chaos-kubeconfig", args.kubeconfig), ("--chaos-context", args.context),
                        ("--chaos-seed", args.seed), ("--chaos-reports", args.reports),
                        ("--junitxml", args.junitxml), ("--chaos-plan", args.plan)):
        if value is not None:
            argv.append(f"{flag}={value}")
    for ctx in args.allow_context or []:
        argv.append(f"--chaos-allow-context={ctx}")
    for host in args.allow_host or []:
        argv.append(f"--chaos-allow-host={host}")
    if args.keep_cluster:
        argv.append("--chaos-keep-cluster")
    return int(pytest.main(argv))


def cmd_report_show(args: argparse.Namespace) -> int:
    from chaos.report.summary import summary_row, summary_table
    from chaos.report.writer import load_report

    paths = _report_paths(args.paths)
    if not paths:
        print("no report.json found under " + ", ".join(map(str, args.paths)))
        return 1
    print(summary_table([summary_row(load_report(p)) for p in paths]))
    return 0


def cmd_report_compare(args: argparse.Namespace) -> int:
    from chaos.report.summary import compare
    from chaos.report.writer import load_report

    print(compare(load_report(args.a), load_report(args.b)))
    return 0


def _report_paths(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for p in paths:
        found += sorted(p.rglob("report.json")) if p.is_dir() else [p]
    return found


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser(
        "run", help="run YAML experiments (pytest -m chaos) against kind or a named cluster",
        description="Run experiments as a pytest session: provisions kind unless --kubeconfig "
                    "is given; reports under --reports.")
    run.add_argument("paths", nargs="*", type=Path, default=[Path("experiments")])
    run.add_argument("--kubeconfig", help="existing cluster's kubeconfig (default: kind)")
    run.add_argument("--context", help="kubeconfig context")
    run.add_argument("--allow-context", action="append",
                     help="context faults may target although kube-chaos did not provision it")
    run.add_argument("--allow-host", action="append", metavar="HOST",
                     help="host the load (spec.load.url) and HTTP/Prometheus abort guards may "
                          "reach; 127.0.0.1 and localhost always may (repeatable)")
    run.add_argument("--seed", help="seed for target choice (default: random, recorded)")
    run.add_argument("--reports", help="reports directory (default: reports)")
    run.add_argument("--junitxml", help="also write JUnit XML with SLA figures as properties")
    run.add_argument("--plan", help="a plan.json from `kube-chaos plan`: refuse to start any "
                                    "experiment whose plan, resolved again, differs")
    run.add_argument("--keep-cluster", action="store_true",
                     help="keep a kind cluster this run created")
    run.set_defaults(handler=cmd_run)

    report = sub.add_parser("report", help="show or compare recovery reports")
    rsub = report.add_subparsers(dest="action", required=True)
    show = rsub.add_parser("show", help="summary table of report.json files (or directories)")
    show.add_argument("paths", nargs="+", type=Path)
    show.set_defaults(handler=cmd_report_show)
    cmp_ = rsub.add_parser("compare", help="key figures of two reports side by side")
    cmp_.add_argument("a", type=Path)
    cmp_.add_argument("b", type=Path)
    cmp_.set_defaults(handler=cmd_report_compare)

    try:
        from chaos.cli_rollback import add_rollback_command
    except ImportError:  # pragma: no cover
        return
    add_rollback_command(sub)
