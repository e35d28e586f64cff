"""The pytest options a session was run with, turned back into `kube-chaos run` flags for its
rerun command (chaos.plugin.options.rerun_options): each flag, its order, and what is left out."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chaos.plugin.options import rerun_options


class Config:
    """What rerun_options reads of a pytest config: command-line values, then the ini's."""

    def __init__(self, start: Path, **opts: Any) -> None:
        self.opts = opts
        self.invocation_params = SimpleNamespace(dir=start)

    def getoption(self, name: str) -> object:
        return self.opts.get(name)

    def getini(self, name: str) -> object:
        return ""


def test_a_session_with_no_options_reruns_with_no_flags(tmp_path: Path) -> None:
    assert rerun_options(Config(tmp_path)) == ()  # type: ignore[arg-type]


def test_every_option_comes_back_as_its_flag_in_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = Config(tmp_path / "start", chaos_kubeconfig="~/k/config", chaos_context="kind-x",
                    chaos_allow_context=["a", "b"], chaos_allow_host=["h1", "h2"],
                    chaos_allow_path=["deploy"], chaos_max_pods="2", chaos_max_percent="",
                    chaos_max_nodes="1")
    assert rerun_options(config) == (  # type: ignore[arg-type]
        f"--kubeconfig={(tmp_path / 'home' / 'k' / 'config').resolve()}",
        "--context=kind-x",  # a name, not a path: kept as given
        "--allow-context=a", "--allow-context=b",
        "--allow-host=h1", "--allow-host=h2",
        f"--allow-path={(tmp_path / 'start' / 'deploy').resolve()}",
        "--max-pods=2", "--max-nodes=1",  # an empty percent is no limit
    )


def test_a_relative_kubeconfig_is_made_absolute_for_the_rerun(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = Config(tmp_path, chaos_kubeconfig="kc.yaml", chaos_max_percent="50.0")
    assert rerun_options(config) == (  # type: ignore[arg-type]
        f"--kubeconfig={(tmp_path / 'kc.yaml').resolve()}", "--max-percent=50.0")


# --- --chaos-node-access and --chaos-lease (chaos.plugin.environment.node_runtime) -------------


class NodeConfig(Config):
    def __init__(self, start: Path, **opts: Any) -> None:
        super().__init__(start, **opts)
        from chaos.plugin.session import STATE, ChaosState

        self.stash = {STATE: ChaosState(run_id="20261207-001500-42")}


def _node_runtime(config: NodeConfig, cluster_name: str | None) -> Any:
    from chaos.plugin.environment import node_runtime

    class Kube:
        context = "ctx"

    return node_runtime(config, Kube(), "/k", cluster_name, None, lambda _m: None)  # type: ignore[arg-type]


def test_by_default_a_kind_cluster_keeps_docker(tmp_path: Path) -> None:
    assert _node_runtime(NodeConfig(tmp_path), "kube-chaos") is None


def test_the_agent_runtime_of_a_session_is_named_for_its_journal_and_lease(
        tmp_path: Path) -> None:
    rt = _node_runtime(NodeConfig(tmp_path, chaos_node_access="agent",
                                  chaos_agent_image="reg.example/agent:1", chaos_lease="12"),
                       "kube-chaos")
    assert (rt.access, rt.image, rt.session, rt.lease_s, rt.kubeconfig, rt.cluster) == (
        "agent", "reg.example/agent:1", "20261207-001500-42", 12.0, "/k", "kube-chaos")


def test_another_cluster_gets_the_agent_with_the_image_this_checkout_builds(
        tmp_path: Path) -> None:
    from chaos.cluster.agent_image import image_tag

    rt = _node_runtime(NodeConfig(tmp_path), None)
    assert (rt.access, rt.image, rt.lease_s) == ("agent", image_tag(), 30.0)
    assert rt.image.startswith("kube-chaos/node-agent:")


@pytest.mark.parametrize(("raw", "why"), [
    ("soon", "--chaos-lease must be a number of seconds, got 'soon'"),
    ("1", "--chaos-lease must be between 2 and 3600 seconds, got 1"),
])
def test_a_lease_that_is_not_a_sane_number_of_seconds_is_a_usage_error(
        tmp_path: Path, raw: str, why: str) -> None:
    with pytest.raises(pytest.UsageError) as info:
        _node_runtime(NodeConfig(tmp_path, chaos_node_access="agent",
                                 chaos_agent_image="i", chaos_lease=raw), None)
    assert str(info.value) == why


def test_an_unknown_node_access_in_the_ini_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(pytest.UsageError) as info:
        _node_runtime(NodeConfig(tmp_path, chaos_node_access="ssh"), None)
    assert str(info.value) == ("chaos_node_access: node access must be one of auto, docker, "
                               "agent, not 'ssh'")
