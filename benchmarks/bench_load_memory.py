"""Peak memory of computing a run's load figures from its capture, held vs streamed.

Writes a synthetic open-loop capture (v2 format; 1,000 arrivals/s with a 30 s outage every
10 minutes' worth of records) of each size, then computes the figures the SLAs use (error rate,
outages, p95/p99 over the whole run) in a fresh child process two ways, and prints the child's
peak RSS (VmHWM) and wall time side by side:

- ``held``: every record parsed into a list, then ``chaos.plan.timeline`` (what the runner
  does with a run's records today);
- ``streamed``: ``chaos.load.records.iter_captures`` into ``chaos.plan.stream.one_pass`` (records
  read in 1 MiB chunks, folded into counters, a histogram and a reorder buffer).

    python benchmarks/bench_load_memory.py [--sizes 100000 1000000] [--dir /tmp/x]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chaos.load.records import CAPTURE_HEADER

CHILD = r"""
import json, sys, time
from pathlib import Path
t0 = time.monotonic()
paths = [Path(p) for p in sys.argv[2:]]
if sys.argv[1] == "held":
    from chaos.load.records import parse_capture
    from chaos.plan import timeline as tl
    records = [r for p in paths for r in parse_capture(p)]
    out = {"n": len(records), "error_rate": tl.error_rate(records),
           "longest_outage_s": tl.longest_outage_s(records),
           "p99_s": tl.latency_percentile(records, 99)}
else:
    from chaos.load.records import iter_captures
    from chaos.plan.stream import one_pass
    figs = one_pass(iter_captures(paths))
    out = {"n": figs.requests, "error_rate": figs.error_rate,
           "longest_outage_s": figs.longest_outage_s, "p99_s": figs.p99_s}
out["seconds"] = time.monotonic() - t0
for line in Path("/proc/self/status").read_text().splitlines():
    if line.startswith("VmHWM:"):
        out["peak_rss_mb"] = int(line.split()[1]) / 1024
print(json.dumps(out))
"""


def write_capture(path: Path, n: int, rate: float = 1000.0) -> None:
    """n arrivals at ``rate``; arrivals in the first 30 s of every 600 s fail after 1 s."""
    t0 = 1_800_000_000.0
    with path.open("w") as f:
        f.write(CAPTURE_HEADER)
        buf = []
        for i in range(n):
            t = t0 + i / rate
            if (i / rate) % 600 < 30:
                buf.append(f"{t:.6f}\t{t:.6f}\t1.000000\t0\t0\tConnectTimeout: timed out\n")
            else:
                lat = 0.002 + (i % 97) / 1000
                buf.append(f"{t:.6f}\t{t + 0.0001:.6f}\t{lat:.6f}\t1\t200\t\n")
            if len(buf) >= 10_000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="kc-mem-"))
    base.mkdir(parents=True, exist_ok=True)
    print(f"{'records':>9} {'how':>9} {'peak RSS MB':>12} {'seconds':>8} {'error rate':>10} "
          f"{'longest outage s':>16} {'p99 ms':>8}")
    for n in args.sizes:
        path = base / f"capture-{n}.tsv"
        t0 = time.monotonic()
        write_capture(path, n)
        sys.stderr.write(f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB) in "
                         f"{time.monotonic() - t0:.1f}s\n")
        for how in ("held", "streamed"):
            done = subprocess.run([sys.executable, "-c", CHILD, how, str(path)], check=True,
                                  capture_output=True, text=True)
            r = json.loads(done.stdout)
            print(f"{n:>9} {how:>9} {r['peak_rss_mb']:>12.0f} {r['seconds']:>8.1f} "
                  f"{r['error_rate']:>10.4f} {r['longest_outage_s']:>16.3f} "
                  f"{r['p99_s'] * 1000:>8.1f}", flush=True)
        path.unlink()


if __name__ == "__main__":
    main()
