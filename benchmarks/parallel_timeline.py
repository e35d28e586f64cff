"""The timeline of one session's experiments, read back from their reports, and whether any two
that may not overlap did (issue 20).

    python benchmarks/parallel_timeline.py reports/<run-id>

One row per experiment: when it started and ended (seconds from the session's first start),
its verdict, whether it needed the cluster alone (from its fault declarations, as the
scheduler decides: chaos.plan.claims), and the NodePort it used. Then every overlap of an
exclusive run with another, and of two runs on one NodePort: there must be none. Exits 1 when
there is one, or when no report is found.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from chaos.model.faults import FAULT_TYPES


def _when(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def rows(run_dir: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted(run_dir.glob("*/report.json")):
        report = json.loads(path.read_text())
        types = [f["type"] for f in (report.get("fault") or {}).get("faults", [])]
        out.append({
            "name": report["experiment"]["name"],
            "start": _when(report["started_at"]), "end": _when(report["ended_at"]),
            "verdict": report["verdict"],
            "alone": any(FAULT_TYPES[t].exclusive for t in types if t in FAULT_TYPES),
            "port": (report.get("cluster") or {}).get("node_port"),
        })
    return sorted(out, key=lambda r: r["start"])


def violations(runs: list[dict[str, Any]]) -> list[str]:
    found = []
    for i, a in enumerate(runs):
        for b in runs[i + 1:]:
            if not (a["start"] < b["end"] and b["start"] < a["end"]):
                continue
            if a["alone"] or b["alone"]:
                found.append(f"{a['name']} and {b['name']} overlap; one needs the cluster alone")
            if a["port"] is not None and a["port"] == b["port"]:
                found.append(f"{a['name']} and {b['name']} overlap on NodePort {a['port']}")
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path, help="reports/<run-id>")
    args = ap.parse_args(argv)
    runs = rows(args.run_dir)
    if not runs:
        print(f"no report.json under {args.run_dir}", file=sys.stderr)
        return 1
    t0 = min(r["start"] for r in runs)
    t1 = max(r["end"] for r in runs)
    print("| experiment | start s | end s | verdict | alone | nodePort |")
    print("|---|---:|---:|---|---|---:|")
    for r in runs:
        print(f"| {r['name']} | {r['start'] - t0:.1f} | {r['end'] - t0:.1f} | {r['verdict']} | "
              f"{'yes' if r['alone'] else ''} | {r['port'] or ''} |")
    busy = sum(r["end"] - r["start"] for r in runs)
    print(f"\n{len(runs)} experiments, first start to last end {t1 - t0:.0f} s; their runs add "
          f"up to {busy:.0f} s (on average {busy / (t1 - t0):.1f} at once)")
    problems = violations(runs)
    for line in problems:
        print(f"OVERLAP: {line}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
