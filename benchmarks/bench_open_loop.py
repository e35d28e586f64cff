"""Does kube-chaos's load tell the truth? Open loop, closed loop and vegeta side by side.

Three benchmarks, each printing its figures side by side in one run:

``podkill`` (the real kind cluster; wrap in ``flock /tmp/kube-chaos-cluster.lock``): the bundled
single-replica pod kill under kube-chaos's open-loop load (``experiments/
pod-kill-single-open-negative.yaml``, 100 arrivals/s, 1 s timeout). Once its workload answers,
vegeta (ground truth: Go, open loop, the same 100/s and 1 s timeout) and kube-chaos's closed
loop (10 users, 20 ms wait: the bundled closed-loop negative control's load) are started at the
same NodePort, so all three see the *same* outage. Figures over the same window (from the
fault to the end of the load): error rate, longest outage (open loop and vegeta: maximal run of
unserved arrivals by intended start, no heuristic; closed loop: the harness's own figure, with
its 1 s stall heuristic), p99.

``delay`` (local, no cluster): the bundled httpd workload (``chaos/workloads/httpd``, built
with ``go build``) on 127.0.0.1 under the three generators at once (vegeta 100/s, open loop
100/s, closed loop 2 users with 20 ms wait); after 10 s
``POST /admin/delay?ms=200&seconds=2`` makes every answer take 200 ms for 2 s. Figures: the
p99 over the run (open loop should read 200 ms within 10 ms; closed loop under-reports, its
users having sent far fewer requests while answers were slow) and the share of requests that
saw the delay.

``throughput`` (local): in rounds, plain locust's closed-loop maximum (FastHttpUser, no capture,
20 users without wait) on the bundled httpd on 127.0.0.1, then the open loop (with capture, 1
and 2 local processes) at rising fractions of that round's maximum until 1 % or more of the
arrivals are dropped; CPU µs per request of every load process, closed and open.

``incluster`` (the real kind cluster; wrap in ``flock``): the same ascending open-loop rates
against one target, the bundled httpd with 3 replicas in the cluster, from 1 and 2 local worker
processes (at its NodePort 30094 on 127.0.0.1) and from N worker pods inside the cluster (at
its cluster DNS name; the master on this machine); with each pod's measured clock offset.

    python benchmarks/bench_open_loop.py delay
    python benchmarks/bench_open_loop.py throughput [--rounds 3] [--fractions 0.8 0.9 1.0 1.1]
    flock /tmp/kube-chaos-cluster.lock python benchmarks/bench_open_loop.py podkill
    flock /tmp/kube-chaos-cluster.lock python benchmarks/bench_open_loop.py incluster \
        [--rates 400 800 1200 1600] [--pods 2]

vegeta comes from the Go module proxy (``GOBIN=~/.cache/kube-chaos/bin go install
github.com/tsenart/vegeta/v12@v12.13.0``); the benchmark installs it there when missing.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from chaos.load import LoadRun
from chaos.model.timeline import RequestRecord
from chaos.plan import timeline as tl

ROOT = Path(__file__).resolve().parents[1]
BIN = Path.home() / ".cache" / "kube-chaos" / "bin"
VEGETA_VERSION = "v12.13.0"
RATE = 100.0
TIMEOUT_S = 1.0


def vegeta() -> Path:
    path = BIN / "vegeta"
    if not path.exists():
        subprocess.run(["go", "install", f"github.com/tsenart/vegeta/v12@{VEGETA_VERSION}"],
                       check=True, env={**os.environ, "GOBIN": str(BIN)})
    return path


class Vegeta:
    """``vegeta attack`` at a constant rate in the background; records once it is done."""

    def __init__(self, url: str, rate: float, duration_s: float, out: Path) -> None:
        assert url.startswith("http://127.0.0.1:"), "vegeta only ever targets this machine"
        self.out = out
        self.proc = subprocess.Popen(
            [str(vegeta()), "attack", f"-rate={rate:g}/s", f"-duration={duration_s:g}s",
             f"-timeout={TIMEOUT_S:g}s", "-keepalive=true", f"-output={out}"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"GET {url}/\n".encode())
        self.proc.stdin.close()

    def records(self, timeout_s: float = 120.0) -> list[RequestRecord]:
        self.proc.wait(timeout=timeout_s)
        text = subprocess.run([str(vegeta()), "encode", "--to", "csv", str(self.out)],
                              check=True, capture_output=True, text=True).stdout
        out = []
        # timestamp ns, code, latency ns, bytes out, bytes in, error, body, attack, seq, ...
        for row in csv.reader(io.StringIO(text)):
            t, code, latency, error = int(row[0]) / 1e9, int(row[1]), int(row[2]) / 1e9, row[5]
            # served means answered within the timeout, for every generator: vegeta's own
            # timeout let a 1.07 s answer through as a success (measured), which split an
            # outage in two where the stricter bound saw one
            ok = 200 <= code < 400 and not error and latency <= TIMEOUT_S
            out.append(RequestRecord(t, latency, ok, code, error or None, scheduled=True, sent=t))
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # vegeta's graceful stop: results flushed
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)


def figures(records: Sequence[RequestRecord], start: float, end: float) -> dict[str, float]:
    window = tl.in_window(records, start, end)
    p99 = tl.latency_percentile(window, 99)
    lag = tl.percentile([r.sent - r.t for r in window if r.sent is not None and r.scheduled], 99)
    return {"requests": len(window), "error_rate": tl.error_rate(window) or 0.0,
            "send_lag_p99_ms": (lag or 0.0) * 1000,
            "outage_s": tl.longest_outage_s(window) if window else 0.0,
            "p99_ms": (p99 or 0.0) * 1000,
            "dropped": sum(1 for r in window if r.dropped)}


def table(rows: dict[str, dict[str, float]], truth: str | None = None) -> None:
    print(f"{'generator':<34} {'requests':>8} {'error rate':>10} {'outage s':>9} {'p99 ms':>9}"
          f" {'dropped':>7}" + ("  vs vegeta (error rate / outage)" if truth else ""))
    for name, f in rows.items():
        line = (f"{name:<34} {f['requests']:>8.0f} {f['error_rate']:>10.4f} "
                f"{f['outage_s']:>9.3f} {f['p99_ms']:>9.1f} {f['dropped']:>7.0f}")
        if truth and name != truth:
            t = rows[truth]
            def rel(a: float, b: float) -> str:
                return f"{(a - b) / b * 100:+.1f} %" if b else "n/a"
            line += (f"  {rel(f['error_rate'], t['error_rate'])} / "
                     f"{rel(f['outage_s'], t['outage_s'])}")
        print(line, flush=True)


@contextlib.contextmanager
def local_httpd() -> Iterator[str]:
    """The bundled workload as a plain process on a free 127.0.0.1 port."""
    build = Path(tempfile.mkdtemp(prefix="kc-httpd-"))
    binary = build / "httpd"
    subprocess.run(["go", "build", "-o", str(binary), "."], check=True,
                   cwd=ROOT / "chaos" / "workloads" / "httpd",
                   env={**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(binary), f"--addr=127.0.0.1:{port}"],
                            env={**os.environ, "SHUTDOWN_DELAY": "0s"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(url + "/", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(build, ignore_errors=True)


def _open(url: str, out: Path, rate: float, duration: float, workers: int = 1,
          capture: bool = True) -> LoadRun:
    return LoadRun.start(url, users=1, spawn_rate=1, max_duration_s=duration, out_dir=out,
                         mode="open", rate_segments=[(rate, rate, None)], workers=workers,
                         request_timeout_s=TIMEOUT_S, capture=capture)


def _closed(url: str, out: Path, duration: float, users: int = 10, wait_s: float = 0.02,
            capture: bool = True) -> LoadRun:
    return LoadRun.start(url, users=users, spawn_rate=users, max_duration_s=duration,
                         out_dir=out, wait_s=wait_s, request_timeout_s=TIMEOUT_S,
                         capture=capture)


def bench_delay(args: argparse.Namespace) -> None:
    duration, delay_ms, delay_s, at = 30.0, 200, 2.0, 10.0
    base = Path(tempfile.mkdtemp(prefix="kc-delay-"))
    with local_httpd() as url:
        t0 = time.time()
        veg = Vegeta(url, RATE, duration, base / "vegeta.bin")
        # two closed-loop users, 20 ms wait (~ the open loop's 100/s while answers are fast)
        with _open(url, base / "open", RATE, duration) as op, \
                _closed(url, base / "closed", duration, users=2) as cl:
            time.sleep(at)
            urllib.request.urlopen(urllib.request.Request(
                f"{url}/admin/delay?ms={delay_ms}&seconds={delay_s:g}", method="POST"),
                timeout=5).read()
            delay_from = time.time()
            open_recs, closed_recs = op.wait().records, cl.wait().records
        veg_recs = veg.records()
    # all three running: from a second after the last one's first request
    start = max(min(r.t for r in recs) for recs in (veg_recs, open_recs, closed_recs)) + 1.0
    end = t0 + duration - 1.0
    rows = {}
    for name, recs in (("vegeta (open loop, Go)", veg_recs),
                       ("kube-chaos open, 100/s", open_recs),
                       ("kube-chaos closed, 2 users/20 ms", closed_recs)):
        f = figures(recs, start, end)
        slow = [r for r in tl.in_window(recs, start, end) if r.latency_s >= delay_ms / 1000]
        f["delayed_share"] = len(slow) / max(1, f["requests"])
        rows[name] = f
    print(f"delay {delay_ms} ms for {delay_s:g} s, {delay_from - t0:.1f} s into a "
          f"{duration:g} s run; window {end - start:.0f} s")
    print(f"{'generator':<34} {'requests':>8} {'delayed share':>13} {'p99 ms':>8} "
          f"{'p99 - 200 ms':>12} {'send lag p99 ms':>15}")
    for name, f in rows.items():
        print(f"{name:<34} {f['requests']:>8.0f} {f['delayed_share']:>13.4f} "
              f"{f['p99_ms']:>8.1f} {f['p99_ms'] - delay_ms:>+12.1f} "
              f"{f['send_lag_p99_ms']:>15.1f}")
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; send lag: how "
          "late the generator sent arrivals, part of the open-loop latency)")


FAST_CLOSED = """
from locust import FastHttpUser, constant, task

class Closed(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/")
"""


class CpuMeter:
    """CPU seconds the load's processes (master, workers) used, sampled until they end: the
    last sample before a process exits is its total."""

    def __init__(self, run: LoadRun) -> None:
        import psutil
        self._procs = [psutil.Process(p.pid) for p in run._procs]
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.2):
            for p in self._procs:
                with contextlib.suppress(Exception):
                    t = p.cpu_times()
                    self._last[p.pid] = t.user + t.system

    def seconds(self) -> float:
        self._stop.set()
        self._thread.join()
        return sum(self._last.values())


def _closed_max(url: str, out: Path, duration: float) -> tuple[float, float]:
    """Plain locust's closed-loop maximum: FastHttpUser (the client the open loop sends with),
    20 users without wait, no capture. Requests/s and CPU µs per request."""
    fast_file = out.parent / "fast_locustfile.py"
    fast_file.write_text(FAST_CLOSED)
    with LoadRun.start(url, users=20, spawn_rate=20, max_duration_s=duration, out_dir=out,
                       locustfile=fast_file, capture=False) as fast:
        meter = CpuMeter(fast)
        n = fast.wait().locust_requests
        cpu = meter.seconds()
    return n / duration, cpu / max(1, n) * 1e6


def _open_at(url: str, out: Path, rate: float, duration: float, workers: int
             ) -> tuple[float, float, float, float]:
    """One open-loop run with capture: sent/s and dropped share over the steady middle, p99 ms,
    CPU µs per arrival."""
    with _open(url, out, rate, duration, workers=workers) as op:
        meter = CpuMeter(op)
        recs = op.wait().records
        cpu = meter.seconds()
    lo = min(r.t for r in recs) + 2.0  # past the start-up of every process
    hi = lo + duration - 4.0
    window = tl.in_window(recs, lo, hi)
    dropped = sum(1 for r in window if r.dropped) / max(1, len(window))
    achieved = sum(1 for r in window if not r.dropped) / (hi - lo)
    p99 = (tl.latency_percentile(window, 99) or 0) * 1000
    return achieved, dropped, p99, cpu / max(1, len(recs)) * 1e6


def bench_throughput(args: argparse.Namespace) -> None:
    """Rounds of: plain locust's closed-loop maximum, then the open loop at fractions of *that
    round's* maximum, rising until 1 % or more of the arrivals are dropped. The machine's speed
    drifts between runs (other processes, frequency), so each share is taken against the
    closed loop measured minutes before it, not against one figure from the start."""
    duration = args.duration
    base = Path(tempfile.mkdtemp(prefix="kc-tput-"))
    summary: list[str] = []
    with local_httpd() as url:
        for rnd in range(1, args.rounds + 1):
            closed_rps, closed_cpu = _closed_max(url, base / f"closed-{rnd}", duration)
            print(f"round {rnd}: plain locust closed loop (FastHttpUser, 20 users, no wait, no "
                  f"capture): {closed_rps:.0f} requests/s, {closed_cpu:.0f} µs CPU/request",
                  flush=True)
            for workers in args.workers:
                best, best_fraction = 0.0, 0.0
                for fraction in args.fractions:
                    rate = round(closed_rps * fraction)
                    achieved, dropped, p99, cpu = _open_at(
                        url, base / f"open-{rnd}-{workers}-{fraction}", rate, duration, workers)
                    print(f"  open loop, {workers} process(es), {fraction:4.2f} x = {rate:>5}/s: "
                          f"sent {achieved:>6.0f}/s, dropped {dropped * 100:5.2f} %, p99 "
                          f"{p99:7.1f} ms, {cpu:4.0f} µs CPU/arrival (all processes)",
                          flush=True)
                    if dropped >= 0.01:
                        break
                    best, best_fraction = max(best, achieved), fraction
                top = args.fractions[-1]
                shown = (f">= {best_fraction * 100:.0f} %" if best_fraction == top
                         else f"{best_fraction * 100:.0f} %")
                line = (f"round {rnd}, {workers} process(es): highest rate with < 1 % dropped "
                        f"{best:.0f}/s: {shown} of this round's closed-loop maximum "
                        f"({closed_rps:.0f}/s)")
                summary.append(line)
                print("  " + line, flush=True)
    print("summary (aim: >= 90 %):")
    for line in summary:
        print("  " + line)
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


def _rate_row(label: str, rate: int, records: Sequence[RequestRecord], duration: float
              ) -> float:
    """Print one rate's figures; the dropped share (over the steady middle of the run)."""
    lo = min(r.t for r in records) + 2.0  # past the start-up of every process
    hi = lo + duration - 4.0
    window = tl.in_window(records, lo, hi)
    dropped = sum(1 for r in window if r.dropped) / max(1, len(window))
    failed = sum(1 for r in window if not r.ok and not r.dropped) / max(1, len(window))
    achieved = sum(1 for r in window if not r.dropped) / (hi - lo)
    p99 = (tl.latency_percentile(window, 99) or 0) * 1000
    print(f"{label}, {rate:>5} arrivals/s: sent {achieved:>6.0f}/s, dropped "
          f"{dropped * 100:5.2f} %, failed {failed * 100:5.2f} %, p99 {p99:7.1f} ms", flush=True)
    return dropped if failed < 0.01 else 1.0


def bench_incluster(args: argparse.Namespace) -> None:
    from chaos.cluster.config import ClusterConfig
    from chaos.cluster.images import provide
    from chaos.cluster.workers import KindWorkers
    from chaos.engine.incluster import prepare, service_url
    from chaos.faults.undo import settle
    from chaos.journal.store import Journal, UndoAction
    from chaos.k8s import workload as kw
    from chaos.k8s.client import connect
    from chaos.plan.manifests import rollout_targets

    cfg = ClusterConfig(name="kube-chaos")
    pods_image = KindWorkers(cfg.name)
    kube = connect(cfg.kubeconfig, cfg.context)
    run_id = f"bench-incluster-{int(time.time())}"
    journal = Journal.for_run(run_id)
    ns = kw.namespace_name("bench-incluster")
    target = {"kubeconfig": str(cfg.kubeconfig), "context": cfg.context, "cluster": cfg.name,
              "namespace": ns}
    gone = journal.record(UndoAction(kind="delete-namespace", params={"namespace": ns},
                                     target=target))
    base = Path(tempfile.mkdtemp(prefix="kc-incluster-"))
    manifest = base / "httpd.yaml"
    manifest.write_text((ROOT / "experiments" / "workloads" / "httpd-replicated.yaml")
                        .read_text().replace("nodePort: 30080", "nodePort: 30094"))
    duration = args.duration
    kw.create_namespace(kube, ns, run_id)
    try:
        provide(cfg, ["kube-chaos/httpd:dev"])
        docs = kw.read_manifests([manifest])
        kw.apply_documents(kube, ns, docs)
        kw.wait_rollouts(kube, ns, rollout_targets(d for _, d in docs), 120)
        time.sleep(3)  # kube-proxy programs the NodePort
        started = time.monotonic()
        prepare(cfg.name, kube, ns, args.pods, journal, str(cfg.kubeconfig), pods_image)
        print(f"worker image built/loaded in {time.monotonic() - started:.1f}s", flush=True)
        for workers in (1, 2):
            for rate in args.rates:
                with _open("http://127.0.0.1:30094", base / f"local-{workers}-{rate}", rate,
                           duration, workers=workers) as op:
                    recs = op.wait().records
                if _rate_row(f"local, {workers} worker process(es)", rate, recs,
                             duration) >= 0.01:
                    break
        url = service_url("httpd", ns, 80)
        for rate in args.rates:
            in_cluster = prepare(cfg.name, kube, ns, args.pods, journal, str(cfg.kubeconfig),
                                 pods_image)
            started = time.monotonic()
            with LoadRun.start(url, users=1, spawn_rate=1, max_duration_s=duration,
                               out_dir=base / f"pods-{rate}", mode="open",
                               rate_segments=[(rate, rate, None)], request_timeout_s=TIMEOUT_S,
                               allowed_hosts=[url.split("//")[1].split(":")[0]],
                               in_cluster=in_cluster) as run:
                result = run.wait()
            took = time.monotonic() - started
            worst = _rate_row(f"in-cluster, {args.pods} worker pod(s)", rate, result.records,
                              duration)
            clocks = ", ".join(
                f"pod {w.index}: {(w.offset_s or 0) * 1000:+.2f} ms ± "
                f"{(w.error_bound_s or 0) * 1000:.2f} ms ({w.records}/{w.sent} records)"
                for w in result.streamed)
            print(f"    wall {took:.1f}s for a {duration:g}s run; clocks: {clocks}", flush=True)
            if worst >= 0.01:
                break
    finally:
        outcome = settle(journal, gone)
        print(f"namespace {ns}: {outcome.status} {outcome.reason}", flush=True)
        shutil.rmtree(base, ignore_errors=True)


def bench_podkill(args: argparse.Namespace) -> None:
    for i in range(args.runs):
        if args.runs > 1:
            print(f"-- run {i + 1} of {args.runs} (load average {os.getloadavg()[0]:.1f})")
        _podkill_once()


def _podkill_once() -> None:
    from chaos.cluster.config import ClusterConfig
    from chaos.engine.runner import RunEnv, run_experiment
    from chaos.journal.store import Journal
    from chaos.k8s.client import connect
    from chaos.model.parse import load_experiment
    from chaos.plugin.environment import image_provider

    exp = load_experiment(ROOT / "experiments" / "pod-kill-single-open-negative.yaml")
    url = f"http://127.0.0.1:{exp.workload.node_port}"
    cfg = ClusterConfig()
    run_id = "bench-open-" + time.strftime("%Y%m%d-%H%M%S")
    env = RunEnv(kube=connect(cfg.kubeconfig, cfg.context), kubeconfig=str(cfg.kubeconfig),
                 run_id=run_id, reports_dir=ROOT / "reports", seed=7, cluster_name=cfg.name,
                 journal=Journal.for_run(run_id), provide_images=image_provider(cfg.name))
    base = Path(tempfile.mkdtemp(prefix="kc-podkill-"))
    side: dict[str, object] = {}
    stop = threading.Event()

    def side_loads() -> None:
        """Start vegeta and the closed loop once the experiment's workload answers."""
        while not stop.is_set():
            try:
                urllib.request.urlopen(url + "/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        if stop.is_set():
            return
        side["vegeta"] = Vegeta(url, RATE, 60.0, base / "vegeta.bin")
        side["closed"] = _closed(url, base / "closed", 60.0)

    thread = threading.Thread(target=side_loads, daemon=True)
    thread.start()
    try:
        result = run_experiment(exp, env)
    finally:
        stop.set()
        thread.join(timeout=30)
    veg, closed = side.get("vegeta"), side.get("closed")
    assert isinstance(veg, Vegeta) and isinstance(closed, LoadRun), "side loads never started"
    veg.stop()
    closed.stop()
    closed_recs = closed.wait().records
    veg_recs = veg.records()
    import json

    report = json.loads(Path(result.report_path or "").read_text())
    origin = report["timeline"]["origin"]
    start = origin + report["fault"]["window"]["start"]
    end = origin + report["fault"]["window"]["end"] - 1.0  # every generator still running
    print(f"{exp.name}: verdict {result.verdict}, recovery {result.recovery_seconds} s, "
          f"window {end - start:.1f} s from the kill; report {result.report_path}")
    for s in result.slas:
        print(f"  SLA {s.name}: observed {s.observed} threshold {s.threshold} "
              f"{'held' if s.passed else 'FAILED'}")
    table({"vegeta (open loop, Go), 100/s": figures(veg_recs, start, end),
           "kube-chaos open, 100/s": figures(result.records, start, end),
           "kube-chaos closed, 10 users/20 ms": figures(closed_recs, start, end)},
          truth="vegeta (open loop, Go), 100/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    pk = sub.add_parser("podkill")
    pk.add_argument("--runs", type=int, default=1)
    sub.add_parser("delay")
    tp = sub.add_parser("throughput")
    tp.add_argument("--rounds", type=int, default=3)
    tp.add_argument("--fractions", type=float, nargs="+",
                    default=[0.8, 0.9, 1.0, 1.1, 1.2, 1.3])
    tp.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    tp.add_argument("--duration", type=float, default=8.0)
    ic = sub.add_parser("incluster")
    ic.add_argument("--rates", type=int, nargs="+", default=[400, 800, 1200, 1600])
    ic.add_argument("--pods", type=int, default=2)
    ic.add_argument("--duration", type=float, default=10.0)
    args = ap.parse_args()
    {"podkill": bench_podkill, "delay": bench_delay, "throughput": bench_throughput,
     "incluster": bench_incluster}[args.what](args)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
