"""Each undo handler against recording fakes: which cluster it talks to, with which arguments,
and the exact message it leaves in the journal and in `kube-chaos rollback` output when the
effect cannot be confirmed (the message is all a user has to act on)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fake_node import FakeNode

from chaos.errors import ClusterError, DockerUnavailable, RollbackFailed
from chaos.faults import undo
from chaos.journal.store import UndoAction
from chaos.k8s import nodes as knodes
from chaos.k8s import probes as kprobes
from chaos.k8s import workload as kw
from chaos.node.kind import DockerRuntime
from chaos.node.runtime import NodeMachineState

KUBE = SimpleNamespace(context="kind-x")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Every cluster call a handler makes; kube_for hands out KUBE."""
    seen: list[tuple[Any, ...]] = []

    def kube_for(action: UndoAction) -> Any:
        assert isinstance(action, UndoAction), action  # the cluster the action names
        return KUBE

    monkeypatch.setattr(undo, "kube_for", kube_for)
    return seen


def action(kind: str, target: dict[str, str] | None = None, **params: str) -> UndoAction:
    return UndoAction(kind, params, target=target if target is not None else {}, id="a1",
                      created=1.0)


# --- which cluster -----------------------------------------------------------------------------


def test_kube_for_connects_to_the_recorded_kubeconfig_and_context(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str | None, str | None]] = []
    monkeypatch.setattr(undo, "connect", lambda cfg, ctx: seen.append((cfg, ctx)) or KUBE)
    target = {"kubeconfig": "/k/config", "context": "kind-a"}
    assert undo.kube_for(action("uncordon", target, node="w1")) is KUBE
    assert seen == [("/k/config", "kind-a")]


# Deliberately changed (issue 18): an empty target used to mean the default kubeconfig and its
# current context, i.e. whatever cluster the user happens to point at.
@pytest.mark.parametrize(("target", "missing"), [
    ({"kubeconfig": "", "context": ""}, "kubeconfig and no context"),
    ({}, "kubeconfig and no context"),
    ({"kubeconfig": "/k/config"}, "context"),
    ({"context": "kind-a"}, "kubeconfig"),
])
def test_kube_for_refuses_a_target_without_kubeconfig_or_context(
        monkeypatch: pytest.MonkeyPatch, target: dict[str, str], missing: str) -> None:
    seen: list[object] = []
    monkeypatch.setattr(undo, "connect", lambda cfg, ctx: seen.append((cfg, ctx)) or KUBE)
    with pytest.raises(RollbackFailed) as info:
        undo.kube_for(action("uncordon", target, node="w1"))
    assert str(info.value) == (f"uncordon(node=w1): its target names no {missing}; refusing "
                               "to fall back to the default kubeconfig")
    assert seen == []


# --- the namespace a run created ---------------------------------------------------------------


def fake_namespaces(monkeypatch: pytest.MonkeyPatch, calls: list[tuple[Any, ...]],
                    states: list[str], fail: str | None = None) -> None:
    def state(kube: Any, name: str) -> str:
        calls.append(("state", kube, name))
        return states.pop(0)

    def step(verb: str) -> Any:
        def call(kube: Any, name: str) -> None:
            calls.append((verb, kube, name))
            if verb == fail:
                raise ClusterError("connection refused")
        return call

    monkeypatch.setattr(kw, "namespace_state", state)
    # created by a run: it carries the run label (issue 18: rollback deletes no other)
    monkeypatch.setattr(kw, "namespace_labels", lambda kube, name: {kw.RUN_LABEL: "r1"})
    monkeypatch.setattr(kw, "release_node_ports", step("release"))
    monkeypatch.setattr(kw, "delete_namespace", step("delete"))


@pytest.mark.parametrize("after", ["terminating", "absent"])
def test_delete_namespace_frees_node_ports_first_and_confirms(
        monkeypatch: pytest.MonkeyPatch, calls: list[tuple[Any, ...]], after: str) -> None:
    fake_namespaces(monkeypatch, calls, ["active", after])
    assert undo.undo_delete_namespace(action("delete-namespace", namespace="kc-x")) is None
    assert calls == [("state", KUBE, "kc-x"), ("release", KUBE, "kc-x"),
                     ("delete", KUBE, "kc-x"), ("state", KUBE, "kc-x")]


def test_delete_namespace_already_gone_touches_nothing(
        monkeypatch: pytest.MonkeyPatch, calls: list[tuple[Any, ...]]) -> None:
    fake_namespaces(monkeypatch, calls, ["absent"])
    assert undo.undo_delete_namespace(action("delete-namespace", namespace="kc-x")) == \
        "already gone"
    assert calls == [("state", KUBE, "kc-x")]


def test_delete_namespace_still_active_is_not_undone(
        monkeypatch: pytest.MonkeyPatch, calls: list[tuple[Any, ...]]) -> None:
    fake_namespaces(monkeypatch, calls, ["active", "active"])
    with pytest.raises(RollbackFailed) as info:
        undo.undo_delete_namespace(action("delete-namespace", namespace="kc-x"))
    assert str(info.value) == "namespace kc-x is still active after its deletion"


def test_delete_namespace_with_the_api_server_gone_names_it(
        monkeypatch: pytest.MonkeyPatch, calls: list[tuple[Any, ...]]) -> None:
    fake_namespaces(monkeypatch, calls, ["active"], fail="release")
    with pytest.raises(RollbackFailed) as info:
        undo.undo_delete_namespace(action("delete-namespace", namespace="kc-x"))
    assert str(info.value) == "namespace kc-x: connection refused"
    assert isinstance(info.value.__cause__, ClusterError)
    assert [c[0] for c in calls] == ["state", "release"]  # never deleted blind


def test_missing_and_malformed_parameters_are_named() -> None:
    with pytest.raises(RollbackFailed) as info:
        undo.undo_delete_namespace(action("delete-namespace"))
    assert str(info.value) == "delete-namespace(): missing parameter 'namespace'"
    with pytest.raises(RollbackFailed) as info:
        undo._int_param(action("clear-admin-probe", port="80a"), "port")
    assert str(info.value) == ("clear-admin-probe(port=80a): parameter 'port' is '80a', not a "
                               "whole number")


# --- the probe switch --------------------------------------------------------------------------


class Admin:
    def __init__(self, answer: dict[str, Any] | None = None, error: str | None = None) -> None:
        self.answer = answer if answer is not None else {}
        self.error = error
        self.pod: Any = SimpleNamespace(
            metadata=SimpleNamespace(uid="uid-1"),
            status=SimpleNamespace(container_statuses=[SimpleNamespace(name="c",
                                                                       restart_count=2)]))
        self.calls: list[tuple[Any, ...]] = []

    def admin_call(self, kube: Any, namespace: str, pod: str, port: int, verb: str,
                   probe: str) -> dict[str, Any]:
        self.calls.append(("admin", kube, namespace, pod, port, verb, probe))
        if self.error:
            raise RollbackFailed(self.error)
        return self.answer

    def read_pod(self, kube: Any, namespace: str, name: str) -> Any:
        self.calls.append(("read", kube, namespace, name))
        if self.pod == "down":
            raise ClusterError(f"cannot read pod {namespace}/{name}: Connection refused")
        return self.pod


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch, calls: list[tuple[Any, ...]]) -> Admin:
    fake = Admin()
    monkeypatch.setattr(kprobes, "admin_call", fake.admin_call)
    monkeypatch.setattr(kprobes, "read_pod", fake.read_pod)
    return fake


def test_clear_admin_probe_calls_the_pod_of_the_recorded_namespace(admin: Admin) -> None:
    assert undo.undo_clear_admin_probe(action(
        "clear-admin-probe", {"namespace": "ns-t"}, namespace="ns-p", pod="p1", port="8080",
        probe="liveness")) is None
    assert admin.calls == [("admin", KUBE, "ns-t", "p1", 8080, "clear", "liveness")]
    admin.calls.clear()
    # no namespace in the target: the parameter; no probe: every probe
    undo.undo_clear_admin_probe(action("clear-admin-probe", namespace="ns-p", pod="p1",
                                       port="8080"))
    assert admin.calls == [("admin", KUBE, "ns-p", "p1", 8080, "clear", "all")]


def test_clear_admin_probe_without_any_namespace_is_named(admin: Admin) -> None:
    with pytest.raises(RollbackFailed, match=r"missing parameter 'namespace'"):
        undo.undo_clear_admin_probe(action("clear-admin-probe", pod="p1", port="8080"))


@pytest.mark.parametrize(("probe", "still"), [
    ("all", "liveness, startup"), ("", "liveness, startup"), ("liveness", "liveness"),
])
def test_a_probe_still_failing_after_clear_is_named(probe: str, still: str) -> None:
    state = {"probes": {"readiness": {"failing": False}, "liveness": {"failing": True},
                        "startup": {"failing": True}}}
    with pytest.raises(RollbackFailed) as info:
        undo._confirm_cleared(state, probe, "p1")
    assert str(info.value) == f"pod p1: {still} probe still failing after clear"
    undo._confirm_cleared(state, "readiness", "p1")  # the one cleared no longer fails
    undo._confirm_cleared({"probes": "n/a"}, "all", "p1")  # no admin state: nothing to check


def test_an_unreachable_switch_is_undone_only_when_the_broken_process_is_gone(
        admin: Admin) -> None:
    admin.error = "POST admin/clear on pod ns/p1:8080: HTTP 503"
    act = action("clear-admin-probe", namespace="ns", pod="p1", port="8080", pod_uid="uid-1",
                 restarts="2")
    with pytest.raises(RollbackFailed) as info:
        undo.undo_clear_admin_probe(act)  # same pod, same restarts: it may still be broken
    assert str(info.value) == admin.error
    assert admin.calls[-1] == ("read", KUBE, "ns", "p1")
    admin.pod.metadata.uid = "uid-2"
    assert undo.undo_clear_admin_probe(act) == \
        "pod ns/p1 was replaced (new uid): the broken one is gone"
    admin.pod = "down"
    with pytest.raises(RollbackFailed) as info:
        undo.undo_clear_admin_probe(act)
    assert str(info.value) == ("POST admin/clear on pod ns/p1:8080: HTTP 503; cannot read the "
                               "pod either: cannot read pod ns/p1: Connection refused")
    admin.pod = Admin().pod
    admin.pod.metadata.uid = "uid-2"
    no_uid = action("clear-admin-probe", namespace="ns", pod="p1", port="8080", restarts="2")
    with pytest.raises(RollbackFailed):  # without a recorded uid a new uid proves nothing
        undo.undo_clear_admin_probe(no_uid)


# --- node containers ---------------------------------------------------------------------------


class Docker:
    def __init__(self, states: list[NodeMachineState | str | None], rc: int = 0,
                 stderr: str = "", stdout: str = "") -> None:
        self.states = states
        self.rc, self.stderr, self.stdout = rc, stderr, stdout
        self.calls: list[tuple[Any, ...]] = []

    def info(self, name: str) -> NodeMachineState | None:
        self.calls.append(("inspect", name))
        state = self.states.pop(0)
        if state == "down":
            raise DockerUnavailable("docker inspect w1: daemon down")
        assert not isinstance(state, str)
        return state

    def docker(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        self.calls.append(("docker", *args, timeout))
        return subprocess.CompletedProcess(["docker", *args], self.rc, self.stdout, self.stderr)


PAUSED = NodeMachineState("paused", running=True, paused=True)
EXITED = NodeMachineState("exited", running=False, paused=False)
RUNNING = NodeMachineState("running", running=True, paused=False)


@pytest.fixture
def ready(monkeypatch: pytest.MonkeyPatch, calls: list[tuple[Any, ...]]) -> list[Any]:
    """wait_node_ready answers True; get_node what the list says, in turn."""
    views: list[Any] = []

    def wait(kube: Any, node: str, timeout: float) -> bool:
        calls.append(("wait", kube, node, timeout))
        return not views

    def get(kube: Any, node: str) -> Any:
        calls.append(("get", kube, node))
        view = views.pop(0)
        if view == "down":
            raise ClusterError("connection refused")
        return view

    monkeypatch.setattr(knodes, "wait_node_ready", wait)
    monkeypatch.setattr(knodes, "get_node", get)
    return views


def runtime(fake: Docker) -> FakeNode:
    """The node runtime over the fake: its state read, its power actions as docker calls."""
    return FakeNode(power=lambda node, verb, timeout: fake.docker(verb, node, timeout=timeout),
                    state=fake.info)


def use(monkeypatch: pytest.MonkeyPatch, fake: Docker) -> Docker:
    rt = runtime(fake)

    def node_for(act: UndoAction) -> FakeNode:
        assert isinstance(act, UndoAction), act  # the runtime the action names
        return rt

    monkeypatch.setattr(undo, "node_for", node_for)
    return fake


@pytest.mark.parametrize(("before", "verb"), [(PAUSED, "unpause"), (EXITED, "start")])
def test_restore_node_unpauses_or_starts_then_waits_for_ready(
        monkeypatch: pytest.MonkeyPatch, calls: list[tuple[Any, ...]], ready: list[Any],
        before: NodeMachineState, verb: str) -> None:
    docker = use(monkeypatch, Docker([before, RUNNING]))
    assert undo.undo_start_node(action("start-node", node="w1", ready_timeout_s="7")) is None
    assert docker.calls == [("inspect", "w1"), ("docker", verb, "w1", 120), ("inspect", "w1")]
    assert calls == [("wait", KUBE, "w1", 7.0)]


def test_restore_node_names_what_it_could_not_confirm(
        monkeypatch: pytest.MonkeyPatch, calls: list[tuple[Any, ...]], ready: list[Any]) -> None:
    act = action("unpause-node", node="w1")
    use(monkeypatch, Docker(["down"]))
    with pytest.raises(RollbackFailed) as info:
        undo.undo_unpause_node(act)
    assert str(info.value) == ("cannot tell whether node container w1 runs: docker inspect w1: "
                               "daemon down")
    use(monkeypatch, Docker([EXITED, "down"]))
    with pytest.raises(RollbackFailed) as info:
        undo.undo_unpause_node(act)
    assert str(info.value) == ("docker start w1 answered, but cannot confirm the container runs: "
                               "docker inspect w1: daemon down")
    use(monkeypatch, Docker([PAUSED, PAUSED]))
    with pytest.raises(RollbackFailed) as info:
        undo.undo_unpause_node(act)
    assert str(info.value) == "node container w1 is paused (paused) after docker unpause"
    use(monkeypatch, Docker([EXITED, EXITED]))
    with pytest.raises(RollbackFailed) as info:
        undo.undo_unpause_node(act)
    assert str(info.value) == "node container w1 is exited after docker start"
    assert calls == []  # never waited for a node whose container is not up


@pytest.mark.parametrize(("stderr", "stdout", "shown"), [
    ("Error: no such container\n", "ignored", "Error: no such container"),
    ("", "some output\n", "some output"),
    ("", "", "1"),  # nothing said: the exit code
])
def test_a_failed_docker_call_says_what_docker_said(
        monkeypatch: pytest.MonkeyPatch, stderr: str, stdout: str, shown: str) -> None:
    rt = runtime(Docker([], rc=1, stderr=stderr, stdout=stdout))
    with pytest.raises(RollbackFailed) as info:
        undo._power_or_fail(rt, "start", "w1")
    assert str(info.value) == f"docker start w1: {shown}"


@pytest.mark.parametrize(("views", "why"), [
    (["down"], "API server: connection refused"),
    ([None], "no such node"),
    ([SimpleNamespace(ready=False)], "NotReady"),
])
def test_a_node_not_ready_in_time_is_not_undone(
        calls: list[tuple[Any, ...]], ready: list[Any], views: list[Any], why: str) -> None:
    ready.extend(views)
    with pytest.raises(RollbackFailed) as info:
        undo._wait_ready(action("start-node", node="w1", ready_timeout_s="2.5"), "w1")
    assert str(info.value) == (f"node container w1 runs again, but the node is not Ready after "
                               f"2.5s ({why})")
    assert calls == [("wait", KUBE, "w1", 2.5), ("get", KUBE, "w1")]


def test_a_node_ready_just_after_the_deadline_is_undone(calls: list[tuple[Any, ...]],
                                                        ready: list[Any]) -> None:
    ready.append(SimpleNamespace(ready=True))
    assert undo._wait_ready(action("start-node", node="w1"), "w1") is None
    assert calls == [("wait", KUBE, "w1", 180.0), ("get", KUBE, "w1")]


@pytest.mark.parametrize(("given", "timeout"), [("30", 30.0), ("", 180.0), ("soon", 180.0)])
def test_ready_timeout_defaults_to_three_minutes(given: str, timeout: float) -> None:
    assert undo._ready_timeout(action("start-node", node="w1", ready_timeout_s=given)) == timeout


# --- running a fault's undos -------------------------------------------------------------------


def test_undo_pending_ends_each_confirmed_fault_on_the_timeline(tmp_path: Path) -> None:
    from chaos.clock import FakeClock
    from chaos.faults.base import FaultContext
    from chaos.journal.store import Journal
    from chaos.model.experiment import Selector

    events: list[tuple[str, str, str]] = []

    def emit(kind: str, name: str, detail: str) -> None:
        events.append((kind, name, detail))
        if name == "boom":
            raise RuntimeError("timeline full")  # must not strand the undos after it

    j = Journal(tmp_path / "run.jsonl")
    ctx = FaultContext(kube=KUBE, namespace="ns", journal=j, seed=1,  # type: ignore[arg-type]
                       clock=FakeClock(), workload_selector=Selector.of({"app": "x"}),
                       cluster_name="x", kubeconfig="", emit=emit, deadline=60.0,
                       observer=None)  # type: ignore[arg-type]  # these undos never read it
    ran: list[str] = []
    handlers = {"mine": lambda a: ran.append(a.id) and None}
    acts = [j.record(UndoAction("mine", p, id=f"a{i}", created=float(i)))
            for i, p in enumerate([{"pod": "p1"}, {"node": "w1", "pod": "p2"}, {},
                                   {"node": "boom"}])]
    outcomes = undo.undo_pending(ctx, list(acts), handlers=handlers)
    assert ran == ["a3", "a2", "a1", "a0"]
    assert [o.status for o in outcomes] == ["undone"] * 4
    assert events == [("fault-end", "boom", "mine"), ("fault-end", "", "mine"),
                      ("fault-end", "p2", "mine"), ("fault-end", "p1", "mine")]
    events.clear()
    undo.undo_pending(ctx, [j.record(UndoAction("mine", {"pod": "p3"}))], "restored",
                      handlers=handlers)
    assert events == [("fault-end", "p3", "restored")]


# --- settling one undo, and a dry run ----------------------------------------------------------


def test_settle_names_exceptions_without_a_message_by_their_type(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chaos.journal.store import Journal

    j = Journal(tmp_path / "run.jsonl")
    act = j.record(UndoAction("mine", {}, id="a1", created=1.0))

    def fails(a: UndoAction) -> str | None:
        raise RollbackFailed("")

    outcome = undo.settle(j, act, {"mine": fails})
    assert (outcome.status, outcome.reason, outcome.journal) == ("failed", "RollbackFailed",
                                                                 j.path)

    def unwritable(self: Journal, action: UndoAction, error: str | None = None) -> None:
        raise OSError()

    monkeypatch.setattr(Journal, "done", unwritable)
    before = undo.settle(j, act, {"mine": lambda a: "already gone"})
    assert (before.status, before.reason, before.journal, before.journal_error) == (
        "undone", "already gone", j.path, "OSError")
    assert before.at > 0 and not before.settled


def test_a_dry_run_names_each_action_and_its_journal(tmp_path: Path) -> None:
    from chaos.journal.store import Journal

    j = Journal(tmp_path / "run.jsonl")
    j.record(UndoAction("mine", {}, id="a1", created=1.0))
    [outcome] = undo.rollback_all([j], dry_run=True)
    assert (outcome.status, outcome.reason, outcome.journal) == ("skipped", "dry run", j.path)
    assert [a.id for a in j.pending()] == ["a1"]


def test_run_undo_names_what_failed() -> None:
    def silent(a: UndoAction) -> str | None:
        raise ValueError()

    with pytest.raises(RollbackFailed) as info:
        undo.run_undo(action("mine"), {"mine": silent})
    assert str(info.value) == "ValueError"
    with pytest.raises(RollbackFailed) as info:
        undo.run_undo(action("nope", node="w1"), {"b": silent, "a": silent})
    assert str(info.value) == "unknown undo action 'nope' (nope(node=w1)); known: a, b"


# --- the node runtime an undo reaches its node with ---------------------------------------------


@pytest.mark.parametrize("target", [
    {"node_access": "docker"},
    {},  # a journal from before the access path was recorded: its run used docker
])
def test_node_for_builds_the_runtime_the_target_names(target: dict[str, str]) -> None:
    rt = undo.node_for(action("start-node", target, node="w1"))
    assert isinstance(rt, DockerRuntime) and rt.access == "docker"


@pytest.mark.parametrize(("access", "why"), [
    ("", "the run that recorded this undo had no access to its nodes"),
    ("ssh; rm -rf /",
     "node access 'ssh; rm -rf /' is not one this kube-chaos knows (docker, agent)"),
])
def test_node_for_refuses_a_target_without_a_known_access(access: str, why: str) -> None:
    with pytest.raises(RollbackFailed) as info:
        undo.node_for(action("start-node", {"node_access": access}, node="w1"))
    assert str(info.value) == why
