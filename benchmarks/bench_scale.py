"""The harness's own cost as the cluster grows, on simulated (KWOK) nodes and pods.

Runs against a kind cluster of its own (never the shared kube-chaos one: fake nodes would break
its tests), with the kwok controller as a host process (chaos.cluster.kwok). Prints one
cost-versus-size table per figure:

- Observer (chaos.k8s.observe, the real one) watching P pods while they churn (a steady rate
  of creates and deletes from a separate driver process): initial sync time, process CPU, RSS
  (after sync and peak) and event delivery lag. Each size runs in a fresh process, so CPU and
  peak RSS (VmHWM) are the Observer's alone; the churn driver is another process.
- Target selection (chaos.faults.targets) and ``kube-chaos plan`` over N fake nodes.
- A drain (chaos.faults.nodes.DrainFault) of a fake node holding D pods under a PDB.
- report.json size and write time (chaos.report.writer) against events and request records.

Lag: receipt time of the Observer's event (its own time.time() stamp, the timeline's axis)
minus the time the driver's create/delete call returned (time.time() in the driver, same host,
same clock). A watch event can arrive before the write's response does, so a lag can be
slightly negative; the call's own duration is reported beside it.

    python benchmarks/bench_scale.py --pods 1000,5000,10000 --nodes 100,1000 [--keep-cluster]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from chaos.cluster.kwok import KWOK_LABEL, fake_node, fake_pod_spec, running_kwok
from chaos.k8s.client import Kube, connect

CLUSTER = "kc-scale"
PORT_OFFSET = 2000
POD_NS = "kc-scale-pods"
DRAIN_NS = "kc-scale-drain"
POD_LABEL = {"app": "kc-scale"}
NODE_PREFIX = "kwok-"
POD_NODES = 100  # the churned pods are spread over this many fake nodes
WORKERS = 16  # concurrent API calls when populating


# -- small helpers --------------------------------------------------------------------------

def pct(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def rss_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(rest.split()[0]) / 1024
    return found["VmRSS"], found["VmHWM"]


def cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def table(title: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    lines = [f"\n{title}", line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [line(r) for r in rows]
    return "\n".join(lines)


def parallel(fn: Callable[[Any], object], items: Iterable[Any], workers: int = WORKERS) -> None:
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(fn, items):
            pass


def wait_until(what: str, predicate: Callable[[], bool], timeout_s: float,
               step_s: float = 1.0) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"timed out after {timeout_s:g}s waiting for {what}")
        time.sleep(step_s)
    return time.monotonic() - start


def ignore_conflict(fn: Callable[[], object]) -> None:
    try:
        fn()
    except ApiException as exc:
        if exc.status not in (404, 409):
            raise


# -- the simulated cluster ------------------------------------------------------------------

def ensure_namespace(kube: Kube, ns: str) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    ignore_conflict(lambda: kube.core.create_namespace(body))


def kwok_nodes(kube: Kube) -> list[Any]:
    key, value = KWOK_LABEL
    items: list[Any] = kube.core.list_node(label_selector=f"{key}={value}").items
    return items


def _ready(node: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def ensure_nodes(kube: Kube, names: Sequence[str], *, labels: dict[str, str] | None = None,
                 timeout_s: float = 600) -> float:
    """Create the fake nodes that are missing; seconds until all of ``names`` are Ready."""
    start = time.monotonic()

    def create(name: str) -> None:
        body = fake_node(name)
        body["metadata"]["labels"].update(labels or {})
        ignore_conflict(lambda: kube.core.create_node(body))

    existing = {n.metadata.name for n in kwok_nodes(kube)}
    parallel(create, [n for n in names if n not in existing])
    wanted = set(names)
    wait_until(f"{len(names)} kwok nodes Ready",
               lambda: wanted <= {n.metadata.name for n in kwok_nodes(kube) if _ready(n)},
               timeout_s, step_s=2.0)
    return time.monotonic() - start


def keep_daemonsets_off_kwok(kube: Kube) -> None:
    """kindnet and kube-proxy tolerate every taint: without this each fake node would get
    their pods (two more fake pods per node). kwok's docs exclude them the same way."""
    key, value = KWOK_LABEL
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": key, "operator": "NotIn", "values": [value]}]}]}}}
    for ds in kube.apps.list_namespaced_daemon_set("kube-system").items:
        kube.apps.patch_namespaced_daemon_set(
            ds.metadata.name, "kube-system",
            {"spec": {"template": {"spec": {"affinity": affinity}}}})


def pod_body(name: str, node: str | None, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": dict(labels)}, "spec": fake_pod_spec(node)}


# -- churn driver (a separate process, so its CPU and memory are not the Observer's) ---------

def driver(args: argparse.Namespace) -> int:
    kube = connect(args.kubeconfig, args.context)
    nodes = [f"{NODE_PREFIX}{i}" for i in range(args.node_count)]
    ns = args.namespace
    have = {p.metadata.name for p in kube.core.list_namespaced_pod(
        ns, label_selector=_selector(POD_LABEL), _preload_content=True).items}
    missing = [f"p-{i}" for i in range(args.pods) if f"p-{i}" not in have]
    extra = sorted(have - {f"p-{i}" for i in range(args.pods)})
    t0 = time.monotonic()
    parallel(lambda n: ignore_conflict(lambda: kube.core.create_namespaced_pod(
        ns, pod_body(n, nodes[int(n[2:]) % len(nodes)], POD_LABEL))), missing)
    parallel(lambda n: ignore_conflict(lambda: kube.core.delete_namespaced_pod(
        n, ns, grace_period_seconds=0)), extra)
    print(f"populated {len(missing)} {time.monotonic() - t0:.1f}", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    pool = [f"p-{i}" for i in range(args.pods)]
    creates: dict[str, tuple[float, float]] = {}
    deletes: dict[str, tuple[float, float]] = {}
    lock = threading.Lock()
    rng = random.Random(args.seed)

    def create(name: str) -> None:
        sent = time.time()
        kube.core.create_namespaced_pod(ns, pod_body(name, rng.choice(nodes), POD_LABEL))
        with lock:
            creates[name] = (sent, time.time())

    def delete(name: str) -> None:
        sent = time.time()
        ignore_conflict(lambda: kube.core.delete_namespaced_pod(name, ns, grace_period_seconds=0))
        with lock:
            deletes[name] = (sent, time.time())

    period = 1.0 / args.rate
    ops = int(args.rate * args.duration)
    start = time.monotonic()
    with ThreadPoolExecutor(8) as ex:
        for j in range(ops):
            delay = start + j * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            new = f"c{args.pods}-{j}"
            victim = pool.pop(rng.randrange(len(pool)))
            pool.append(new)
            ex.submit(create, new)
            ex.submit(delete, victim)
    Path(args.out).write_text(json.dumps({"creates": creates, "deletes": deletes}))
    # leave exactly p-0..p-(P-1) for the next size: rename is impossible, so top up later
    print("done", flush=True)
    return 0


def _selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items())


# -- Observer under churn (one fresh process per size) --------------------------------------

def observe(args: argparse.Namespace) -> int:
    from chaos.k8s.observe import Observer
    from chaos.model.experiment import Selector

    kube = connect(args.kubeconfig, args.context)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "churn.json"
        cmd = [sys.executable, __file__, "driver", "--kubeconfig", args.kubeconfig,
               "--context", args.context, "--namespace", args.namespace,
               "--pods", str(args.pods), "--node-count", str(args.node_count),
               "--rate", str(args.rate), "--duration", str(args.duration), "--out", str(out)]
        drv = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert drv.stdin is not None and drv.stdout is not None
        populated = drv.stdout.readline().split()
        if not populated or populated[0] != "populated":
            raise RuntimeError(f"churn driver failed: {populated}")
        # let kwok finish turning the new pods Running, so the Observer starts on a settled
        # population (else its watch first replays kwok's status updates, and that backlog,
        # not steady-state delivery, is what the lag would measure)
        settle_s = wait_until("every pod Running", lambda: not kube.core.list_namespaced_pod(
            args.namespace, label_selector=_selector(POD_LABEL),
            field_selector="status.phase!=Running", limit=1).items, 900, 2.0)
        rss0, _ = rss_mb()
        cpu0 = cpu_s()
        t0 = time.monotonic()
        observer = Observer(kube, args.namespace, Selector.of(POD_LABEL), None)
        observer.start(sync_timeout_s=600)
        sync_s = time.monotonic() - t0
        synced = len(observer.snapshot().pods)
        cpu1 = cpu_s()
        rss1, _ = rss_mb()
        drv.stdin.write("go\n")
        drv.stdin.flush()
        peak = [rss1]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.25):
                peak[0] = max(peak[0], rss_mb()[0])

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        line = drv.stdout.readline().strip()
        drv.wait(timeout=60)
        if line != "done":
            raise RuntimeError(f"churn driver ended with {line!r}")
        time.sleep(2.0)  # the last events in flight
        cpu2 = cpu_s()
        events = observer.events()
        observer.stop()
        stop.set()
        _, hwm = rss_mb()
        churn = json.loads(out.read_text())
    first: dict[tuple[str, str], float] = {}
    for e in events:
        first.setdefault((e.kind, e.name), e.t)
    lags: list[float] = []
    missed = 0
    call_s: list[float] = []
    for kind, ops in (("pod-added", churn["creates"]), ("pod-deleted", churn["deletes"])):
        for name, (sent, done) in ops.items():
            call_s.append(done - sent)
            got = first.get((kind, name))
            if got is None:
                missed += 1
            else:
                lags.append(got - done)
    result = {
        "pods": args.pods, "synced": synced, "sync_s": round(sync_s, 2),
        "settle_s": round(settle_s, 1),
        "populated": int(populated[1]), "populate_s": float(populated[2]),
        "cpu_sync_s": round(cpu1 - cpu0, 2), "cpu_churn_s": round(cpu2 - cpu1, 2),
        "churn_s": args.duration, "ops": len(call_s),
        "cpu_pct_churn": round(100 * (cpu2 - cpu1) / (args.duration + 2.0), 1),
        "rss_before_mb": round(rss0, 1), "rss_synced_mb": round(rss1, 1),
        "rss_peak_churn_mb": round(peak[0], 1), "rss_hwm_mb": round(hwm, 1),
        "events": len(events), "missed": missed,
        "lag_p50_ms": round(pct(lags, 50) * 1000, 1), "lag_p95_ms": round(pct(lags, 95) * 1000, 1),
        "lag_max_ms": round(max(lags) * 1000, 1) if lags else None,
        "call_p95_ms": round(pct(call_s, 95) * 1000, 1),
        "watch_errors": len(observer.errors),
    }
    print(json.dumps(result), flush=True)
    return 0


def bench_observer(kubeconfig: str, context: str, sizes: Sequence[int], rate: float,
                   duration: float, node_count: int = POD_NODES) -> list[dict[str, Any]]:
    results = []
    for pods in sizes:
        print(f"observer: {pods} pods, churn {rate:g} creates + {rate:g} deletes/s for "
              f"{duration:g}s ...", file=sys.stderr, flush=True)
        cmd = [sys.executable, __file__, "observe", "--kubeconfig", kubeconfig,
               "--context", context, "--namespace", POD_NS, "--pods", str(pods),
               "--node-count", str(node_count), "--rate", str(rate),
               "--duration", str(duration)]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        print(f"  {results[-1]}", file=sys.stderr, flush=True)
    return results


def observer_table(results: Sequence[dict[str, Any]]) -> str:
    return table(
        "Observer while pods churn (fresh process per size; CPU is this process's alone)",
        ["pods", "sync s", "CPU sync s", "CPU churn % of 1 core", "RSS synced MB",
         "RSS peak MB", "events", "missed", "lag p50 ms", "lag p95 ms", "lag max ms",
         "API call p95 ms"],
        [[r["pods"], r["sync_s"], r["cpu_sync_s"], r["cpu_pct_churn"], r["rss_synced_mb"],
          r["rss_hwm_mb"], r["events"], r["missed"], r["lag_p50_ms"], r["lag_p95_ms"],
          r["lag_max_ms"], r["call_p95_ms"]] for r in results])


# -- target selection and `kube-chaos plan` over N nodes -------------------------------------

PLAN_EXPERIMENT = """\
apiVersion: kube-chaos/v1
kind: Experiment
metadata: {{name: scale-plan}}
spec:
  workload:
    existing: {{namespace: {ns}}}
    selector: {{app: kc-scale}}
    service: kc-scale
    nodePort: 30080
    replicas: {pods}
  load: {{users: 1, spawnRate: 1, warmup: 1s, tail: 1s, maxDuration: 10s}}
  faults:
    - {{type: pod-kill, percent: 10}}
    - {{type: cordon, nodeSelector: {{type: kwok}}, count: 3}}
    - {{type: drain, nodeSelector: {{type: kwok}}, count: 1}}
  blastRadius: {{maxNodes: 5, maxPercent: 20}}
  slas: {{maxErrorRate: 0.5}}
  timeout: 60s
"""


def bench_selection(kube: Kube, kubeconfig: str, context: str, nodes: int, repeats: int,
                    workdir: Path, pods: int) -> dict[str, Any]:
    from chaos.faults.targets import Scope, candidate_nodes, node_targets, pod_targets
    from chaos.model.experiment import Selector
    from chaos.model.faults import Cordon, NodeSelection, PodKill

    scope = Scope(kube, POD_NS, seed=7, index=0, workload_selector=Selector.of(POD_LABEL))
    by_label = NodeSelection(node_selector=Selector.of(dict([KWOK_LABEL])))
    cordon = Cordon(nodes=by_label, count=3)
    kill = PodKill(selector=Selector.of(POD_LABEL), percent=10, count=None)

    def timed(fn: Callable[[], object]) -> tuple[float, object]:
        times, got = [], None
        for _ in range(repeats):
            t = time.perf_counter()
            got = fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times), got

    cand_s, cands = timed(lambda: candidate_nodes(scope, by_label))
    node_s, _ = timed(lambda: node_targets(scope, cordon))
    pods_of_s, _ = timed(lambda: candidate_nodes(scope, NodeSelection()))
    pod_s, picked = timed(lambda: pod_targets(scope, kill))
    exp = workdir / "scale-plan.yaml"
    exp.write_text(PLAN_EXPERIMENT.format(ns=POD_NS, pods=pods))
    plan_out = workdir / "plan.json"
    t = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).parent / "kube-chaos"), "plan", str(exp),
                           "--kubeconfig", kubeconfig, "--context", context, "--seed", "7",
                           "-o", str(plan_out)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    plan_s = time.perf_counter() - t
    doc = json.loads(plan_out.read_text()) if plan_out.exists() else {}
    return {"nodes": nodes, "candidates": len(cands),  # type: ignore[arg-type]
            "candidate_nodes_ms": round(cand_s * 1000, 1),
            "node_targets_ms": round(node_s * 1000, 1),
            "pods_of_nodes_ms": round(pods_of_s * 1000, 1),
            "pod_targets_ms": round(pod_s * 1000, 1), "pod_targets": len(picked),  # type: ignore[arg-type]
            "plan_cli_s": round(plan_s, 2), "plan_rc": proc.returncode,
            "plan_bytes": plan_out.stat().st_size if plan_out.exists() else 0,
            "plan_output": proc.stdout[-2000:], "plan_experiments": len(doc.get("experiments", []))}


def selection_table(results: Sequence[dict[str, Any]], pods: int) -> str:
    return table(
        f"Target selection and `kube-chaos plan` (median of repeats; {pods} pods in the "
        "workload namespace)",
        ["nodes", "candidate nodes (nodeSelector) ms", "node targets ms", "nodes hosting "
         "the workload ms", f"pod targets (10 % of {pods}) ms", "`kube-chaos plan` s (CLI, "
         "wall)", "plan.json bytes", "plan exit"],
        [[r["nodes"], r["candidate_nodes_ms"], r["node_targets_ms"], r["pods_of_nodes_ms"],
          r["pod_targets_ms"], r["plan_cli_s"], r["plan_bytes"], r["plan_rc"]]
         for r in results])


# -- a drain of a fake node holding D pods under a PDB --------------------------------------

def bench_drain(kube: Kube, kubeconfig: str, pods: int, workdir: Path, *, tag: str = "a",
                max_unavailable: int | str = "10%", timeout_s: float = 600) -> dict[str, Any]:
    """Drain fake node kwok-drain-<tag>-a, holding ``pods`` pods of one Deployment under a PDB
    (``max_unavailable``), while its spare kwok-drain-<tag>-b takes the replacements."""
    from chaos.clock import SystemClock
    from chaos.faults.base import FaultContext
    from chaos.faults.nodes import DrainFault
    from chaos.journal.store import Journal, pending_in
    from chaos.k8s.observe import Observer
    from chaos.model.experiment import Selector
    from chaos.model.faults import Drain, NodeSelection

    source, spare = f"kwok-drain-{tag}-a", f"kwok-drain-{tag}-b"
    ns = f"{DRAIN_NS}-{tag}"
    labels = {"app": "kc-drainee"}
    ensure_namespace(kube, ns)
    ensure_nodes(kube, [source, spare], labels={"pool": f"drain-{tag}"})
    kube.core.patch_node(spare, {"spec": {"unschedulable": True}})  # all pods land on source
    spec = fake_pod_spec()
    spec["nodeSelector"] = {"pool": f"drain-{tag}"}
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "drainee"},
              "spec": {"replicas": pods, "selector": {"matchLabels": labels},
                       "template": {"metadata": {"labels": labels}, "spec": spec}}}
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
           "metadata": {"name": "drainee"},
           "spec": {"maxUnavailable": max_unavailable, "selector": {"matchLabels": labels}}}
    kube.apps.create_namespaced_deployment(ns, deploy)
    client.PolicyV1Api(kube.api).create_namespaced_pod_disruption_budget(ns, pdb)

    def on(node: str) -> int:
        return sum(1 for p in kube.core.list_namespaced_pod(
            ns, label_selector=_selector(labels)).items
            if p.spec.node_name == node and p.metadata.deletion_timestamp is None
            and p.status.phase == "Running")

    setup_s = wait_until(f"{pods} pods Running on {source}", lambda: on(source) == pods, 600,
                         step_s=2.0)
    kube.core.patch_node(spare, {"spec": {"unschedulable": False}})
    clock = SystemClock()
    observer = Observer(kube, ns, Selector.of(labels), None)
    observer.start()
    journal = Journal(workdir / f"drain-journal-{tag}.jsonl")
    ctx = FaultContext(kube=kube, namespace=ns, journal=journal, seed=7, clock=clock,
                       workload_selector=Selector.of(labels), cluster_name=CLUSTER,
                       kubeconfig=kubeconfig, emit=observer.emit, observer=observer,
                       deadline=clock.monotonic() + 900)
    fault = DrainFault(Drain(nodes=NodeSelection(nodes=(source,)), timeout_s=timeout_s))
    t = time.perf_counter()
    outcome = fault.inject(ctx)
    wall = time.perf_counter() - t
    replaced_s = None
    if not outcome.details.get("blocked"):
        # the drain ends when the pods have left; their replacements may still be starting
        with contextlib.suppress(TimeoutError):
            replaced_s = round(wall + wait_until(f"{pods} pods Running on {spare}",
                                                 lambda: on(spare) == pods, 120, 0.5), 1)
    moved = on(spare)
    undo = fault.undo(ctx)
    observer.stop()
    d = outcome.details
    evicted = d.get("evicted") or []
    assert isinstance(evicted, list)
    return {"pods": pods, "max_unavailable": max_unavailable, "setup_s": round(setup_s, 1),
            "drain_wall_s": round(wall, 2),
            "drain_seconds": d.get("drain_seconds"), "rounds": d.get("eviction_rounds"),
            "evicted": len(evicted), "blocked": d.get("blocked"),
            "blocked_by": d.get("blocked_by"),
            "on_spare_after": moved, "all_replaced_s": replaced_s,
            "undone": all(o.settled for o in undo),
            "pending_undo": len(pending_in(journal.path))}


def drain_table(results: Sequence[dict[str, Any]]) -> str:
    return table(
        "Drain of a fake node (PDB maxUnavailable 10 %; replacements land on a spare fake node)",
        ["pods on node", "drain s (fault's figure)", "drain wall s", "eviction rounds",
         "evicted", "blocked", "all replaced on spare s", "running on spare"],
        [[r["pods"], r["drain_seconds"], r["drain_wall_s"], r["rounds"], r["evicted"],
          r["blocked"], r["all_replaced_s"], r["on_spare_after"]] for r in results])


# -- report.json size and write time --------------------------------------------------------

def bench_report(sizes: Sequence[tuple[int, int]], workdir: Path) -> list[dict[str, Any]]:
    from chaos.model.parse import load_experiment
    from chaos.model.timeline import ClusterEvent, RequestRecord
    from chaos.report.data import ReportData
    from chaos.report.writer import write_report

    exp = load_experiment(Path(__file__).parent.parent / "experiments" /
                          "pod-kill-replicated.yaml")
    results = []
    for n_events, n_records in sizes:
        t0 = 1_800_000_000.0
        rng = random.Random(n_events)
        kinds = ("pod-added", "pod-ready", "pod-deleted", "endpoint-added", "event")
        events = tuple(ClusterEvent(t0 + i * 0.01, kinds[i % len(kinds)], f"p-{i % 10000}",
                                    f"{NODE_PREFIX}{i % 1000}") for i in range(n_events))
        records = tuple(RequestRecord(t0 + i * 0.001, rng.uniform(0.001, 0.2), i % 97 != 0,
                                      200 if i % 97 else 503) for i in range(n_records))
        end = t0 + max(n_events * 0.01, n_records * 0.001) + 1
        data = ReportData(experiment=exp, seed=7, started_at=t0, ended_at=end, verdict="pass",
                          records=records, events=events, fault_window=(t0 + 1, end))
        out = workdir / f"report-{n_events}-{n_records}"
        t = time.perf_counter()
        path = write_report(out, data)
        results.append({"events": n_events, "records": n_records,
                        "write_s": round(time.perf_counter() - t, 3),
                        "bytes": path.stat().st_size})
    return results


def report_table(results: Sequence[dict[str, Any]]) -> str:
    return table("report.json (chaos.report.writer.write_report)",
                 ["events", "request records", "write s", "size MB"],
                 [[r["events"], r["records"], r["write_s"], round(r["bytes"] / 1e6, 2)]
                  for r in results])


# -- the whole run --------------------------------------------------------------------------

def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Everything, on the cluster named by --kubeconfig/--context (already up), with kwok
    started here. Returns the raw figures and prints the tables."""
    kube = connect(args.kubeconfig, args.context)
    workdir = Path(tempfile.mkdtemp(prefix="kc-scale-"))
    figures: dict[str, Any] = {}
    with running_kwok(Path(args.kubeconfig), workdir):
        keep_daemonsets_off_kwok(kube)
        ensure_namespace(kube, POD_NS)
        node_sizes = sorted(_ints(args.nodes))
        pod_sizes = sorted(_ints(args.pods))
        spread = min(POD_NODES, node_sizes[0])
        t = ensure_nodes(kube, [f"{NODE_PREFIX}{i}" for i in range(spread)])
        print(f"{spread} kwok nodes Ready in {t:.1f}s", file=sys.stderr, flush=True)
        parts = set(args.parts.split(","))
        if "observer" in parts:
            figures["observer"] = bench_observer(args.kubeconfig, args.context, pod_sizes,
                                                 args.rate, args.duration, spread)
            print(observer_table(figures["observer"]), flush=True)
        sel = []
        for n in node_sizes if "selection" in parts else []:
            t = ensure_nodes(kube, [f"{NODE_PREFIX}{i}" for i in range(n)])
            print(f"{n} kwok nodes Ready in {t:.1f}s", file=sys.stderr, flush=True)
            sel.append(bench_selection(kube, args.kubeconfig, args.context, n, args.repeats,
                                       workdir, pod_sizes[-1]))
            figures.setdefault("node_ready_s", {})[n] = round(t, 1)
        if sel:
            figures["selection"] = sel
            print(selection_table(sel, pod_sizes[-1]), flush=True)
        if "drain" in parts:
            figures["drain"] = [bench_drain(kube, args.kubeconfig, d, workdir, tag=f"n{d}")
                                for d in _ints(args.drain)]
            print(drain_table(figures["drain"]), flush=True)
    if "report" not in args.parts.split(","):
        return figures
    figures["report"] = bench_report([(e, r) for e, r in zip(_ints(args.report_events),
                                                             _ints(args.report_records),
                                                             strict=True)],
                                     workdir)
    print(report_table(figures["report"]), flush=True)
    return figures


def cluster_up(args: argparse.Namespace) -> None:
    cli = str(Path(sys.executable).parent / "kube-chaos")
    subprocess.run([cli, "cluster", "up", "--name", CLUSTER, "--workers", "0",
                    "--port-offset", str(PORT_OFFSET)], check=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd")
    for name in ("driver", "observe"):  # internal: one size, in a process of its own
        s = sub.add_parser(name)
        s.add_argument("--kubeconfig", required=True)
        s.add_argument("--context", required=True)
        s.add_argument("--namespace", required=True)
        s.add_argument("--pods", type=int, required=True)
        s.add_argument("--node-count", type=int, required=True)
        s.add_argument("--rate", type=float, required=True)
        s.add_argument("--duration", type=float, required=True)
        s.add_argument("--seed", type=int, default=7)
        s.add_argument("--out", default="")
    p.add_argument("--pods", default="1000,5000,10000", help="pod counts (comma-separated)")
    p.add_argument("--nodes", default="100,1000", help="fake node counts for selection/plan")
    p.add_argument("--drain", default="100", help="pods on the drained node")
    p.add_argument("--rate", type=float, default=20.0, help="churn: creates (and as many "
                   "deletes) per second")
    p.add_argument("--duration", type=float, default=30.0, help="churn seconds per size")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--report-events", default="1000,10000,100000")
    p.add_argument("--report-records", default="10000,100000,1000000")
    p.add_argument("--kubeconfig", default=None, help="default: the kc-scale cluster's, "
                   "brought up (workers 0, port offset 2000) when missing")
    p.add_argument("--context", default=f"kind-{CLUSTER}")
    p.add_argument("--keep-cluster", action="store_true",
                   help="leave kc-scale up afterwards (it is deleted when this run made it)")
    p.add_argument("--json", default=None, help="also write the raw figures here")
    p.add_argument("--parts", default="observer,selection,drain,report",
                   help="which benchmarks to run (comma-separated)")
    args = p.parse_args(argv)
    if args.cmd == "driver":
        return driver(args)
    if args.cmd == "observe":
        return observe(args)
    made = False
    if args.kubeconfig is None:
        from chaos.cluster.cache import cache_root

        args.kubeconfig = str(cache_root() / "clusters" / CLUSTER / "kubeconfig")
        if not Path(args.kubeconfig).exists():
            cluster_up(args)
            made = True
    t = time.monotonic()
    try:
        figures = run(args)
    finally:
        if made and not args.keep_cluster:
            subprocess.run([str(Path(sys.executable).parent / "kube-chaos"), "cluster", "down",
                            "--name", CLUSTER], check=False)
    print(f"\nbench_scale: {time.monotonic() - t:.0f}s in all", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
