"""`kube-chaos` command line: one module per command family, composed here.

cluster (chaos.cli.cluster), run / rerun (chaos.cli.run), report (chaos.cli.report), plan
(chaos.cli.plan), rollback (chaos.cli.rollback), halt (chaos.cli.halt). The command modules
never import this one: it is the only place that knows them all.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable, Sequence

from chaos.cli import cluster, halt, plan, report, rollback, run
from chaos.errors import ChaosError

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kube-chaos",
        description="Chaos experiments for Kubernetes, with live load and recovery SLAs.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cluster.add_commands(sub)
    run.add_commands(sub)
    report.add_commands(sub)
    rollback.add_rollback_command(sub)
    plan.add_commands(sub)
    halt.add_halt_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ChaosError as exc:
        print(textwrap.fill(f"kube-chaos: error: {exc}", width=100), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kube-chaos: interrupted", file=sys.stderr)
        return 130

