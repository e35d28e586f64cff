"""The network faults' undo handlers (delete-nft-table, delete-qdisc) against a fake node: done
only when the table or our qdisc is confirmed gone; a gone netns is nothing to undo; Docker not
answering, or a paused node, leaves the undo pending."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from fake_node import ScriptedDocker

from chaos.faults import undo
from chaos.journal.store import Journal, UndoAction, read_journal

DAEMON_DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock."
NFT_MISSING = "Error: Could not process rule: No such file or directory"


class FakeNode:
    """One kind node: its container state, one pod sandbox, nft tables by (family, name) and
    the root qdisc of the pod's eth0."""

    def __init__(self) -> None:
        self.state: str | None = "running"
        self.up = True
        self.sandbox = True
        self.tables: set[tuple[str, str]] = set()
        self.root = "qdisc noqueue 0: root refcnt 2 \n"
        self.stuck = False  # deletes are ignored
        self.calls: list[tuple[str, ...]] = []

    def _proc(self, rc: int = 0, out: str = "", err: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess([], rc, out, err)

    def docker(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        if not self.up:
            return self._proc(1, err=DAEMON_DOWN)
        if self.state is None:
            return self._proc(1, err="Error: No such object: w1")
        assert args[0] == "inspect", args
        return self._proc(out=json.dumps({"Status": self.state,
                                          "Running": self.state in ("running", "paused"),
                                          "Paused": self.state == "paused"}))

    def node_exec(self, node: str, *args: str, stdin: str | None = None,
                  timeout: float = 30) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        if not self.up:
            return self._proc(1, err=DAEMON_DOWN)
        if args[:4] == ("ctr", "-n", "k8s.io", "containers"):
            return self._proc(out="sbx\n" if self.sandbox else "")
        if args[:4] == ("ctr", "-n", "k8s.io", "tasks"):
            return self._proc(out="TASK PID STATUS\nsbx 4242 RUNNING\n")
        assert args[:4] == ("nsenter", "-t", "4242", "-n"), args
        cmd = args[4:]
        if cmd[0] == "nft":
            verb, family, table = cmd[1], cmd[3], cmd[4]
            if (family, table) not in self.tables:
                return self._proc(1, err=NFT_MISSING)
            if verb == "delete" and not self.stuck:
                self.tables.discard((family, table))
            return self._proc(out=f"table {family} {table} {{\n}}\n")
        if cmd[:3] == ("tc", "qdisc", "show"):
            return self._proc(out=self.root)
        if cmd[:3] == ("tc", "qdisc", "del"):
            if "4b43:" not in self.root.split()[2]:
                return self._proc(2, err="Error: Invalid handle.")
            if not self.stuck:
                self.root = "qdisc noqueue 0: root refcnt 2 \n"
            return self._proc()
        raise AssertionError(f"unexpected {args}")


@pytest.fixture
def node(monkeypatch: pytest.MonkeyPatch) -> FakeNode:
    fake = FakeNode()
    rt = ScriptedDocker(fake.docker, fake.node_exec)  # DockerRuntime over this fake node
    monkeypatch.setattr(undo, "node_for", lambda action: rt)
    return fake


def table_action(family: str = "netdev") -> UndoAction:
    return UndoAction(kind="delete-nft-table", params={
        "node": "w1", "pod": "p1", "pod_uid": "uid-1", "table": "kube_chaos_partition_p1",
        "family": family, "namespace": "ns"}, target={"namespace": "ns"}, created=1.0)


def qdisc_action() -> UndoAction:
    return UndoAction(kind="delete-qdisc", params={
        "node": "w1", "pod": "p1", "pod_uid": "uid-1", "dev": "eth0", "namespace": "ns"},
        target={"namespace": "ns"}, created=1.0)


OURS = "qdisc tbf 4b43: root refcnt 2 rate 1Mbit burst 6056b lat 200ms \n"


@pytest.mark.parametrize("family", ["netdev", "inet"])
def test_a_table_is_deleted_in_its_own_family_and_confirmed(node: FakeNode,
                                                            family: str) -> None:
    node.tables = {(family, "kube_chaos_partition_p1"), ("inet", "someone_elses")}
    assert undo.run_undo(table_action(family)) is None
    assert node.tables == {("inet", "someone_elses")}
    assert undo.run_undo(table_action(family)) is None  # idempotent: already gone is done


def test_a_table_still_listed_after_delete_is_not_undone(node: FakeNode) -> None:
    node.tables = {("netdev", "kube_chaos_partition_p1")}
    node.stuck = True
    with pytest.raises(Exception, match="still there after delete"):
        undo.run_undo(table_action())


def test_a_journal_naming_another_family_is_refused_not_passed_to_nft(node: FakeNode) -> None:
    with pytest.raises(Exception, match="'family' is 'bridge; flush'"):
        undo.run_undo(table_action("bridge; flush"))
    assert node.calls == []


def test_ours_is_the_only_qdisc_an_undo_deletes(node: FakeNode) -> None:
    node.root = OURS
    assert undo.run_undo(qdisc_action()) is None
    assert node.root.startswith("qdisc noqueue 0:")
    node.root = "qdisc htb 1: root refcnt 2 r2q 10\n"  # someone else's
    assert undo.run_undo(qdisc_action()) is None
    assert node.root.startswith("qdisc htb 1:"), "another tool's qdisc must survive our undo"
    assert not any(c[4:7] == ("tc", "qdisc", "del") for c in node.calls[-2:])


def test_a_qdisc_still_ours_after_delete_is_not_undone(node: FakeNode) -> None:
    node.root = OURS
    node.stuck = True
    with pytest.raises(Exception, match="still on eth0"):
        undo.run_undo(qdisc_action())


@pytest.mark.parametrize("action", [table_action, qdisc_action])
def test_docker_unreachable_or_a_paused_node_keeps_the_undo_pending(
        tmp_path: Path, node: FakeNode, action: type[UndoAction]) -> None:
    node.tables = {("netdev", "kube_chaos_partition_p1")}
    node.root = OURS
    j = Journal(tmp_path / "run.jsonl")
    a = j.record(action())
    node.up = False
    [down] = undo.rollback_all([j])
    assert down.status == "failed" and "Docker daemon" in down.reason
    node.up, node.state = True, "paused"
    [paused] = undo.rollback_all([j])
    assert paused.status == "failed" and "w1 is paused" in paused.reason
    assert [p.id for p in read_journal(j.path).pending] == [a.id]
    node.state = "running"
    [done] = undo.rollback_all([j])
    assert (done.status, done.reason) == ("undone", "")
    if action is table_action:
        assert node.tables == set() and node.root == OURS
    else:
        assert node.tables != set() and node.root.startswith("qdisc noqueue")
    assert not read_journal(j.path).pending


@pytest.mark.parametrize("action", [table_action, qdisc_action])
@pytest.mark.parametrize(("state", "sandbox", "note"), [
    (None, True, "node container w1 no longer exists"),
    ("exited", True, "node container w1 is exited: its pod network namespaces are gone"),
    ("running", False, "no running sandbox for pod uid uid-1: its network namespace is gone"),
])
def test_a_gone_netns_is_nothing_left_to_undo(node: FakeNode, action: type[UndoAction],
                                              state: str | None, sandbox: bool,
                                              note: str) -> None:
    node.state, node.sandbox = state, sandbox
    result = undo.run_undo(action())
    assert result is not None and result.startswith(note)


def test_a_record_naming_no_family_deletes_the_inet_table(node: FakeNode) -> None:
    action = table_action()
    del action.params["family"]
    node.tables = {("inet", "kube_chaos_partition_p1"), ("netdev", "kube_chaos_partition_p1")}
    assert undo.run_undo(action) is None
    assert node.tables == {("netdev", "kube_chaos_partition_p1")}
