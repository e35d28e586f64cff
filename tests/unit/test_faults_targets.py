"""Which pods and nodes a fault hits: the seeded choice over what a fake API lists, the
control plane kept out unless named, and the same answer for the fault and the plan."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from chaos.errors import NotEnoughTargets
from chaos.faults import targets as t
from chaos.k8s import nodes as knodes
from chaos.k8s import pods as kpods
from chaos.k8s.nodes import NodeView
from chaos.k8s.pods import PodView
from chaos.model.faults import (
    ControlPlaneLoss,
    Cordon,
    LoadSpike,
    NodeSelection,
    PodKill,
)
from chaos.model.selector import Selector
from chaos.plan.select import choose

CP = {"node-role.kubernetes.io/control-plane": ""}
WEB = Selector.of({"app": "web"})
API = Selector.of({"app": "api"})
KUBE: Any = SimpleNamespace(context="kind-x")


def node(name: str, control: bool = False, **labels: str) -> NodeView:
    return NodeView(name, True, False, "", {**(CP if control else {}), **labels})


def podv(name: str, node: str = "w1", deleting: bool = False) -> PodView:
    return PodView(name, f"uid-{name}", node, "Running", True, "10.0.0.1", ("c",),
                   deleting=deleting)


class Api:
    def __init__(self) -> None:
        self.nodes = [node("cp1", True, zone="a"), node("cp2", True), node("w1", zone="a"),
                      node("w2", zone="b"), node("w3", zone="a")]
        self.pods = {WEB: [podv("web-1", "w1"), podv("web-2", "w2"), podv("web-3", "cp1"),
                           podv("web-4", "w3", deleting=True), podv("web-5", "")],
                     API: [podv("api-1", "w3")]}
        self.calls: list[tuple[Any, ...]] = []

    def list_nodes(self, kube: Any, label_selector: str | None = None) -> list[NodeView]:
        assert kube is KUBE
        self.calls.append(("list_nodes", label_selector))
        if label_selector is None:
            return list(self.nodes)
        key, _, value = label_selector.partition("=")
        return [n for n in self.nodes if n.labels.get(key) == value]

    def list_pods(self, kube: Any, ns: str, selector: Selector) -> list[PodView]:
        assert kube is KUBE
        self.calls.append(("list_pods", ns, selector))
        return self.pods.get(selector, [])

    def running_pods(self, kube: Any, ns: str, selector: Selector) -> list[PodView]:
        assert kube is KUBE
        self.calls.append(("running_pods", ns, selector))
        return [p for p in self.pods.get(selector, []) if not p.deleting]


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Api:
    fake = Api()
    monkeypatch.setattr(knodes, "list_nodes", fake.list_nodes)
    monkeypatch.setattr(kpods, "list_pods", fake.list_pods)
    monkeypatch.setattr(kpods, "running_pods", fake.running_pods)
    return fake


def scope(index: int = 0, seed: int = 5, ns: str = "ns") -> t.Scope:
    return t.Scope(KUBE, ns, seed, index, WEB)


def test_pod_targets_choose_among_running_pods_with_the_faults_salt(api: Api) -> None:
    spec = PodKill(selector=WEB, count=2)
    got = t.pod_targets(scope(index=2, ns="shop"), spec)
    assert api.calls == [("running_pods", "shop", WEB)]
    pool = ["web-1", "web-2", "web-3", "web-5"]
    assert got == choose(pool, seed=5, salt="fault-2:pod-kill:0", count=2)
    assert spec.salt(2, 0) == "fault-2:pod-kill:0"
    later = t.pod_targets(scope(index=2), spec, round_no=3)
    assert later == choose(pool, seed=5, salt=spec.salt(2, 3), count=2)


def test_pod_targets_by_percent(api: Api) -> None:
    spec = PodKill(selector=WEB, count=None, percent=50.0)
    assert len(t.pod_targets(scope(), spec)) == 2
    assert t.pod_targets(scope(), spec) == choose(["web-1", "web-2", "web-3", "web-5"], seed=5,
                                                  salt=spec.salt(0, 0), percent=50.0)


def test_no_running_pod_is_not_enough_targets(api: Api) -> None:
    with pytest.raises(NotEnoughTargets, match="no candidate targets"):
        t.pod_targets(scope(), PodKill(selector=Selector.of({"app": "none"})))


def test_named_nodes_are_taken_as_given_the_control_plane_too(api: Api) -> None:
    got = t.candidate_nodes(scope(), NodeSelection(nodes=("w2", "cp1")))
    assert got == ["w2", "cp1"]
    assert api.calls == [("list_nodes", None)]


def test_named_nodes_that_do_not_exist_are_named(api: Api) -> None:
    with pytest.raises(NotEnoughTargets, match=r"^no such node\(s\): gone, w9$"):
        t.candidate_nodes(scope(), NodeSelection(nodes=("w1", "gone", "w9")))


def test_a_node_selector_offers_only_workers(api: Api) -> None:
    got = t.candidate_nodes(scope(), NodeSelection(node_selector=Selector.of({"zone": "a"})))
    assert got == ["w1", "w3"]  # cp1 is in zone a too, but never offered
    assert api.calls == [("list_nodes", "zone=a")]


def test_by_default_the_workers_hosting_the_workloads_live_pods(api: Api) -> None:
    # web-3 is on the control plane, web-4 is being deleted, web-5 is not scheduled yet
    assert t.candidate_nodes(scope(), NodeSelection()) == ["w1", "w2"]
    assert ("list_pods", "ns", WEB) in api.calls


def test_pods_of_names_another_workload(api: Api) -> None:
    assert t.candidate_nodes(scope(), NodeSelection(pods_of=API)) == ["w3"]
    assert ("list_pods", "ns", API) in api.calls


def test_node_targets_choose_with_the_node_faults_salt(api: Api) -> None:
    spec = Cordon(nodes=NodeSelection(nodes=("w1", "w2", "w3")), count=2)
    got = t.node_targets(scope(index=4), spec)
    assert got == choose(["w1", "w2", "w3"], seed=5, salt="fault-4:cordon", count=2)
    with pytest.raises(NotEnoughTargets, match="asked for 4 targets but only 3 exist"):
        t.node_targets(scope(), Cordon(nodes=NodeSelection(nodes=("w1", "w2", "w3")), count=4))


def test_control_plane_targets_are_chosen_among_all_members(api: Api) -> None:
    spec = ControlPlaneLoss(count=1)
    chosen, members = t.control_plane_targets(scope(index=1), spec)
    assert members == ("cp1", "cp2")
    assert chosen == choose(["cp1", "cp2"], seed=5, salt="fault-1:control-plane-loss", count=1)
    both, _ = t.control_plane_targets(scope(), ControlPlaneLoss(count=2))
    assert both == ("cp1", "cp2")


def test_resolve_gives_the_plan_what_the_fault_will_hit(api: Api) -> None:
    pods = t.resolve(scope(), PodKill(selector=WEB, count=1))
    assert pods == t.Targets("Pod", t.pod_targets(scope(), PodKill(selector=WEB, count=1)))
    nodes = t.resolve(scope(), Cordon(nodes=NodeSelection(nodes=("cp1", "w1")), count=2))
    assert nodes == t.Targets("Node", ("cp1", "w1"), ("cp1",))
    workers = t.resolve(scope(), Cordon(nodes=NodeSelection(nodes=("w1",))))
    assert workers == t.Targets("Node", ("w1",), ())
    cps = t.resolve(scope(), ControlPlaneLoss(count=2))
    assert cps == t.Targets("Node", ("cp1", "cp2"), ("cp1", "cp2"))
    assert t.resolve(scope(), LoadSpike(rate=5.0, duration_s=10.0)) is None
    assert t.Targets("Pod", ("a",)).control_plane == ()


def test_control_plane_targets_use_the_faults_own_salt(api: Api) -> None:
    api.nodes = [node(f"cp{i}", True) for i in range(1, 8)]
    members = [f"cp{i}" for i in range(1, 8)]
    spec = ControlPlaneLoss(count=2)
    expected = choose(members, seed=5, salt="fault-3:control-plane-loss", count=2)
    for other in ("None", "fault-None:control-plane-loss"):
        assert choose(members, seed=5, salt=other, count=2) != expected  # a telling seed
    assert t.control_plane_targets(scope(index=3), spec) == (expected, tuple(members))


def test_node_targets_use_the_faults_own_salt(api: Api) -> None:
    names = tuple(f"n{i}" for i in range(1, 8))
    api.nodes = [node(n) for n in names]
    spec = Cordon(nodes=NodeSelection(nodes=names), count=2)
    expected = choose(names, seed=5, salt="fault-3:cordon", count=2)
    for other in ("None", "fault-None:cordon"):
        assert choose(names, seed=5, salt=other, count=2) != expected  # a telling seed
    assert t.node_targets(scope(index=3), spec) == expected


def test_a_control_plane_fault_naming_no_count_hits_one_node(api: Api) -> None:
    """count 0 (the parser refuses it; a spec built in code may carry it) still hits one."""
    chosen, members = t.control_plane_targets(scope(), ControlPlaneLoss(count=0))
    assert members == ("cp1", "cp2")
    assert chosen == choose(["cp1", "cp2"], seed=5, salt="fault-0:control-plane-loss", count=1)
