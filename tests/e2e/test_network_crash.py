"""A run SIGKILLed while a network fault holds leaves its undo in the journal, and
`kube-chaos rollback` lifts it: each fault's table or qdisc is there after the kill and gone
after the rollback, and the tiers serve again.

Latency cannot hold here (this kernel has no netem, so it is refused before anything is
journaled); its case checks exactly that: a killed latency run has nothing to roll back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kind_nodes import DOCKER
from network_helpers import Pod, Tiers, get, tiers_namespace
from test_crash_rollback import rollback
from test_faults_helpers import Cluster, cluster_from_env, ensure_workload_image, wait_for

from chaos.engine.runner import RunEnv
from chaos.journal.store import pending_in, read_journal
from chaos.node import netns
from chaos.plan import netrules

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(400)]

# The victim: one network fault holding for 300 s, run as an experiment process would.
VICTIM = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[7])
    from test_faults_helpers import Cluster, make_ctx
    from chaos.faults import build
    from chaos.journal.store import Journal
    from chaos.k8s.client import connect
    from chaos.model.experiment import (Bandwidth, Dns, Latency, PacketLoss, Partition, Peer,
                                        Selector)

    kind, kubeconfig, context, name, ns, journal, _ = sys.argv[1:8]
    cluster = Cluster(kubeconfig, context, name, connect(kubeconfig, context))
    ctx = make_ctx(cluster, ns, Journal(Path(journal)), {"app": "tiers"}, budget_s=600)
    backends, frontends = Selector.of({"tier": "backend"}), Selector.of({"tier": "frontend"})
    spec = {
        "partition": Partition(selector=backends, count=None, percent=100, duration_s=300,
                               peer=Peer(selector=frontends)),
        "packet-loss": PacketLoss(selector=backends, count=None, percent=100, loss=50,
                                  duration_s=300),
        "dns-fail": Dns(selector=frontends, count=None, percent=100, mode="fail",
                        duration_s=300),
        "dns-block": Dns(selector=frontends, count=None, percent=100, mode="block",
                         duration_s=300),
        "bandwidth": Bandwidth(selector=backends, count=None, percent=100, rate_bps=64000,
                               duration_s=300),
        "latency": Latency(selector=backends, count=None, percent=100, latency_s=0.2,
                           duration_s=300),
    }[kind]
    print("injecting", flush=True)
    build(spec).inject(ctx)
    print("fault finished: the test should have killed us first", flush=True)
""")

# kind -> (tier it acts on, table kind or "qdisc", nft family)
CASES = {
    "partition": ("backend", "partition", "netdev"),
    "packet-loss": ("backend", "loss", "netdev"),
    "dns-fail": ("frontend", "dns", "inet"),
    "dns-block": ("frontend", "dns", "netdev"),
    "bandwidth": ("backend", "qdisc", ""),
}


@pytest.fixture(scope="module")
def cluster(chaos_env: RunEnv) -> Iterator[Cluster]:
    c = cluster_from_env(chaos_env)
    ensure_workload_image(c)
    yield c


@pytest.fixture(scope="module")
def tiers(cluster: Cluster) -> Iterator[Tiers]:
    with tiers_namespace(cluster) as t:
        yield t


def _our_qdisc(p: Pod) -> bool:
    pid = netns.sandbox_pid(DOCKER, p.node, p.uid)
    if pid is None:
        return False
    shown = netns.in_netns(DOCKER, p.node, pid, "tc", "qdisc", "show", "dev", "eth0").stdout
    return netrules.ours(netrules.root_qdisc(shown))


def _in_place(tiers: Tiers, kind: str) -> Callable[[], bool]:
    tier, what, family = CASES[kind]

    def check() -> bool:
        pods = tiers.pods(tier)
        if what == "qdisc":
            return all(_our_qdisc(p) for p in pods)
        return all(netns.table_present(DOCKER, p.node, p.uid,
                                       netrules.table_name(what, p.name), family)
                   for p in pods)

    return check


def _nothing_left(tiers: Tiers, kind: str) -> bool:
    tier, what, family = CASES[kind]
    pods = tiers.pods(tier)
    if what == "qdisc":
        return not any(_our_qdisc(p) for p in pods)
    return not any(netns.table_present(DOCKER, p.node, p.uid, netrules.table_name(what, p.name),
                                       family) for p in pods)


def _start(cluster: Cluster, tiers: Tiers, tmp_path: Path, kind: str
           ) -> tuple[subprocess.Popen[str], Path]:
    journal = tmp_path / f"{kind}.jsonl"
    script = tmp_path / "victim.py"
    script.write_text(VICTIM)
    victim = subprocess.Popen(
        [sys.executable, str(script), kind, cluster.kubeconfig, cluster.context, cluster.name,
         tiers.ns, str(journal), str(Path(__file__).parent)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return victim, journal


def _kill(victim: subprocess.Popen[str]) -> str:
    victim.send_signal(signal.SIGKILL)
    out, _ = victim.communicate(timeout=30)
    print(out)
    assert victim.returncode == -signal.SIGKILL
    return out


@pytest.mark.parametrize("kind", list(CASES))
def test_network_fault_killed_mid_fault_is_rolled_back(cluster: Cluster, tiers: Tiers,
                                                       tmp_path: Path, kind: str) -> None:
    tier = CASES[kind][0]
    expected = len(tiers.pods(tier))
    in_place = _in_place(tiers, kind)
    victim, journal = _start(cluster, tiers, tmp_path, kind)
    try:
        wait_for(f"{kind} journaled and in place",
                 lambda: victim.poll() is None and len(pending_in(journal)) == expected
                 and in_place(), 120, step_s=0.5)
        time.sleep(1)
    finally:
        _kill(victim)
    assert in_place(), "the fault must still be in place after the crash"
    pending = pending_in(journal)
    assert len(pending) == expected
    assert {a.kind for a in pending} == {"delete-qdisc" if kind == "bandwidth"
                                         else "delete-nft-table"}
    if kind == "partition":  # and it still bites: the frontends cannot reach a backend
        assert {get(fe).status for fe in tiers.pods("frontend")} == {504}

    proc = rollback(journal)
    assert proc.returncode == 0, proc.stderr
    assert "undone" in proc.stdout
    assert _nothing_left(tiers, kind)
    assert pending_in(journal) == []
    # serving again; after a loss on every backend's probes too, once they are Ready again
    wait_for("the tiers serve again",
             lambda: all(get(fe).status == 200 for fe in tiers.pods("frontend")), 60)
    again = rollback(journal)
    assert again.returncode == 0 and again.stdout.startswith("0 pending")


def test_latency_killed_here_has_nothing_to_roll_back(cluster: Cluster, tiers: Tiers,
                                                     tmp_path: Path) -> None:
    """No netem in this kernel: the victim is refused before journaling anything. Where a
    kernel has netem, the victim holds its qdisc like bandwidth does and the same
    kill-and-rollback applies (the undo is the same delete-qdisc)."""
    backends = tiers.pods("backend")
    if netns.netem_unavailable(DOCKER, backends[0].node) is None:
        pytest.skip("this kernel has netem: latency's crash case is bandwidth's (delete-qdisc)")
    victim, journal = _start(cluster, tiers, tmp_path, "latency")
    try:
        out, _ = victim.communicate(timeout=120)
    finally:
        if victim.poll() is None:
            _kill(victim)
    print(out)
    assert victim.returncode != 0 and "latency refused, nothing was injected" in out
    assert not journal.exists() or read_journal(journal).pending == ()
    assert not any(_our_qdisc(p) for p in backends)
