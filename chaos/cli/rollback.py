"""`kube-chaos rollback`: undo what a crashed run left behind, from its journal(s)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from chaos.journal.store import (
    JournalState,
    UndoAction,
    UndoOutcome,
    all_journals,
    journal_dir,
    load_journals,
)
from chaos.report.text import printable


def _where(action: UndoAction) -> str:
    target = action.target
    parts = [f"context {target['context']}" if target.get("context") else "",
             f"ns {target['namespace']}" if target.get("namespace") else ""]
    return ", ".join(p for p in parts if p)


def _select(states: list[JournalState], *, explicit: bool,
            force: bool) -> tuple[list[JournalState], int]:
    """Journals to replay: orphaned ones, live ones only with --force. Returns them and how
    many explicitly named journals were refused."""
    chosen: list[JournalState] = []
    refused = 0
    for state in states:
        if not state.pending:
            continue
        alive = state.running()
        if alive is not None and not force:
            count = len(state.pending)
            if explicit:
                refused += 1
                print(f"journal {state.path}: refusing to roll back a run that may still be "
                      f"alive ({alive}); {count} pending undo action(s) left alone "
                      f"(--force to override)", file=sys.stderr)
            else:
                print(f"skipping {state.path.name}: its run may still be alive ({alive}); "
                      f"{count} pending undo action(s) left to it (--force to include)")
            continue
        chosen.append(state)
    return chosen, refused


def cmd_rollback(args: argparse.Namespace) -> int:
    from chaos.faults import undo

    explicit = bool(args.journal)
    paths = [Path(p) for p in args.journal] if explicit else all_journals()
    missing = [p for p in paths if not p.exists()]
    for p in missing:
        print(f"journal {p}: not found", file=sys.stderr)
    # records of a kind no handler knows are quarantined with the malformed ones
    states = load_journals([p for p in paths if p.exists()], set(undo.HANDLERS))
    for state in states:
        for problem in state.problems:
            print(f"warning: {printable(problem)}", file=sys.stderr)
    unusable = [s for s in states
                if s.unusable is not None or s.quarantined_records is not None]
    chosen, refused = _select(states, explicit=explicit, force=args.force)
    pending = sum(len(s.pending) for s in chosen)
    where = ", ".join(map(str, paths)) if explicit else str(journal_dir())
    print(f"{pending} pending undo action(s) in {len(chosen)} journal(s) ({where})")
    last_error = {ident: err for s in chosen for ident, err in s.last_error.items()}

    def show(outcome: UndoOutcome) -> None:
        action = outcome.action
        if args.dry_run:
            status = "would run"
            if action.id in last_error:
                status += f" (last attempt failed: {last_error[action.id]})"
        else:
            status = outcome.describe()
        name = outcome.journal.name if outcome.journal is not None else "?"
        # journal text (targets, reasons, errors) may hold control characters: escape them
        print(printable(f"  {action.describe()} [{_where(action)}] ({name}): {status}"),
              flush=True)

    outcomes = undo.rollback_all(chosen, dry_run=args.dry_run, on_result=show,
                                 allow_contexts=tuple(args.allow_context or ()))
    trouble = bool(missing or unusable or refused)
    if args.dry_run:
        return 1 if trouble else 0
    failed = [o for o in outcomes if o.status == "failed"]
    unrecorded = [o for o in outcomes if o.status == "undone" and o.journal_error]
    if failed:
        print(f"{len(failed)} of {len(outcomes)} undo action(s) failed; they stay pending "
              f"(run `kube-chaos rollback` again once the cause is fixed)", file=sys.stderr)
    if unrecorded:
        print(f"{len(unrecorded)} undo action(s) took effect but could not be marked done in "
              f"their journal; a later rollback repeats them (harmless)", file=sys.stderr)
    return 1 if trouble or failed or unrecorded else 0


def add_rollback_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `rollback` on the top-level `kube-chaos` sub-parsers."""
    help_text = "undo faults a crashed or interrupted run left in place (from its undo journal)"
    p = sub.add_parser("rollback", help=help_text, description=help_text)
    configure(p)


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--journal", action="append", metavar="PATH",
                   help="journal file to replay (repeatable; default: every journal in "
                        "$KUBE_CHAOS_STATE/journal or ~/.local/state/kube-chaos/journal whose "
                        "run is no longer alive)")
    p.add_argument("--dry-run", action="store_true",
                   help="list the pending undo actions without running them")
    p.add_argument("--allow-context", action="append", metavar="CONTEXT",
                   help="kubeconfig context undo actions may act on although kube-chaos did not "
                        "provision it (repeatable; as given to `kube-chaos run`); undos that "
                        "talk to any other cluster are refused and stay pending")
    p.add_argument("--force", action="store_true",
                   help="also roll back journals whose run may still be alive (by default only "
                        "orphaned runs, whose process is gone, are touched)")
    p.set_defaults(handler=cmd_rollback)


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (`python -m chaos.cli.rollback`), same options as `kube-chaos rollback`."""
    parser = argparse.ArgumentParser(prog="kube-chaos rollback")
    configure(parser)
    args = parser.parse_args(argv)
    return cmd_rollback(args)


if __name__ == "__main__":
    sys.exit(main())
