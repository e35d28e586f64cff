"""DockerRuntime against a fake ``docker`` on PATH that records its argv: each action issues
the docker command it always did, Docker's "cannot connect" is a transport failure while its
"no such container" is an answer, and nothing raises when docker is missing or hangs."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from chaos.errors import DockerUnavailable, RollbackFailed
from chaos.node import access
from chaos.node.kind import DockerRuntime
from chaos.node.runtime import NodeMachineState

FMT = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
DAEMON_DOWN = ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
               "Is the docker daemon running?")
FAKE = f"""#!{sys.executable}
import json, os, sys, time
env = os.environ
stdin = sys.stdin.read() if env.get("FAKE_DOCKER_STDIN") else None
with open(env["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "stdin": stdin}}) + "\\n")
time.sleep(float(env.get("FAKE_DOCKER_SLEEP", "0")))
sys.stdout.write(env.get("FAKE_DOCKER_OUT", ""))
sys.stderr.write(env.get("FAKE_DOCKER_ERR", ""))
sys.exit(int(env.get("FAKE_DOCKER_RC", "0")))
"""


class Fake:
    def __init__(self, log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.log = log
        self.monkeypatch = monkeypatch

    def answer(self, rc: int = 0, out: str = "", err: str = "") -> None:
        self.monkeypatch.setenv("FAKE_DOCKER_RC", str(rc))
        self.monkeypatch.setenv("FAKE_DOCKER_OUT", out)
        self.monkeypatch.setenv("FAKE_DOCKER_ERR", err)

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line)["argv"] for line in self.log.read_text().splitlines()]

    def stdins(self) -> list[str | None]:
        return [json.loads(line)["stdin"] for line in self.log.read_text().splitlines()]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fake:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text(FAKE)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))  # only the fake: the real docker is never run
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(tmp_path / "calls.jsonl"))
    return Fake(tmp_path / "calls.jsonl", monkeypatch)


def test_each_action_issues_the_docker_command_it_always_did(fake: Fake) -> None:
    rt = DockerRuntime()
    assert rt.access == "docker"
    assert rt.exec("w1", "ctr", "-n", "k8s.io", "tasks", "ls").returncode == 0
    for verb in ("stop", "start", "pause", "unpause"):
        assert rt.power("w1", verb).returncode == 0  # type: ignore[arg-type]
    fake.answer(out='{"Status": "paused", "Running": true, "Paused": true}\n')
    assert rt.state("w1") == NodeMachineState("paused", running=True, paused=True)
    fake.answer(out="172.18.0.3 fc00::3 \n")
    assert rt.address("cp1") == "172.18.0.3"
    assert fake.calls() == [
        ["exec", "-i", "w1", "ctr", "-n", "k8s.io", "tasks", "ls"],
        ["stop", "w1"], ["start", "w1"], ["pause", "w1"], ["unpause", "w1"],
        ["inspect", "--type", "container", "-f", "{{json .State}}", "w1"],
        ["inspect", "-f", FMT, "cp1"],
    ]


def test_exec_hands_the_command_its_stdin_and_returns_what_it_said(
        fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DOCKER_STDIN", "1")
    fake.answer(rc=1, out="partial\n", err="Error: syntax error\n")
    proc = DockerRuntime().exec("w2", "nsenter", "-t", "42", "-n", "nft", "-f", "-",
                                stdin="table inet t {}\n")
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "partial\n",
                                                           "Error: syntax error\n")
    assert fake.calls() == [["exec", "-i", "w2", "nsenter", "-t", "42", "-n", "nft", "-f", "-"]]
    assert fake.stdins() == ["table inet t {}\n"]
    assert DockerRuntime().transport_failed(proc) is False  # the command said no


def test_the_transport_failing_is_told_from_the_engine_saying_no(fake: Fake) -> None:
    rt = DockerRuntime()
    fake.answer(rc=1, err=DAEMON_DOWN)
    down = rt.exec("w1", "true")
    assert rt.transport_failed(down) is True
    with pytest.raises(DockerUnavailable, match=r"^docker inspect w1: Cannot connect to the "):
        rt.state("w1")  # Docker could not tell: never "gone"
    fake.answer(rc=1, err="Error response from daemon: No such container: w9\n")
    gone = rt.exec("w9", "true")
    assert rt.transport_failed(gone) is False
    assert rt.state("w9") is None  # Docker answered: the container does not exist
    fake.answer(rc=1, err="Error: No such object: w9\n")
    assert rt.state("w9") is None
    fake.answer(out="not json\n")
    with pytest.raises(DockerUnavailable, match="unexpected output 'not json"):
        rt.state("w1")
    fake.answer(rc=1, err="Error: No such object: cp9\n")
    assert rt.address("cp9") == ""


def test_nothing_raises_when_docker_is_missing(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    rt = DockerRuntime()
    proc = rt.exec("w1", "true")
    assert proc.returncode == 125 and "docker" in proc.stderr
    assert rt.transport_failed(proc) is True
    assert rt.power("w1", "start").returncode == 125
    assert rt.address("w1") == ""
    with pytest.raises(DockerUnavailable, match=r"^docker inspect w1: "):
        rt.state("w1")  # a ClusterError, as every caller expects


def test_a_hung_docker_is_cut_at_the_timeout(fake: Fake, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    monkeypatch.setenv("FAKE_DOCKER_SLEEP", "5")
    rt = DockerRuntime()
    proc = rt.exec("w1", "curl", "-s", timeout=0.5)
    assert proc.returncode == 125 and "timed out" in proc.stderr
    assert rt.transport_failed(proc) is True
    assert rt.power("w1", "stop", timeout=0.5).returncode == 125


def test_a_kind_cluster_gets_docker_access_and_any_other_cluster_none() -> None:
    assert isinstance(access.for_cluster("kube-chaos"), DockerRuntime)
    assert access.for_cluster(None) is None and access.for_cluster("") is None
    rt = DockerRuntime()
    assert rt.supports("stop") and rt.supports("pause")
    assert isinstance(access.for_access("docker"), DockerRuntime)
    with pytest.raises(RollbackFailed, match="no access to its nodes"):
        access.for_access("")
    with pytest.raises(RollbackFailed, match=r"node access 'agent' is not one"):
        access.for_access("agent")


def test_the_api_probe_reads_etcd_members_through_the_node_runtime() -> None:
    import subprocess
    from types import SimpleNamespace

    from fake_node import FakeNode
    from kubernetes import client

    from chaos.k8s.apiprobe import ETCD_HEALTH, ApiProbe

    asked: list[tuple[object, ...]] = []

    def exec_(node: str, *argv: str, stdin: str | None, timeout: float
              ) -> subprocess.CompletedProcess[str]:
        asked.append((node, *argv, timeout))
        if node == "cp2":
            return subprocess.CompletedProcess([], 1, "", "curl: (7) refused\n")
        return subprocess.CompletedProcess([], 0, '{"health":"true","reason":""}', "")

    kube = SimpleNamespace(api=SimpleNamespace(configuration=client.Configuration()))
    probe = ApiProbe(kube, ["cp1", "cp2"], node=FakeNode(exec=exec_))  # type: ignore[arg-type]
    up, down = probe._member("cp1"), probe._member("cp2")
    assert asked == [("cp1", "curl", "-s", "-m", "1", ETCD_HEALTH, 3),
                     ("cp2", "curl", "-s", "-m", "1", ETCD_HEALTH, 3)]
    assert (up.member, up.healthy) == ("cp1", True)
    assert (down.healthy, down.detail) == (None, "curl: (7) refused")
    # without a node runtime no member is read (only the API series run)
    assert ApiProbe(kube, ["cp1"]).members == []  # type: ignore[arg-type]
