"""Peak memory of the runner's load figures from a run's capture, held vs streamed.

Writes a synthetic open-loop capture (v2 format; 1,000 arrivals/s with a 30 s outage every
10 minutes' worth of records) of each size, then computes in a fresh child process every load
figure a run's report and SLAs read (counts, rps, send lag; error rate, outages, p95/p99 over
the fault window; the 0.1 s timeline of the chart; when errors stopped after the fault and
after a lift; the steady-state window at the end) two ways, and prints the child's peak RSS
(VmHWM) and wall time side by side:

- ``held``: what the runner did before records were streamed: every record parsed into a list,
  then the ``chaos.plan.timeline`` functions over it;
- ``streamed``: what ``chaos.report.evaluate.evaluate`` does now: ``chaos.plan.stream.run_figures``
  over ``chaos.load.records.CaptureRecords`` (the files read in 1 MiB chunks, folded into
  counters, histograms, a reorder buffer and one small bucket per 0.1 s).

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
T0 = 1_800_000_000.0
if sys.argv[1] == "held":
    from chaos.load.records import parse_capture
    from chaos.plan import timeline as tl
    records = [r for p in paths for r in parse_capture(p)]
    window = (T0 + 20.0, records[-1].end)
    rows = sorted(records, key=lambda r: r.t)
    inside = tl.in_window(rows, *window)
    lags = [r.sent - r.t for r in records if r.scheduled and r.sent is not None]
    last = records[-1].t
    out = {"n": len(records), "error_rate": tl.error_rate(inside),
           "longest_outage_s": tl.longest_outage_s(inside),
           "p95_s": tl.latency_percentile(inside, 95), "p99_s": tl.latency_percentile(inside, 99),
           "rps": tl.throughput_rps(records), "lag_p99_s": tl.percentile(lags, 99),
           "buckets": len(tl.buckets(rows, 0.1, start=min(T0, rows[0].t))),
           "steady_again_at": tl.steady_again_at(rows, window[0]),
           "errors_stop_after_lift_s": tl.errors_stop_after(rows, T0 + 31.0),
           "last_unserved_after_lift_s": tl.last_unserved_after(rows, T0 + 31.0),
           "steady_error_rate": tl.error_rate(rows, last - 10.0, last + 1.0)}
else:
    from chaos.load.records import CaptureRecords
    from chaos.plan.stream import RunWindows, run_figures
    src = CaptureRecords(paths, 0, None)
    # the runner knows the last record from its live reads; here one line at the end of the file
    tail = paths[0].read_bytes()[-200:].decode().splitlines()[-1].split("	")
    last_t, last_end = float(tail[0]), float(tail[0]) + float(tail[2])
    figs = run_figures(src, RunWindows(origin=T0, fault_window=(T0 + 20.0, last_end),
                                       lifts=(T0 + 31.0,), steady=(last_t - 10.0, last_t + 1.0)))
    f = figs.fault
    lift = figs.lifts[T0 + 31.0]
    out = {"n": figs.requests_total, "error_rate": f.error_rate,
           "longest_outage_s": f.longest_outage_s, "p95_s": f.p95_s, "p99_s": f.p99_s,
           "rps": figs.rps, "lag_p99_s": figs.send_lag_p99_s, "buckets": len(figs.buckets),
           "steady_again_at": figs.steady_again_at,
           "errors_stop_after_lift_s": lift.errors_stop_after_s,
           "last_unserved_after_lift_s": lift.last_unserved_after_s,
           "steady_error_rate": figs.steady_error_rate}
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
        figures = {}
        for how in ("held", "streamed"):
            done = subprocess.run([sys.executable, "-c", CHILD, how, str(path)], check=True,
                                  capture_output=True, text=True)
            r = json.loads(done.stdout)
            figures[how] = {k: v for k, v in r.items() if k not in ("seconds", "peak_rss_mb")}
            print(f"{n:>9} {how:>9} {r['peak_rss_mb']:>12.0f} {r['seconds']:>8.1f} "
                  f"{r['error_rate']:>10.4f} {r['longest_outage_s']:>16.3f} "
                  f"{r['p99_s'] * 1000:>8.1f}", flush=True)
        sys.stderr.write(f"figures held:     {json.dumps(figures['held'])}\n"
                         f"figures streamed: {json.dumps(figures['streamed'])}\n")
        path.unlink()


if __name__ == "__main__":
    main()
