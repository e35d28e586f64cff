"""The session's run environment (chaos.plugin.environment.run_env) as a real pytest config
makes it, without a cluster: kind.up, the API connection and the cluster-side helpers are
fakes. Every field of the RunEnv, for a kind cluster and for a kubeconfig's; made once; what it
asks of the cluster before the first experiment; where its log lines go."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chaos.engine.locks import folder_for
from chaos.model.experiment import BlastRadius
from chaos.plugin import environment
from chaos.plugin.session import SINK, STATE

pytest_plugins = ["pytester"]


def _configure(pytester: pytest.Pytester, *args: str) -> pytest.Config:
    """A configured session's config (locust's plugin left out: its import is slow)."""
    return pytester.parseconfigure("-p", "no:locust", *args)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, list[Any]]:
    """run_env without a cluster; returns each fake's calls."""
    from chaos.cluster import kind
    from chaos.k8s import client

    calls: dict[str, list[Any]] = {"up": [], "connect": [], "orphans": [], "halted": []}
    reused = {"kc-reused"}
    monkeypatch.setenv("KUBE_CHAOS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KUBE_CHAOS_STATE", str(tmp_path / "state"))
    monkeypatch.setattr(kind, "up", lambda cfg, adopt_shape: calls["up"].append(
        (cfg.name, adopt_shape)) or SimpleNamespace(
            reused=cfg.name in reused, kubeconfig=tmp_path / "kind-kc", context=cfg.context))
    monkeypatch.setattr(client, "connect", lambda kubeconfig, context: calls["connect"].append(
        (kubeconfig, context)) or SimpleNamespace(context=context or "staging"))
    monkeypatch.setattr(environment, "roll_back_orphans",
                        lambda *args: calls["orphans"].append(args[::2]))
    monkeypatch.setattr(environment, "_refuse_if_halted",
                        lambda kube: calls["halted"].append(kube.context))
    monkeypatch.setattr(environment, "_session_manifest", lambda name: {"cluster": name})
    monkeypatch.setattr(environment, "image_provider", lambda name: f"images of {name}")
    monkeypatch.setattr(environment, "_metrics_provider", lambda name: f"metrics of {name}")
    monkeypatch.setattr(environment, "_worker_image", lambda name: f"workers of {name}")
    return calls


def test_a_kind_cluster_made_for_the_session_with_every_option(
        pytester: pytest.Pytester, offline: dict[str, list[Any]], tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"seed": 5}))
    (tmp_path / "deploy").mkdir()
    config = _configure(pytester,
        "--chaos-cluster-name=kc", "--chaos-seed=5", "--chaos-reports=out",
        "--chaos-keep-namespace=on-failure", "--chaos-allow-context=kind-other",
        "--chaos-allow-host=a.example", "--chaos-allow-host=b.example",
        f"--chaos-allow-path={tmp_path / 'deploy'}", "--chaos-max-pods=2",
        f"--chaos-plan={plan}", "--chaos-node-ports=30090-30091")
    state = config.stash[STATE]
    env = environment.run_env(config)
    assert offline["up"] == [("kc", True)]
    assert offline["connect"] == [(str(tmp_path / "kind-kc"), "kind-kc")]
    assert offline["orphans"] == [("kind-kc", ("kind-other",))]
    assert offline["halted"] == ["kind-kc"]
    assert state.created_cluster == "kc"  # made here: deleted at the end unless kept
    assert (env.kubeconfig, env.run_id, env.seed, env.cluster_name) == (
        str(tmp_path / "kind-kc"), state.run_id, 5, "kc")
    assert env.kube.context == "kind-kc"
    assert env.reports_dir == Path("out")
    assert env.journal.path == tmp_path / "state" / "journal" / f"{state.run_id}.jsonl"
    assert env.keep_namespace == "on-failure"
    assert env.allow_contexts == ("kind-other",)
    assert env.allow_hosts == ("a.example", "b.example")
    assert env.allow_paths == ((tmp_path / "deploy").resolve(),)
    assert env.blast_radius == BlastRadius(max_pods=2, max_percent=None, max_nodes=10**6)
    assert env.plan == {"seed": 5}
    assert (env.provide_images, env.provide_metrics, env.worker_image) == (
        "images of kc", "metrics of kc", "workers of kc")
    assert env.session_manifest == {"cluster": "kc"}
    assert env.rerun_options == ("--allow-context=kind-other", "--allow-host=a.example",
                                 "--allow-host=b.example",
                                 f"--allow-path={(tmp_path / 'deploy').resolve()}",
                                 "--max-pods=2")
    assert env.node_ports == (30090, 30091)
    assert env.lock_dir == folder_for(tmp_path / "cache" / "locks", "kc")
    assert env.parallel == 1
    assert environment.run_env(config) is env  # made once per session
    assert len(offline["up"]) == len(offline["connect"]) == 1


def test_a_reused_kind_cluster_with_the_defaults(
        pytester: pytest.Pytester, offline: dict[str, list[Any]], tmp_path: Path) -> None:
    config = _configure(pytester, "--chaos-cluster-name=kc-reused")
    env = environment.run_env(config)
    assert config.stash[STATE].created_cluster is None  # not ours to delete
    assert offline["orphans"] == [("kind-kc-reused", ())]
    assert env.reports_dir == Path("reports")
    assert env.keep_namespace == "never"
    assert (env.allow_contexts, env.allow_hosts, env.allow_paths) == ((), (), ())
    assert (env.blast_radius, env.plan, env.rerun_options) == (None, None, ())
    assert env.node_ports == tuple(range(30080, 30100))  # what kind publishes
    assert env.lock_dir == folder_for(tmp_path / "cache" / "locks", "kc-reused")


def test_kind_is_named_kube_chaos_unless_told(pytester: pytest.Pytester,
                                              offline: dict[str, list[Any]]) -> None:
    environment.run_env(_configure(pytester))
    assert offline["up"] == [("kube-chaos", True)]


def test_a_kubeconfig_cluster_is_nobodys_kind_cluster(
        pytester: pytest.Pytester, offline: dict[str, list[Any]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config = _configure(pytester, "--chaos-kubeconfig=~/kc.yaml", "--chaos-context=staging")
    env = environment.run_env(config)
    assert offline["up"] == []
    assert offline["connect"] == [(str(tmp_path / "kc.yaml"), "staging")]
    assert offline["orphans"] == [("staging", ())]
    assert offline["halted"] == ["staging"]
    assert env.kubeconfig == str(tmp_path / "kc.yaml")
    assert env.cluster_name is None
    assert (env.provide_images, env.provide_metrics, env.worker_image) == (None, None, None)
    assert env.session_manifest == {"cluster": None}
    assert env.node_ports == ()
    assert env.lock_dir == folder_for(tmp_path / "cache" / "locks", "staging")
    assert env.rerun_options == (f"--kubeconfig={(tmp_path / 'kc.yaml').resolve()}",
                                 "--context=staging")


def test_a_kubeconfigs_kind_context_names_the_kind_cluster(
        pytester: pytest.Pytester, offline: dict[str, list[Any]], tmp_path: Path) -> None:
    config = _configure(pytester, f"--chaos-kubeconfig={tmp_path / 'kc'}",
                                     "--chaos-context=kind-kc")
    env = environment.run_env(config)
    assert env.cluster_name == "kc"
    assert (env.provide_images, env.provide_metrics, env.worker_image) == (
        "images of kc", "metrics of kc", "workers of kc")
    assert env.lock_dir == folder_for(tmp_path / "cache" / "locks", "kc")
    assert config.stash[STATE].created_cluster is None


class Reporter:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write_line(self, line: str) -> None:
        self.lines.append(line)


def _with_reporter(config: pytest.Config) -> Reporter:
    reporter = Reporter()
    config.pluginmanager.unregister(name="terminalreporter")
    config.pluginmanager.register(reporter, "terminalreporter")
    return reporter


def test_log_lines_go_live_through_the_sink_when_verbose(
        pytester: pytest.Pytester, offline: dict[str, list[Any]]) -> None:
    config = _configure(pytester, "-v")
    reporter = _with_reporter(config)
    live: list[str] = []
    config.stash[SINK] = live.append
    environment.run_env(config).log("deployed httpd")
    assert live == ["kube-chaos: deployed httpd"]
    assert reporter.lines == []


def test_log_lines_go_to_the_terminal_without_a_sink(
        pytester: pytest.Pytester, offline: dict[str, list[Any]]) -> None:
    config = _configure(pytester, "-v")
    reporter = _with_reporter(config)
    del config.stash[SINK]
    environment.run_env(config).log("deployed httpd")
    assert reporter.lines == ["kube-chaos: deployed httpd"]


def test_log_lines_are_quiet_unless_verbose(pytester: pytest.Pytester,
                                            offline: dict[str, list[Any]]) -> None:
    config = _configure(pytester)
    reporter = _with_reporter(config)
    live: list[str] = []
    config.stash[SINK] = live.append
    environment.run_env(config).log("deployed httpd")
    assert live == [] and reporter.lines == []
    config.pluginmanager.unregister(name="terminalreporter")
    config2 = _configure(pytester, "-v")
    config2.pluginmanager.unregister(name="terminalreporter")
    config2.stash[SINK] = live.append
    environment.run_env(config2).log("deployed httpd")
    assert live == []  # no terminal at all: nowhere to write


def test_an_xdist_worker_journals_apart_and_counts_its_peers(
        pytester: pytest.Pytester, offline: dict[str, list[Any]], tmp_path: Path) -> None:
    config = _configure(pytester)
    config.workerinput = {"workerid": "gw1", "workercount": 3}  # type: ignore[attr-defined]
    env = environment.run_env(config)
    assert env.journal.path.name == f"{config.stash[STATE].run_id}-gw1.jsonl"
    assert env.parallel == 3


def test_an_empty_reports_option_writes_to_reports(pytester: pytest.Pytester,
                                                   offline: dict[str, list[Any]]) -> None:
    env = environment.run_env(_configure(pytester, "--chaos-reports="))
    assert env.reports_dir == Path("reports")
