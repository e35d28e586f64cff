"""The ports ``nodePort: auto`` picks from, and the lock folder it picks under, as the session's
run environment gets them: a kind cluster's published NodePorts, or --chaos-node-ports (ini
chaos_node_ports) for another cluster."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chaos.engine.locks import folder_for
from chaos.plugin import environment

pytest_plugins = ["pytester"]

PRINT_ENV = """\
def test_env(request):
    from chaos.plugin.environment import run_env

    env = run_env(request.config)
    print("PORTS", env.node_ports[:3], len(env.node_ports))
    print("LOCKS", env.lock_dir)
"""


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Any]:
    """run_env without a cluster: kind.up and the API connection are fakes."""
    from chaos.cluster import kind
    from chaos.k8s import client

    ups: list[Any] = []
    monkeypatch.setenv("KUBE_CHAOS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KUBE_CHAOS_STATE", str(tmp_path / "state"))
    monkeypatch.setattr(kind, "up", lambda cfg, adopt_shape: ups.append(cfg) or SimpleNamespace(
        reused=True, kubeconfig=tmp_path / "kc", context=cfg.context))
    monkeypatch.setattr(client, "connect", lambda kubeconfig, context: SimpleNamespace(
        context=context or "staging"))
    monkeypatch.setattr(environment, "roll_back_orphans", lambda *a: None)
    monkeypatch.setattr(environment, "_refuse_if_halted", lambda kube: None)
    monkeypatch.setattr(environment, "_session_manifest", lambda name: {})
    return ups


def test_a_kind_cluster_offers_its_published_node_ports(pytester: pytest.Pytester,
                                                        offline: list[Any],
                                                        tmp_path: Path) -> None:
    pytester.makepyfile(PRINT_ENV)
    result = pytester.runpytest_inprocess("-s", "-q", "--chaos-cluster-name=kc")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["PORTS (30080, 30081, 30082) 20",
                                 f"LOCKS {folder_for(tmp_path / 'cache' / 'locks', 'kc')}"])
    assert [cfg.name for cfg in offline] == ["kc"]
    # the option narrows them (here: leaves the kind range's start to fixed-port experiments)
    result = pytester.runpytest_inprocess("-s", "-q", "--chaos-cluster-name=kc",
                                          "--chaos-node-ports=30090-30099")
    result.stdout.fnmatch_lines(["PORTS (30090, 30091, 30092) 10"])


def test_a_kubeconfig_cluster_offers_none_unless_named(pytester: pytest.Pytester,
                                                       offline: list[Any],
                                                       tmp_path: Path) -> None:
    pytester.makepyfile(PRINT_ENV)
    kubeconfig = f"--chaos-kubeconfig={tmp_path / 'kc'}"
    result = pytester.runpytest_inprocess("-s", "-q", kubeconfig, "--chaos-context=staging")
    result.stdout.fnmatch_lines([
        "PORTS () 0", f"LOCKS {folder_for(tmp_path / 'cache' / 'locks', 'staging')}"])
    pytester.makeini("[pytest]\nchaos_node_ports = 31000-31002, 31010\n")
    result = pytester.runpytest_inprocess("-s", "-q", kubeconfig, "--chaos-context=staging")
    result.stdout.fnmatch_lines(["PORTS (31000, 31001, 31002) 4"])
    # a kubeconfig's kind context shares the kind cluster's locks
    result = pytester.runpytest_inprocess("-s", "-q", kubeconfig, "--chaos-context=kind-kc")
    result.stdout.fnmatch_lines([f"LOCKS {folder_for(tmp_path / 'cache' / 'locks', 'kc')}"])
    assert offline == []  # no kind cluster was made for a kubeconfig


@pytest.mark.parametrize("bad", ["30080-", "80-90", "30099-30080", "30080,x", "32768"])
def test_a_bad_node_port_range_is_a_usage_error(pytester: pytest.Pytester, offline: list[Any],
                                                bad: str) -> None:
    pytester.makepyfile(PRINT_ENV)
    result = pytester.runpytest_inprocess("-q", f"--chaos-node-ports={bad}")
    result.stdout.fnmatch_lines([f"*--chaos-node-ports: '{bad.split(',')[-1]}' is not a "
                                 "NodePort or a range of them (30000-32767, e.g. 30080-30099 "
                                 "or 30080,30085)*"])
    assert offline == []  # refused before any cluster is made
