"""control-plane-loss against a fake Docker and API: every undo journaled before the first node
is lost, the nodes lost and restored in address order, the restore's failures reported, and
the figures (quorum, addresses that changed) in the outcome."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from fake_node import FakeNode, ScriptedDocker
from fault_world import World, make_world

from chaos.errors import ClusterError, InjectionFailed
from chaos.faults import controlplane as fcp
from chaos.journal.store import UndoAction
from chaos.k8s import nodes as knodes
from chaos.k8s.nodes import NodeView
from chaos.model.faults import ControlPlaneLoss
from chaos.model.hold import Hold
from chaos.node.runtime import NodeMachineState as ContainerInfo

CP = {"node-role.kubernetes.io/control-plane": ""}
FMT = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"


class Docker:
    def __init__(self, w: World) -> None:
        self.w = w
        self.state = {"cp1": "running", "cp2": "running", "cp3": "running"}
        self.address = {"cp1": "172.18.0.3", "cp2": "172.18.0.4", "cp3": "172.18.0.2"}
        self.calls: list[tuple[Any, ...]] = []
        self.fail: dict[str, str] = {}  # verb -> stderr
        self.info_error: set[str] = set()
        self.after_stop: dict[str, str] = {}  # the address a stopped node comes back on
        self.step = 0.5  # how long each docker pause/stop/unpause/start takes

    def docker(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        verb, node = args[0], args[-1]
        self.calls.append((verb, node, timeout, self.w.pending_kinds()))
        if verb in self.fail:
            return subprocess.CompletedProcess(args, 1, "", f" {self.fail[verb]}\n")
        if verb == "inspect":
            assert args[1:3] == ("-f", FMT) and timeout == 30
            return subprocess.CompletedProcess(args, 0, f"{self.address.get(node, '')} \n", "")
        self.w.clock.advance(self.step)
        if verb == "stop":
            self.address[node] = self.after_stop.get(node, self.address[node])
        self.state[node] = {"pause": "paused", "stop": "exited"}.get(verb, "running")
        return subprocess.CompletedProcess(args, 0, "", "")

    def container_state(self, node: str) -> str | None:
        return self.state.get(node)

    def container_info(self, node: str) -> ContainerInfo | None:
        if node in self.info_error:
            raise ClusterError("docker inspect: daemon gone")
        st = self.state.get(node)
        return None if st is None else ContainerInfo(st, st in ("running", "paused"),
                                                     st == "paused")

    def verbs(self, *verbs: str) -> list[tuple[str, str]]:
        return [(c[0], c[1]) for c in self.calls if c[0] in verbs]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[World, Docker]:
    w = make_world(tmp_path, monkeypatch, handled=("unpause-node", "start-node"))
    d = Docker(w)
    # the node runtime: power actions and the address read as docker calls (d.docker looked
    # up at each call), the state as docker inspect would report it
    w.ctx.node = FakeNode(
        power=lambda node, verb, timeout: d.docker(verb, node, timeout=timeout),
        state=d.container_info,
        address=ScriptedDocker(lambda *args, timeout: d.docker(*args, timeout=timeout)).address)
    monkeypatch.setattr(knodes, "list_nodes", lambda kube, label_selector=None: [
        NodeView(n, True, False, "", CP) for n in ("cp1", "cp2", "cp3")]
        + [NodeView("w1", True, False, "")])

    def back(action: UndoAction) -> None:
        d.calls.append(("undo", action.params["node"], 0, []))
        assert d.state[action.params["node"]] == "running"  # all restored before the undos

    w.effects.update({"unpause-node": back, "start-node": back})
    return w, d


def test_all_undos_are_journaled_then_the_nodes_lost_and_restored_in_address_order(
        world: tuple[World, Docker]) -> None:
    w, d = world
    fault = fcp.ControlPlaneLossFault(ControlPlaneLoss(count=3, duration_s=20.0))
    outcome = fault.inject(w.ctx)
    assert outcome.type == "control-plane-loss"
    assert outcome.started_at == 1_700_000_000.0  # the run's clock, read at the start
    assert d.verbs("pause") == [("pause", "cp3"), ("pause", "cp1"), ("pause", "cp2")]
    assert all(c[3] == ["unpause-node"] * 3 for c in d.calls if c[0] == "pause")
    assert [c[2] for c in d.calls if c[0] == "pause"] == [600.0, 599.5, 599.0]
    assert d.verbs("unpause") == [("unpause", "cp3"), ("unpause", "cp1"), ("unpause", "cp2")]
    assert [c[1] for c in d.calls if c[0] == "undo"] == ["cp2", "cp1", "cp3"]  # newest first
    assert [(a.kind, dict(a.params)) for a in outcome.undo] == [
        ("unpause-node", {"node": n, "ready_timeout_s": "240"}) for n in ("cp3", "cp1", "cp2")]
    assert outcome.targets == ["cp1", "cp2", "cp3"]
    assert w.kinds("fault-start") == [(n, "control-plane-loss (pause)")
                                      for n in ("cp3", "cp1", "cp2")]
    assert w.kinds("fault-end") == [(n, "control-plane-loss undone (pause)")
                                    for n in ("cp2", "cp1", "cp3")]
    assert w.ctx.holds == [Hold(20.0, 20.0, 20.0, False)]
    assert outcome.details == {
        "mode": "pause", "duration_s": 20.0, "control_planes": 3, "lost": 3,
        "quorum_kept": False, "docker_command_s": {"cp3": 0.5, "cp1": 0.5, "cp2": 0.5},
        "held_s": 21.5, "back_ready_after_restore_s": 1.5,
        "addresses": {"cp1": "172.18.0.3", "cp2": "172.18.0.4", "cp3": "172.18.0.2"},
        "aborted": False}
    assert outcome.lifted_at is not None and outcome.ended_at is not None
    assert w.pending_kinds() == [] and fault.undo(w.ctx) == []


def test_one_of_three_keeps_quorum(world: tuple[World, Docker]) -> None:
    w, _d = world
    outcome = fcp.ControlPlaneLossFault(ControlPlaneLoss(count=1)).inject(w.ctx)
    assert outcome.details["quorum_kept"] is True and outcome.details["lost"] == 1
    assert outcome.details["control_planes"] == 3 and len(outcome.targets) == 1


def test_stopped_nodes_are_started_in_address_order_and_moved_addresses_named(
        world: tuple[World, Docker]) -> None:
    w, d = world
    d.after_stop = {"cp2": "172.18.0.9", "cp1": ""}  # cp1's new address cannot be read
    w.ctx.deadline = 100.0
    outcome = fcp.ControlPlaneLossFault(ControlPlaneLoss(count=3, duration_s=30.0,
                                                         mode="stop")).inject(w.ctx)
    assert d.verbs("start") == [("start", "cp3"), ("start", "cp1"), ("start", "cp2")]
    assert [(a.kind, a.params["ready_timeout_s"]) for a in outcome.undo] == \
        [("start-node", "70")] * 3
    assert outcome.details["addresses_changed"] == ["cp2"]
    assert w.kinds("fault-start")[0] == ("cp3", "control-plane-loss (stop)")
    assert w.kinds("fault-end")[0] == ("cp2", "control-plane-loss undone (stop)")


def test_a_pause_has_no_address_check_and_the_ready_wait_has_a_floor(
        world: tuple[World, Docker]) -> None:
    w, d = world
    w.ctx.deadline = 40.0
    outcome = fcp.ControlPlaneLossFault(ControlPlaneLoss(count=1, duration_s=30.0)
                                        ).inject(w.ctx)
    assert "addresses_changed" not in outcome.details
    assert outcome.undo[0].params["ready_timeout_s"] == "30"
    assert [c[2] for c in d.calls if c[0] == "pause"] == [40.0]
    w2_deadline_left = 20.0
    w.ctx.deadline = w.clock.monotonic() + w2_deadline_left
    fcp.ControlPlaneLossFault(ControlPlaneLoss(count=1, duration_s=5.0)).inject(w.ctx)
    assert [c[2] for c in d.calls if c[0] == "pause"][-1] == 30.0  # docker gets 30 s at least


def test_control_plane_loss_needs_a_kind_cluster(world: tuple[World, Docker]) -> None:
    w, d = world
    w.ctx.node = None  # no node access (not a kind cluster)
    with pytest.raises(InjectionFailed) as info:
        fcp.ControlPlaneLossFault(ControlPlaneLoss()).inject(w.ctx)
    assert str(info.value) == (
        "control-plane-loss needs the node containers of a kind cluster (docker pause/stop); "
        "the cluster name is not known, so this cluster is not supported")
    assert d.calls == [] and w.pending_kinds() == []


def test_a_node_runtime_that_cannot_lose_nodes_that_way_says_so_before_acting(
        world: tuple[World, Docker]) -> None:
    w, d = world
    w.ctx.node = FakeNode(supports=False, access="agent")  # any node action fails the test
    with pytest.raises(InjectionFailed) as info:
        fcp.ControlPlaneLossFault(ControlPlaneLoss(mode="stop")).inject(w.ctx)
    assert str(info.value) == ("control-plane-loss mode: stop needs docker access to kind node "
                               "containers; this run reaches its nodes through agent")
    assert d.calls == [] and w.pending_kinds() == []


def test_a_node_not_running_is_refused_before_anything_is_journaled(
        world: tuple[World, Docker]) -> None:
    w, d = world
    d.state["cp2"] = "paused"
    with pytest.raises(InjectionFailed, match=r"control-plane-loss: container cp2 is not running "
                                              r"\(is 'x' a kind cluster on this host\?\)"):
        fcp.ControlPlaneLossFault(ControlPlaneLoss(count=3)).inject(w.ctx)
    assert d.calls == [] and w.pending_kinds() == []


def test_a_failed_pause_restores_what_was_lost_and_runs_every_undo(
        world: tuple[World, Docker], monkeypatch: pytest.MonkeyPatch) -> None:
    w, d = world
    real = d.docker

    def second_pause_fails(*args: str, timeout: float = 60) -> Any:
        if args[0] == "pause" and args[-1] == "cp1":
            d.calls.append(("pause", "cp1", timeout, []))
            return subprocess.CompletedProcess(args, 1, "", " Error: frozen\n")
        return real(*args, timeout=timeout)

    monkeypatch.setattr(d, "docker", second_pause_fails)
    fault = fcp.ControlPlaneLossFault(ControlPlaneLoss(count=3))
    with pytest.raises(InjectionFailed, match=r"^docker pause cp1 failed: Error: frozen$"):
        fault.inject(w.ctx)
    assert d.verbs("pause") == [("pause", "cp3"), ("pause", "cp1")]
    assert d.verbs("unpause") == [("unpause", "cp3")]  # cp1's pause failed: not lost
    assert w.pending_kinds() == [] and len(w.undone) == 3
    assert w.ctx.holds == []  # the hold never began


def test_restore_failures_and_undo_failures_are_reported_together(
        world: tuple[World, Docker]) -> None:
    w, d = world
    d.fail["unpause"] = "Error: cannot unpause"
    w.failing["unpause-node"] = "still paused"
    outcome = fcp.ControlPlaneLossFault(ControlPlaneLoss(count=1)).inject(w.ctx)
    [node] = outcome.targets
    assert outcome.details["undo_errors"] == [
        f"docker unpause {node}: Error: cannot unpause",
        f"unpause-node(node={node}, ready_timeout_s=240): FAILED: still paused"]
    assert w.pending_kinds() == ["unpause-node"]


def test_an_abort_before_any_loss_loses_and_holds_nothing(world: tuple[World, Docker]) -> None:
    w, d = world
    w.ctx.abort.event.set()
    outcome = fcp.ControlPlaneLossFault(ControlPlaneLoss(count=2)).inject(w.ctx)
    assert d.verbs("pause", "unpause") == [] and w.ctx.holds == []
    assert outcome.details["lost"] == 0 and outcome.details["held_s"] == 0.0
    assert outcome.details["aborted"] is True and outcome.details["quorum_kept"] is True
    assert w.pending_kinds() == []  # the journaled undos still confirm


def test_restore_all_skips_running_and_gone_nodes_and_names_what_it_cannot_read(
        world: tuple[World, Docker]) -> None:
    w, d = world
    d.state = {"cp1": "paused", "cp2": "running", "cp3": "paused", "cp4": "exited"}
    d.info_error = {"cp3"}
    lost = {"cp1": 0.0, "cp2": 0.0, "cp3": 0.0, "cp4": 0.0, "cp9": 0.0}
    assert w.ctx.node is not None
    problems = fcp.ControlPlaneLossFault._restore_all(
        w.ctx.node, "pause", {"cp1": "172.18.0.5", "cp3": "172.18.0.2"}, lost)
    assert problems == ["cp3: docker inspect: daemon gone"]
    assert d.verbs("unpause", "start") == [("unpause", "cp1"), ("unpause", "cp4")]
    assert [c[2] for c in d.calls if c[0] == "unpause"] == [120, 120]
    d.calls.clear()
    d.state["cp1"] = "exited"
    assert fcp.ControlPlaneLossFault._restore_all(w.ctx.node, "stop", {}, {"cp1": 0.0}) == []
    assert d.verbs("start", "unpause") == [("start", "cp1")]


def test_address_reads_the_first_network_address(world: tuple[World, Docker]) -> None:
    w, d = world
    assert w.ctx.node is not None
    address = w.ctx.node.address  # DockerRuntime.address over the fake docker CLI
    d.address["cp1"] = "172.18.0.3 fc00::3"
    assert address("cp1") == "172.18.0.3"
    d.address["cp1"] = ""
    assert address("cp1") == ""
    assert address("nope") == ""
    d.fail["inspect"] = "Error: No such object"
    assert address("cp2") == ""


def test_restart_order_puts_nodes_without_an_address_last_by_name() -> None:
    assert fcp.restart_order({"b": "", "a": "junk", "c": "10.0.0.9", "d": "10.0.0.10"}) == \
        ["c", "d", "a", "b"]
    assert fcp.restart_order({"x": "10.0.0.2", "y": "9.0.0.200"}) == ["y", "x"]


def test_a_pending_restore_is_run_by_undo(world: tuple[World, Docker]) -> None:
    w, _ = world
    fault = fcp.ControlPlaneLossFault(ControlPlaneLoss())
    fault.pending.append(w.ctx.record_undo("start-node", node="cp1"))
    assert [o.status for o in fault.undo(w.ctx)] == ["undone"]
    assert w.pending_kinds() == [] and fault.pending == []


def test_timings_are_from_their_own_starts_to_the_millisecond(world: tuple[World, Docker]
                                                              ) -> None:
    w, d = world
    w.clock.advance(100.0)
    w.ctx.deadline = 700.0
    d.step = 0.12345
    outcome = fcp.ControlPlaneLossFault(ControlPlaneLoss(count=3, duration_s=10.0)
                                        ).inject(w.ctx)
    dd = outcome.details
    assert dd["docker_command_s"] == {"cp3": 0.123, "cp1": 0.123, "cp2": 0.123}
    assert dd["held_s"] == 10.37  # 3 pauses of 0.12345 s, then the 10 s hold
    assert dd["back_ready_after_restore_s"] == 0.37  # 3 unpauses
    d.step = 0.1234567
    outcome = fcp.ControlPlaneLossFault(ControlPlaneLoss(count=1, duration_s=1.0)).inject(w.ctx)
    assert list(outcome.details["docker_command_s"].values()) == [0.123]  # type: ignore[union-attr]
    assert outcome.details["back_ready_after_restore_s"] == 0.123
    assert outcome.details["held_s"] == 1.123


def test_a_restore_failure_alone_is_reported(world: tuple[World, Docker]) -> None:
    w, d = world
    d.fail["unpause"] = "Error: cannot unpause"
    w.effects["unpause-node"] = lambda action: None  # the undo's own retry then succeeds
    outcome = fcp.ControlPlaneLossFault(ControlPlaneLoss(count=1)).inject(w.ctx)
    [node] = outcome.targets
    assert outcome.details["undo_errors"] == [f"docker unpause {node}: Error: cannot unpause"]
