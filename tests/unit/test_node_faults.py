"""cordon, drain and node-loss against a fake API and a fake Docker: the undo journaled before
each node is touched, the evictions and their retries, the holds the budget or an abort cut,
a node that vanishes, a Docker call that fails, and the undo that puts the node back."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from fake_node import FakeNode, machine
from fault_world import World, make_world, snap

from chaos.errors import InjectionFailed
from chaos.faults import nodes as fnodes
from chaos.journal.store import UndoAction
from chaos.k8s import nodes as knodes
from chaos.k8s.nodes import EvictionResult, NodeView
from chaos.model.experiment import Cordon, Drain, NodeLoss, NodeSelection
from chaos.model.hold import Hold
from chaos.plan.drain import PodInfo


def sel(*names: str) -> NodeSelection:
    return NodeSelection(nodes=names)


class Cluster:
    """Nodes that can be cordoned, pods on them that evictions move away, node containers."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.unschedulable = {"a0": True, "w1": False, "w2": False, "w3": True}
        self.vanish: set[str] = set()  # nodes whose read finds nothing
        self.calls: list[tuple[Any, ...]] = []
        self.pods: dict[str, list[PodInfo]] = {}
        self.bound: dict[str, set[str]] = {}  # node -> pod names still bound to it
        self.gone_after = 2.0  # an evicted pod leaves its node this long after the eviction
        self.gone_for: dict[str, float] = {}  # ... or this long, for these pods
        self.leaving: dict[str, float] = {}  # pod name -> when it leaves
        self.evictions: dict[str, list[EvictionResult]] = {}  # scripted, the last one repeats
        self.containers = {"w1": "running", "w2": "running"}
        self.docker_rc = 0
        self.docker_s = 1.5
        self.wait_step = 1.0  # a pod watch wakes up at most this long after it began

    # API
    def list_nodes(self, kube: Any, label_selector: str | None = None) -> list[NodeView]:
        assert kube is self.w.ctx.kube
        return [NodeView(n, True, u, "") for n, u in self.unschedulable.items()]

    def get_node(self, kube: Any, name: str) -> NodeView | None:
        assert kube is self.w.ctx.kube
        if name in self.vanish:
            return None
        return NodeView(name, True, self.unschedulable[name], "")

    def cordon(self, kube: Any, name: str) -> None:
        assert kube is self.w.ctx.kube
        self.calls.append(("cordon", name, self.w.pending_kinds()))
        self.unschedulable[name] = True

    def pods_on_node(self, kube: Any, node: str) -> list[PodInfo]:
        assert kube is self.w.ctx.kube
        return self.pods.get(node, [])

    def evict(self, kube: Any, ns: str, name: str, grace: int | None) -> EvictionResult:
        assert kube is self.w.ctx.kube
        self.calls.append(("evict", ns, name, grace, self.w.clock.monotonic()))
        script = self.evictions[name]
        result = script.pop(0) if len(script) > 1 else script[0]
        if result.status in ("evicted", "namespace-terminating"):
            self.leaving[name] = self.w.clock.monotonic() + self.gone_for.get(name,
                                                                              self.gone_after)
        return result

    def pod_names_on_node(self, kube: Any, node: str, namespace: str | None = None) -> set[str]:
        assert kube is self.w.ctx.kube
        now = self.w.clock.monotonic()
        return {f"ns/{p}" for p in self.bound.get(node, set())
                if p not in self.leaving or self.leaving[p] > now}

    def wait_pod_change(self, kube: Any, nodes: tuple[str, ...], timeout_s: float) -> None:
        assert kube is self.w.ctx.kube
        self.calls.append(("wait_pod_change", nodes, timeout_s))
        self.w.clock.advance(min(timeout_s, self.wait_step))

    # Docker
    def container_state(self, name: str) -> str | None:
        return self.containers.get(name)

    def docker(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        self.calls.append(("docker", *args, timeout, self.w.pending_kinds()))
        self.w.clock.advance(self.docker_s)
        if self.docker_rc == 0:
            self.containers[args[-1]] = "paused" if args[0] == "pause" else "exited"
        return subprocess.CompletedProcess(["docker", *args], self.docker_rc, "",
                                           "  Error: cannot pause\n")

    def of(self, what: str) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] == what]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[World, Cluster]:
    w = make_world(tmp_path, monkeypatch,
                   handled=("uncordon", "unpause-node", "start-node"))
    c = Cluster(w)
    for name in ("list_nodes", "get_node", "cordon", "pods_on_node", "evict",
                 "pod_names_on_node", "wait_pod_change"):
        monkeypatch.setattr(knodes, name, getattr(c, name))
    # the node runtime: power actions as docker calls (c.docker is looked up at each call)
    w.ctx.node = FakeNode(power=lambda node, verb, timeout: c.docker(verb, node, timeout=timeout),
                          state=lambda node: machine(c.container_state(node)))
    monkeypatch.setattr(knodes, "eviction_tolerations",
                        lambda kube, ns, selector: {"not-ready": 30, "unreachable": None}
                        if (kube, ns, selector) == (w.ctx.kube, "ns", "app=web") else {})

    def uncordon(action: UndoAction) -> None:
        c.unschedulable[action.params["node"]] = False

    def restore(action: UndoAction) -> None:
        c.containers[action.params["node"]] = "running"

    w.effects.update({"uncordon": uncordon, "unpause-node": restore, "start-node": restore})
    return w, c


# --- cordon -----------------------------------------------------------------------------------


def test_cordon_journals_each_uncordon_before_cordoning_and_leaves_it_for_the_end(
        world: tuple[World, Cluster]) -> None:
    w, c = world
    fault = fnodes.CordonFault(Cordon(nodes=sel("w1", "w2"), count=2))
    outcome = fault.inject(w.ctx)
    assert c.of("cordon") == [("cordon", "w1", ["uncordon"]),
                              ("cordon", "w2", ["uncordon", "uncordon"])]
    assert outcome.type == "cordon" and outcome.targets == ["w1", "w2"]
    assert [dict(a.params) for a in outcome.undo] == [{"node": "w1"}, {"node": "w2"}]
    assert outcome.details == {"duration_s": None, "already_cordoned": []}
    assert outcome.ended_at is not None and w.ctx.holds == []
    assert w.kinds("fault-start") == [("w1", "cordon"), ("w2", "cordon")]
    assert c.unschedulable["w1"] and c.unschedulable["w2"]  # the runner uncordons at the end
    assert [(o.action.params["node"], o.status) for o in fault.undo(w.ctx)] == \
        [("w2", "undone"), ("w1", "undone")]
    assert not c.unschedulable["w1"] and not c.unschedulable["w2"]
    assert w.pending_kinds() == [] and fault.undo(w.ctx) == []  # idempotent
    assert w.kinds("fault-end") == [("w2", "uncordon"), ("w1", "uncordon")]


def test_a_node_already_cordoned_is_not_ours_to_uncordon(world: tuple[World, Cluster]) -> None:
    w, c = world
    fault = fnodes.CordonFault(Cordon(nodes=sel("w3", "w1", "a0"), count=3))
    outcome = fault.inject(w.ctx)
    assert outcome.details["already_cordoned"] == ["a0", "w3"]  # a0 first: w1 still cordoned
    assert [a.params["node"] for a in outcome.undo] == ["w1"]
    assert [call[1] for call in c.of("cordon")] == ["w1"]
    fault.undo(w.ctx)
    assert c.unschedulable["w3"] is True and c.unschedulable["w1"] is False


def test_a_node_that_vanishes_is_refused_and_what_was_cordoned_put_back(
        world: tuple[World, Cluster]) -> None:
    w, c = world
    c.vanish.add("w2")
    fault = fnodes.CordonFault(Cordon(nodes=sel("w1", "w2"), count=2))
    with pytest.raises(InjectionFailed, match=r"^node w2 disappeared$"):
        fault.inject(w.ctx)
    assert c.unschedulable["w1"] is False and w.pending_kinds() == []
    assert [a.params["node"] for a in w.undone] == ["w1"]


def test_a_cordon_with_a_duration_holds_then_uncordons(world: tuple[World, Cluster]) -> None:
    w, c = world
    outcome = fnodes.CordonFault(Cordon(nodes=sel("w1"), duration_s=45.0)).inject(w.ctx)
    assert w.clock.monotonic() == 45.0
    assert (outcome.started_at, outcome.ended_at) == (1_700_000_000.0, 1_700_000_045.0)
    assert outcome.details == {"duration_s": 45.0, "already_cordoned": [], "held_s": 45.0,
                               "aborted": False}
    assert w.ctx.holds == [Hold(45.0, 45.0, 45.0, False)]
    assert c.unschedulable["w1"] is False and w.pending_kinds() == []
    assert [o.status for o in w.ctx.undo_outcomes] == ["undone"]


def test_a_cordon_cut_by_the_budget_holds_what_is_left(world: tuple[World, Cluster]) -> None:
    w, _c = world
    w.ctx.deadline = 12.5
    outcome = fnodes.CordonFault(Cordon(nodes=sel("w1"), duration_s=45.0)).inject(w.ctx)
    assert outcome.details["held_s"] == 12.5
    assert w.ctx.holds == [Hold(45.0, 12.5, 12.5, False)] and w.ctx.holds[0].short


def test_an_uncordon_that_fails_is_in_the_outcome(world: tuple[World, Cluster]) -> None:
    w, c = world
    w.failing["uncordon"] = "api down"
    outcome = fnodes.CordonFault(Cordon(nodes=sel("w1"), duration_s=5.0)).inject(w.ctx)
    assert outcome.details["undo_errors"] == ["uncordon(node=w1): FAILED: api down"]
    assert w.pending_kinds() == ["uncordon"]  # left for the rollback
    assert c.unschedulable["w1"] is True


# --- drain ------------------------------------------------------------------------------------


def rs_pod(name: str, node: str = "w1", ns: str = "ns", owner: str | None = "ReplicaSet"
           ) -> PodInfo:
    return PodInfo(name=name, namespace=ns, node=node, owner_kind=owner)


def test_a_drain_cordons_evicts_and_waits_until_the_pods_have_left(
        world: tuple[World, Cluster]) -> None:
    w, c = world
    c.pods["w1"] = [rs_pod("web-1"), rs_pod("ds-1", owner="DaemonSet"),
                    rs_pod("bare", owner=None), rs_pod("elsewhere", node="w2")]
    c.bound["w1"] = {"web-1", "ds-1", "bare"}
    c.evictions["web-1"] = [EvictionResult("ns/web-1", "evicted")]
    fault = fnodes.DrainFault(Drain(nodes=sel("w1"), timeout_s=60.0, grace_period_s=3))
    outcome = fault.inject(w.ctx)
    assert c.of("cordon") == [("cordon", "w1", ["uncordon"])]
    assert c.of("evict") == [("evict", "ns", "web-1", 3, 0.0)]
    assert outcome.type == "drain" and outcome.targets == ["w1"]
    assert outcome.started_at == 1_700_000_000.0  # the run's clock, read at the start
    assert [a.kind for a in outcome.undo] == ["uncordon"]
    assert outcome.details == {
        "blocked": False, "blocked_by": [], "blocked_pods": [], "blocked_messages": [],
        "evicted": ["ns/web-1"],
        "skipped": [{"pod": "ns/ds-1", "node": "w1",
                     "reason": "managed by a DaemonSet: would be recreated on the node"}],
        "refused": [{"pod": "ns/bare", "node": "w1",
                     "reason": "not managed by a controller: would not come back"}],
        "eviction_rounds": 1, "drain_seconds": 2.0, "timeout_s": 60.0,
        "pods_left_on_node": False, "aborted": False}
    assert w.events == [("fault-start", "w1", "cordon"),
                        ("fault-start", "w1", "drain: evicting 1 pod(s)"),
                        ("event", "ns/web-1", "evicted"),
                        ("fault-end", "w1", "drained in 2.0s")]
    assert c.of("wait_pod_change") == [("wait_pod_change", ("w1",), 1.0)] * 2
    assert w.ctx.budget_cuts == [] and c.unschedulable["w1"] is True
    assert outcome.ended_at is not None
    assert [o.status for o in fault.undo(w.ctx)] == ["undone"]
    assert c.unschedulable["w1"] is False


def test_a_drain_blocked_by_a_pdb_retries_until_its_timeout(
        world: tuple[World, Cluster]) -> None:
    w, c = world
    c.pods["w1"] = [rs_pod("web-1"), rs_pod("web-2")]
    c.bound["w1"] = {"web-1", "web-2"}
    c.evictions["web-1"] = [EvictionResult("ns/web-1", "blocked", ("strict", "other"),
                                           "Cannot evict pod")]
    c.evictions["web-2"] = [EvictionResult("ns/web-2", "evicted")]
    outcome = fnodes.DrainFault(Drain(nodes=sel("w1"), timeout_s=5.0)).inject(w.ctx)
    web1 = [call[4] for call in c.of("evict") if call[2] == "web-1"]
    assert web1 == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]  # a poll that would pass the timeout is not
    assert [call[2] for call in c.of("evict")].count("web-2") == 1
    d = outcome.details
    assert (d["blocked"], d["blocked_by"], d["blocked_pods"], d["blocked_messages"]) == \
        (True, ["other", "strict"], ["ns/web-1"], ["Cannot evict pod"])
    assert d["evicted"] == ["ns/web-2"] and d["eviction_rounds"] == 6
    assert d["drain_seconds"] is None and d["pods_left_on_node"] is False
    assert ("event", "w1", "drain blocked by PDB other, strict") in w.events
    assert w.events[-1] == ("fault-end", "w1", "drain blocked")
    assert w.ctx.budget_cuts == []  # its own timeout, not the budget


def test_a_drain_the_budget_cuts_is_recorded_as_cut(world: tuple[World, Cluster]) -> None:
    w, c = world
    w.ctx.deadline = 3.0
    c.pods["w1"] = [rs_pod("web-1")]
    c.bound["w1"] = {"web-1"}
    c.evictions["web-1"] = [EvictionResult("ns/web-1", "blocked", (), "")]
    outcome = fnodes.DrainFault(Drain(nodes=sel("w1"), timeout_s=120.0)).inject(w.ctx)
    assert outcome.details["blocked_by"] == [] and outcome.details["blocked_messages"] == []
    assert ("event", "w1", "drain blocked by PDB ?") in w.events
    assert w.ctx.budget_cuts == ["drain waited 3.0s of 120s"]


def test_an_eviction_refused_once_then_accepted_is_not_blocked(
        world: tuple[World, Cluster]) -> None:
    w, c = world
    c.pods["w1"] = [rs_pod("web-1")]
    c.bound["w1"] = {"web-1"}
    c.evictions["web-1"] = [EvictionResult("ns/web-1", "blocked", ("strict",), "no"),
                            EvictionResult("ns/web-1", "evicted")]
    outcome = fnodes.DrainFault(Drain(nodes=sel("w1"), timeout_s=60.0)).inject(w.ctx)
    d = outcome.details
    assert (d["blocked"], d["blocked_by"], d["blocked_messages"], d["eviction_rounds"]) == \
        (False, [], [], 2)
    assert d["evicted"] == ["ns/web-1"] and d["drain_seconds"] == 3.0  # evicted at 1 s, gone at 3


def test_pods_of_a_terminating_namespace_are_waited_for_not_evicted(
        world: tuple[World, Cluster]) -> None:
    w, c = world
    c.pods["w1"] = [rs_pod("web-1"), rs_pod("gone")]
    c.bound["w1"] = {"web-1"}
    c.evictions["web-1"] = [EvictionResult("ns/web-1", "namespace-terminating")]
    c.evictions["gone"] = [EvictionResult("ns/gone", "not-found")]
    outcome = fnodes.DrainFault(Drain(nodes=sel("w1"), timeout_s=60.0)).inject(w.ctx)
    d = outcome.details
    assert d["evicted"] == [] and d["skipped"] == [
        {"pod": "ns/web-1", "node": "", "reason": "namespace terminating: deleted by the "
                                                   "namespace controller (waited for)"}]
    assert d["drain_seconds"] == 2.0 and d["blocked"] is False
    assert ("event", "ns/gone", "evicted") not in w.events


def test_pods_that_never_leave_the_node_end_the_drain_at_its_timeout(
        world: tuple[World, Cluster]) -> None:
    w, c = world
    c.pods["w1"] = [rs_pod("web-1")]
    c.bound["w1"] = {"web-1"}
    c.gone_after = 1e9
    c.evictions["web-1"] = [EvictionResult("ns/web-1", "evicted")]
    w.ctx.deadline = 2.5
    outcome = fnodes.DrainFault(Drain(nodes=sel("w1"), timeout_s=10.0)).inject(w.ctx)
    d = outcome.details
    assert d["pods_left_on_node"] is True and d["drain_seconds"] is None
    assert [call[2] for call in c.of("wait_pod_change")] == [1.0, 1.0, 0.5]
    assert w.clock.monotonic() == 2.5
    assert w.ctx.budget_cuts == ["drain waited 2.5s of 10s"]
    assert w.events[-1] == ("fault-end", "w1", "drained in 0.0s")


def test_a_drain_stops_waiting_for_pods_on_abort(world: tuple[World, Cluster]) -> None:
    w, c = world
    c.pods["w1"] = [rs_pod("web-1")]
    c.bound["w1"] = {"web-1"}
    c.gone_after = 1e9
    c.evictions["web-1"] = [EvictionResult("ns/web-1", "evicted")]
    w.clock.every(3.0, w.ctx.abort.event.set, "guard")
    outcome = fnodes.DrainFault(Drain(nodes=sel("w1"), timeout_s=60.0)).inject(w.ctx)
    assert w.clock.monotonic() == 3.0 and outcome.details["aborted"] is True
    assert outcome.details["pods_left_on_node"] is True and w.ctx.budget_cuts == []


def test_a_drain_whose_node_vanishes_puts_back_the_cordons_it_made(
        world: tuple[World, Cluster]) -> None:
    w, c = world
    c.vanish.add("w2")
    with pytest.raises(InjectionFailed, match="node w2 disappeared"):
        fnodes.DrainFault(Drain(nodes=sel("w1", "w2"), count=2)).inject(w.ctx)
    assert c.unschedulable["w1"] is False and w.pending_kinds() == []
    assert c.of("evict") == []


# --- node-loss --------------------------------------------------------------------------------


def lost_world(w: World, c: Cluster, notready_after: float = 3.0) -> None:
    """The node turns NotReady ``notready_after`` s after its container stopped; Ready again
    2 s after the undo restored it."""
    marks: dict[str, float] = {}
    orig_docker = c.docker

    def docker(*args: str, timeout: float = 60) -> Any:
        proc = orig_docker(*args, timeout=timeout)
        marks["lost"] = w.clock.monotonic()
        return proc

    def restore(action: UndoAction) -> None:
        c.containers[action.params["node"]] = "running"
        marks["back"] = w.clock.monotonic()

    def at(now: float) -> Any:
        ready = not ("lost" in marks and now >= marks["lost"] + notready_after
                     and ("back" not in marks or now < marks["back"] + 2.0))
        return snap(int(now * 10), nodes={"w1": ready, "w2": True})

    c.docker = docker  # type: ignore[method-assign]
    w.effects["unpause-node"] = w.effects["start-node"] = restore
    w.observer.at = at


@pytest.fixture
def lost(world: tuple[World, Cluster], monkeypatch: pytest.MonkeyPatch
         ) -> tuple[World, Cluster]:
    w, c = world
    lost_world(w, c)
    return w, c


def test_node_loss_journals_its_restore_pauses_holds_and_restores(
        lost: tuple[World, Cluster]) -> None:
    w, c = lost
    fault = fnodes.NodeLossFault(NodeLoss(nodes=sel("w1"), duration_s=30.0, mode="pause"))
    outcome = fault.inject(w.ctx)
    [docker] = c.of("docker")
    assert docker == ("docker", "pause", "w1", 600.0, ["unpause-node"])  # journaled first
    [action] = outcome.undo
    assert (action.kind, dict(action.params)) == \
        ("unpause-node", {"node": "w1", "ready_timeout_s": "180"})
    assert c.containers["w1"] == "running" and w.pending_kinds() == []
    d = outcome.details
    assert d["mode"] == "pause" and d["duration_s"] == 30.0
    assert d["docker_command_s"] == {"w1": 1.5}
    assert d["time_to_notready_s"] == {"w1": 4.5}  # from the start of `docker pause`
    assert d["time_to_ready_after_restore_s"] == {"w1": 2.0}
    assert d["tolerations"] == {"not-ready": 30, "unreachable": None}
    assert d["held_s"] == 31.5 and d["aborted"] is False and "undo_errors" not in d
    assert outcome.started_at == 1_700_000_000.0  # the run's clock, read at the start
    assert w.ctx.holds == [Hold(30.0, 30.0, 30.0, False)]
    assert w.kinds("fault-start") == [("w1", "node-loss (pause)")]
    assert w.kinds("fault-end") == [("w1", "unpause-node")]
    assert outcome.ended_at is not None and fault.undo(w.ctx) == []


def test_a_stopped_node_is_restored_by_start_node_and_its_ready_wait_fits_the_budget(
        lost: tuple[World, Cluster]) -> None:
    w, c = lost
    w.ctx.deadline = 100.0
    outcome = fnodes.NodeLossFault(NodeLoss(nodes=sel("w1"), duration_s=30.0,
                                            mode="stop")).inject(w.ctx)
    assert c.of("docker")[0][1:3] == ("stop", "w1")
    assert c.of("docker")[0][3] == 100.0
    [action] = outcome.undo
    assert (action.kind, action.params["ready_timeout_s"]) == ("start-node", "70")
    assert w.kinds("fault-start") == [("w1", "node-loss (stop)")]


@pytest.mark.parametrize(("deadline", "timeout", "docker_timeout"),
                         [(35.0, "10", 35.0), (20.0, "10", 30.0), (400.0, "180", 400.0)])
def test_the_ready_wait_and_docker_timeout_stay_within_bounds(
        lost: tuple[World, Cluster], deadline: float, timeout: str,
        docker_timeout: float) -> None:
    w, c = lost
    w.ctx.deadline = deadline
    outcome = fnodes.NodeLossFault(NodeLoss(nodes=sel("w1"), duration_s=30.0)).inject(w.ctx)
    assert outcome.undo[0].kind == "start-node"  # stop is the default mode
    assert outcome.undo[0].params["ready_timeout_s"] == timeout
    assert c.of("docker")[0][3] == docker_timeout


def test_node_loss_needs_a_kind_cluster(lost: tuple[World, Cluster]) -> None:
    w, c = lost
    w.ctx.node = None  # no node access (not a kind cluster)
    with pytest.raises(InjectionFailed) as info:
        fnodes.NodeLossFault(NodeLoss(nodes=sel("w1"))).inject(w.ctx)
    assert str(info.value) == ("node-loss needs the node containers of a kind cluster (docker "
                               "stop/pause); the cluster name is not known, so this cluster is "
                               "not supported")
    assert c.calls == [] and w.pending_kinds() == []


def test_a_node_runtime_that_cannot_lose_a_node_that_way_says_so_before_acting(
        lost: tuple[World, Cluster]) -> None:
    w, c = lost
    w.ctx.node = FakeNode(supports=False, access="agent")  # any node action fails the test
    with pytest.raises(InjectionFailed, match=r"^node-loss mode: pause needs docker access to "
                                              r"kind node containers; this run reaches its "
                                              r"nodes through agent$"):
        fnodes.NodeLossFault(NodeLoss(nodes=sel("w1"), mode="pause")).inject(w.ctx)
    assert c.calls == [] and w.pending_kinds() == []


def test_a_node_without_a_container_is_refused_before_anything_is_journaled(
        lost: tuple[World, Cluster]) -> None:
    w, c = lost
    del c.containers["w2"]
    with pytest.raises(InjectionFailed, match=r"node-loss: no docker container named w2 "
                                              r"\(is 'x' a kind cluster on this host\?\)"):
        fnodes.NodeLossFault(NodeLoss(nodes=sel("w1", "w2"), count=2)).inject(w.ctx)
    assert c.of("docker") == [] and w.pending_kinds() == []


def test_a_failed_docker_call_is_named_and_the_journaled_restore_still_runs(
        lost: tuple[World, Cluster]) -> None:
    w, c = lost
    c.docker_rc = 1
    fault = fnodes.NodeLossFault(NodeLoss(nodes=sel("w1"), mode="pause"))
    with pytest.raises(InjectionFailed, match=r"^docker pause w1 failed: Error: cannot pause$"):
        fault.inject(w.ctx)
    assert [a.kind for a in w.undone] == ["unpause-node"] and w.pending_kinds() == []
    assert fault.pending == []


def test_a_restore_that_fails_is_in_the_outcome(lost: tuple[World, Cluster]) -> None:
    w, _c = lost
    w.failing["unpause-node"] = "docker gone"
    outcome = fnodes.NodeLossFault(NodeLoss(nodes=sel("w1"), duration_s=5.0,
                                                     mode="pause")).inject(w.ctx)
    assert outcome.details["undo_errors"] == [
        "unpause-node(node=w1, ready_timeout_s=180): FAILED: docker gone"]
    assert w.pending_kinds() == ["unpause-node"]
    # the node never came back: its Ready is not timed (the wait ran out the budget)
    assert outcome.details["time_to_ready_after_restore_s"] == {"w1": None}


def test_an_abort_before_the_loss_loses_nothing(lost: tuple[World, Cluster]) -> None:
    w, c = lost
    w.ctx.abort.event.set()
    outcome = fnodes.NodeLossFault(NodeLoss(nodes=sel("w1"), duration_s=30.0)).inject(w.ctx)
    assert c.of("docker") == [] and outcome.undo == []
    assert outcome.details["held_s"] == 0.0 and outcome.details["aborted"] is True
    assert outcome.details["docker_command_s"] == {}
    assert outcome.details["time_to_ready_after_restore_s"] == {"w1": 0.0}  # never lost


def test_a_node_that_never_turns_notready_has_no_notready_time(
        world: tuple[World, Cluster], monkeypatch: pytest.MonkeyPatch) -> None:
    w, c = world
    lost_world(w, c, notready_after=1e9)
    outcome = fnodes.NodeLossFault(NodeLoss(nodes=sel("w1"), duration_s=10.0)).inject(w.ctx)
    assert outcome.details["time_to_notready_s"] == {}
    assert outcome.details["time_to_ready_after_restore_s"] == {"w1": 0.0}


def test_the_tolerations_are_read_for_the_workloads_pods(world: tuple[World, Cluster]) -> None:
    w, _ = world
    assert fnodes._workload_tolerations(w.ctx) == {"not-ready": 30, "unreachable": None}
    ready = fnodes._node_is_ready("w1")
    assert ready(snap(nodes={"w1": True})) is True
    assert ready(snap(nodes={"w1": False})) is False and ready(snap()) is False


def test_hold_without_a_duration_holds_nothing(world: tuple[World, Cluster]) -> None:
    w, _ = world
    assert fnodes._hold(w.ctx, None) == 0.0 and w.ctx.holds == []
    assert fnodes._hold(w.ctx, 2.0) == 2.0 and w.clock.monotonic() == 2.0


def test_a_drain_of_several_nodes_keeps_every_nodes_findings(
        world: tuple[World, Cluster]) -> None:
    w, c = world
    w.clock.advance(100.0)  # a drain measured from its own start, not the clock's zero
    w.ctx.deadline = 103.0
    c.wait_step = 1 / 3
    c.gone_after = 2.1
    c.pods["w1"] = [rs_pod("web-1"), rs_pod("ds-1", owner="DaemonSet"), rs_pod("bare", owner=None)]
    c.pods["w2"] = [rs_pod("web-2", node="w2"), rs_pod("ds-2", node="w2", owner="DaemonSet"),
                    rs_pod("bare-2", node="w2", owner=None)]
    c.bound = {"w1": {"web-1"}, "w2": {"web-2"}}
    c.evictions["web-1"] = [EvictionResult("ns/web-1", "evicted")]
    c.evictions["web-2"] = [EvictionResult("ns/web-2", "blocked", ("strict",), "no")]
    outcome = fnodes.DrainFault(Drain(nodes=sel("w1", "w2"), count=2, timeout_s=10.0)
                                ).inject(w.ctx)
    d = outcome.details
    assert [s["pod"] for s in d["skipped"]] == ["ns/ds-1", "ns/ds-2"]  # type: ignore[index]
    assert [r["node"] for r in d["refused"]] == ["w1", "w2"]  # type: ignore[index]
    assert w.kinds("fault-start")[-1] == ("w1,w2", "drain: evicting 2 pod(s)")
    assert ("event", "w1,w2", "drain blocked by PDB strict") in w.events
    assert w.events[-1] == ("fault-end", "w1,w2", "drain blocked")
    assert w.ctx.budget_cuts == ["drain waited 3.0s of 10s"]


def test_drain_seconds_are_measured_from_the_drains_start_and_rounded(
        world: tuple[World, Cluster]) -> None:
    w, c = world
    w.clock.advance(100.0)
    w.ctx.deadline = 700.0
    c.wait_step = 1 / 3
    c.gone_after = 2.1
    c.gone_for = {"web-2": 0.5}  # the last node's pod leaves first: both nodes are watched
    c.pods = {"w1": [rs_pod("web-1")], "w2": [rs_pod("web-2", node="w2")]}
    c.bound = {"w1": {"web-1"}, "w2": {"web-2"}}
    c.evictions["web-1"] = [EvictionResult("ns/web-1", "evicted")]
    c.evictions["web-2"] = [EvictionResult("ns/web-2", "evicted")]
    outcome = fnodes.DrainFault(Drain(nodes=sel("w1", "w2"), count=2, timeout_s=60.0)
                                ).inject(w.ctx)
    assert outcome.details["drain_seconds"] == 2.333
    assert outcome.details["evicted"] == ["ns/web-1", "ns/web-2"]
    assert w.events[-1] == ("fault-end", "w1,w2", "drained in 2.3s")
    assert {call[1] for call in c.of("wait_pod_change")} == {("w1", "w2")}


def test_a_pending_restore_is_run_by_undo(world: tuple[World, Cluster]) -> None:
    w, c = world
    fault = fnodes.NodeLossFault(NodeLoss(nodes=sel("w1")))
    fault.pending.append(w.ctx.record_undo("start-node", node="w1"))
    c.containers["w1"] = "exited"
    assert [o.status for o in fault.undo(w.ctx)] == ["undone"]
    assert c.containers["w1"] == "running" and w.pending_kinds() == []


def test_node_loss_figures_are_timed_from_their_own_starts_and_rounded(
        lost: tuple[World, Cluster]) -> None:
    w, c = lost
    w.clock.advance(100.0)
    w.ctx.deadline = 700.0
    c.docker_s = 1.23456
    w.observer.step = 0.6789
    outcome = fnodes.NodeLossFault(NodeLoss(nodes=sel("w1"), duration_s=10.0,
                                            mode="pause")).inject(w.ctx)
    assert outcome.type == "node-loss" and outcome.targets == ["w1"]
    d = outcome.details
    # NotReady 3 s after the pause returned, seen on the first change after that
    assert d["docker_command_s"] == {"w1": 1.235}
    assert d["time_to_notready_s"] == {"w1": 4.629}  # 1.23456 + 5 x 0.6789
    assert d["held_s"] == 11.235  # from the pause's start to the restore
    assert d["time_to_ready_after_restore_s"] == {"w1": 2.037}  # 3 x 0.6789
    # the hold's waits end with it (the Ready waits after the restore may use the budget)
    hold_waits = [t for _, t in w.observer.waits if t < 100.0]
    assert len(hold_waits) == 15 and max(hold_waits) <= 10.0


def test_a_cordon_hold_is_reported_to_the_millisecond(world: tuple[World, Cluster]) -> None:
    w, _ = world
    outcome = fnodes.CordonFault(Cordon(nodes=sel("w1"), duration_s=12.34567)).inject(w.ctx)
    assert outcome.details["held_s"] == 12.346
