"""``nodePort: auto`` at run time: the port a run picks (chaos.engine.ports), the Service it
sets it on (chaos.plan.manifests.with_node_port), the cluster's NodePorts in use (chaos.k8s),
and the phases using the picked port rather than the declared one."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chaos.clock import FakeClock
from chaos.engine import ports as eports
from chaos.engine.locks import ClusterLocks
from chaos.engine.phases import load_url
from chaos.errors import ClusterError, InjectionFailed, NodePortUnavailable
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
from chaos.plan.claims import node_port_key
from chaos.plan.manifests import with_node_port
from tests.unit.test_phases import World, _experiment, _report, _run

SEL = Selector.of({"app": "web"})
PUBLISHED = (30080, 30081, 30082)


def _exp(node_port: int | str | None = "auto", url: str | None = None) -> Experiment:
    return Experiment(
        name="auto", workload=WorkloadSpec(manifests=(Path("w.yaml"),), selector=SEL,
                                           service="web", node_port=node_port,  # type: ignore[arg-type]
                                           replicas=2),
        load=LoadProfile(url=url), steady_state=SteadyState(), faults=(PodKill(selector=SEL),),
        slas=SLASpec())


def _none_in_use() -> dict[int, str]:
    return {}


# --- which port ------------------------------------------------------------------------------


def test_a_fixed_port_is_itself_and_takes_no_lock(tmp_path: Path) -> None:
    def never() -> dict[int, str]:
        raise AssertionError("a fixed port needs no listing")

    assert eports.pick(_exp(30090), PUBLISHED, never, tmp_path) == (30090, None)
    assert eports.pick(_exp(30090), (), never, None) == (30090, None)  # kubeconfig clusters too
    assert list(tmp_path.iterdir()) == []


def test_auto_with_a_load_url_needs_no_published_port(tmp_path: Path) -> None:
    assert eports.pick(_exp(url="https://shop.example"), (), _none_in_use, tmp_path) == (
        None, None)


def test_auto_picks_the_first_published_port_no_service_holds(tmp_path: Path) -> None:
    in_use = {30080: "other/web", 30500: "x/y"}
    port, lock = eports.pick(_exp(), PUBLISHED, lambda: in_use, tmp_path)
    assert port == 30081 and lock is not None and lock.is_locked
    lock.release()
    # without a lock folder the Services alone decide
    assert eports.pick(_exp(), PUBLISHED, lambda: in_use, None) == (30081, None)


def test_a_port_another_run_holds_is_skipped_and_held_until_the_run_ends(tmp_path: Path) -> None:
    other = ClusterLocks(tmp_path).try_key(node_port_key(30080))  # another run's pick
    assert other is not None
    with eports.held_node_port(_exp(), PUBLISHED, _none_in_use, tmp_path) as port:
        assert port == 30081
        # held meanwhile: a third run cannot have it, and picks the next
        assert ClusterLocks(tmp_path).try_key(node_port_key(30081)) is None
        with eports.held_node_port(_exp(), PUBLISHED, _none_in_use, tmp_path) as third:
            assert third == 30082
    # released at the end of the block: free for the next run
    free = ClusterLocks(tmp_path).try_key(node_port_key(30081))
    assert free is not None
    free.release()
    other.release()


def test_the_lock_is_released_when_the_run_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), \
            eports.held_node_port(_exp(), PUBLISHED, _none_in_use, tmp_path):
        raise RuntimeError("deploy failed")
    again = ClusterLocks(tmp_path).try_key(node_port_key(30080))
    assert again is not None
    again.release()


def test_a_fixed_port_run_holds_the_same_key_an_auto_pick_would(tmp_path: Path) -> None:
    """The scheduler holds node_port_key(30080) for a fixed-port run: auto never picks it."""
    with ClusterLocks(tmp_path).keys([node_port_key(30080)]):
        port, lock = eports.pick(_exp(), PUBLISHED, _none_in_use, tmp_path)
    assert port == 30081 and lock is not None
    lock.release()


def test_no_free_port_names_the_range_and_every_holder(tmp_path: Path) -> None:
    held = [ClusterLocks(tmp_path).try_key(node_port_key(p)) for p in (30081, 30082)]
    with pytest.raises(NodePortUnavailable) as info:
        eports.pick(_exp(), PUBLISHED, lambda: {30080: "team/api"}, tmp_path)
    assert str(info.value) == (
        "auto: nodePort: auto found no free port among 30080-30082, the NodePorts the cluster "
        "publishes on 127.0.0.1: 30080 by Service team/api; 30081 by another run; 30082 by "
        f"another run (run locks in {tmp_path}). Run fewer experiments at once, or delete the "
        "Services left by a crashed run (`kube-chaos rollback`)")
    assert isinstance(info.value, InjectionFailed)
    for lock in held:
        assert lock is not None
        lock.release()
    port, lock = eports.pick(_exp(), PUBLISHED, lambda: {30080: "team/api"}, tmp_path)
    assert port == 30081 and lock is not None
    lock.release()


def test_a_long_list_of_holders_is_cut_short() -> None:
    published = tuple(range(30080, 30100))
    with pytest.raises(NodePortUnavailable) as info:
        eports.pick(_exp(), published, lambda: {p: f"ns/s{p}" for p in published}, None)
    text = str(info.value)
    assert "among 30080-30099," in text and "30087 by Service ns/s30087; and 12 more." in text
    assert "30088" not in text and "run locks" not in text


def test_auto_on_a_cluster_that_publishes_no_port_says_what_to_do() -> None:
    with pytest.raises(NodePortUnavailable, match=r"this cluster publishes none .*"
                       r"--chaos-node-ports.*: give a fixed nodePort or spec.load.url"):
        eports.pick(_exp(), (), _none_in_use, None)


def test_port_ranges_are_runs_of_consecutive_ports() -> None:
    assert eports.port_ranges((30080, 30081, 30082, 30090, 30085, 30086)) == (
        "30080-30082, 30090, 30085-30086")


# --- the Service gets the port ---------------------------------------------------------------


SERVICE: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
    "spec": {"type": "NodePort", "selector": {"app": "web"},
             "ports": [{"name": "http", "port": 80, "nodePort": 30080},
                       {"name": "admin", "port": 81, "nodePort": 30081}]}}
DEPLOYMENT: dict[str, Any] = {"kind": "Deployment", "metadata": {"name": "web"}}


def test_the_named_services_first_port_gets_the_pick_and_the_others_none() -> None:
    other = copy.deepcopy(SERVICE)
    other["metadata"]["name"] = "web-other"
    docs = [DEPLOYMENT, other, SERVICE]
    before = copy.deepcopy(docs)
    out = with_node_port(docs, "web", 30093)
    assert out[2]["spec"]["ports"] == [{"name": "http", "port": 80, "nodePort": 30093},
                                       {"name": "admin", "port": 81}]
    assert out[2]["spec"]["selector"] == {"app": "web"} and out[2]["metadata"] == {"name": "web"}
    assert out[:2] == docs[:2]  # the other Service keeps its own ports
    assert docs == before  # the documents read are not changed


def test_without_a_pick_the_cluster_allocates_every_port() -> None:
    out = with_node_port([SERVICE], "web", None)
    assert out[0]["spec"]["ports"] == [{"name": "http", "port": 80},
                                       {"name": "admin", "port": 81}]


def test_a_service_missing_or_without_ports_is_an_error() -> None:
    with pytest.raises(InjectionFailed, match="define no Service web"):
        with_node_port([DEPLOYMENT, {**SERVICE, "metadata": {"name": "api"}}], "web", 30080)
    with pytest.raises(InjectionFailed, match="Service web declares no ports"):
        with_node_port([{**SERVICE, "spec": {"type": "NodePort"}}], "web", 30080)
    with pytest.raises(InjectionFailed, match="declares no ports"):
        with_node_port([{**SERVICE, "spec": {"ports": ["80"]}}], "web", 30080)


def test_the_documents_after_the_service_are_kept_in_place() -> None:
    config = {"kind": "ConfigMap", "metadata": {"name": "c"}}
    out = with_node_port([DEPLOYMENT, SERVICE, config], "web", None)
    assert out == [DEPLOYMENT, {**SERVICE, "spec": {**SERVICE["spec"], "ports": [
        {"name": "http", "port": 80}, {"name": "admin", "port": 81}]}}, config]


@pytest.mark.parametrize("spec", [{"type": "NodePort"}, {"ports": []}, {"ports": ["80"]}])
def test_a_service_without_ports_is_refused_in_full(spec: dict[str, Any]) -> None:
    with pytest.raises(InjectionFailed) as info:
        with_node_port([{**SERVICE, "spec": spec}], "web", None)
    assert str(info.value) == "Service web declares no ports: nodePort: auto has none to set"


def test_a_missing_service_is_refused_in_full() -> None:
    with pytest.raises(InjectionFailed) as info:
        with_node_port([DEPLOYMENT], "web", 30080)
    assert str(info.value) == ("the workload manifests define no Service web: nodePort: auto has "
                               "no Service to set the port it picked on")


# --- the cluster's NodePorts in use ----------------------------------------------------------


def _svc(ns: str, name: str, *node_ports: int | None) -> Any:
    return SimpleNamespace(metadata=SimpleNamespace(namespace=ns, name=name),
                           spec=SimpleNamespace(ports=[SimpleNamespace(node_port=p)
                                                       for p in node_ports]))


def test_node_ports_in_use_lists_every_services_node_ports() -> None:
    items = [_svc("a", "web", 30080, None), _svc("b", "api", 30081, 30082),
             SimpleNamespace(metadata=SimpleNamespace(namespace="c", name="cip"),
                             spec=SimpleNamespace(ports=None))]
    kube = SimpleNamespace(core=SimpleNamespace(
        list_service_for_all_namespaces=lambda: SimpleNamespace(items=items)))
    assert kw.node_ports_in_use(kube) == {30080: "a/web", 30081: "b/api",  # type: ignore[arg-type]
                                          30082: "b/api"}


def test_node_ports_in_use_names_an_api_failure() -> None:
    from kubernetes.client.exceptions import ApiException

    def refuse() -> Any:
        raise ApiException(status=403, reason="Forbidden")

    kube = SimpleNamespace(core=SimpleNamespace(list_service_for_all_namespaces=refuse))
    with pytest.raises(ClusterError, match="cannot list the cluster's Services"):
        kw.node_ports_in_use(kube)  # type: ignore[arg-type]


# --- the phases use the picked port ----------------------------------------------------------


def test_the_url_is_the_picked_port_then_the_fixed_one_then_the_host() -> None:
    assert load_url(_exp(), 30093) == "http://127.0.0.1:30093"
    assert load_url(_exp()) == "http://127.0.0.1"  # before the pick: the host alone
    assert load_url(_exp(30080)) == "http://127.0.0.1:30080"
    assert load_url(_exp(url="https://shop.example"), 30093) == "https://shop.example"


def test_the_runner_deploys_loads_and_reports_on_the_picked_port(tmp_path: Path) -> None:
    world = World(clock=FakeClock(), node_port=30082,
                  ports_in_use={30080: "other/web", 30081: "other/api"})
    exp = replace(_phases_exp(), workload=replace(_phases_exp().workload, node_port="auto"))
    said: list[str] = []
    result = _run(world, tmp_path, exp, node_ports=PUBLISHED, lock_dir=tmp_path / "locks",
                  log=said.append)
    assert result.verdict == "pass", result.error
    assert "[offline] nodePort: auto picked 30082" in said
    assert world.deployed_ports == [30082]
    assert [url for url, _ in world.loads] == ["http://127.0.0.1:30082"]
    assert _report(result)["cluster"]["node_port"] == 30082
    # the services were listed after the harness's set-up, before the namespace was made
    assert world.log[:3] == ["prepare", "node-ports-listed", "namespace.create"]
    # and the lock went with the run
    free = ClusterLocks(tmp_path / "locks").try_key(node_port_key(30082))
    assert free is not None
    free.release()


def test_a_service_on_another_port_than_the_pick_is_an_error(tmp_path: Path) -> None:
    world = World(clock=FakeClock(), node_port=30080)
    exp = replace(_phases_exp(), workload=replace(_phases_exp().workload, node_port="auto"))
    result = _run(world, tmp_path, exp, node_ports=(30081,))
    assert result.error == ("InjectionFailed: service web has nodePort 30080, the run set "
                            "30081")


def test_no_free_port_stops_the_run_before_its_namespace(tmp_path: Path) -> None:
    world = World(clock=FakeClock(), ports_in_use={30081: "other/web"})
    exp = replace(_phases_exp(), workload=replace(_phases_exp().workload, node_port="auto"))
    with pytest.raises(NodePortUnavailable, match="30081 by Service other/web"):
        _run(world, tmp_path, exp, node_ports=(30081,))
    assert world.log == ["prepare", "node-ports-listed"]  # nothing was created


def test_a_fixed_port_run_lists_nothing_and_deploys_its_own_port(tmp_path: Path) -> None:
    world = World(clock=FakeClock())
    result = _run(world, tmp_path, _phases_exp(), node_ports=PUBLISHED)
    assert result.verdict == "pass" and world.deployed_ports == [30080]
    assert "node-ports-listed" not in world.log


def _phases_exp() -> Experiment:
    return _experiment()  # test_phases' experiment, with its fixed port 30080
