"""A run SIGKILLed mid-fault leaves its undo in the journal; `kube-chaos rollback` reverts it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kind_nodes import DOCKER, container_state
from test_faults_helpers import (
    Cluster,
    assert_nodes_healthy,
    cluster_from_env,
    ensure_workload_image,
    namespace,
    pods,
    restore_nodes,
    wait_for,
)

from chaos.engine.runner import RunEnv
from chaos.journal.store import pending_in
from chaos.k8s import nodes as knodes
from chaos.k8s import probes as kprobes
from chaos.node import netns

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(300)]

# The victim: one fault, run as a real experiment process would, with its own journal.
VICTIM = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[7])
    from test_faults_helpers import Cluster, make_ctx
    from chaos.faults.nodes import CordonFault, DrainFault, NodeLossFault
    from chaos.faults.probes import ProbeBreakFault
    from chaos.journal.store import Journal
    from chaos.k8s.client import connect
    from chaos.model.experiment import (Cordon, Drain, NodeLoss, NodeSelection, ProbeBreak,
                                        Selector)

    kind, kubeconfig, context, name, ns, journal, _ = sys.argv[1:8]
    app = sys.argv[8]
    cluster = Cluster(kubeconfig, context, name, connect(kubeconfig, context))
    ctx = make_ctx(cluster, ns, Journal(Path(journal)), {"app": app}, budget_s=600)
    if kind == "drain":
        fault = DrainFault(Drain(nodes=NodeSelection(), timeout_s=300))
    elif kind == "cordon":
        fault = CordonFault(Cordon(nodes=NodeSelection(), duration_s=300))
    elif kind in ("node-pause", "node-stop"):
        mode = kind.split("-")[1]
        fault = NodeLossFault(NodeLoss(nodes=NodeSelection(), duration_s=300, mode=mode))
    else:
        method = kind.split("-")[1]
        fault = ProbeBreakFault(ProbeBreak(selector=Selector.of({"app": app}),
                                           probe="readiness", duration_s=300, method=method))
    print("injecting", flush=True)
    fault.inject(ctx)
    print("fault finished: the test should have killed us first", flush=True)
""")


@pytest.fixture(scope="module")
def cluster(chaos_env: RunEnv) -> Iterator[Cluster]:
    c = cluster_from_env(chaos_env)
    ensure_workload_image(c)
    yield c


@pytest.fixture(autouse=True)
def _nodes_restored(cluster: Cluster) -> Iterator[None]:
    yield
    restore_nodes(cluster)


def rollback_cmd() -> list[str]:
    """`kube-chaos rollback` once chaos.cli wires it, else the same code stand-alone."""
    exe = shutil.which("kube-chaos")
    if exe and subprocess.run([exe, "rollback", "--help"], capture_output=True,
                              check=False).returncode == 0:
        return [exe, "rollback"]
    return [sys.executable, "-m", "chaos.cli.rollback"]


def rollback(journal: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*rollback_cmd(), "--journal", str(journal)], capture_output=True,
                          text=True, timeout=240, check=False)
    print(proc.stdout, proc.stderr)
    return proc


def run_and_kill(cluster: Cluster, tmp_path: Path, kind: str, ns: str, app: str,
                 in_place: Callable[[], bool]) -> Path:
    """Start the victim, wait until its fault is in place, SIGKILL it; returns the journal."""
    journal = tmp_path / f"{kind}.jsonl"
    script = tmp_path / "victim.py"
    script.write_text(VICTIM)
    victim = subprocess.Popen(
        [sys.executable, str(script), kind, cluster.kubeconfig, cluster.context, cluster.name,
         ns, str(journal), str(Path(__file__).parent), app],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_for(f"{kind} journaled and in place",
                 lambda: victim.poll() is None and bool(pending_in(journal)) and in_place(), 120,
                 step_s=0.5)
        time.sleep(1)
    finally:
        victim.send_signal(signal.SIGKILL)
        out, _ = victim.communicate(timeout=30)
        print(out)
    assert victim.returncode == -signal.SIGKILL
    assert pending_in(journal), "the killed run must leave its undo behind"
    return journal


def _any_cordoned(cluster: Cluster) -> bool:
    return any(n.unschedulable for n in knodes.list_nodes(cluster.kube))


def _second_rollback_is_harmless(journal: Path) -> None:
    again = rollback(journal)
    assert again.returncode == 0
    assert again.stdout.startswith("0 pending")


def test_drain_killed_mid_fault_is_rolled_back(cluster: Cluster, tmp_path: Path) -> None:
    # the strict PDB keeps the drain retrying, so the kill lands while the node is cordoned
    with namespace(cluster, "kc-crash-drain", "httpd-pdb-strict.yaml") as ns:
        journal = run_and_kill(cluster, tmp_path, "drain", ns, "httpd-strict",
                               lambda: _any_cordoned(cluster))
        assert _any_cordoned(cluster), "the node must still be cordoned after the crash"
        [action] = pending_in(journal)
        assert action.kind == "uncordon"

        proc = rollback(journal)
        assert proc.returncode == 0, proc.stderr
        assert "uncordon(node=" in proc.stdout and "undone" in proc.stdout
        assert not _any_cordoned(cluster)
        assert pending_in(journal) == []
        _second_rollback_is_harmless(journal)
    assert_nodes_healthy(cluster)


def test_cordon_killed_mid_fault_is_rolled_back(cluster: Cluster, tmp_path: Path) -> None:
    with namespace(cluster, "kc-crash-cordon", "httpd-single.yaml") as ns:
        journal = run_and_kill(cluster, tmp_path, "cordon", ns, "httpd-single",
                               lambda: _any_cordoned(cluster))
        [action] = pending_in(journal)
        assert action.kind == "uncordon"
        proc = rollback(journal)
        assert proc.returncode == 0, proc.stderr
        assert not _any_cordoned(cluster)
        _second_rollback_is_harmless(journal)
    assert_nodes_healthy(cluster)


@pytest.mark.parametrize(("mode", "state"), [("pause", "paused"), ("stop", "exited")])
def test_node_loss_killed_mid_fault_is_rolled_back(cluster: Cluster, tmp_path: Path,
                                                   mode: str, state: str) -> None:
    with namespace(cluster, f"kc-crash-{mode}", "httpd-single.yaml") as ns:
        node = pods(cluster, ns, "app=httpd-single")[0].spec.node_name
        journal = run_and_kill(cluster, tmp_path, f"node-{mode}", ns, "httpd-single",
                               lambda: container_state(node) == state)
        assert container_state(node) == state
        proc = rollback(journal)
        assert proc.returncode == 0, proc.stderr
        assert container_state(node) == "running"
        assert knodes.wait_node_ready(cluster.kube, node, 60)
        _second_rollback_is_harmless(journal)
    assert_nodes_healthy(cluster)


@pytest.mark.parametrize("method", ["admin", "network"])
def test_probe_break_killed_mid_fault_is_rolled_back(cluster: Cluster, tmp_path: Path,
                                                     method: str) -> None:
    with namespace(cluster, f"kc-crash-{method}", "httpd-single.yaml") as ns:
        pod = pods(cluster, ns, "app=httpd-single")[0]
        name, node, uid = pod.metadata.name, pod.spec.node_name, pod.metadata.uid
        table = kprobes.table_name(name)

        def broken() -> bool:
            if method == "network":
                return netns.table_present(DOCKER, node, uid, table)
            state = kprobes.admin_state(cluster.kube, ns, name, 8080)
            return bool(state["probes"]["readiness"]["failing"])

        journal = run_and_kill(cluster, tmp_path, f"probe-{method}", ns, "httpd-single", broken)
        assert broken(), "the probe must still be broken after the crash"
        wait_for("pod unready", lambda: name not in kprobes.ready_endpoint_pods(cluster.kube, ns),
                 20, step_s=0.5)

        proc = rollback(journal)
        assert proc.returncode == 0, proc.stderr
        assert not broken()
        if method == "admin":
            state = kprobes.admin_state(cluster.kube, ns, name, 8080)
            assert not any(p["failing"] for p in state["probes"].values()), json.dumps(state)
        wait_for("pod back in endpoints",
                 lambda: name in kprobes.ready_endpoint_pods(cluster.kube, ns), 30, step_s=0.5)
        _second_rollback_is_harmless(journal)
