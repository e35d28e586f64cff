"""Throughput cost of kube-chaos's per-request capture.

Runs locust (our default locustfile, in a subprocess, as the harness does) against the same
local target with capture disabled and enabled, interleaved for ``--rounds`` rounds, and prints
requests/s of each and the capture overhead, both as wall-clock throughput and as locust CPU
time per request (the latter is robust to other processes competing for the CPU; on a busy
machine trust it more).  The target is a local multi-threaded HTTP server
started here, or ``--target URL`` (loopback only).

    python benchmarks/bench_load.py [--users 4] [--duration 8] [--rounds 2] [--target URL]
"""

from __future__ import annotations

import argparse
import http.server
import resource
import statistics
import tempfile
import threading
from pathlib import Path

from chaos.load import LoadRun, check_local_target


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else headers and body meet delayed ACK: ~40 ms/request
    body = b'{"pod":"bench","node":"local","requests":0}\n'

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _run(url: str, users: int, duration: float, capture: bool, out: Path) -> tuple[float, float]:
    """Return (requests/s, locust CPU microseconds per request)."""
    cpu0 = _children_cpu_s()
    run = LoadRun.start(
        url,
        users=users,
        spawn_rate=users * 10,
        max_duration_s=duration,
        wait_s=0.0,
        out_dir=out,
        capture=capture,
    )
    with run:
        result = run.wait(timeout=duration + 60)
    if capture and len(result.records) != result.locust_requests:
        raise SystemExit(
            f"capture lost records: {len(result.records)} captured, "
            f"{result.locust_requests} counted by locust ({result.log_path})"
        )
    n = result.locust_requests
    return n / duration, 1e6 * (_children_cpu_s() - cpu0) / max(n, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--target", help="loopback URL to load instead of the built-in server")
    ap.add_argument("--users", type=int, default=4)
    ap.add_argument("--duration", type=float, default=8.0, help="seconds per run")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved (plain, capture) pairs")
    args = ap.parse_args()

    server = None
    if args.target:
        url = check_local_target(args.target)
    else:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"target {url}  users={args.users}  duration={args.duration:g}s  rounds={args.rounds}")

    plain: list[tuple[float, float]] = []
    captured: list[tuple[float, float]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
            for i in range(args.rounds):
                plain.append(_run(url, args.users, args.duration, False, Path(tmp, f"p{i}")))
                captured.append(_run(url, args.users, args.duration, True, Path(tmp, f"c{i}")))
                (pr, pc), (cr, cc) = plain[-1], captured[-1]
                print(
                    f"  round {i + 1}: plain {pr:7.1f} req/s {pc:6.0f} us/req   "
                    f"capture {cr:7.1f} req/s {cc:6.0f} us/req"
                )
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()

    p = statistics.median(r for r, _ in plain)
    c = statistics.median(r for r, _ in captured)
    pc = statistics.median(u for _, u in plain)
    cc = statistics.median(u for _, u in captured)
    print(f"plain locust (no capture) : {p:8.1f} req/s   {pc:6.0f} us CPU/req (medians)")
    print(f"with per-request capture  : {c:8.1f} req/s   {cc:6.0f} us CPU/req (medians)")
    print(f"capture overhead, wall    : {100.0 * (p - c) / p:+6.1f} % fewer req/s")
    print(f"capture overhead, CPU     : {100.0 * (cc - pc) / pc:+6.1f} % more locust CPU/request")


if __name__ == "__main__":
    main()
