"""The bundled experiments sequential and side by side, several rounds of each, compared
experiment by experiment (issue 20).

    python benchmarks/parallel_compare.py run [--rounds 3] [--parallel auto] [--out DIR]
    python benchmarks/parallel_compare.py table DIR

`run` runs the main job (`pytest -m chaos experiments/`, as `make experiments` does) once
per mode and round on the running kube-chaos cluster, alternating which mode goes first so a
drift of the machine over the hours does not favour one mode, and keeps each session's
reports under DIR/<mode>-<round>/ with its wall time in DIR/sessions.json.

`table` reads them back and prints, per experiment, each mode's verdicts and the range of its
recovery, longest outage, error rate during the fault and p99 over the rounds; a side-by-side
figure outside the sequential runs' range is marked, and so is any verdict that differs.
Exits 1 on a differing verdict or when a report is missing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODES = ("sequential", "parallel")

# (report.json path, column title, format): the figures the issue names
FIGURES: tuple[tuple[tuple[str, str], str, str], ...] = (
    (("recovery", "recovery_seconds"), "recovery s", "{:.1f}"),
    (("load", "longest_outage_seconds"), "outage s", "{:.2f}"),
    (("load", "error_rate_during_fault"), "error rate", "{:.3f}"),
    (("load", "p99_ms"), "p99 ms", "{:.0f}"),
)


@dataclass(frozen=True)
class Run:
    """One experiment's result in one session."""

    verdict: str
    figures: tuple[float | None, ...]


def _figure(report: dict[str, Any], path: tuple[str, str]) -> float | None:
    section = report.get(path[0]) or {}
    value = section.get(path[1])
    return float(value) if isinstance(value, (int, float)) else None


def session_runs(session_dir: Path) -> dict[str, Run]:
    """Every experiment's verdict and figures under one session's reports folder."""
    runs = {}
    for path in sorted(session_dir.glob("*/*/report.json")):
        report = json.loads(path.read_text())
        runs[report["experiment"]["name"]] = Run(
            verdict=report["verdict"],
            figures=tuple(_figure(report, p) for p, _, _ in FIGURES))
    return runs


def _span(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    lo, hi = min(values), max(values)
    return fmt.format(lo) if lo == hi else f"{fmt.format(lo)} to {fmt.format(hi)}"


def table(out: Path) -> tuple[list[str], int]:
    """The comparison as markdown lines, and how many problems it shows."""
    sessions = json.loads((out / "sessions.json").read_text())
    by_mode: dict[str, list[dict[str, Run]]] = {m: [] for m in MODES}
    for s in sessions:
        by_mode[s["mode"]].append(session_runs(out / s["dir"]))
    names = sorted({n for runs in by_mode["sequential"] + by_mode["parallel"] for n in runs})
    problems = 0
    head = ["experiment", "verdicts seq / par"]
    for _, title, _ in FIGURES:
        head += [f"{title} seq", f"{title} par"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    outside = 0
    for name in names:
        seq = [r[name] for r in by_mode["sequential"] if name in r]
        par = [r[name] for r in by_mode["parallel"] if name in r]
        missing = len(seq) != len(by_mode["sequential"]) or len(par) != len(by_mode["parallel"])
        verdicts = {r.verdict for r in seq + par}
        cells = [name, "/".join(r.verdict for r in seq) + " · " + "/".join(r.verdict for r in par)]
        if len(verdicts) > 1 or missing:
            problems += 1
            cells[1] = f"**{cells[1]}{' (missing)' if missing else ''}**"
        for i, (_, _, fmt) in enumerate(FIGURES):
            s_vals = [v for r in seq if (v := r.figures[i]) is not None]
            p_vals = [v for r in par if (v := r.figures[i]) is not None]
            cell = _span(p_vals, fmt)
            if s_vals and p_vals and (min(p_vals) < min(s_vals) or max(p_vals) > max(s_vals)):
                cell += " †"
                outside += 1
            cells += [_span(s_vals, fmt), cell]
        lines.append("| " + " | ".join(cells) + " |")
    walls = {m: [s["wall_s"] for s in sessions if s["mode"] == m] for m in MODES}
    lines.append("")
    for m in MODES:
        codes = ", ".join(str(s["exit"]) for s in sessions if s["mode"] == m)
        lines.append(f"{m}: " + ", ".join(f"{w / 60:.1f} min" for w in walls[m])
                     + f" (exit codes {codes})")
    lines.append(f"† side-by-side figure outside the sequential runs' range: {outside}; "
                 f"differing or missing verdicts: {problems}")
    return lines, problems


def run(out: Path, rounds: int, parallel: str, extra: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    ledger = out / "sessions.json"
    sessions: list[dict[str, Any]] = json.loads(ledger.read_text()) if ledger.exists() else []
    for rnd in range(1, rounds + 1):
        order = MODES if rnd % 2 else tuple(reversed(MODES))
        for mode in order:
            tag = f"{mode}-{rnd}"
            if any(s["dir"] == tag for s in sessions):
                continue  # a rerun of the script resumes where it stopped
            cmd = [sys.executable, "-m", "pytest", "-m", "chaos", "experiments/", "-q",
                   "--chaos-keep-cluster", "--chaos-parallel",
                   "1" if mode == "sequential" else parallel,
                   "--chaos-reports", str(out / tag), *extra]
            print(f"[{time.strftime('%H:%M:%S')}] {tag}: {' '.join(cmd)}", flush=True)
            t0 = time.monotonic()
            code = subprocess.call(cmd)
            sessions.append({"mode": mode, "round": rnd, "dir": tag, "exit": code,
                             "wall_s": round(time.monotonic() - t0, 1),
                             "ended": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
            ledger.write_text(json.dumps(sessions, indent=1))
            print(f"[{time.strftime('%H:%M:%S')}] {tag}: exit {code}, "
                  f"{sessions[-1]['wall_s'] / 60:.1f} min", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--rounds", type=int, default=3)
    r.add_argument("--parallel", default="auto", help="--chaos-parallel of the side-by-side runs")
    r.add_argument("--out", type=Path, default=Path("reports/compare"))
    r.add_argument("extra", nargs="*", help="more pytest arguments, after --")
    t = sub.add_parser("table")
    t.add_argument("out", type=Path)
    args = ap.parse_args(argv)
    if args.command == "run":
        run(args.out, args.rounds, args.parallel, args.extra)
    lines, problems = table(args.out)
    print("\n".join(lines))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
