"""Mutation score per module from mutmut's results in mutants/ (after `mutmut run`).

    python benchmarks/mutation_score.py [--survivors] [--by-function]
    python benchmarks/mutation_score.py --list docs/mutation-survivors.md
    python benchmarks/mutation_score.py --carry benchmarks/mutation-baseline-fcc4fd1.json

Two scores, as the verdict issue asks:
- *tests alone*: of the mutants mypy --strict accepts, those a test kills (failed, or out of its
  CPU-time budget); survived, no test covers it and suspicious count against it;
- *with mypy*: mypy's rejections counted as killed too (such a mutant cannot pass `make lint`).
Mutants not run yet (an interrupted `mutmut run`) are counted in their own column and in
neither score. Exits 1 when nothing has been measured yet.

`--list` writes every mutant not killed, per function, with what is known about it from
benchmarks/mutation_notes.toml: equivalent (cannot change behaviour), import (runs once at
import, where mutmut's trampolines never switch), cluster (reached only by the end-to-end
tests on a real cluster, which mutation testing does not run), or open (a test gap).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tomllib
from collections import Counter, defaultdict
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
    parser.add_argument("--list", type=Path, metavar="FILE",
                        help="write every mutant not killed, per function, with its category")
    parser.add_argument("--sample", type=Path, metavar="NAMES",
                        help="a uniform random sample (one mutant name per line) of the mutants "
                             "not yet run, since run: estimate each group's whole score from it")
    parser.add_argument("--carry", type=Path, metavar="BASELINE",
                        help="an earlier whole-scope run of the same source (JSON: its counts, "
                             "the names it did not kill, its sample): score today's tests from "
                             "a re-run of only those names and that sample")
    parser.add_argument("--notes", type=Path,
                        default=Path(__file__).with_name("mutation_notes.toml"))
    args = parser.parse_args()
    results = load(args.mutants)
    if not results:
        print(f"no mutmut results under {args.mutants}/: run `make mutation` first")
        return 1
    if args.carry:
        print(carried(results, json.loads(args.carry.read_text()), args.carry.parent))
        return 0
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
    if args.sample:
        print()
        print(estimates(results, set(args.sample.read_text().split())))
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
    if args.list:
        notes = tomllib.loads(args.notes.read_text()) if args.notes.exists() else {}
        args.list.write_text(listing(results, notes))
        print(f"\nwrote {args.list}")
    return 0


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k/n (sound at small n and near 0 or 1)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def estimates(results: dict[str, dict[str, str]], sample: set[str]) -> str:
    """Per group, both scores with the mutants still not run estimated from the sample (drawn
    uniformly, in proportion per file, from the mutants not run when it was drawn; once run it
    counts with the judged ones). The sample also says what share of the rest mypy rejects: a
    mutant's type check is recorded only when the run reaches it. A 95 % Wilson interval on
    the sample's killed share bounds the tests-alone estimate."""
    lines = ["| module | judged: tests alone | not run | sample run (mypy) | sample killed | "
             "whole, tests alone | 95 % interval | whole, with mypy |",
             "|---|---:|---:|---:|---:|---:|---|---:|"]
    for label, prefix in [*GROUPS, ("**all**", "")]:
        killed = eligible = rejected = unrun = s_all = s_n = s_k = s_mypy = 0
        for source, verdicts in results.items():
            if not source.startswith(prefix):
                continue
            for name, v in verdicts.items():
                if v == "not run":
                    unrun += 1
                    continue
                if v == "skipped":
                    continue
                sampled = name in sample
                s_all += sampled
                if v == "mypy":
                    rejected += 1
                    s_mypy += sampled
                    continue
                eligible += 1
                killed += v in ("killed", "timeout")
                s_n += sampled
                s_k += sampled and v in ("killed", "timeout")
        exact = _pct(killed, eligible)
        if not unrun:
            lines.append(f"| {label} | {exact} | 0 | | | {exact} | exact | "
                         f"{_pct(killed + rejected, eligible + rejected)} |")
            continue
        if not s_all or not s_n:
            lines.append(f"| {label} | {exact} | {unrun} | {s_all} | {s_k} | - | - | - |")
            continue
        rest = unrun * s_n / s_all  # the rest's mutants mypy would let through, estimated
        lo, hi = wilson(s_k, s_n)
        whole = eligible + rest
        est = (killed + rest * s_k / s_n) / whole
        with_mypy = (killed + rejected + unrun * (s_k + s_mypy) / s_all) / (
            eligible + rejected + unrun)
        lines.append(f"| {label} | {exact} | {unrun} | {s_all} ({s_mypy}) | {s_k} of {s_n} | "
                     f"{100 * est:.1f} % | {100 * (killed + rest * lo) / whole:.1f} to "
                     f"{100 * (killed + rest * hi) / whole:.1f} % | {100 * with_mypy:.1f} % |")
    return "\n".join(lines)


def carried(results: dict[str, dict[str, str]], base: dict[str, object], here: Path) -> str:
    """The whole scope's score after new tests, without running every mutant again.

    Sound because the source is the same as the baseline's (mutmut hashes every function; the
    baseline names the revision) and tests were only added: a mutant a test killed then is
    still killed. So only the baseline's not-killed mutants (survived, no tests, other) and its
    sample of the mutants it never ran need a verdict from today's tests; the rest of the
    sample's file estimates those never run, as `estimates` does.
    """
    verdict_of = {name: v for verdicts in results.values() for name, v in verdicts.items()}
    judged = dict(base["judged"])  # type: ignore[call-overload]
    not_killed = (here / str(base["not_killed"])).read_text().split()
    sample = (here / str(base["sample"])).read_text().split()
    missing = [n for n in not_killed + sample if verdict_of.get(n, "not run") == "not run"]
    if missing:
        return (f"{len(missing)} of the baseline's names have no verdict yet (first: "
                f"{missing[0]}): run `mutmut run` on all of them first")
    lines = ["| module | not killed then | killed now | not killed now |", "|---|---:|---:|---:|"]
    now_killed = 0
    for label, prefix in GROUPS:
        key = prefix.removesuffix(".py").rstrip("/") + "/"  # chaos/model/, chaos/k8s/safety/
        mine = [n for n in not_killed if n.replace(".", "/").startswith(key)]
        k = sum(verdict_of[n] in KILLED for n in mine)
        now_killed += k
        lines.append(f"| {label} | {len(mine)} | {k} | {len(mine) - k} |")
    lines.append(f"| **all** | {len(not_killed)} | {now_killed} | {len(not_killed) - now_killed} |")
    eligible = sum(judged[c] for c in ("killed", "timeout", "survived", "no tests", "other"))
    killed = judged["killed"] + judged["timeout"] + now_killed
    unrun = int(base["not_run"])  # type: ignore[call-overload]
    s_v = [verdict_of[n] for n in sample]
    s_mypy = sum(v == "mypy" for v in s_v)
    s_n = len(s_v) - s_mypy
    s_k = sum(v in ("killed", "timeout") for v in s_v)
    rest = unrun * s_n / len(s_v)
    whole = eligible + rest
    lo, hi = wilson(s_k, s_n)
    with_mypy = (killed + judged["mypy"] + unrun * (s_k + s_mypy) / len(s_v)) / (
        eligible + judged["mypy"] + unrun)
    lines += ["", f"Judged on {base['revision']} and re-run now: {killed} of {eligible} killed by "
              f"the tests alone ({_pct(killed, eligible)}).",
              f"Never run, {unrun} mutants: the sample of {len(s_v)} ({s_mypy} rejected by "
              f"mypy), {s_k} of {s_n} killed now.",
              f"**Whole scope, tests alone: {100 * (killed + rest * s_k / s_n) / whole:.1f} %** "
              f"(95 % interval {100 * (killed + rest * lo) / whole:.1f} to "
              f"{100 * (killed + rest * hi) / whole:.1f} %); with mypy's rejections counted: "
              f"{100 * with_mypy:.1f} %."]
    return "\n".join(lines)


def function_of(name: str) -> tuple[str, int]:
    """A mutant's function, by its dotted name (mutmut's ``x_`` prefix and ``__mutmut_<n>``
    suffix taken off), and its number."""
    head, _, number = name.partition("__mutmut_")
    module, _, func = head.rpartition(".")
    # x_<function>, or xǁ<Class>ǁ<method>
    func = func.removeprefix("x_") if func.startswith("x_") else func[2:]
    return f"{module}.{func.replace('ǁ', '.')}", int(number or 0)


def listing(results: dict[str, dict[str, str]], notes: dict[str, dict[str, dict[str, str]]]) -> str:
    """Markdown: every mutant not killed, grouped by function, with its category and why."""
    by_func: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for verdicts in results.values():
        for name, v in verdicts.items():
            if v not in KILLED and v != "not run":
                func, number = function_of(name)
                by_func[func].append((number, v))
    known = notes.get("functions", {})
    mutants = notes.get("mutants", {})
    rows = []
    per_category: Counter[str] = Counter()
    for func in sorted(by_func):
        entries = sorted(by_func[func])
        note = known.get(func, {})
        # a mutant judged on its own overrides its function's category
        own = [(n, v, mutants.get(f"{func} {n}")) for n, v in entries]
        rest = [(n, v) for n, v, m in own if m is None]
        for n, v, m in own:
            if m is not None:
                per_category[m["category"]] += 1
                rows.append(f"| `{func}` | {n} ({v}) | {m['category']} | {m['why']} |")
        if rest:
            category = note.get("category", "open")
            per_category[category] += len(rest)
            numbers = ", ".join(f"{n}{'' if v == 'survived' else ' (' + v + ')'}" for n, v in rest)
            rows.append(f"| `{func}` | {numbers} | {category} | {note.get('why', '')} |")
    head = ["# Mutants not killed", "",
            "Generated by `python benchmarks/mutation_score.py --list docs/mutation-survivors.md` "
            "from mutmut's results; categories and reasons from benchmarks/mutation_notes.toml. "
            "The run, its date and revision: docs/measurements.md, \"Mutation testing\".", "",
            "| category | mutants |", "|---|---:|"]
    head += [f"| {c} | {n} |" for c, n in sorted(per_category.items())]
    head += ["", "| function | mutant numbers (verdict when not \"survived\") | category | why |",
             "|---|---|---|---|"]
    return "\n".join(head + rows) + "\n"


def by_function(results: dict[str, dict[str, str]]) -> Counter[str]:
    """Mutants not killed (survived, no tests, other) per mutated function, by its dotted name
    (mutmut's ``x_`` prefix and ``__mutmut_<n>`` suffix taken off)."""
    counts: Counter[str] = Counter()
    for verdicts in results.values():
        for name, v in verdicts.items():
            if v not in KILLED and v != "not run":
                counts[function_of(name)[0]] += 1
    return counts


if __name__ == "__main__":
    sys.exit(main())
