"""The runner's own pieces, without a cluster: how fault outcomes become report figures, how a
drain's outcome reaches its SLA, and which cluster calls KubeCluster makes for a deploy."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chaos.engine import runner
from chaos.engine.locks import Pace, PaceWarning
from chaos.engine.monitor import HttpAnswer
from chaos.errors import ChaosError
from chaos.faults.base import FaultOutcome
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
from chaos.plan.generator import overload_error
from chaos.report import evaluate
from chaos.report.data import FaultRecord

SEL = Selector.of({"app": "web"})


def _exp(images: tuple[str, ...] = ()) -> Experiment:
    return Experiment(
        name="parts", workload=WorkloadSpec(manifests=(Path("w.yaml"),), selector=SEL,
                                        service="web", node_port=30080, replicas=2,
                                            images=images),
        load=LoadProfile(), steady_state=SteadyState(),
        faults=(PodKill(selector=SEL), PodKill(selector=SEL, count=2)), slas=SLASpec())


def _env(tmp_path: Path, **over: Any) -> runner.RunEnv:
    env = runner.RunEnv(kube=SimpleNamespace(context="kind-x"),  # type: ignore[arg-type]
                        kubeconfig="", run_id="r", reports_dir=tmp_path, seed=1,
                        cluster_name=None, journal=Journal(tmp_path / "j.jsonl"))
    for key, value in over.items():
        setattr(env, key, value)
    return env


# --- drains and their SLA ----------------------------------------------------------------------


@pytest.mark.parametrize(("outcomes", "blocked"), [
    ([], None),
    ([FaultOutcome("pod-kill", answer=True, details={"blocked": True})], None),  # only drains
    ([FaultOutcome("drain", answer=False, details={"blocked": False})], False),
    ([FaultOutcome("drain")], False),  # nothing recorded: not blocked
    ([FaultOutcome("drain", answer=False, details={"blocked": False}),
      FaultOutcome("drain", answer=True, details={"blocked": True})], True),
])
def test_drain_blocked_is_none_without_a_drain_else_whether_any_was_blocked(
        outcomes: list[FaultOutcome], blocked: bool | None) -> None:
    assert evaluate._drain_blocked(outcomes) is blocked


# --- fault outcomes in the report --------------------------------------------------------------


def test_fault_record_keeps_numbers_and_per_target_numbers_as_figures() -> None:
    exp = _exp()
    outcome = FaultOutcome(
        "pod-kill", targets=["web-a"], started_at=10.0, ended_at=12.5,
        details={"count": 2, "blocked": True, "reason": "pdb", "skip": None,
                 "time_to_notready_s": {"w1": 1.5, "w2": None, "w3": "n/a"}})
    record = evaluate._fault_record(1, exp, outcome)
    assert record == FaultRecord(
        index=1, spec=exp.faults[1], targets=("web-a",), started_at=10.0, ended_at=12.5,
        figures={"count": 2.0, "blocked": 1.0, "time_to_notready_s[w1]": 1.5,
                 "time_to_notready_s[w2]": None},
        details=outcome.details)
    assert isinstance(record.figures["count"], float)


def test_a_fault_outcome_beyond_the_declared_faults_takes_the_last_spec() -> None:
    exp = _exp()
    assert evaluate._fault_record(0, exp, FaultOutcome("pod-kill")).spec is exp.faults[0]
    assert evaluate._fault_record(2, exp, FaultOutcome("pod-kill")).spec is exp.faults[1]
    assert evaluate._fault_record(5, exp, FaultOutcome("pod-kill")).spec is exp.faults[1]


# --- the real cluster port ---------------------------------------------------------------------


def test_prepare_provides_images_and_deploy_applies_and_waits_for_the_rollouts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    docs = [{"kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"template": {"spec": {"containers": [{"image": "web:1"}]}}}}]
    monkeypatch.setattr(kw, "read_manifests", lambda paths, allow_cluster_scoped: calls.append(
        ("read", paths, allow_cluster_scoped)) or [("w.yaml", docs[0])])
    monkeypatch.setattr(kw, "apply_documents", lambda kube, ns, manifests: calls.append(
        ("apply", kube, ns, manifests)) or docs)
    monkeypatch.setattr(kw, "wait_rollouts", lambda kube, ns, refs, timeout: calls.append(
        ("wait", kube, ns, [(r.kind, r.name) for r in refs], timeout)))
    monkeypatch.setattr(runner, "http_get", lambda url, timeout: calls.append(
        ("get", url)) or HttpAnswer(200))
    env = _env(tmp_path, provide_images=lambda need, seen: calls.append(("images", need, seen)))
    cluster = runner.KubeCluster(env)
    assert cluster.kube is env.kube
    journal = Journal(tmp_path / "journal.jsonl")
    # the images before the experiment's clock starts (prepare), not inside its deploy
    cluster.prepare(_exp(images=("tool:2",)))
    assert calls == [("read", (Path("w.yaml"),), False), ("images", ("tool:2",), ("web:1",))]
    calls.clear()
    assert cluster.deploy(_exp(images=("tool:2",)), "ns1", 42.0, journal, 30080) == []
    assert calls == [
        ("read", (Path("w.yaml"),), False),
        ("apply", env.kube, "ns1", [("w.yaml", docs[0])]),
        ("wait", env.kube, "ns1", [("Deployment", "web")], 42.0),
        *[("get", "http://127.0.0.1:30080/")] * 3]  # serving: three answers in a row


@pytest.mark.parametrize(("kinds", "provided"), [
    (("Deployment", "HorizontalPodAutoscaler"), 1), (("Deployment",), 0)])
def test_prepare_provides_metrics_server_only_for_an_hpa(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kinds: tuple[str, ...],
        provided: int) -> None:
    """An HPA without the metrics API never scales: it gets metrics-server first; nothing else
    waits for its build."""
    docs = [{"kind": k, "metadata": {"name": "web"}} for k in kinds]
    monkeypatch.setattr(kw, "read_manifests", lambda paths, allow_cluster_scoped: [
        ("w.yaml", d) for d in docs])
    monkeypatch.setattr(kw, "apply_documents", lambda kube, ns, manifests: docs)
    monkeypatch.setattr(kw, "wait_rollouts", lambda kube, ns, refs, timeout: None)
    monkeypatch.setattr(runner, "http_get", lambda url, timeout: HttpAnswer(200))
    calls: list[str] = []
    env = _env(tmp_path, provide_metrics=lambda: calls.append("metrics"))
    runner.KubeCluster(env).deploy(_exp(), "ns1", 42.0, Journal(tmp_path / "journal.jsonl"),
                                    30080)
    assert calls == []  # never inside the experiment's budget
    runner.KubeCluster(env).prepare(_exp())
    assert calls == ["metrics"] * provided



class _Workers:
    """A WorkerImage port that records what the run asked of it."""

    def __init__(self, gateway: str = "172.18.0.1") -> None:
        self.calls: list[str] = []
        self._gateway = gateway

    def image(self) -> str:
        self.calls.append("image")
        return "kube-chaos/locust-worker:test"

    def gateway(self) -> str:
        self.calls.append("gateway")
        return self._gateway


@pytest.mark.parametrize(("workers", "asked"), [(2, ["image"]), (0, [])])
def test_prepare_asks_the_worker_port_for_the_image_only_for_in_cluster_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int, asked: list[str]) -> None:
    """The run builds nothing itself: the worker image comes from the port the plugin wired,
    before the experiment's clock starts, and only when the load runs in the cluster."""
    monkeypatch.setattr(kw, "read_manifests", lambda paths, allow_cluster_scoped: [])
    port = _Workers()
    exp = replace(_exp(), load=replace(_exp().load, in_cluster_workers=workers))
    runner.KubeCluster(_env(tmp_path, cluster_name="kube-chaos", worker_image=port)).prepare(exp)
    assert port.calls == asked


def test_in_cluster_load_without_a_worker_port_is_refused_before_any_pod(
        tmp_path: Path) -> None:
    """A kind cluster named, but no port to provide the worker image (a RunEnv built by hand):
    refused with the reason, nothing started."""
    exp = replace(_exp(), load=replace(_exp().load, in_cluster_workers=2))
    env = _env(tmp_path, cluster_name="kube-chaos")
    with pytest.raises(runner.LoadError, match="needs a kind cluster kube-chaos made"):
        runner.start_load(env, "http://127.0.0.1:30080", exp, tmp_path, "ns1")
    assert env.journal.pending() == []


def test_incluster_prepare_takes_image_and_address_from_the_port(tmp_path: Path) -> None:
    from chaos.engine import incluster

    kube = SimpleNamespace(context="kind-kube-chaos")
    journal = Journal(tmp_path / "j.jsonl")
    port = _Workers()
    got = incluster.prepare("kube-chaos", kube, "ns1", 3, journal, "/k",  # type: ignore[arg-type]
                            port)
    assert port.calls == ["image", "gateway"]
    assert (got.workers, got.bind_host) == (3, "172.18.0.1")
    assert got.launcher.image == "kube-chaos/locust-worker:test"  # type: ignore[attr-defined]
    with pytest.raises(incluster.ChaosError, match="no address of this machine"):
        incluster.prepare("kube-chaos", kube, "ns1", 3, journal, "/k",  # type: ignore[arg-type]
                          _Workers(gateway=""))


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def test_deploy_waits_until_the_node_port_serves_and_names_it_when_it_never_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([HttpAnswer(None, error="refused"), HttpAnswer(200), HttpAnswer(503),
                    HttpAnswer(200), HttpAnswer(404), HttpAnswer(200)])
    monkeypatch.setattr(runner, "http_get", lambda url, timeout: next(answers))
    said: list[str] = []
    clock = _Clock()
    cluster = runner.KubeCluster(_env(tmp_path, clock=clock, log=said.append))
    cluster._wait_serving("http://127.0.0.1:30080/", 10.0)
    assert clock.t == pytest.approx(0.5) and said == []  # after the 503, three in a row
    monkeypatch.setattr(runner, "http_get", lambda url, timeout: HttpAnswer(None, error="refused"))
    cluster._wait_serving("http://127.0.0.1:30080/", 2.0)
    assert said == ["http://127.0.0.1:30080/ still not serving after 2s (refused); steady "
                    "state will judge it"]


def test_images_on_a_cluster_that_pulls_its_own_are_only_named(tmp_path: Path) -> None:
    said: list[str] = []
    runner._provide_images(_env(tmp_path, log=said.append), _exp(images=("tool:2",)), [])
    assert said == ["[parts] spec.workload.images ignored: kind-x is not a kind cluster "
                    "kube-chaos can load images into; its nodes must pull them"]
    said.clear()
    runner._provide_images(_env(tmp_path, log=said.append), _exp(), [])
    assert said == []


def test_node_port_observer_and_server_version_ask_the_cluster(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env(tmp_path)
    monkeypatch.setattr(kw, "node_port_of", lambda kube, ns, svc: (kube, ns, svc))
    monkeypatch.setattr(kw, "server_version", lambda kube: "v1.34.4")
    monkeypatch.setattr(runner, "Observer", lambda *a: a)
    cluster = runner.KubeCluster(env)
    assert cluster.node_port("ns1", "web") == (env.kube, "ns1", "web")  # type: ignore[comparison-overlap]
    assert cluster.observer("ns1", SEL, "web") == (env.kube, "ns1", SEL, "web")  # type: ignore[comparison-overlap]
    assert cluster.server_version() == "v1.34.4"

    def unreachable(kube: Any) -> str:
        raise ChaosError("connection refused")

    monkeypatch.setattr(kw, "server_version", unreachable)
    assert cluster.server_version() is None  # the report says unknown, the run goes on


def test_cluster_ports_drive_the_real_cluster_faults_and_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env(tmp_path)
    ports = runner.cluster_ports(env)
    assert isinstance(ports.cluster, runner.KubeCluster) and ports.cluster.env is env
    assert ports.build_fault is runner.build_fault
    seen: list[Any] = []
    load = SimpleNamespace(recent_s=120.0)
    monkeypatch.setattr(runner.LoadRun, "from_profile", lambda url, profile, out, hosts:
                        seen.append((url, profile, out, hosts)) or load)
    exp = _exp()
    assert ports.start_load("http://127.0.0.1:30080", exp, tmp_path, "ns") is load
    assert load.recent_s == 120.0  # at least: no guard here looks further back
    assert seen == [("http://127.0.0.1:30080", exp.load, tmp_path,
                     runner.allowed_hosts(env.allow_hosts))]


def test_the_namespace_of_a_run_is_named_after_the_experiment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[Any] = []
    monkeypatch.setattr(kw, "namespace_name", lambda base: f"kc-{base}-1")
    monkeypatch.setattr(kw, "create_namespace", lambda kube, ns, run: created.append((ns, run)))
    env = _env(tmp_path)
    with runner._namespace(env, _exp(), lambda: True) as ns:
        assert ns == "kc-parts-1"
    assert created == [("kc-parts-1", "r")]
    assert env.journal.pending() == []  # kept on purpose: no rollback may delete it


def test_each_run_of_an_experiment_gets_its_own_report_directory(tmp_path: Path) -> None:
    parent = tmp_path / "reports" / "run-1"  # created with its parents
    assert runner._unique_dir(parent, "exp") == parent / "exp"
    assert runner._unique_dir(parent, "exp") == parent / "exp-2"
    assert runner._unique_dir(parent, "exp") == parent / "exp-3"
    assert sorted(p.name for p in parent.iterdir()) == ["exp", "exp-2", "exp-3"]


def test_report_directories_are_bounded(tmp_path: Path) -> None:
    for n in range(4, 10_000):
        (tmp_path / f"exp-{n}").mkdir()
    for name in ("exp", "exp-2", "exp-3"):
        (tmp_path / name).mkdir()
    with pytest.raises(ChaosError) as info:
        runner._unique_dir(tmp_path, "exp")
    assert str(info.value) == f"too many runs of exp under {tmp_path}"
    assert not (tmp_path / "exp-10000").exists()


def test_an_unsafe_context_is_refused_with_the_way_out(tmp_path: Path) -> None:
    from chaos.errors import SafetyRefused

    with pytest.raises(SafetyRefused) as info:
        runner.check_safety(_env(tmp_path), why_not_ours=lambda kube: "no marker")
    assert str(info.value) == (
        "refusing to inject faults into context 'kind-x': it is not a kind cluster provisioned "
        "by kube-chaos (no marker). If this really is a cluster you may break, allow it with "
        "--chaos-allow-context=kind-x (or the chaos_allow_context ini option).")
    runner.check_safety(_env(tmp_path), why_not_ours=lambda kube: None)  # ours: no refusal


def test_asking_a_result_for_an_undeclared_sla_names_the_declared_ones() -> None:
    from chaos.model.timeline import SLAResult

    result = runner.ExperimentResult(
        experiment=_exp(), verdict="pass", slas=[SLAResult("maxRecovery", 1.0, 0.5, True, "s")],
        recovery_seconds=0.5, longest_outage_s=0.0, requests_total=1, requests_failed=0,
        error_rate_during_fault=0.0, restarts=0, faults=[], report_path=None, namespace="ns")
    with pytest.raises(KeyError) as info:
        result.sla("maxOutage")
    assert info.value.args == ("no SLA 'maxOutage' in this result (['maxRecovery'])",)


def test_the_last_spec_of_three(tmp_path: Path) -> None:
    from dataclasses import replace

    exp = replace(_exp(), faults=(*_exp().faults, PodKill(selector=SEL, count=3)))
    assert evaluate._fault_record(7, exp, FaultOutcome("pod-kill")).spec is exp.faults[2]


def test_in_cluster_load_goes_to_the_service_dns_name_through_pods(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import chaos.engine.incluster as incluster

    exp = _exp()
    exp = replace(exp, load=replace(exp.load, in_cluster_workers=2))
    with pytest.raises(runner.LoadError, match="needs a kind cluster kube-chaos made"):
        runner.start_load(_env(tmp_path), "http://127.0.0.1:30080", exp, tmp_path, "ns1")

    env = _env(tmp_path, cluster_name="kube-chaos", worker_image="workers")
    monkeypatch.setattr(kw, "service_port", lambda kube, ns, svc, node_port: 8080)
    prepared: list[Any] = []
    monkeypatch.setattr(incluster, "prepare", lambda *a: prepared.append(a) or "pods")
    seen: list[Any] = []

    class Run:
        recent_s = 120.0

        def wait_first_record(self, timeout_s: float) -> bool:
            seen.append(("waited", timeout_s))
            return True

    def from_profile(url: str, profile: Any, out: Path, hosts: Any, in_cluster: Any) -> Run:
        seen.append((url, hosts, in_cluster))
        return Run()

    monkeypatch.setattr(runner.LoadRun, "from_profile", from_profile)
    runner.start_load(env, "http://127.0.0.1:30080", exp, tmp_path, "ns1")
    assert prepared == [("kube-chaos", env.kube, "ns1", 2, env.journal, env.kubeconfig,
                         "workers")]
    url, hosts, in_cluster = seen[0]
    assert url == "http://web.ns1.svc.cluster.local:8080" and in_cluster == "pods"
    assert "web.ns1.svc.cluster.local" in hosts and "127.0.0.1" in hosts
    assert seen[1] == ("waited", runner.POD_CONNECT_WAIT_S)


# --- a run whose load generator fell behind ------------------------------------------------


def _overloads(monkeypatch: pytest.MonkeyPatch, errors: list[str | None]) -> list[int]:
    """run_experiment's own run replaced: each attempt ends with the next error of ``errors``;
    the list returned fills with each attempt's slot."""
    for name in ("check_safety", "check_target", "check_guard_hosts", "check_not_halted"):
        monkeypatch.setattr(runner, name, lambda *a, **k: None)
    slots: list[int] = []

    def one_run(exp: Experiment, env: runner.RunEnv, *rest: object) -> runner.ExperimentResult:
        slots.append(Pace(env.lock_dir, env.run_id, env.parallel).degree())  # type: ignore[arg-type]
        error = errors.pop(0)
        return runner.ExperimentResult(
            experiment=exp, verdict="error" if error else "pass", slas=[],
            recovery_seconds=None, longest_outage_s=None, requests_total=1, requests_failed=0,
            error_rate_during_fault=None, restarts=None, faults=[], report_path=None,
            namespace="n", error=error)

    monkeypatch.setattr(runner, "_run", one_run)
    return slots


OVERLOAD = overload_error("send lag p99 300 ms (bound 100 ms)")


def test_an_overloaded_run_backs_the_session_off_and_goes_again_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paces = _overloads(monkeypatch, [OVERLOAD, None])
    said: list[str] = []
    env = _env(tmp_path, lock_dir=tmp_path / "locks", parallel=4, log=said.append)
    with pytest.warns(PaceWarning, match="parts: its load generator fell behind with 4 "
                      "experiments at once: 2 from now"):
        result = runner.run_experiment(_exp(), env, ports=SimpleNamespace(cluster=None))  # type: ignore[arg-type]
    assert (result.verdict, result.error) == ("pass", None)
    assert paces == [4, 2]  # the second attempt ran at the lowered pace
    assert any("fell behind with 4 experiments at once: 2 from now" in s for s in said)


def test_a_second_overload_is_the_verdict_there_is_no_third_try(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paces = _overloads(monkeypatch, [OVERLOAD, OVERLOAD, None])
    env = _env(tmp_path, lock_dir=tmp_path / "locks", parallel=4)
    with pytest.warns(PaceWarning):
        result = runner.run_experiment(_exp(), env, ports=SimpleNamespace(cluster=None))  # type: ignore[arg-type]
    assert result.verdict == "error" and result.error == OVERLOAD and paces == [4, 2]


@pytest.mark.parametrize("parallel", [1, 2])
def test_one_at_a_time_an_overload_is_the_verdict_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: int) -> None:
    paces = _overloads(monkeypatch, [OVERLOAD, None])
    lock_dir = tmp_path / "locks"
    if parallel == 2:  # already backed off to one by an earlier run of the session
        Pace(lock_dir, "r", 2).back_off()
    env = _env(tmp_path, lock_dir=lock_dir, parallel=parallel)
    result = runner.run_experiment(_exp(), env, ports=SimpleNamespace(cluster=None))  # type: ignore[arg-type]
    assert result.error == OVERLOAD and len(paces) == 1


def test_any_other_error_is_never_run_again(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    paces = _overloads(monkeypatch, ["InjectionFailed: no pod matched", None])
    env = _env(tmp_path, lock_dir=tmp_path / "locks", parallel=4)
    result = runner.run_experiment(_exp(), env, ports=SimpleNamespace(cluster=None))  # type: ignore[arg-type]
    assert result.error == "InjectionFailed: no pod matched" and paces == [4]


def test_a_kind_clusters_run_reaches_its_nodes_through_docker(tmp_path: Path) -> None:
    from fake_node import FakeNode

    from chaos.node.kind import DockerRuntime

    def env(**over: Any) -> runner.RunEnv:
        return runner.RunEnv(kube=SimpleNamespace(context="kind-x"),  # type: ignore[arg-type]
                             kubeconfig="", run_id="r", reports_dir=tmp_path, seed=1,
                             journal=Journal(tmp_path / "j.jsonl"), **over)

    assert isinstance(env(cluster_name="kube-chaos").node, DockerRuntime)
    assert env(cluster_name=None).node is None  # another cluster: node-level faults refuse
    mine = FakeNode()
    assert env(cluster_name="kube-chaos", node=mine).node is mine
