"""KubeCluster's reads and its Events against a fake API server: the checks on an existing
workload's namespace and controller, the Events it posts, the halt marker, workload conditions
and the cluster's NodePorts, each read through the run's own client."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from chaos.clock import FakeClock
from chaos.engine import runner
from chaos.errors import InjectionFailed, SafetyRefused
from chaos.journal.store import Journal
from chaos.k8s import workload as kw
from chaos.model.abort import HaltMarker
from chaos.model.experiment import ExistingWorkload
from chaos.plan.manifests import WorkloadRef


def _not_found() -> ApiException:
    return ApiException(status=404, reason="Not Found")


class FakeCore:
    """The CoreV1Api calls KubeCluster's reads make, over a few stored objects."""

    def __init__(self) -> None:
        self.namespaces: dict[str, client.V1Namespace] = {}
        self.services: list[client.V1Service] = []
        self.config_maps: dict[tuple[str, str], client.V1ConfigMap] = {}
        self.pods: dict[tuple[str, str], client.V1Pod] = {}
        self.nodes: dict[str, client.V1Node] = {}
        self.events: list[tuple[str, client.CoreV1Event, Any]] = []
        self.refuse_events = False
        self.timeouts: list[tuple[str, Any]] = []

    def read_namespace(self, name: str) -> client.V1Namespace:
        if name not in self.namespaces:
            raise _not_found()
        return self.namespaces[name]

    def list_service_for_all_namespaces(self) -> client.V1ServiceList:
        return client.V1ServiceList(items=self.services)

    def create_namespaced_event(self, namespace: str, body: client.CoreV1Event,
                                _request_timeout: Any = None) -> client.CoreV1Event:
        if self.refuse_events:
            raise ApiException(status=403, reason="Forbidden")
        self.events.append((namespace, body, _request_timeout))
        return body

    def read_namespaced_config_map(self, name: str, namespace: str,
                                   _request_timeout: Any = None) -> client.V1ConfigMap:
        self.timeouts.append((f"configmap {namespace}/{name}", _request_timeout))
        if (namespace, name) not in self.config_maps:
            raise _not_found()
        return self.config_maps[(namespace, name)]

    def read_namespaced_pod_status(self, name: str, namespace: str,
                                   _request_timeout: Any = None) -> client.V1Pod:
        self.timeouts.append((f"pod {namespace}/{name}", _request_timeout))
        if (namespace, name) not in self.pods:
            raise _not_found()
        return self.pods[(namespace, name)]

    def read_node_status(self, name: str, _request_timeout: Any = None) -> client.V1Node:
        self.timeouts.append((f"node {name}", _request_timeout))
        if name not in self.nodes:
            raise _not_found()
        return self.nodes[name]


class FakeApps:
    def __init__(self) -> None:
        self.deployments: dict[tuple[str, str], client.V1Deployment] = {}
        self.timeouts: list[tuple[str, Any]] = []

    def read_namespaced_deployment_status(self, name: str, namespace: str,
                                          _request_timeout: Any = None) -> client.V1Deployment:
        self.timeouts.append((f"deployment {namespace}/{name}", _request_timeout))
        if (namespace, name) not in self.deployments:
            raise _not_found()
        return self.deployments[(namespace, name)]

    # the other controllers' reads exist; these tests keep none of their objects
    read_namespaced_stateful_set_status = read_namespaced_daemon_set_status = \
        read_namespaced_replica_set_status = read_namespaced_deployment_status


class FakeKube:
    def __init__(self) -> None:
        self.context = "kind-x"
        self.core = FakeCore()
        self.apps = FakeApps()
        self.batch = SimpleNamespace(read_namespaced_job_status=None)


def _namespace(name: str, labels: dict[str, str] | None = None,
               deleting: bool = False) -> client.V1Namespace:
    gone = datetime(2026, 12, 7, tzinfo=UTC) if deleting else None
    return client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels,
                                                           deletion_timestamp=gone))


@pytest.fixture
def kube() -> FakeKube:
    return FakeKube()


@pytest.fixture
def logged() -> list[str]:
    return []


@pytest.fixture
def cluster(tmp_path: Path, kube: FakeKube, logged: list[str]) -> runner.KubeCluster:
    env = runner.RunEnv(kube=kube,  # type: ignore[arg-type]
                        kubeconfig="/home/me/.kube/config", run_id="r", reports_dir=tmp_path,
                        seed=1, cluster_name=None, journal=Journal(tmp_path / "j.jsonl"),
                        clock=FakeClock(), log=logged.append)
    return runner.KubeCluster(env)


@pytest.fixture
def waited(monkeypatch: pytest.MonkeyPatch, kube: FakeKube) -> list[Any]:
    """The rollout waits asked for (the watch itself is chaos.k8s's, tested there)."""
    seen: list[Any] = []

    def wait_rollouts(on: Any, ns: str, refs: list[WorkloadRef], timeout_s: float) -> None:
        assert on is kube
        seen.append((ns, [(r.kind, r.name) for r in refs], timeout_s))

    monkeypatch.setattr(kw, "wait_rollouts", wait_rollouts)
    return seen


# --- an existing workload -----------------------------------------------------------------------

def test_an_existing_workload_in_an_active_namespace_waits_for_its_controllers_rollout(
        cluster: runner.KubeCluster, kube: FakeKube, waited: list[Any]) -> None:
    kube.core.namespaces["shop"] = _namespace("shop", {"team": "shop"})

    cluster._check_existing(ExistingWorkload(namespace="shop", kind="StatefulSet", name="db"),
                            42.0)

    assert waited == [("shop", [("StatefulSet", "db")], 42.0)]


def test_an_existing_workload_named_by_its_selector_alone_waits_for_no_controller(
        cluster: runner.KubeCluster, kube: FakeKube, waited: list[Any]) -> None:
    kube.core.namespaces["shop"] = _namespace("shop")

    cluster._check_existing(ExistingWorkload(namespace="shop"), 42.0)
    # half a controller's name (the parser refuses it) is no controller to wait for either
    cluster._check_existing(ExistingWorkload(namespace="shop", kind="Deployment"), 42.0)
    cluster._check_existing(ExistingWorkload(namespace="shop", name="web"), 42.0)

    assert waited == []


@pytest.mark.parametrize("namespace", ["kube-system", "kube-public", "kube-node-lease"])
def test_an_existing_workload_in_a_system_namespace_is_refused_without_reading_it(
        cluster: runner.KubeCluster, kube: FakeKube, waited: list[Any], namespace: str) -> None:
    kube.core.namespaces[namespace] = _namespace(namespace)

    with pytest.raises(SafetyRefused) as info:
        cluster._check_existing(ExistingWorkload(namespace=namespace, kind="Deployment",
                                                 name="web"), 42.0)

    assert str(info.value) == (
        f"namespace {namespace} is protected (kube-system, kube-public, kube-node-lease, or "
        "labelled kube-chaos.io/protected=true): no experiment may target it")
    assert waited == []


def test_an_existing_workload_in_a_namespace_labelled_protected_is_refused(
        cluster: runner.KubeCluster, kube: FakeKube, waited: list[Any]) -> None:
    kube.core.namespaces["payments"] = _namespace("payments",
                                                  {"kube-chaos.io/protected": "true"})

    with pytest.raises(SafetyRefused) as info:
        cluster._check_existing(ExistingWorkload(namespace="payments", kind="Deployment",
                                                 name="web"), 42.0)

    assert str(info.value) == (
        "namespace payments is protected (kube-system, kube-public, kube-node-lease, or "
        "labelled kube-chaos.io/protected=true): no experiment may target it")
    assert waited == []


@pytest.mark.parametrize("value", ["false", "True", ""])
def test_only_the_protected_label_set_to_true_protects_a_namespace(
        cluster: runner.KubeCluster, kube: FakeKube, waited: list[Any], value: str) -> None:
    kube.core.namespaces["shop"] = _namespace("shop", {"kube-chaos.io/protected": value})

    cluster._check_existing(ExistingWorkload(namespace="shop", kind="Deployment", name="web"),
                            5.0)

    assert waited == [("shop", [("Deployment", "web")], 5.0)]


@pytest.mark.parametrize("deleting", [False, True], ids=["absent", "terminating"])
def test_an_existing_workload_whose_namespace_is_gone_or_going_is_refused(
        cluster: runner.KubeCluster, kube: FakeKube, waited: list[Any], deleting: bool) -> None:
    if deleting:
        kube.core.namespaces["shop"] = _namespace("shop", deleting=True)

    with pytest.raises(InjectionFailed) as info:
        cluster._check_existing(ExistingWorkload(namespace="shop", kind="Deployment",
                                                 name="web"), 42.0)

    assert str(info.value) == ("namespace shop of the existing workload does not exist (or is "
                               "being deleted)")
    assert waited == []


# --- Events -------------------------------------------------------------------------------------

def test_announce_posts_a_warning_event_on_the_target_in_its_namespace(
        cluster: runner.KubeCluster, kube: FakeKube, logged: list[str]) -> None:
    cluster.announce("shop", "Pod", "web-1", "ChaosPodKill", "pod-kill by ops: killing web-1")

    [(namespace, event, timeout)] = kube.core.events
    assert namespace == "shop"
    assert event.involved_object == client.V1ObjectReference(
        kind="Pod", name="web-1", namespace="shop", api_version="v1")
    assert (event.reason, event.message, event.type) == (
        "ChaosPodKill", "pod-kill by ops: killing web-1", "Warning")
    assert event.metadata.generate_name == "kube-chaos.web-1."
    assert timeout == 5
    assert logged == []


def test_an_event_the_api_refuses_is_logged_naming_the_reason_and_target(
        cluster: runner.KubeCluster, kube: FakeKube, logged: list[str]) -> None:
    kube.core.refuse_events = True

    cluster.announce("shop", "Node", "worker-2", "ChaosNodeDrain", "draining worker-2")

    assert kube.core.events == []
    assert logged == ["could not post a ChaosNodeDrain Event on Node worker-2"]


# --- halt marker, conditions, NodePorts ---------------------------------------------------------

def test_the_halt_marker_is_read_from_the_cluster_within_the_given_time(
        cluster: runner.KubeCluster, kube: FakeKube) -> None:
    assert cluster.halt_marker(7.0) is None

    kube.core.config_maps[("kube-system", "kube-chaos-halt")] = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="kube-chaos-halt", namespace="kube-system"),
        data={"by": "ops@laptop (pid 7)", "epoch": "1700000000.5", "reason": "game day over"})

    assert cluster.halt_marker(3.0) == HaltMarker(by="ops@laptop (pid 7)", at=1_700_000_000.5,
                                                  reason="game day over")
    assert kube.core.timeouts == [("configmap kube-system/kube-chaos-halt", 7.0),
                                  ("configmap kube-system/kube-chaos-halt", 3.0)]


def test_conditions_are_read_from_the_named_object_within_the_given_time(
        cluster: runner.KubeCluster, kube: FakeKube) -> None:
    kube.apps.deployments[("shop", "web")] = client.V1Deployment(
        spec=client.V1DeploymentSpec(
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec()),
        status=client.V1DeploymentStatus(conditions=[
            client.V1DeploymentCondition(type="Available", status="True"),
            client.V1DeploymentCondition(type="Progressing", status="False")]))
    kube.core.pods[("shop", "web-1")] = client.V1Pod(status=client.V1PodStatus(conditions=[
        client.V1PodCondition(type="Ready", status="False")]))

    assert cluster.conditions("Deployment", "web", "shop", 2.5) == {
        "Available": "True", "Progressing": "False"}
    assert cluster.conditions("Pod", "web-1", "shop", 1.5) == {"Ready": "False"}
    assert cluster.conditions("Deployment", "api", "shop", 2.5) is None
    assert kube.apps.timeouts == [("deployment shop/web", 2.5), ("deployment shop/api", 2.5)]
    assert kube.core.timeouts == [("pod shop/web-1", 1.5)]


def test_the_conditions_of_a_cluster_scoped_object_are_read_without_a_namespace(
        cluster: runner.KubeCluster, kube: FakeKube) -> None:
    kube.core.nodes["worker-2"] = client.V1Node(status=client.V1NodeStatus(conditions=[
        client.V1NodeCondition(type="Ready", status="Unknown"),
        client.V1NodeCondition(type="MemoryPressure", status="False")]))

    assert cluster.conditions("Node", "worker-2", None, 4.0) == {
        "Ready": "Unknown", "MemoryPressure": "False"}
    assert kube.core.timeouts == [("node worker-2", 4.0)]


def test_node_ports_in_use_names_the_service_holding_each(
        cluster: runner.KubeCluster, kube: FakeKube) -> None:
    kube.core.services = [
        client.V1Service(metadata=client.V1ObjectMeta(namespace="shop", name="web"),
                         spec=client.V1ServiceSpec(ports=[
                             client.V1ServicePort(port=80, node_port=30080),
                             client.V1ServicePort(port=443, node_port=30443)])),
        client.V1Service(metadata=client.V1ObjectMeta(namespace="default", name="kubernetes"),
                         spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=443)]))]

    assert cluster.node_ports_in_use() == {30080: "shop/web", 30443: "shop/web"}
