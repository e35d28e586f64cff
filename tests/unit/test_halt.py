"""The kill switch's marker and `kube-chaos halt`, against a fake API server."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from chaos import cli
from chaos.cli import halt as cli_halt
from chaos.errors import ClusterError
from chaos.k8s import client as kclient
from chaos.k8s import halt as khalt
from chaos.model.abort import HaltMarker

T0 = 1_700_000_000.0


class FakeCore:
    def __init__(self) -> None:
        self.maps: dict[tuple[str, str], Any] = {}
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise ApiException(status=503, reason="Service Unavailable")

    def read_namespaced_config_map(self, name: str, namespace: str, **kw: Any) -> Any:
        self._check()
        if (namespace, name) not in self.maps:
            raise ApiException(status=404, reason="Not Found")
        return self.maps[(namespace, name)]

    def create_namespaced_config_map(self, namespace: str, body: Any, **kw: Any) -> Any:
        self._check()
        key = (namespace, body.metadata.name)
        if key in self.maps:
            raise ApiException(status=409, reason="AlreadyExists")
        body.metadata.creation_timestamp = None
        self.maps[key] = body
        return body

    def delete_namespaced_config_map(self, name: str, namespace: str, **kw: Any) -> None:
        self._check()
        if self.maps.pop((namespace, name), None) is None:
            raise ApiException(status=404, reason="Not Found")


@pytest.fixture
def kube(monkeypatch: pytest.MonkeyPatch) -> Any:
    fake = SimpleNamespace(core=FakeCore(), context="kind-x")
    monkeypatch.setattr(kclient, "connect", lambda kubeconfig, context: fake)
    return fake


def test_write_read_clear_the_marker(kube: Any) -> None:
    assert khalt.read_halt(kube) is None
    marker = HaltMarker(by="ops@box (pid 1)", at=T0 + 0.25, reason="incident 42")
    assert khalt.write_halt(kube, marker) == (marker, True)
    assert khalt.read_halt(kube) == marker
    cm = kube.core.maps[("kube-system", "kube-chaos-halt")]
    assert cm.data["at"] == "2023-11-14T22:13:20.250+00:00"
    later = HaltMarker(by="someone-else", at=T0 + 60)
    assert khalt.write_halt(kube, later) == (marker, False)  # the first halt's record is kept
    assert khalt.clear_halt(kube) == marker
    assert khalt.clear_halt(kube) is None and khalt.read_halt(kube) is None


def test_an_unreadable_marker_is_a_cluster_error_not_an_absent_one(kube: Any) -> None:
    kube.core.down = True
    with pytest.raises(ClusterError, match=r"cannot read the halt marker.*Service Unavailable"):
        khalt.read_halt(kube)


def test_halt_command_halts_reports_and_clears(kube: Any, capsys: pytest.CaptureFixture[str]
                                               ) -> None:
    assert cli.main(["halt", "--kubeconfig", "/k", "--context", "kind-x", "--status"]) == 0
    assert "context kind-x (/k): not halted" in capsys.readouterr().out
    assert cli.main(["halt", "--kubeconfig", "/k", "--reason", "pager went off"]) == 0
    out = capsys.readouterr().out
    assert "context kind-x (/k): halted by " in out and ": pager went off" in out
    assert "new runs are refused until `kube-chaos halt --clear --context kind-x`" in out
    marker = khalt.read_halt(kube)
    assert marker is not None and marker.reason == "pager went off"
    assert marker.by == cli_halt.whoami()
    assert cli.main(["halt", "--kubeconfig", "/k", "--reason", "again"]) == 0
    assert "already halted by" in capsys.readouterr().out
    assert cli.main(["halt", "--kubeconfig", "/k", "--status"]) == 1
    assert cli.main(["halt", "--kubeconfig", "/k", "--clear"]) == 0
    assert "halt cleared (it said: halted by" in capsys.readouterr().out
    assert cli.main(["halt", "--kubeconfig", "/k", "--clear"]) == 0
    assert "was not halted; nothing to clear" in capsys.readouterr().out


def test_halt_command_errors_exit_2(kube: Any, capsys: pytest.CaptureFixture[str]) -> None:
    kube.core.down = True
    assert cli.main(["halt", "--kubeconfig", "/k"]) == 2
    assert "cannot read the halt marker" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["halt", "--clear", "--status"])


KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:1"}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: {name}, context: {{cluster: c, user: u}}}}]
current-context: {name}
"""


def test_the_kubeconfig_that_has_the_context_is_found(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    home, cache = tmp_path / "home", tmp_path / "cache"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text(KUBECONFIG.format(name="prod"))
    kind = cache / "clusters" / "kube-chaos" / "kubeconfig"
    kind.parent.mkdir(parents=True)
    kind.write_text(KUBECONFIG.format(name="kind-kube-chaos"))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KUBE_CHAOS_CACHE", str(cache))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    assert cli_halt.resolve_kubeconfig(None, "kind-kube-chaos") == kind
    assert cli_halt.resolve_kubeconfig(None, "prod") == home / ".kube" / "config"
    assert cli_halt.resolve_kubeconfig(None, None) == home / ".kube" / "config"
    assert cli_halt.resolve_kubeconfig(None, "nowhere") is None
    assert cli_halt.resolve_kubeconfig("~/k", "x") == home / "k"
    env = tmp_path / "env.yaml"
    env.write_text(KUBECONFIG.format(name="prod"))
    monkeypatch.setenv("KUBECONFIG", str(env))
    assert cli_halt.resolve_kubeconfig(None, "prod") == env
