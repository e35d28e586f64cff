"""Mutation score per module from mutmut's results in mutants/ (after `mutmut run`).

    python benchmarks/mutation_score.py [--survivors]

Killed counts three of mutmut's verdicts: a test failed, the tests ran out of their CPU-time
budget (timeout), or mypy --strict rejected the mutant (it could not pass `make lint`).
Everything else counts against the score: survived, no test covers it, suspicious, not run.
Exits 1 when nothing has been measured yet.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

# mutmut's exit codes (mutmut.stats.status_by_exit_code), folded into the columns shown
VERDICTS = {1: "killed", 3: "killed", 36: "timeout", -24: "timeout", 24: "timeout",
            152: "timeout", 255: "timeout", 37: "mypy", 0: "survived", 5: "no tests",
            33: "no tests", 34: "skipped"}
KILLED = ("killed", "timeout", "mypy")
COLUMNS = ("killed", "timeout", "mypy", "survived", "no tests", "other", "total")
# the groups of the issue, in its order
GROUPS = (("chaos/model", "chaos/model/"), ("chaos/plan", "chaos/plan/"),
          ("chaos/journal.py", "chaos/journal.py"), ("chaos/phases.py", "chaos/phases.py"),
          ("chaos/runner.py", "chaos/runner.py"), ("chaos/faults/undo.py", "chaos/faults/undo.py"))


def verdict(code: int | None) -> str:
    return "other" if code is None else VERDICTS.get(code, "other")


def load(root: Path) -> dict[str, dict[str, str]]:
    """source file -> mutant name -> verdict."""
    out: dict[str, dict[str, str]] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        source = str(meta.relative_to(root))[: -len(".meta")]
        out[source] = {name: verdict(code) for name, code in codes.items()}
    return out


def row(label: str, counts: Counter[str]) -> str:
    total = sum(v for k, v in counts.items() if k != "skipped")
    killed = sum(counts[k] for k in KILLED)
    score = f"{100 * killed / total:.1f} %" if total else "-"
    cells = [str(counts[c]) for c in COLUMNS[:-1]] + [str(total)]
    return f"| {label} | " + " | ".join(cells) + f" | {score} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--survivors", action="store_true", help="list the mutants not killed")
    args = parser.parse_args()
    results = load(args.mutants)
    if not results:
        print(f"no mutmut results under {args.mutants}/: run `make mutation` first")
        return 1
    print("| module | " + " | ".join(COLUMNS) + " | score |")
    print("|---|" + "---:|" * (len(COLUMNS) + 1))
    overall: Counter[str] = Counter()
    for label, prefix in GROUPS:
        counts: Counter[str] = Counter()
        for source, verdicts in results.items():
            if source.startswith(prefix):
                counts.update(verdicts.values())
        overall.update(counts)
        print(row(label, counts))
    print(row("**all**", overall))
    if args.survivors:
        for verdicts in results.values():
            for name, v in sorted(verdicts.items()):
                if v not in KILLED:
                    print(f"{v}: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
