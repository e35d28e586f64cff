"""Harness overhead per experiment, and the resolution of recovery measurements.

Overhead = wall time of one experiment minus its configured durations (warm-up, tail and
any fault durations). Printed with the per-phase breakdown, over several runs of the same
experiment against the running kube-chaos kind cluster.

Resolution: recovery figures come from watch events stamped when received. We measure the
watch delivery latency by patching a label on a ConfigMap and timing until the watch event
arrives (the time the API server adds to any transition we stamp).

    python benchmarks/bench_harness.py [--runs 3] [--experiment EXPERIMENT.yaml]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from pathlib import Path

from kubernetes import client, watch

from chaos.cluster.config import ClusterConfig
from chaos.engine.runner import RunEnv, run_experiment
from chaos.journal.store import Journal
from chaos.k8s import workload as kw
from chaos.k8s.client import connect
from chaos.model.parse import load_experiment


def configured_seconds(exp) -> float:  # type: ignore[no-untyped-def]
    total = exp.load.warmup_s + exp.load.tail_s
    for f in exp.faults:
        total += getattr(f, "delay_s", 0.0) or 0.0
        duration = getattr(f, "duration_s", None)
        total += duration or 0.0
    return total


def bench_overhead(env: RunEnv, path: Path, runs: int) -> None:
    exp = load_experiment(path)
    conf = configured_seconds(exp)
    print(f"experiment {exp.name}: configured durations {conf:.1f}s "
          f"(warmup {exp.load.warmup_s}s + tail {exp.load.tail_s}s + fault durations)")
    overheads = []
    for i in range(runs):
        t0 = time.monotonic()
        result = run_experiment(exp, env)
        wall = time.monotonic() - t0
        overhead = wall - conf
        overheads.append(overhead)
        phases = ", ".join(f"{k} {v:.1f}s" for k, v in result.phases.items())
        print(f"  run {i + 1}: {result.verdict}, wall {wall:.1f}s, overhead {overhead:.1f}s, "
              f"recovery {result.recovery_seconds or 0:.2f}s  [{phases}]")
    print(f"overhead: median {statistics.median(overheads):.1f}s, max {max(overheads):.1f}s "
          f"(aim: < 10 s)")


def bench_watch_latency(env: RunEnv, samples: int) -> None:
    ns = kw.namespace_name("bench-watch")
    kw.create_namespace(env.kube, ns, "bench")
    core = env.kube.core
    try:
        core.create_namespaced_config_map(ns, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="tick", labels={"n": "0"})))
        seen: dict[str, float] = {}
        ready = threading.Event()

        def watcher() -> None:
            w = watch.Watch()
            ready.set()
            for ev in w.stream(core.list_namespaced_config_map, ns, timeout_seconds=120):
                label = (ev["object"].metadata.labels or {}).get("n", "")
                seen.setdefault(label, time.monotonic())
                if len(seen) > samples:
                    w.stop()

        t = threading.Thread(target=watcher, daemon=True)
        t.start()
        ready.wait()
        time.sleep(1)
        sent: dict[str, float] = {}
        for i in range(1, samples + 1):
            sent[str(i)] = time.monotonic()
            core.patch_namespaced_config_map("tick", ns, {"metadata": {"labels": {"n": str(i)}}})
            time.sleep(0.05)
        t.join(timeout=30)
        lat = sorted((seen[k] - sent[k]) * 1000 for k in sent if k in seen)
        print(f"watch delivery latency over {len(lat)} changes: median "
              f"{statistics.median(lat):.1f} ms, p95 {lat[int(len(lat) * 0.95) - 1]:.1f} ms, "
              f"max {lat[-1]:.1f} ms (recovery timestamps carry this error; aim: <= 100 ms)")
    finally:
        kw.delete_namespace(env.kube, ns)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--experiment", type=Path,
                    default=Path(__file__).parents[1] / "experiments" / "pod-kill-replicated.yaml")
    args = ap.parse_args()
    cfg = ClusterConfig()
    kube = connect(cfg.kubeconfig, cfg.context)
    run_id = "bench-" + time.strftime("%Y%m%d-%H%M%S")
    env = RunEnv(kube=kube, kubeconfig=str(cfg.kubeconfig), run_id=run_id,
                 reports_dir=Path("reports"), seed=7, cluster_name=cfg.name,
                 journal=Journal.for_run(run_id))
    bench_watch_latency(env, args.samples)
    bench_overhead(env, args.experiment, args.runs)


if __name__ == "__main__":
    main()
