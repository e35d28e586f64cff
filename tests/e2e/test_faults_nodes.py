"""Cordon, drain and node loss on a real kind cluster."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kind_nodes import container_state
from test_faults_helpers import (
    Cluster,
    assert_nodes_healthy,
    cluster_from_env,
    ensure_workload_image,
    kubectl,
    make_ctx,
    namespace,
    pods,
    restore_nodes,
    wait_for,
    workers,
)

from chaos.engine.runner import RunEnv
from chaos.faults.nodes import CordonFault, DrainFault, NodeLossFault
from chaos.journal.store import Journal, pending_in
from chaos.k8s import nodes as knodes
from chaos.model.experiment import Cordon, Drain, NodeLoss, NodeSelection, Selector

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(420)]


@pytest.fixture(scope="module")
def cluster(chaos_env: RunEnv) -> Iterator[Cluster]:
    c = cluster_from_env(chaos_env)
    ensure_workload_image(c)
    yield c


@pytest.fixture(autouse=True)
def _nodes_restored(cluster: Cluster) -> Iterator[None]:
    yield
    restore_nodes(cluster)


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.jsonl")


def _nodes_of(cluster: Cluster, ns: str, selector: str) -> dict[str, str]:
    return {p.metadata.name: p.spec.node_name for p in pods(cluster, ns, selector)
            if p.metadata.deletion_timestamp is None}


def test_cordon_keeps_new_pods_off_the_node(cluster: Cluster, journal: Journal) -> None:
    with namespace(cluster, "kc-cordon", "httpd-replicated.yaml") as ns:
        ctx = make_ctx(cluster, ns, journal, {"app": "httpd"})
        fault = CordonFault(Cordon(nodes=NodeSelection(), count=1, duration_s=None))
        outcome = fault.inject(ctx)
        (node,) = outcome.targets
        assert node in workers(cluster), "pods_of must never pick the control plane"
        assert knodes.get_node(cluster.kube, node).unschedulable  # type: ignore[union-attr]
        assert [a.kind for a in pending_in(journal.path)] == ["uncordon"]
        before = set(_nodes_of(cluster, ns, "app=httpd"))

        kubectl(cluster, "-n", ns, "scale", "deployment/httpd", "--replicas=6")
        kubectl(cluster, "-n", ns, "rollout", "status", "deployment/httpd", "--timeout=120s",
                timeout=150)
        new = {p: n for p, n in _nodes_of(cluster, ns, "app=httpd").items() if p not in before}
        assert len(new) == 3
        assert node not in new.values(), f"pods scheduled on cordoned {node}: {new}"

        outcomes = fault.undo(ctx)
        assert outcomes and all(o.settled for o in outcomes), [o.describe() for o in outcomes]
        assert not knodes.get_node(cluster.kube, node).unschedulable  # type: ignore[union-attr]
        assert pending_in(journal.path) == []


def test_cordon_with_duration_uncordons_itself(cluster: Cluster, journal: Journal) -> None:
    with namespace(cluster, "kc-cordon-d", "httpd-single.yaml") as ns:
        ctx = make_ctx(cluster, ns, journal, {"app": "httpd-single"})
        outcome = CordonFault(Cordon(nodes=NodeSelection(), duration_s=2)).inject(ctx)
        assert outcome.details["held_s"] == pytest.approx(2, abs=0.5)
        assert not knodes.get_node(cluster.kube,  # type: ignore[union-attr]
                                   outcome.targets[0]).unschedulable
        assert pending_in(journal.path) == []


def test_drain_moves_pods_off_and_uncordon_restores(cluster: Cluster, journal: Journal) -> None:
    with namespace(cluster, "kc-drain", "httpd-replicated.yaml") as ns:
        ctx = make_ctx(cluster, ns, journal, {"app": "httpd"})
        fault = DrainFault(Drain(nodes=NodeSelection(), count=1, timeout_s=120))
        outcome = fault.inject(ctx)
        (node,) = outcome.targets
        d = outcome.details
        print(f"\ndrain of {node}: {d['drain_seconds']}s, evicted {d['evicted']}, "
              f"rounds {d['eviction_rounds']}")
        assert d["blocked"] is False and d["blocked_pods"] == []
        assert any(p.startswith(f"{ns}/httpd-") for p in d["evicted"])  # type: ignore[union-attr]
        assert isinstance(d["drain_seconds"], float) and d["drain_seconds"] < 120
        skipped = {s["reason"] for s in d["skipped"]}  # type: ignore[attr-defined]
        assert any("DaemonSet" in r for r in skipped), "kindnet/kube-proxy must be skipped"
        assert node not in _nodes_of(cluster, ns, "app=httpd").values()
        kubectl(cluster, "-n", ns, "rollout", "status", "deployment/httpd", "--timeout=120s",
                timeout=150)
        assert knodes.get_node(cluster.kube, node).unschedulable  # type: ignore[union-attr]

        outcomes = fault.undo(ctx)
        assert outcomes and all(o.settled for o in outcomes), [o.describe() for o in outcomes]
        assert not knodes.get_node(cluster.kube, node).unschedulable  # type: ignore[union-attr]
        assert pending_in(journal.path) == []


def test_drain_blocked_by_strict_pdb_is_reported_not_raised(cluster: Cluster,
                                                            journal: Journal) -> None:
    """Negative control: a PDB allowing no disruption must stop the drain, and say so."""
    with namespace(cluster, "kc-drain-pdb", "httpd-pdb-strict.yaml") as ns:
        ctx = make_ctx(cluster, ns, journal, {"app": "httpd-strict"})
        fault = DrainFault(Drain(nodes=NodeSelection(), timeout_s=8))
        start = time.monotonic()
        outcome = fault.inject(ctx)
        took = time.monotonic() - start
        d = outcome.details
        assert d["blocked"] is True
        assert d["blocked_by"] == ["httpd-strict"]
        blocked = d["blocked_pods"]
        assert blocked and all(p.startswith(f"{ns}/httpd-strict-")  # type: ignore[attr-defined]
                               for p in blocked)  # type: ignore[attr-defined]
        assert d["drain_seconds"] is None
        assert took < 8 + 15, f"blocked drain took {took:.1f}s, timeout was 8s"
        node = outcome.targets[0]
        still = _nodes_of(cluster, ns, "app=httpd-strict")
        assert node in still.values(), "PDB-protected pods must still be on the node"
        outcomes = fault.undo(ctx)
        assert outcomes and all(o.settled for o in outcomes), [o.describe() for o in outcomes]
        assert not knodes.get_node(cluster.kube, node).unschedulable  # type: ignore[union-attr]


def test_node_loss_evicts_pods_and_node_comes_back(cluster: Cluster, journal: Journal) -> None:
    """mode: stop, at the fault's own level. mode: pause, through the whole harness, is
    tests/e2e/test_node_probe_experiments.py's node-loss-replicated (each run costs ~85 s of
    CI, so each mode runs once)."""
    mode = "stop"
    with namespace(cluster, f"kc-loss-{mode}", "httpd-replicated.yaml") as ns:
        ctx = make_ctx(cluster, ns, journal, {"app": "httpd"}, budget_s=300)
        fault_start = time.time()
        # node-monitor-grace-period (~40 s here) + tolerationSeconds 10 + rescheduling
        fault = NodeLossFault(NodeLoss(nodes=NodeSelection(), duration_s=70, mode=mode))
        outcome = fault.inject(ctx)
        (node,) = outcome.targets
        d = outcome.details
        print(f"\nnode-loss {mode} {node}: {d}")
        assert d["tolerations"] == {"node.kubernetes.io/not-ready": 10,
                                    "node.kubernetes.io/unreachable": 10}
        notready = d["time_to_notready_s"]
        assert isinstance(notready, dict) and node in notready
        ready = d["time_to_ready_after_restore_s"]
        assert isinstance(ready, dict) and ready[node] is not None
        kinds = [e.kind for e in ctx.observer.events()  # type: ignore[attr-defined]
                 if e.name == node]
        assert "node-notready" in kinds and "node-ready" in kinds
        assert pending_in(journal.path) == []
        assert container_state(node) == "running"

        # replacements were created on the surviving worker while the node was gone
        other = [w for w in workers(cluster) if w != node]
        replacements = [p for p in pods(cluster, ns, "app=httpd")
                        if p.metadata.creation_timestamp.timestamp() > fault_start]
        assert replacements, "no pod was recreated after the node was lost"
        assert {p.spec.node_name for p in replacements} <= set(other)
        kubectl(cluster, "-n", ns, "rollout", "status", "deployment/httpd", "--timeout=120s",
                timeout=150)
        wait_for("3 ready httpd pods", lambda: sum(
            1 for p in pods(cluster, ns, "app=httpd") if p.metadata.deletion_timestamp is None
            and any(c.type == "Ready" and c.status == "True"
                    for c in p.status.conditions or [])) >= 3, 120)
    assert_nodes_healthy(cluster)


def test_explicit_selector_never_offers_control_plane(cluster: Cluster,
                                                      journal: Journal) -> None:
    with namespace(cluster, "kc-sel") as ns:
        ctx = make_ctx(cluster, ns, journal, {"app": "none"})
        from chaos.faults.targets import candidate_nodes

        everyone = candidate_nodes(ctx.scope(), NodeSelection(
            node_selector=Selector.of({"kubernetes.io/os": "linux"})))
        assert sorted(everyone) == workers(cluster)
