"""The real undo handlers against a fake Docker and a fake API server that fail on cue.

An undo counts as done only when its effect is confirmed; Docker or the API server going away
(before or in the middle of an undo) leaves the entry pending with its reason, and a later
rollback, with the service back, finishes it. One failure never stops the others.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fake_node import ScriptedDocker
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import ProtocolError

from chaos.cli import rollback as cli_rollback
from chaos.clock import FakeClock
from chaos.errors import ClusterError, JournalWriteFailed, RollbackFailed
from chaos.faults import nodes as fnodes
from chaos.faults import undo
from chaos.faults.base import FaultContext
from chaos.journal.store import Journal, UndoAction, UndoOutcome, read_journal
from chaos.k8s import health
from chaos.k8s import nodes as knodes
from chaos.k8s import probes as kprobes
from chaos.model.experiment import Selector
from chaos.node.runtime import NodeMachineState

DAEMON_DOWN = ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
               "Is the docker daemon running?")
REAL_WRITE = os.write


class FakeDocker:
    """Node containers and the nft tables in their pods' netns, reachable until told not."""

    def __init__(self, containers: dict[str, str]) -> None:
        self.containers = containers
        self.tables: set[str] = set()
        self.sandboxes = {"uid-1": 4242}
        self.up = True
        self.fail_after: int | None = None  # Docker goes away after this many calls
        self.ignore_delete = False
        self.calls: list[str] = []
        # the node runtime over this fake docker CLI (swap runtime.fake_docker to script it)
        self.runtime = ScriptedDocker(self.docker, self.node_exec)

    def _down(self) -> bool:
        return not self.up or (self.fail_after is not None and len(self.calls) > self.fail_after)

    def _proc(self, args: tuple[str, ...], rc: int = 0, out: str = "",
              err: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(["docker", *args], rc, out, err)

    def docker(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        self.calls.append(" ".join(a for a in args if not a.startswith(("{", "-"))))
        if self._down():
            return self._proc(args, 1, err=DAEMON_DOWN)
        verb, name = args[0], args[-1]
        state = self.containers.get(name)
        if state is None:
            return self._proc(args, 1, err=f"Error: No such object: {name}")
        if verb == "inspect":
            return self._proc(args, out=json.dumps(
                {"Status": state, "Running": state in ("running", "paused"),
                 "Paused": state == "paused"}) + "\n")
        if verb in ("start", "unpause"):
            self.containers[name] = "running"
            return self._proc(args)
        raise AssertionError(f"unexpected docker {args}")

    def node_exec(self, node: str, *args: str, stdin: str | None = None,
                  timeout: float = 30) -> subprocess.CompletedProcess[str]:
        self.calls.append(f"exec {' '.join(args[:5])}")
        if self._down():
            return self._proc(args, 1, err=DAEMON_DOWN)
        if args[:3] == ("ctr", "-n", "k8s.io") and args[3] == "containers":
            uid = args[-1].split('"==')[1].split(",")[0]
            return self._proc(args, out="sbx-1\n" if uid in self.sandboxes else "")
        if args[:4] == ("ctr", "-n", "k8s.io", "tasks"):
            return self._proc(args, out="TASK PID STATUS\nsbx-1 4242 RUNNING\n")
        if args[0] == "nsenter":
            verb, table = args[5], args[-1]
            missing = "Error: Could not process rule: No such file or directory"
            if table not in self.tables:
                return self._proc(args, 1, err=missing)
            if verb == "delete" and not self.ignore_delete:
                self.tables.discard(table)
            return self._proc(args)
        raise AssertionError(f"unexpected exec {args}")


class FakeCore:
    """The few CoreV1 calls the node undos make; ``down`` makes the API server unreachable."""

    def __init__(self, nodes: dict[str, dict[str, bool]]) -> None:
        self.nodes = nodes
        self.down = False
        self.down_after_patch = False
        self.recordon = False  # something cordons the node again right after our uncordon

    def _check(self) -> None:
        if self.down:
            raise ProtocolError("Connection aborted.", ConnectionRefusedError(111, "refused"))

    def patch_node(self, name: str, body: dict[str, Any]) -> None:
        self._check()
        if name not in self.nodes:
            raise ApiException(status=404, reason="Not Found")
        self.nodes[name]["unschedulable"] = self.recordon or bool(body["spec"]["unschedulable"])
        if self.down_after_patch:
            self.down = True

    def read_node(self, name: str) -> Any:
        self._check()
        if name not in self.nodes:
            raise ApiException(status=404, reason="Not Found")
        n = self.nodes[name]
        return SimpleNamespace(
            metadata=SimpleNamespace(name=name, labels={}),
            spec=SimpleNamespace(unschedulable=n["unschedulable"], taints=None),
            status=SimpleNamespace(addresses=[], conditions=[
                SimpleNamespace(type="Ready", status="True" if n["ready"] else "False")]))


@pytest.fixture
def docker(monkeypatch: pytest.MonkeyPatch) -> FakeDocker:
    fake = FakeDocker({"w1": "paused", "w2": "exited"})
    monkeypatch.setattr(undo, "node_for", lambda action: fake.runtime)
    return fake


@pytest.fixture
def core(monkeypatch: pytest.MonkeyPatch) -> FakeCore:
    fake = FakeCore({"w1": {"unschedulable": True, "ready": True},
                     "w2": {"unschedulable": True, "ready": True}})
    kube = SimpleNamespace(core=fake, context="kind-x")

    def kube_for(action: UndoAction) -> Any:
        assert isinstance(action, UndoAction), action  # the cluster the action names
        return kube

    monkeypatch.setattr(undo, "kube_for", kube_for)
    # a replay passes the safety gate first (issue 18): this fake is a cluster kube-chaos made
    monkeypatch.setattr(health, "provisioned_problem", lambda kube: None)
    return fake


def act(kind: str, created: float, **params: str) -> UndoAction:
    return UndoAction(kind=kind, params={"ready_timeout_s": "0", **params},
                      target={"context": "kind-x", "namespace": "ns"}, created=created)


def statuses(outcomes: list[UndoOutcome]) -> list[tuple[str, str]]:
    return [(o.action.kind, o.status) for o in outcomes]


def pending_ids(j: Journal) -> list[str]:
    return [a.id for a in read_journal(j.path).pending]


# --- Docker ------------------------------------------------------------------------------------


def test_docker_unreachable_leaves_a_paused_node_pending_and_a_later_rollback_finishes(
        tmp_path: Path, docker: FakeDocker, core: FakeCore) -> None:
    j = Journal(tmp_path / "run.jsonl")
    a = j.record(act("unpause-node", 1.0, node="w1"))
    docker.up = False

    [outcome] = undo.rollback_all([j])

    assert outcome.status == "failed"
    assert "Cannot connect to the Docker daemon" in outcome.reason
    assert docker.containers["w1"] == "paused"
    assert pending_ids(j) == [a.id]
    assert read_journal(j.path).last_error[a.id] == outcome.reason

    docker.up = True
    [again] = undo.rollback_all([j])
    assert (again.status, again.reason, again.settled) == ("undone", "", True)
    assert docker.containers["w1"] == "running"
    assert pending_ids(j) == []
    assert undo.rollback_all([j]) == []


@pytest.mark.parametrize(("dies_after", "left"), [
    (1, "paused"),   # inspect answered, then `docker unpause` could not reach the engine
    (2, "running"),  # unpause went through, but the confirming inspect could not
])
def test_docker_gone_in_the_middle_of_an_undo(tmp_path: Path, docker: FakeDocker,
                                              core: FakeCore, dies_after: int,
                                              left: str) -> None:
    j = Journal(tmp_path / "run.jsonl")
    a = j.record(act("unpause-node", 1.0, node="w1"))
    docker.fail_after = dies_after

    [outcome] = undo.rollback_all([j])

    assert outcome.status == "failed"
    assert "Docker daemon" in outcome.reason
    assert docker.containers["w1"] == left
    assert pending_ids(j) == [a.id]

    docker.fail_after = None
    docker.calls.clear()
    [again] = undo.rollback_all([j])
    assert again.status == "undone" and again.settled
    assert ("unpause w1" in docker.calls) is (left == "paused")
    assert pending_ids(j) == []


def test_a_deleted_cluster_is_nothing_to_restore(tmp_path: Path, docker: FakeDocker,
                                                 core: FakeCore) -> None:
    j = Journal(tmp_path / "run.jsonl")
    j.record(act("start-node", 1.0, node="gone"))
    [outcome] = undo.rollback_all([j])
    assert outcome.status == "undone"
    assert "no longer exists (cluster deleted)" in outcome.reason
    assert pending_ids(j) == []


def test_a_container_that_will_not_stay_up_is_not_undone(tmp_path: Path, docker: FakeDocker,
                                                         core: FakeCore,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    real = docker.docker

    def start_does_nothing(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        if args[0] == "start":
            return subprocess.CompletedProcess(["docker", *args], 0, "", "")
        return real(*args, timeout=timeout)

    monkeypatch.setattr(docker.runtime, "fake_docker", start_does_nothing)
    j = Journal(tmp_path / "run.jsonl")
    j.record(act("start-node", 1.0, node="w2"))
    [outcome] = undo.rollback_all([j])
    assert (outcome.status, outcome.reason) == ("failed",
                                                "node container w2 is exited after docker start")


def test_container_state_tells_absent_from_unreachable(docker: FakeDocker) -> None:
    assert docker.runtime.state("w1") == NodeMachineState("paused", running=True, paused=True)
    assert docker.runtime.state("nope") is None
    docker.up = False
    with pytest.raises(ClusterError, match="Cannot connect to the Docker daemon"):
        docker.runtime.state("w1")


# --- API server --------------------------------------------------------------------------------


def test_api_server_gone_after_docker_start_keeps_the_node_pending(
        tmp_path: Path, docker: FakeDocker, core: FakeCore) -> None:
    j = Journal(tmp_path / "run.jsonl")
    a = j.record(act("start-node", 1.0, node="w2"))
    core.down = True

    [outcome] = undo.rollback_all([j])

    assert outcome.status == "failed"
    assert outcome.reason.startswith("node container w2 runs again, but the node is not Ready "
                                     "after 0s (API server: cannot read node w2")
    assert docker.containers["w2"] == "running"
    assert pending_ids(j) == [a.id]

    core.down = False
    [again] = undo.rollback_all([j])
    assert again.status == "undone"
    assert pending_ids(j) == []


def test_api_server_gone_leaves_the_cordon_pending(tmp_path: Path, docker: FakeDocker,
                                                  core: FakeCore) -> None:
    j = Journal(tmp_path / "run.jsonl")
    a = j.record(act("uncordon", 1.0, node="w1"))
    core.down = True
    [outcome] = undo.rollback_all([j])
    assert outcome.status == "failed" and "cannot uncordon node w1" in outcome.reason
    assert core.nodes["w1"]["unschedulable"] is True
    assert pending_ids(j) == [a.id]
    core.down = False
    assert statuses(undo.rollback_all([j])) == [("uncordon", "undone")]
    assert core.nodes["w1"]["unschedulable"] is False


def test_api_server_gone_between_uncordon_and_its_confirmation(
        tmp_path: Path, docker: FakeDocker, core: FakeCore) -> None:
    j = Journal(tmp_path / "run.jsonl")
    a = j.record(act("uncordon", 1.0, node="w1"))
    core.down_after_patch = True
    [outcome] = undo.rollback_all([j])
    assert outcome.status == "failed"
    assert "cannot read it back to confirm" in outcome.reason
    assert pending_ids(j) == [a.id]
    core.down = core.down_after_patch = False
    assert statuses(undo.rollback_all([j])) == [("uncordon", "undone")]


def test_an_uncordon_that_did_not_take_is_not_undone(tmp_path: Path, docker: FakeDocker,
                                                     core: FakeCore) -> None:
    core.recordon = True
    j = Journal(tmp_path / "run.jsonl")
    j.record(act("uncordon", 1.0, node="w1"))
    [outcome] = undo.rollback_all([j])
    assert (outcome.status, outcome.reason) == ("failed",
                                                "node w1 is still cordoned after uncordon")


# --- probe blocks ------------------------------------------------------------------------------


def unblock_action(created: float = 1.0) -> UndoAction:
    return act("unblock-probe", created, node="w1", pod="p1", pod_uid="uid-1", table="t1")


def test_unblock_with_docker_unreachable_stays_pending(tmp_path: Path, docker: FakeDocker,
                                                       core: FakeCore) -> None:
    docker.containers["w1"] = "running"
    docker.tables = {"t1"}
    j = Journal(tmp_path / "run.jsonl")
    a = j.record(unblock_action())
    docker.up = False
    [outcome] = undo.rollback_all([j])
    assert outcome.status == "failed" and "Docker daemon" in outcome.reason
    assert docker.tables == {"t1"} and pending_ids(j) == [a.id]
    docker.up = True
    assert statuses(undo.rollback_all([j])) == [("unblock-probe", "undone")]
    assert docker.tables == set() and pending_ids(j) == []


@pytest.mark.parametrize("dies_after", [1, 3, 4])  # after inspect, after ls, after delete
def test_docker_gone_in_the_middle_of_an_unblock(tmp_path: Path, docker: FakeDocker,
                                                 core: FakeCore, dies_after: int) -> None:
    docker.containers["w1"] = "running"
    docker.tables = {"t1"}
    j = Journal(tmp_path / "run.jsonl")
    j.record(unblock_action())
    docker.fail_after = dies_after
    [outcome] = undo.rollback_all([j])
    assert outcome.status == "failed", outcome
    docker.fail_after = None
    assert statuses(undo.rollback_all([j])) == [("unblock-probe", "undone")]
    assert docker.tables == set()


def test_unblock_confirms_the_table_is_gone(tmp_path: Path, docker: FakeDocker,
                                            core: FakeCore) -> None:
    docker.containers["w1"] = "running"
    docker.tables = {"t1"}
    docker.ignore_delete = True
    j = Journal(tmp_path / "run.jsonl")
    j.record(unblock_action())
    [outcome] = undo.rollback_all([j])
    assert (outcome.status, outcome.reason) == ("failed",
                                                "nft table t1 on w1 is still there after delete")


def test_unblock_on_a_paused_node_is_not_undone(tmp_path: Path, docker: FakeDocker,
                                                core: FakeCore) -> None:
    j = Journal(tmp_path / "run.jsonl")
    j.record(unblock_action())
    [outcome] = undo.rollback_all([j])
    assert outcome.status == "failed" and "w1 is paused" in outcome.reason


@pytest.mark.parametrize(("node_state", "note"), [
    ("exited", "node container w1 is exited: its pod network namespaces are gone"),
    (None, "node container w1 no longer exists, nor the pod's network namespace"),
])
def test_unblock_with_the_netns_gone_is_undone(tmp_path: Path, docker: FakeDocker,
                                               core: FakeCore, node_state: str | None,
                                               note: str) -> None:
    if node_state is None:
        del docker.containers["w1"]
    else:
        docker.containers["w1"] = node_state
    j = Journal(tmp_path / "run.jsonl")
    j.record(unblock_action())
    [outcome] = undo.rollback_all([j])
    assert (outcome.status, outcome.reason) == ("undone", note)


def test_unblock_with_the_pod_gone_is_undone(tmp_path: Path, docker: FakeDocker,
                                             core: FakeCore) -> None:
    docker.containers["w1"] = "running"
    docker.sandboxes = {}
    j = Journal(tmp_path / "run.jsonl")
    j.record(unblock_action())
    [outcome] = undo.rollback_all([j])
    assert outcome.status == "undone" and "network namespace is gone" in outcome.reason


# --- admin probe switch ------------------------------------------------------------------------


class FakeAdmin:
    def __init__(self) -> None:
        self.failing = {"readiness": True}
        self.reachable = True
        self.api_up = True
        self.pod: Any = SimpleNamespace(
            metadata=SimpleNamespace(uid="uid-1"),
            status=SimpleNamespace(container_statuses=[SimpleNamespace(name="c",
                                                                       restart_count=0)]))
        self.ignore_clear = False

    def admin_call(self, kube: Any, namespace: str, pod: str, port: int, verb: str,
                   probe: str, seconds: float = 0, *, missing_ok: bool = False) -> dict[str, Any]:
        if not self.api_up:
            raise RollbackFailed(f"POST admin/clear on pod {namespace}/{pod}:{port}: "
                                 f"Connection refused")
        if not self.reachable:
            raise RollbackFailed(f"POST admin/clear on pod {namespace}/{pod}:{port}: HTTP 503")
        if not self.ignore_clear:
            self.failing = {}
        return {"probes": {p: {"failing": p in self.failing}
                           for p in ("readiness", "liveness", "startup")}}

    def read_pod(self, kube: Any, namespace: str, name: str) -> Any:
        if not self.api_up:
            raise ClusterError(f"cannot read pod {namespace}/{name}: Connection refused")
        return self.pod


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch, core: FakeCore) -> FakeAdmin:
    fake = FakeAdmin()
    monkeypatch.setattr(kprobes, "admin_call", fake.admin_call)
    monkeypatch.setattr(kprobes, "read_pod", fake.read_pod)
    return fake


def admin_action() -> UndoAction:
    return act("clear-admin-probe", 1.0, pod="p1", namespace="ns", port="8080",
               probe="readiness", pod_uid="uid-1", restarts="0")


def test_admin_clear_is_confirmed_by_the_admin_state(tmp_path: Path, admin: FakeAdmin) -> None:
    admin.ignore_clear = True
    j = Journal(tmp_path / "run.jsonl")
    j.record(admin_action())
    [outcome] = undo.rollback_all([j])
    assert (outcome.status, outcome.reason) == ("failed",
                                                "pod p1: readiness probe still failing after clear")
    admin.ignore_clear = False
    assert statuses(undo.rollback_all([j])) == [("clear-admin-probe", "undone")]


def test_admin_clear_with_the_api_server_gone_stays_pending(tmp_path: Path,
                                                            admin: FakeAdmin) -> None:
    admin.api_up = False
    j = Journal(tmp_path / "run.jsonl")
    a = j.record(admin_action())
    [outcome] = undo.rollback_all([j])
    assert outcome.status == "failed"
    assert "cannot read the pod either" in outcome.reason
    assert pending_ids(j) == [a.id] and admin.failing == {"readiness": True}
    admin.api_up = True
    assert statuses(undo.rollback_all([j])) == [("clear-admin-probe", "undone")]


def test_admin_unreachable_counts_only_when_the_broken_process_is_gone(
        tmp_path: Path, admin: FakeAdmin) -> None:
    admin.reachable = False
    j = Journal(tmp_path / "run.jsonl")
    j.record(admin_action())
    [outcome] = undo.rollback_all([j])
    assert outcome.status == "failed" and "HTTP 503" in outcome.reason
    admin.pod.status.container_statuses[0].restart_count = 1  # the kubelet restarted it
    [again] = undo.rollback_all([j])
    assert again.status == "undone" and "restarted its container" in again.reason
    j.record(admin_action())
    admin.pod = None
    [gone] = undo.rollback_all([j])
    assert (gone.status, gone.reason) == ("undone", "pod ns/p1 no longer exists")


# --- the journal failing while undoing -------------------------------------------------------


def make_ctx(j: Journal) -> tuple[FaultContext, list[tuple[str, str, str]]]:
    events: list[tuple[str, str, str]] = []
    ctx = FaultContext(kube=SimpleNamespace(context="kind-x"),  # type: ignore[arg-type]
                       namespace="ns", journal=j, seed=1, clock=FakeClock(),
                       workload_selector=Selector.of({"app": "x"}), cluster_name="x",
                       kubeconfig="", emit=lambda *e: events.append(e), deadline=60.0,
                       observer=None)  # type: ignore[arg-type]  # these undos never read it
    return ctx, events


def test_undo_pending_goes_on_after_a_journal_write_failure(
        tmp_path: Path, docker: FakeDocker, core: FakeCore,
        monkeypatch: pytest.MonkeyPatch) -> None:
    j = Journal(tmp_path / "run.jsonl")
    ctx, events = make_ctx(j)
    core.nodes["w3"] = {"unschedulable": True, "ready": True}
    acts = [j.record(act("uncordon", float(i), node=n))
            for i, n in enumerate(("w1", "w2", "w3"))]
    middle = acts[1].id.encode()

    def write(fd: int, data: bytes | memoryview) -> int:
        raw = bytes(data)
        if middle in raw and b'"done"' in raw:
            raise OSError(errno.ENOSPC, "No space left on device")
        return REAL_WRITE(fd, raw)

    monkeypatch.setattr(os, "write", write)
    pending = list(acts)
    outcomes = undo.undo_pending(ctx, pending)
    monkeypatch.setattr(os, "write", REAL_WRITE)

    assert pending == []
    assert [(o.action.params["node"], o.status, o.journal_error is None) for o in outcomes] == [
        ("w3", "undone", True), ("w2", "undone", False), ("w1", "undone", True)]
    assert "No space left on device" in (outcomes[1].journal_error or "")
    assert ctx.undo_outcomes == outcomes
    assert not any(core.nodes[n]["unschedulable"] for n in ("w1", "w2", "w3"))
    assert [e[1] for e in events] == ["w3", "w2", "w1"]
    assert undo.undo_errors(outcomes) == [
        f"uncordon(node=w2, ready_timeout_s=0): undone; NOT RECORDED: {outcomes[1].journal_error}"]
    assert pending_ids(j) == [acts[1].id]  # the journal still says so, honestly
    assert statuses(undo.rollback_all([j])) == [("uncordon", "undone")]
    assert pending_ids(j) == []


def test_undo_pending_reports_failures_and_the_report_rows(tmp_path: Path, docker: FakeDocker,
                                                           core: FakeCore) -> None:
    j = Journal(tmp_path / "run.jsonl")
    ctx, events = make_ctx(j)
    ok = j.record(act("uncordon", 1.0, node="w1"))
    bad = j.record(act("unpause-node", 2.0, node="w1"))
    docker.up = False
    outcomes = undo.undo_pending(ctx, [ok, bad])
    assert statuses(outcomes) == [("unpause-node", "failed"), ("uncordon", "undone")]
    rows = undo.undo_report(ctx.undo_outcomes)
    assert [(r["kind"], r["status"], r["journal"]) for r in rows] == [
        ("unpause-node", "failed", str(j.path)), ("uncordon", "undone", str(j.path))]
    assert "Docker daemon" in rows[0]["reason"] and rows[1]["reason"] == ""
    assert [e[0] for e in events] == ["fault-end"]  # only the confirmed undo ends the fault
    assert pending_ids(j) == [bad.id]


def test_a_fault_does_not_act_when_its_undo_cannot_be_journaled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    j = Journal(tmp_path / "run.jsonl")
    ctx, _ = make_ctx(j)
    cordoned: list[str] = []
    view = knodes.NodeView(name="w1", ready=True, unschedulable=False, internal_ip="")
    monkeypatch.setattr(knodes, "get_node", lambda kube, name: view)
    monkeypatch.setattr(knodes, "cordon", lambda kube, name: cordoned.append(name))

    def write(fd: int, data: bytes | memoryview) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", write)
    pending: list[UndoAction] = []
    with pytest.raises(JournalWriteFailed):
        fnodes._cordon_journaled(ctx, ("w1",), pending)
    monkeypatch.setattr(os, "write", REAL_WRITE)
    assert cordoned == [] and pending == []


def test_disk_full_while_marking_done_then_rollback_finishes_without_repeating(
        tmp_path: Path, docker: FakeDocker, core: FakeCore,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A short write tears the `done` line; the next rollback repeats only that undo (harmless,
    idempotent), repairs the file, and the one after that has nothing left to do."""
    j = Journal(tmp_path / "run.jsonl")
    a1 = j.record(act("uncordon", 1.0, node="w1"))
    j.record(act("uncordon", 2.0, node="w2"))

    def half_then_enospc(fd: int, data: bytes | memoryview) -> int:
        raw = bytes(data)
        if a1.id.encode() in raw and b'"done"' in raw:
            REAL_WRITE(fd, raw[: len(raw) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return REAL_WRITE(fd, raw)

    monkeypatch.setattr(os, "write", half_then_enospc)
    first = undo.rollback_all([j])
    monkeypatch.setattr(os, "write", REAL_WRITE)
    assert [(o.action.params["node"], o.status, o.settled) for o in first] == [
        ("w2", "undone", True), ("w1", "undone", False)]
    assert pending_ids(j) == [a1.id]

    core.nodes["w1"]["unschedulable"] = True  # show that the repeat really runs
    with pytest.warns(UserWarning, match="torn last line"):
        second = undo.rollback_all([j])
    assert [(o.action.id, o.settled) for o in second] == [(a1.id, True)]
    assert core.nodes["w1"]["unschedulable"] is False
    with pytest.warns(UserWarning, match=r"run\.jsonl:4: not JSON"):
        assert undo.rollback_all([j]) == []


# --- the command and the session-start orphan check ----------------------------------------


def crashed_journal(path: Path, *acts: UndoAction, pid: int = 2**22 + 12345) -> None:
    with path.open("ab") as fh:
        for a in acts:
            fh.write(json.dumps({"op": "undo", "id": a.id, "kind": a.kind,
                                 "params": dict(a.params), "target": dict(a.target),
                                 "created": a.created, "pid": pid,
                                 "host": os.uname().nodename}).encode() + b"\n")


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker: FakeDocker,
              core: FakeCore) -> Path:
    monkeypatch.setenv("KUBE_CHAOS_STATE", str(tmp_path))
    folder = tmp_path / "journal"
    folder.mkdir()
    crashed_journal(folder / "crashed.jsonl", act("uncordon", 1.0, node="w1"))
    (folder / "garbage.jsonl").write_bytes(b"\xff\xfe\x00\n")
    live = Journal(folder / "live.jsonl")  # written by this very process: alive
    live.record(act("uncordon", 2.0, node="w2"))
    return folder


def test_rollback_command_touches_only_orphans_and_names_the_rest(
        state_dir: Path, core: FakeCore, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_rollback.main([]) == 1  # 1: a journal had to be quarantined
    out, err = capsys.readouterr()
    assert "skipping live.jsonl: its run may still be alive (pid" in out
    assert "uncordon(node=w1, ready_timeout_s=0) [context kind-x, ns ns] (crashed.jsonl): " \
           "undone" in out
    assert "garbage.jsonl:1: not UTF-8" in err and "quarantined as" in err
    assert core.nodes["w1"]["unschedulable"] is False
    assert core.nodes["w2"]["unschedulable"] is True
    assert (state_dir / "quarantine" / "garbage.jsonl").exists()

    assert cli_rollback.main([]) == 0  # nothing left but the live run, which is skipped
    assert cli_rollback.main(["--force"]) == 0
    assert core.nodes["w2"]["unschedulable"] is False


def test_rollback_command_refuses_a_named_live_journal_without_force(
        state_dir: Path, core: FakeCore, capsys: pytest.CaptureFixture[str]) -> None:
    live = str(state_dir / "live.jsonl")
    assert cli_rollback.main(["--journal", live]) == 1
    assert "refusing to roll back a run that may still be alive" in capsys.readouterr().err
    assert core.nodes["w2"]["unschedulable"] is True
    assert cli_rollback.main(["--journal", live, "--force"]) == 0
    assert core.nodes["w2"]["unschedulable"] is False


def test_rollback_command_reports_a_failure_and_a_later_run_finishes(
        state_dir: Path, docker: FakeDocker, capsys: pytest.CaptureFixture[str]) -> None:
    crashed_journal(state_dir / "node.jsonl", act("unpause-node", 3.0, node="w1"))
    docker.up = False
    assert cli_rollback.main([]) == 1
    out, err = capsys.readouterr()
    assert "unpause-node(node=w1, ready_timeout_s=0)" in out and "FAILED: " in out
    assert "1 of 2 undo action(s) failed; they stay pending" in err
    assert cli_rollback.main(["--dry-run"]) == 0
    assert "would run (last attempt failed: " in capsys.readouterr().out
    docker.up = True
    assert cli_rollback.main([]) == 0
    assert "unpause-node(node=w1, ready_timeout_s=0) [context kind-x, ns ns] (node.jsonl): " \
           "undone" in capsys.readouterr().out
    assert docker.containers["w1"] == "running"


class Reporter:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write_line(self, line: str, **markup: bool) -> None:
        self.lines.append(line)


def test_session_start_orphan_check_survives_bad_journals(state_dir: Path,
                                                          core: FakeCore) -> None:
    from chaos.plugin.environment import roll_back_orphans

    reporter = Reporter()
    roll_back_orphans("kind-x", reporter)
    text = "\n".join(reporter.lines)
    assert "garbage.jsonl:1: not UTF-8" in text and "quarantined as" in text
    assert "live.jsonl on kind-x alone: its run may still be alive" in text
    assert "undo left by a crashed run on kind-x: 1 of 1 confirmed" in text
    assert core.nodes["w1"]["unschedulable"] is False
    assert core.nodes["w2"]["unschedulable"] is True
