"""`kube-chaos rollback`: undo what a crashed run left behind, from its journal(s)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from chaos.journal import Journal, UndoAction, all_journals, journal_dir, pending_in


def _where(action: UndoAction) -> str:
    target = action.target
    parts = [f"context {target['context']}" if target.get("context") else "",
             f"ns {target['namespace']}" if target.get("namespace") else ""]
    return ", ".join(p for p in parts if p)


def cmd_rollback(args: argparse.Namespace) -> int:
    from chaos.faults.undo import rollback_all

    paths = [Path(p) for p in args.journal] if args.journal else all_journals()
    missing = [p for p in paths if not p.exists()]
    for p in missing:
        print(f"journal {p}: not found", file=sys.stderr)
    paths = [p for p in paths if p.exists()]
    pending = sum(len(pending_in(p)) for p in paths)
    where = ", ".join(map(str, paths)) if args.journal else str(journal_dir())
    print(f"{pending} pending undo action(s) in {len(paths)} journal(s) ({where})")

    def show(journal: Journal, action: UndoAction, error: str | None) -> None:
        status = "would run" if args.dry_run else ("FAILED: " + error if error else "undone")
        print(f"  {action.describe()} [{_where(action)}] ({journal.path.name}): {status}",
              flush=True)

    results = rollback_all(paths, dry_run=args.dry_run, on_result=show)
    failed = [a for a, err in results if err is not None]
    if args.dry_run:
        return 0 if not missing else 1
    if failed:
        print(f"{len(failed)} of {len(results)} undo action(s) failed; they stay pending "
              f"(run `kube-chaos rollback` again once the cause is fixed)", file=sys.stderr)
    return 1 if failed or missing else 0


def add_rollback_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `rollback` on the top-level `kube-chaos` sub-parsers."""
    help_text = "undo faults a crashed or interrupted run left in place (from its undo journal)"
    p = sub.add_parser("rollback", help=help_text, description=help_text)
    configure(p)


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--journal", action="append", metavar="PATH",
                   help="journal file to replay (repeatable; default: every journal in "
                        "$KUBE_CHAOS_STATE/journal or ~/.local/state/kube-chaos/journal)")
    p.add_argument("--dry-run", action="store_true",
                   help="list the pending undo actions without running them")
    p.set_defaults(handler=cmd_rollback)


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (`python -m chaos.cli_rollback`), same options as `kube-chaos rollback`."""
    parser = argparse.ArgumentParser(prog="kube-chaos rollback")
    configure(parser)
    args = parser.parse_args(argv)
    return cmd_rollback(args)


if __name__ == "__main__":
    sys.exit(main())
