"""Which experiments may overlap (chaos.plan.claims), read from the fault declarations."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from chaos.model.experiment import ObjectRef
from chaos.model.faults import FAULT_TYPES
from chaos.model.parse import load_experiment
from chaos.plan.claims import Claims, claims_of, conflict

EXPERIMENTS = Path(__file__).parents[2] / "experiments"


def _load(name: str):  # type: ignore[no-untyped-def]
    return load_experiment(EXPERIMENTS / f"{name}.yaml")


def test_namespace_faults_share_the_cluster_and_node_faults_take_it_alone() -> None:
    kill = claims_of(_load("pod-kill-replicated"))
    assert kill.shares_cluster and kill.exclusive == ()
    drain = claims_of(_load("drain-replicated"))
    assert not drain.shares_cluster
    assert drain.exclusive == (f"drain: {FAULT_TYPES['drain'].exclusive_why}",)
    assert "the cluster alone" in drain.describe() and "drain:" in drain.describe()
    assert claims_of(_load("hpa-scale-out")).exclusive[0].startswith("load-spike: ")


def test_the_rule_is_each_fault_types_declaration_not_a_list_of_names(
        monkeypatch: pytest.MonkeyPatch) -> None:
    kill = _load("pod-kill-replicated")
    pod_kill = FAULT_TYPES["pod-kill"]
    monkeypatch.setattr(pod_kill, "exclusive", True)
    monkeypatch.setattr(pod_kill, "exclusive_why", "declared so in this test")
    assert claims_of(kill).exclusive == ("pod-kill: declared so in this test",)
    monkeypatch.undo()
    assert claims_of(kill).shares_cluster
    node_loss = _load("node-loss-replicated")
    both = replace(kill, faults=(*kill.faults, *node_loss.faults))
    claims = claims_of(both)
    assert len(claims.exclusive) == 1 and claims.exclusive[0].startswith("node-loss: ")
    twice = replace(node_loss, faults=node_loss.faults * 2)
    assert len(claims_of(twice).exclusive) == 1, "one line per fault type"


def test_a_fixed_node_port_is_a_key_and_a_load_url_needs_none() -> None:
    auto = _load("pod-kill-replicated")
    assert auto.workload.node_port == "auto"
    assert claims_of(auto).keys == frozenset(), "an auto port is picked free, not waited for"
    kill = replace(auto, workload=replace(auto.workload, node_port=30080))
    assert claims_of(kill).keys == {"nodePort-30080"}
    other = replace(kill, workload=replace(kill.workload, node_port=30081))
    assert claims_of(other).keys == {"nodePort-30081"}
    elsewhere = replace(kill, load=replace(kill.load, url="http://shop.staging:8080"))
    assert claims_of(elsewhere).keys == frozenset()


def test_cluster_objects_and_an_existing_workload_are_keys(tmp_path: Path) -> None:
    kill = _load("pod-kill-replicated")
    objs = replace(kill, workload=replace(kill.workload, cluster_objects=(
        ObjectRef("rbac.authorization.k8s.io/v1", "ClusterRole", "reader"),)))
    assert "ClusterRole/reader" in claims_of(objs).keys


@pytest.mark.parametrize(("a", "b", "why"), [
    (Claims((), frozenset({"nodePort-30080"})), Claims((), frozenset({"nodePort-30081"})), None),
    (Claims((), frozenset({"nodePort-30080"})), Claims((), frozenset({"nodePort-30080"})),
     "both hold nodePort-30080"),
    (Claims(("drain: nodes",), frozenset()), Claims((), frozenset()), "drain: nodes"),
    (Claims((), frozenset()), Claims(("node-loss: x",), frozenset()), "node-loss: x"),
])
def test_conflict_names_why_two_runs_may_not_overlap(a: Claims, b: Claims,
                                                     why: str | None) -> None:
    assert conflict(a, b) == why
    assert conflict(b, a) == why or (why is not None and conflict(b, a) is not None)


def test_every_bundled_experiment_has_claims() -> None:
    for path in sorted(EXPERIMENTS.glob("*.yaml")):
        exp = load_experiment(path)
        claims = claims_of(exp)
        exclusive = any(f.exclusive for f in exp.faults)
        assert claims.shares_cluster is not exclusive, path.name


def test_describe_in_full() -> None:
    assert Claims((), frozenset()).describe() == "the cluster shared"
    assert Claims((), frozenset({"nodePort-30080", "ClusterRole/r"})).describe() == \
        "the cluster shared, ClusterRole/r, nodePort-30080"
    assert Claims(("drain: evicts pods", "cordon: marks nodes"), frozenset({"k"})).describe() \
        == "the cluster alone, k (drain: evicts pods; cordon: marks nodes)"


def test_conflicts_name_every_reason_in_full() -> None:
    alone = Claims(exclusive=("node-loss: stops a node",), keys=frozenset())
    other = Claims(exclusive=("drain: evicts every pod of a node",), keys=frozenset())
    assert conflict(alone, other) == "node-loss: stops a node; drain: evicts every pod of a node"
    a = Claims(exclusive=(), keys=frozenset({"nodePort-30080", "ClusterRole/reader", "x"}))
    b = Claims(exclusive=(), keys=frozenset({"nodePort-30080", "ClusterRole/reader"}))
    assert conflict(a, b) == "both hold ClusterRole/reader, nodePort-30080"
