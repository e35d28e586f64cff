"""Mutation score per module from mutmut's results in mutants/ (after `mutmut run`).

    python benchmarks/mutation_score.py [--survivors]

Two scores, as the verdict issue asks:
- *tests alone*: of the mutants mypy --strict accepts, those a test kills (failed, or out of its
  CPU-time budget); survived, no test covers it and suspicious count against it;
- *with mypy*: mypy's rejections counted as killed too (such a mutant cannot pass `make lint`).
Mutants not run yet (an interrupted `mutmut run`) are counted in their own column and in
neither score. Exits 1 when nothing has been measured yet.
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
COLUMNS = ("killed", "timeout", "mypy", "survived", "no tests", "other", "not run", "total")
# the groups of the issue, in its order
GROUPS = (("chaos/model", "chaos/model/"), ("chaos/plan", "chaos/plan/"),
          ("chaos/journal/store.py", "chaos/journal/store.py"),
          ("chaos/engine/phases.py", "chaos/engine/phases.py"),
          ("chaos/engine/runner.py", "chaos/engine/runner.py"),
          ("chaos/report/evaluate.py", "chaos/report/evaluate.py"),
          ("chaos/faults", "chaos/faults/"),
          ("chaos/plugin", "chaos/plugin/"), ("chaos/k8s/safety.py", "chaos/k8s/safety.py"))


def verdict(code: int | None) -> str:
    return "not run" if code is None else VERDICTS.get(code, "other")


def load(root: Path) -> dict[str, dict[str, str]]:
    """source file -> mutant name -> verdict."""
    out: dict[str, dict[str, str]] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        source = str(meta.relative_to(root))[: -len(".meta")]
        out[source] = {name: verdict(code) for name, code in codes.items()}
    return out


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def row(label: str, counts: Counter[str]) -> str:
    total = sum(v for k, v in counts.items() if k != "skipped")
    measured = total - counts["not run"]
    by_tests = counts["killed"] + counts["timeout"]
    cells = [str(counts[c]) for c in COLUMNS[:-1]] + [str(total)]
    alone = _pct(by_tests, measured - counts["mypy"])
    with_mypy = _pct(by_tests + counts["mypy"], measured)
    return f"| {label} | " + " | ".join(cells) + f" | {alone} | {with_mypy} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--survivors", action="store_true", help="list the mutants not killed")
    parser.add_argument("--by-function", action="store_true",
                        help="count the mutants not killed per function, most first")
    args = parser.parse_args()
    results = load(args.mutants)
    if not results:
        print(f"no mutmut results under {args.mutants}/: run `make mutation` first")
        return 1
    print("| module | " + " | ".join(COLUMNS) + " | tests alone | with mypy |")
    print("|---|" + "---:|" * (len(COLUMNS) + 2))
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
                if v not in KILLED and v != "not run":
                    print(f"{v}: {name}")
    if args.by_function:
        print()
        print("| function | not killed |")
        print("|---|---:|")
        for name, n in by_function(results).most_common():
            print(f"| `{name}` | {n} |")
    return 0


def by_function(results: dict[str, dict[str, str]]) -> Counter[str]:
    """Mutants not killed (survived, no tests, other) per mutated function, by its dotted name
    (mutmut's ``x_`` prefix and ``__mutmut_<n>`` suffix taken off)."""
    counts: Counter[str] = Counter()
    for verdicts in results.values():
        for name, v in verdicts.items():
            if v not in KILLED and v != "not run":
                module, _, func = name.partition("__mutmut_")[0].rpartition(".")
                # x_<function>, or xǁ<Class>ǁ<method>
                func = func.removeprefix("x_") if func.startswith("x_") else func[2:]
                counts[f"{module}.{func.replace('ǁ', '.')}"] += 1
    return counts


if __name__ == "__main__":
    sys.exit(main())
