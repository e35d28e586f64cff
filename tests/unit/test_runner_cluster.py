"""The runner's real cluster port and its checks, without a cluster: what KubeCluster.deploy
journals and applies, how long it waits for the NodePort to serve, how the load and the API
probe are wired, and the refusals before a run (guard hosts, a halt)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fake_node import FakeNode

from chaos.clock import FakeClock
from chaos.engine import runner
from chaos.engine.monitor import HttpAnswer
from chaos.errors import HaltActive, SafetyRefused
from chaos.journal.store import Journal
from chaos.k8s import workload as kw
from chaos.model import (
    Experiment,
    LoadProfile,
    PodKill,
    Selector,
    SLASpec,
    SteadyState,
    WorkloadSpec,
)
from chaos.model.abort import AbortSpec, HaltMarker, HttpGuard, PrometheusGuard
from chaos.model.experiment import ExistingWorkload, ObjectRef

SEL = Selector.of({"app": "web"})
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}}
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}


def _exp(**workload: Any) -> Experiment:
    return Experiment(
        name="cluster", workload=WorkloadSpec(**{
            "manifests": (Path("w.yaml"),), "selector": SEL, "service": "web",
            "node_port": 30080, "replicas": 2, **workload}),
        load=LoadProfile(), steady_state=SteadyState(), faults=(PodKill(selector=SEL),),
        slas=SLASpec())


def _env(tmp_path: Path, **over: Any) -> runner.RunEnv:
    env = runner.RunEnv(kube=SimpleNamespace(context="kind-x"),  # type: ignore[arg-type]
                        kubeconfig="/home/me/.kube/config", run_id="r", reports_dir=tmp_path,
                        seed=1, cluster_name=None, journal=Journal(tmp_path / "j.jsonl"),
                        clock=FakeClock())
    for key, value in over.items():
        setattr(env, key, value)
    return env


class Applied:
    """kw's reads and writes replaced: what was applied, and which URLs were asked."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, docs: list[dict[str, Any]]) -> None:
        self.applied: list[dict[str, Any]] = []
        self.gets: list[tuple[str, float]] = []
        self.calls: list[str] = []
        monkeypatch.setattr(kw, "read_manifests", lambda paths, allow_cluster_scoped: (
            self.calls.append("read") or [("w.yaml", d) for d in docs]))

        def apply(kube: Any, ns: str, manifests: list[tuple[str, dict[str, Any]]]) -> list[Any]:
            self.calls.append("apply")
            self.applied = [doc for _, doc in manifests]
            return self.applied

        monkeypatch.setattr(kw, "apply_documents", apply)
        monkeypatch.setattr(kw, "wait_rollouts", lambda kube, ns, refs, timeout: None)
        monkeypatch.setattr(runner, "http_get", lambda url, timeout: self.gets.append(
            (url, timeout)) or HttpAnswer(200))


# --- deploy ------------------------------------------------------------------------------------


def test_deploying_an_existing_workload_only_checks_it_and_creates_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = Applied(monkeypatch, [DEPLOYMENT])
    monkeypatch.setattr(kw, "namespace_labels", lambda kube, ns: {})
    monkeypatch.setattr(kw, "namespace_state", lambda kube, ns: "active")
    waited: list[Any] = []
    monkeypatch.setattr(kw, "wait_rollouts", lambda kube, ns, refs, timeout: waited.append(
        (ns, [(r.kind, r.name) for r in refs], timeout)))
    exp = _exp(manifests=(), existing=ExistingWorkload(namespace="shop", kind="Deployment",
                                                       name="web"))
    journal = Journal(tmp_path / "journal.jsonl")
    assert runner.KubeCluster(_env(tmp_path)).deploy(exp, "shop", 42.0, journal, 30080) == []
    assert waited == [("shop", [("Deployment", "web")], 42.0)]
    assert seen.calls == [] and seen.gets == [] and journal.pending() == []


def test_nodeport_auto_sets_the_picked_port_on_the_service_and_waits_for_it_to_serve(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = Applied(monkeypatch, [DEPLOYMENT, SERVICE])
    runner.KubeCluster(_env(tmp_path)).deploy(_exp(node_port="auto"), "ns1", 42.0,
                                              Journal(tmp_path / "journal.jsonl"), 30093)
    assert seen.applied == [DEPLOYMENT, {**SERVICE, "spec": {
        "type": "NodePort", "ports": [{"port": 80, "nodePort": 30093}]}}]
    assert seen.gets == [("http://127.0.0.1:30093/", 1.0)] * 3


def test_cluster_scoped_objects_are_journaled_for_deletion_before_they_are_applied(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    seen = Applied(monkeypatch, [DEPLOYMENT])
    monkeypatch.setattr(kw, "apply_documents", lambda kube, ns, manifests: seen.calls.append(
        f"apply with {len(journal.pending())} pending") or [DEPLOYMENT])
    exp = _exp(cluster_scoped="allow", cluster_objects=(
        ObjectRef("rbac.authorization.k8s.io/v1", "ClusterRole", "web-reader"),
        ObjectRef("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com")))
    created = runner.KubeCluster(_env(tmp_path)).deploy(exp, "ns1", 42.0, journal, 30080)
    target = {"kubeconfig": "/home/me/.kube/config", "context": "kind-x", "cluster": "",
              "namespace": "ns1"}
    assert [(a.kind, dict(a.params), dict(a.target)) for a in created] == [
        ("delete-object", {"api_version": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                           "name": "web-reader"}, target),
        ("delete-object", {"api_version": "apiextensions.k8s.io/v1",
                           "kind": "CustomResourceDefinition", "name": "widgets.example.com"},
         target)]
    assert [a.id for a in journal.pending()] == [a.id for a in reversed(created)]
    assert seen.calls == ["read", "apply with 2 pending"]


def test_cluster_scoped_objects_name_the_kind_cluster_they_live_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Applied(monkeypatch, [DEPLOYMENT])
    exp = _exp(cluster_scoped="allow",
               cluster_objects=(ObjectRef("rbac.authorization.k8s.io/v1", "ClusterRole", "r"),))
    env = _env(tmp_path, cluster_name="kube-chaos")
    (created,) = runner.KubeCluster(env).deploy(exp, "ns1", 42.0, env.journal, 30080)
    assert created.target["cluster"] == "kube-chaos"


@pytest.mark.parametrize(("node_port", "url"), [(None, None), (30080, "http://127.0.0.1:8080")])
def test_deploy_waits_for_no_node_port_when_the_load_goes_elsewhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, node_port: int | None,
        url: str | None) -> None:
    seen = Applied(monkeypatch, [DEPLOYMENT])
    exp = replace(_exp(node_port=node_port), load=LoadProfile(url=url))
    runner.KubeCluster(_env(tmp_path)).deploy(exp, "ns1", 42.0, Journal(tmp_path / "j2.jsonl"),
                                              node_port)
    assert seen.calls == ["read", "apply"] and seen.gets == []


@pytest.mark.parametrize(("timeout_s", "waited_s"), [(42.0, 30.0), (12.5, 12.5), (0.25, 1.0)])
def test_deploy_waits_for_serving_at_most_30s_and_at_least_1s(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, timeout_s: float,
        waited_s: float) -> None:
    Applied(monkeypatch, [DEPLOYMENT])
    cluster = runner.KubeCluster(_env(tmp_path))
    waits: list[tuple[str, float]] = []
    monkeypatch.setattr(cluster, "_wait_serving", lambda url, timeout: waits.append(
        (url, timeout)))
    cluster.deploy(_exp(), "ns1", timeout_s, Journal(tmp_path / "j2.jsonl"), 30080)
    assert waits == [("http://127.0.0.1:30080/", waited_s)]


# --- waiting for the NodePort to serve -----------------------------------------------------------


def test_a_500_is_not_serving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([HttpAnswer(500), HttpAnswer(200), HttpAnswer(500), HttpAnswer(499),
                    HttpAnswer(499), HttpAnswer(499)])
    asked: list[float] = []
    monkeypatch.setattr(runner, "http_get", lambda url, timeout: asked.append(timeout)
                        or next(answers))
    said: list[str] = []
    env = _env(tmp_path, log=said.append)
    runner.KubeCluster(env)._wait_serving("http://127.0.0.1:30080/", 10.0)
    assert env.clock.monotonic() == pytest.approx(0.5) and said == []  # type: ignore[attr-defined]
    assert asked == [1.0] * 6  # each GET waits a second at most


def test_a_port_that_answers_too_few_times_in_a_row_is_named_without_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "http_get", lambda url, timeout: HttpAnswer(200))
    said: list[str] = []
    runner.KubeCluster(_env(tmp_path, log=said.append))._wait_serving("http://127.0.0.1:1/",
                                                                      0.15)
    assert said == ["http://127.0.0.1:1/ still not serving after 0s (); steady state will "
                    "judge it"]


# --- the load and the API probe ------------------------------------------------------------------


def test_in_cluster_load_outside_a_kind_cluster_is_refused_with_the_reason(
        tmp_path: Path) -> None:
    exp = replace(_exp(), load=LoadProfile(in_cluster_workers=2))
    with pytest.raises(runner.LoadError) as info:
        runner.start_load(_env(tmp_path), "http://127.0.0.1:30080", exp, tmp_path, "ns1")
    assert str(info.value) == (
        "cluster: spec.load.inCluster needs a kind cluster kube-chaos made (the worker image is "
        "loaded into its nodes, the master listens on its network); this run's cluster is not "
        "one")


def test_in_cluster_load_asks_for_the_service_port_behind_the_runs_node_port(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chaos.engine import incluster

    asked: list[Any] = []
    monkeypatch.setattr(kw, "service_port", lambda kube, ns, svc, node_port: asked.append(
        (ns, svc, node_port)) or 8080)
    monkeypatch.setattr(incluster, "prepare", lambda *a: "pods")
    run = SimpleNamespace(recent_s=0.0, wait_first_record=lambda timeout_s: True)
    urls: list[str] = []
    monkeypatch.setattr(runner.LoadRun, "from_profile", lambda url, profile, out, hosts,
                        in_cluster: urls.append(url) or run)
    exp = replace(_exp(), load=LoadProfile(in_cluster_workers=2))
    env = _env(tmp_path, cluster_name="kube-chaos", worker_image="workers")
    assert runner.start_load(env, "http://127.0.0.1:30093", exp, tmp_path, "ns1") is run
    assert asked == [("ns1", "web", 30093)]
    assert urls == ["http://web.ns1.svc.cluster.local:8080"]


@pytest.mark.parametrize(("cluster_name", "node", "members"), [
    ("kube-chaos", FakeNode(), ["cp-1", "cp-2"]),  # a kind cluster: etcd read in its nodes
    ("kube-chaos", None, []),  # no way into the nodes
    (None, FakeNode(), []),  # not a kind cluster: through the API only
])
def test_the_api_probe_reads_etcd_members_only_where_the_nodes_are_reachable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cluster_name: str | None,
        node: FakeNode | None, members: list[str]) -> None:
    monkeypatch.setattr(runner, "control_plane_nodes", lambda kube: ["cp-1", "cp-2"])
    monkeypatch.setattr(runner, "ApiProbe", lambda kube, members, node: (kube, members, node))
    env = _env(tmp_path, cluster_name=cluster_name, node=node)
    probe = runner.cluster_ports(env).start_api_probe
    assert probe is not None
    assert probe() == (env.kube, members, node)


# --- refusals before a run -----------------------------------------------------------------------


def test_guards_to_unallowed_hosts_are_refused_naming_each_and_the_options_to_allow_them(
        tmp_path: Path) -> None:
    exp = replace(_exp(), abort=AbortSpec(guards=(
        HttpGuard(name="shop", url="http://shop.example/health"),
        PrometheusGuard(name="prom", url="http://prom.example:9090", query="up"),
        HttpGuard(name="local", url="http://127.0.0.1:8080/"))))
    with pytest.raises(SafetyRefused) as info:
        runner.check_guard_hosts(_env(tmp_path), exp)
    assert str(info.value) == (
        "cluster: abort guards would send requests to hosts nobody allowed: guard shop: "
        "http://shop.example/health (host shop.example); guard prom: http://prom.example:9090 "
        "(host prom.example). Allow them with --chaos-allow-host=prom.example "
        "--chaos-allow-host=shop.example (or the chaos_allow_host ini option); 127.0.0.1 and "
        "localhost always are.")
    runner.check_guard_hosts(_env(tmp_path, allow_hosts=("shop.example", "prom.example")), exp)


def test_the_halt_marker_is_read_within_ten_seconds(tmp_path: Path) -> None:
    asked: list[float] = []
    marker = HaltMarker(by="ops@laptop (pid 7)", at=1.0, reason="game day over")
    cluster = SimpleNamespace(halt_marker=lambda timeout_s: asked.append(timeout_s) or marker)
    with pytest.raises(HaltActive):
        runner.check_not_halted(_env(tmp_path), cluster)  # type: ignore[arg-type]
    assert asked == [10.0]
