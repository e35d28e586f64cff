"""AgentRuntime over a fake API (its agent pods and its exec): a node command is nsenter in
the node's agent pod, made on first use and journaled before it exists; the API path failing
is a transport failure, a command failing is an answer; an undo's runtime borrows the agent it
finds; ``close`` deletes what the run made. Also how a run picks its node access, and the
exec's exit status read from the API server's status."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from chaos.errors import ClusterError, InjectionFailed, RollbackFailed
from chaos.journal.store import Journal, pending_in
from chaos.k8s import agentpods
from chaos.k8s.agentpods import AgentPod
from chaos.k8s.podexec import ExecResult, ExecTransportError, exit_status
from chaos.node import access, netns
from chaos.node.agent import AgentRuntime
from chaos.node.kind import DockerRuntime
from chaos.plan import agent as plan

NODE = "w1"
SESSION = "20261207-001500-42"
OWN = plan.pod_name(NODE, SESSION)
AGENT = ["/usr/bin/python3", "/opt/kube-chaos/agent_main.py"]  # the agent program


class Kube:
    context = "kind-x"


class Api:
    """The agent pods the fake cluster has, and every call made to it, in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pods: dict[str, AgentPod] = {}
        self.calls: list[str] = []
        self.refuse: str | None = None
        monkeypatch.setattr(agentpods, "read_pod", lambda _k, name: self.pods.get(name))
        monkeypatch.setattr(agentpods, "agents_on", lambda _k, node: sorted(
            (p for p in self.pods.values() if p.node == node and p.usable),
            key=lambda p: p.name))
        monkeypatch.setattr(agentpods, "ensure_namespace",
                            lambda _k: self.calls.append("ensure_namespace"))
        monkeypatch.setattr(agentpods, "create_pod", self.create)
        monkeypatch.setattr(agentpods, "wait_usable", lambda _k, name, _t: self.pods[name])
        monkeypatch.setattr(agentpods, "delete_pod", self.delete)
        monkeypatch.setattr(agentpods, "node_state",
                            lambda _k, node: (node != "gone", "10.0.0.7"))

    def create(self, _kube: Any, manifest: dict[str, Any]) -> None:
        name = manifest["metadata"]["name"]
        self.calls.append(f"create {name}")
        if self.refuse:
            raise agentpods.AgentRefused(self.refuse)
        self.pods[name] = AgentPod(name, manifest["spec"]["nodeName"], "Running", True, "", False)

    def delete(self, _kube: Any, name: str) -> None:
        self.calls.append(f"delete {name}")
        self.pods.pop(name, None)


class Exec:
    """The pods/exec the runtime issues; answers by the first word of the node's command."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.answers: dict[str, ExecResult | Exception] = {}

    def __call__(self, _kube: Any, namespace: str, pod: str, argv: list[str], *,
                 container: str | None = None, timeout: float = 30) -> ExecResult:
        assert namespace == "kube-chaos-agent" and container == "agent"
        self.calls.append((pod, argv))
        answer = self.answers.get(argv[5] if argv[:2] == ["nsenter", "-t"] else argv[2],
                                  ExecResult(0, "", ""))
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Api:
    return Api(monkeypatch)


@pytest.fixture
def ex() -> Exec:
    return Exec()


def run_runtime(ex: Exec, journal: Journal | None, lease_s: float = 3600) -> AgentRuntime:
    return AgentRuntime(Kube(), image="kube-chaos/node-agent:abc", session=SESSION,  # type: ignore[arg-type]
                        kubeconfig="/k", cluster="x", journal=journal, lease_s=lease_s, run=ex)


def test_a_node_command_runs_as_nsenter_in_the_agent_pod_made_on_first_use(
        api: Api, ex: Exec, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    rt = run_runtime(ex, journal)
    ex.answers["ctr"] = ExecResult(0, "ID PID STATUS\n", "")
    proc = rt.exec(NODE, "ctr", "-n", "k8s.io", "tasks", "ls")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "ID PID STATUS\n", "")
    assert api.calls == ["ensure_namespace", f"create {OWN}"]
    assert ex.calls == [
        (OWN, [*AGENT, "renew", "3600"]),
        (OWN, ["nsenter", "-t", "1", "-a", "--", "ctr", "-n", "k8s.io", "tasks", "ls"])]
    rt.exec(NODE, "true")
    assert api.calls == ["ensure_namespace", f"create {OWN}"]  # made once
    [undo] = pending_in(journal.path)
    assert (undo.kind, dict(undo.params)) == ("delete-object", {
        "api_version": "v1", "kind": "Pod", "name": OWN, "namespace": "kube-chaos-agent"})
    assert dict(undo.target) == {"kubeconfig": "/k", "context": "kind-x", "cluster": "x",
                                 "namespace": "kube-chaos-agent", "node_access": "agent"}


def test_the_agent_pod_is_journaled_before_it_is_created(api: Api, ex: Exec, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    seen: list[int] = []
    create = api.create

    def create_after_journal(kube: Any, manifest: dict[str, Any]) -> None:
        seen.append(len(pending_in(journal.path)))
        create(kube, manifest)

    monkeypatch.setattr(agentpods, "create_pod", create_after_journal)
    run_runtime(ex, journal).exec(NODE, "true")
    assert seen == [1]


def test_a_commands_failure_is_an_answer_not_a_transport_failure(api: Api, ex: Exec) -> None:
    rt = run_runtime(ex, None)
    api.pods[OWN] = AgentPod(OWN, NODE, "Running", True, "", False)
    ex.answers["nft"] = ExecResult(1, "", "Error: No such file or directory")
    proc = rt.exec(NODE, "nft", "list", "table", "inet", "t")
    assert (proc.returncode, proc.stderr) == (1, "Error: No such file or directory")
    assert rt.transport_failed(proc) is False


def test_the_api_path_failing_is_exit_125_and_a_transport_failure(api: Api, ex: Exec) -> None:
    rt = run_runtime(ex, None)
    api.pods[OWN] = AgentPod(OWN, NODE, "Running", True, "", False)
    ex.answers["nft"] = ExecTransportError("exec in pod kube-chaos-agent/a: 500 boom")
    proc = rt.exec(NODE, "nft", "list", "table", "inet", "t")
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        125, "", "kube-chaos node agent: exec in pod kube-chaos-agent/a: 500 boom")
    assert rt.transport_failed(proc) is True


def test_an_agent_the_cluster_refuses_is_a_transport_failure_naming_why(
        api: Api, ex: Exec, tmp_path: Path) -> None:
    api.refuse = "cannot create node agent pod: 403 violates PodSecurity \"baseline\""
    proc = run_runtime(ex, Journal(tmp_path / "j.jsonl")).exec(NODE, "true")
    assert (proc.returncode, proc.stderr) == (
        125, "kube-chaos node agent: cannot create node agent pod: 403 violates PodSecurity "
             "\"baseline\"")


def test_stdin_reaches_the_node_through_the_agent_program(api: Api, ex: Exec) -> None:
    api.pods[OWN] = AgentPod(OWN, NODE, "Running", True, "", False)
    run_runtime(ex, None).exec(NODE, "nft", "-f", "-", stdin="table inet t {}\n")
    assert ex.calls == [(OWN, [*AGENT, "exec",
                               "--stdin-b64", "dGFibGUgaW5ldCB0IHt9Cg==", "--",
                               "nft", "-f", "-"])]


def test_an_undos_runtime_borrows_the_agent_it_finds_and_makes_none(api: Api, ex: Exec) -> None:
    other = plan.pod_name(NODE, "another-session")
    api.pods[other] = AgentPod(other, NODE, "Running", True, "", False)
    rt = AgentRuntime.for_undo(Kube(), {"agent_session": "gone-session"})  # type: ignore[arg-type]
    rt.run = ex
    rt.exec(NODE, "true")
    assert ex.calls == [(other, ["nsenter", "-t", "1", "-a", "--", "true"])]
    assert api.calls == []


def test_an_undos_runtime_prefers_the_recorded_sessions_agent(api: Api, ex: Exec) -> None:
    for session in ("a-session", SESSION):
        name = plan.pod_name(NODE, session)
        api.pods[name] = AgentPod(name, NODE, "Running", True, "", False)
    rt = AgentRuntime.for_undo(Kube(), {"agent_session": SESSION})  # type: ignore[arg-type]
    rt.run = ex
    rt.exec(NODE, "true")
    assert ex.calls == [(OWN, ["nsenter", "-t", "1", "-a", "--", "true"])]


def test_close_deletes_the_agents_the_run_made_and_marks_their_undo_done(
        api: Api, ex: Exec, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    rt = run_runtime(ex, journal)
    rt.exec(NODE, "true")
    rt.exec("w2", "true")
    assert len(pending_in(journal.path)) == 2
    assert rt.close() == []
    assert api.calls[-2:] == [f"delete {OWN}", f"delete {plan.pod_name('w2', SESSION)}"]
    assert pending_in(journal.path) == [] and api.pods == {}


def test_the_agent_neither_stops_nor_pauses_a_nodes_machine(ex: Exec) -> None:
    rt = run_runtime(ex, None)
    assert rt.supports("stop") is False and rt.supports("pause") is False
    proc = rt.power(NODE, "pause")
    assert (proc.returncode, proc.stderr) == (
        1, "the node agent cannot pause the machine of node w1")
    assert ex.calls == []


def test_state_is_running_when_the_agent_answers_and_none_when_the_node_is_gone(
        api: Api, ex: Exec) -> None:
    api.pods[OWN] = AgentPod(OWN, NODE, "Running", True, "", False)
    rt = run_runtime(ex, None)
    state = rt.state(NODE)
    assert state is not None and state.up
    assert rt.state("gone") is None
    ex.answers["true"] = ExecTransportError("websocket closed")
    with pytest.raises(ClusterError, match="node w1: its agent does not answer: kube-chaos "
                                           "node agent: websocket closed"):
        rt.state(NODE)


def test_arm_and_disarm_reach_the_agent_program(api: Api, ex: Exec) -> None:
    api.pods[OWN] = AgentPod(OWN, NODE, "Running", True, "", False)
    rt = run_runtime(ex, None)
    rt.arm(NODE, "k", "nsenter", "-t", "9", "-n", "nft", "delete", "table", "netdev", "t")
    rt.disarm(NODE, "k")
    assert ex.calls == [
        (OWN, [*AGENT, "arm", "k", "--", "nsenter", "-t",
               "9", "-n", "nft", "delete", "table", "netdev", "t"]),
        (OWN, [*AGENT, "disarm", "k"])]


# --- the dead man's switch armed by the nft/tc helpers ------------------------------------------


def test_a_table_is_armed_with_its_undo_before_it_is_loaded(api: Api, ex: Exec) -> None:
    api.pods[OWN] = AgentPod(OWN, NODE, "Running", True, "", False)
    rt = run_runtime(ex, None)
    netns.load_table(rt, NODE, 4242, "kc-part", "table netdev kc-part {}\n", "netdev")
    assert [argv[:4] if argv[2] == "arm" else argv[:3] for _, argv in ex.calls] == [
        [*AGENT, "arm", "nft-netdev-kc-part"],
        [*AGENT, "exec"]]
    assert ex.calls[0][1][4:] == ["--", "nsenter", "-t", "4242", "-n", "nft", "delete", "table",
                                  "netdev", "kc-part"]


def test_a_table_whose_undo_cannot_be_armed_is_not_loaded(api: Api, ex: Exec) -> None:
    api.pods[OWN] = AgentPod(OWN, NODE, "Running", True, "", False)
    ex.answers["arm"] = ExecResult(2, "", "No space left on device")
    rt = run_runtime(ex, None)
    with pytest.raises(InjectionFailed) as info:
        netns.load_table(rt, NODE, 4242, "kc-part", "table netdev kc-part {}\n", "netdev")
    assert str(info.value) == (f"cannot arm the node agent's undo on w1: node agent {OWN} on w1: "
                               f"arm undo nft-netdev-kc-part: No space left on device")
    assert len(ex.calls) == 1


def test_docker_has_no_switch_to_arm() -> None:
    calls: list[tuple[str, ...]] = []

    class Docker(DockerRuntime):
        def exec(self, node: str, *argv: str, stdin: str | None = None,
                 timeout: float = 30) -> subprocess.CompletedProcess[str]:
            calls.append(argv)
            return subprocess.CompletedProcess(list(argv), 0, "", "")

    netns.load_table(Docker(), NODE, 7, "t", "table inet t {}\n")
    assert calls == [("nsenter", "-t", "7", "-n", "nft", "-f", "-")]


# --- choosing the path ---------------------------------------------------------------------------


@pytest.mark.parametrize(("choice", "kind_cluster", "picked"), [
    (None, "kube-chaos", "docker"),
    ("auto", "kube-chaos", "docker"),
    (None, None, "agent"),
    ("auto", None, "agent"),
    ("agent", "kube-chaos", "agent"),
    ("docker", None, "docker"),
    (" Agent ", None, "agent"),
])
def test_node_access_auto_is_docker_on_a_kind_cluster_here_and_the_agent_elsewhere(
        choice: str | None, kind_cluster: str | None, picked: str) -> None:
    assert access.resolve(choice, kind_cluster) == picked


def test_an_unknown_node_access_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError) as info:
        access.resolve("ssh", None)
    assert str(info.value) == "node access must be one of auto, docker, agent, not 'ssh'"


def test_an_agent_undo_gets_an_agent_runtime_for_the_recorded_session() -> None:
    rt = access.for_access("agent", {"agent_session": "s1", "agent_image": "img:1"},
                           kube=lambda: Kube())  # type: ignore[arg-type, return-value]
    assert isinstance(rt, AgentRuntime)
    assert (rt.access, rt.session, rt.image, rt.journal) == ("agent", "s1", "img:1", None)


def test_an_agent_undo_without_a_cluster_to_reach_is_refused() -> None:
    with pytest.raises(RollbackFailed) as info:
        access.for_access("agent", {})
    assert str(info.value) == ("node access 'agent' is not one this kube-chaos knows "
                               "(docker, agent)")


# --- the exec's end, as the API server reports it ----------------------------------------------


def test_exit_status_reads_success_and_a_commands_exit_code() -> None:
    assert exit_status('{"metadata":{},"status":"Success"}') == 0
    assert exit_status(
        '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit '
        'code: error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode",'
        '"details":{"causes":[{"reason":"ExitCode","message":"3"}]}}') == 3


@pytest.mark.parametrize(("channel", "why"), [
    ("", "exec ended without a status: ''"),
    ("not json", "exec ended without a status: 'not json'"),
    ('{"status":"Failure","message":"container not found (\\"agent\\")"}',
     'exec failed: container not found ("agent")'),
    ('{"status":"Failure","reason":"NonZeroExitCode","message":"m",'
     '"details":{"causes":[{"reason":"ExitCode","message":"x"}]}}', "exec failed: m"),
])
def test_exit_status_that_is_not_the_commands_is_a_transport_error(channel: str, why: str) -> None:
    with pytest.raises(ExecTransportError) as info:
        exit_status(channel)
    assert str(info.value) == why


# --- run_in_pod over a fake websocket ------------------------------------------------------------


class FakeWs:
    def __init__(self, channels: dict[int, str], ends: bool = True) -> None:
        self.channels = channels
        self.ends = ends
        self.closed = False
        self.waited: float | None = None

    def run_forever(self, timeout: float | None = None) -> None:
        self.waited = timeout

    def is_open(self) -> bool:
        return not self.ends

    def read_channel(self, channel: int, timeout: float = 0) -> str:
        return self.channels.get(channel, "")

    def close(self) -> None:
        self.closed = True


class ApiKube:
    context = "kind-x"
    api = type("Api", (), {"configuration": None})()


def fake_stream(monkeypatch: pytest.MonkeyPatch, ws: FakeWs | Exception,
                seen: list[dict[str, Any]]) -> None:
    from chaos.k8s import podexec

    def stream(fn: Any, pod: str, namespace: str, **kwargs: Any) -> FakeWs:
        seen.append({"pod": pod, "namespace": namespace, **kwargs})
        if isinstance(ws, Exception):
            raise ws
        return ws

    monkeypatch.setattr(podexec, "stream", stream)


def test_run_in_pod_returns_what_the_command_said_and_its_exit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from chaos.k8s.podexec import run_in_pod

    ws = FakeWs({1: "out", 2: "err", 3: '{"status":"Failure","reason":"NonZeroExitCode",'
                 '"details":{"causes":[{"reason":"ExitCode","message":"2"}]}}'})
    seen: list[dict[str, Any]] = []
    fake_stream(monkeypatch, ws, seen)
    assert run_in_pod(ApiKube(), "ns", "p", ["nft", "list"], container="agent",  # type: ignore[arg-type]
                      timeout=7) == ExecResult(2, "out", "err")
    assert seen == [{"pod": "p", "namespace": "ns", "command": ["nft", "list"], "stdin": False,
                     "stdout": True, "stderr": True, "tty": False, "_preload_content": False,
                     "container": "agent"}]
    assert (ws.waited, ws.closed) == (7, True)


def test_run_in_pod_that_outlives_its_timeout_is_a_transport_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from chaos.k8s.podexec import run_in_pod

    ws = FakeWs({}, ends=False)
    fake_stream(monkeypatch, ws, [])
    with pytest.raises(ExecTransportError) as info:
        run_in_pod(ApiKube(), "ns", "p", ["sleep", "9"], timeout=1)  # type: ignore[arg-type]
    assert str(info.value) == "exec in pod ns/p: sleep still running after 1s"
    assert ws.closed


def test_run_in_pod_whose_exec_cannot_start_is_a_transport_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from kubernetes.client.exceptions import ApiException

    from chaos.k8s.podexec import run_in_pod

    fake_stream(monkeypatch, ApiException(status=404, reason="Not Found"), [])
    with pytest.raises(ExecTransportError) as info:
        run_in_pod(ApiKube(), "ns", "p", ["true"])  # type: ignore[arg-type]
    assert str(info.value) == "exec in pod ns/p: 404 Not Found: None"
