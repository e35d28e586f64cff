"""Every fault that holds returns the moment the run is aborted, and its own undo runs then:
a cordon with a duration, a drain retrying refused evictions, a node loss, a probe break's
watch, a pod kill's later rounds. Fakes for the cluster and Docker; time is a FakeClock."""

from __future__ import annotations

import threading
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest
from test_undo_faults import FakeCore, FakeDocker

from chaos.abort import AbortSignal
from chaos.clock import FakeClock
from chaos.faults import nodes as fnodes
from chaos.faults import pods as fpods
from chaos.faults import probes as fprobes
from chaos.faults.base import FaultContext
from chaos.journal.store import Journal, read_journal
from chaos.k8s import nodes as knodes
from chaos.k8s import pods as kpods
from chaos.k8s.observe import Snapshot
from chaos.model.abort import Breach
from chaos.model.experiment import Cordon, Drain, NodeLoss, NodeSelection, PodKill, Selector
from chaos.plan.drain import PodInfo

SEL = Selector.of({"app": "x"})


class FakeObserver:
    """Wakes its waiters on every emit, as the real Observer does (the abort emits one)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.version = 0
        self.changed = threading.Event()
        self.events: list[tuple[str, str, str]] = []

    def emit(self, kind: str, name: str, detail: str = "") -> None:
        self.events.append((kind, name, detail))
        self.version += 1
        self.changed.set()

    def snapshot(self) -> Snapshot:
        return Snapshot(self.version, MappingProxyType({}), frozenset(),
                        MappingProxyType({"w1": True}))

    def wait_change(self, version: int, timeout_s: float) -> Snapshot:
        if self.version == version:
            self.changed.clear()
            self.clock.wait(self.changed, timeout_s)
        return self.snapshot()


def _ctx(tmp_path: Any, abort_at: float | None) -> tuple[FaultContext, FakeClock, FakeObserver]:
    """A fault context whose run is aborted ``abort_at`` seconds from now (by a guard ticking
    every half second, on the fake clock)."""
    clock = FakeClock()
    observer = FakeObserver(clock)
    signal = AbortSignal()
    signal.listen(lambda b: observer.emit("abort", b.guard, b.describe()))
    if abort_at is not None:
        due = clock.monotonic() + abort_at
        clock.every(0.5, lambda: signal.trigger(Breach("outage", "outage", 3.0, 2.0, "down",
                                                       clock.wall()))
                    if clock.monotonic() >= due else None, "guard")
    ctx = FaultContext(kube=SimpleNamespace(context="kind-x"),  # type: ignore[arg-type]
                       namespace="ns", journal=Journal(tmp_path / "run.jsonl"), seed=1,
                       clock=clock, workload_selector=SEL, cluster_name="x", kubeconfig="",
                       emit=observer.emit, observer=observer, deadline=600.0, abort=signal)
    return ctx, clock, observer


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> tuple[FakeCore, FakeDocker]:
    from chaos.faults import undo

    core = FakeCore({"w1": {"unschedulable": False, "ready": True}})
    docker = FakeDocker({"w1": "running"})
    real = docker.docker

    def with_pause(*args: str, timeout: float = 60) -> Any:
        if args[0] == "pause":
            docker.containers[args[-1]] = "paused"
            return docker._proc(args)
        return real(*args, timeout=timeout)

    kube = SimpleNamespace(core=core, context="kind-x")
    monkeypatch.setattr(undo, "kube_for", lambda action: kube)
    monkeypatch.setattr(docker.runtime, "fake_docker", with_pause)
    monkeypatch.setattr(undo, "node_for", lambda action: docker.runtime)
    monkeypatch.setattr(fnodes, "choose_nodes", lambda ctx, spec: ("w1",))
    monkeypatch.setattr(knodes, "get_node", lambda k, name: knodes.node_view(core.read_node(name)))
    monkeypatch.setattr(knodes, "cordon", lambda k, name: core.patch_node(
        name, {"spec": {"unschedulable": True}}))
    monkeypatch.setattr(knodes, "uncordon", lambda k, name: core.patch_node(
        name, {"spec": {"unschedulable": False}}))
    return core, docker


def _pending(ctx: FaultContext) -> list[str]:
    return [a.kind for a in read_journal(ctx.journal.path).pending]


def test_a_cordon_held_for_a_minute_is_undone_when_the_run_aborts(tmp_path: Any,
                                                                  cluster: Any) -> None:
    core, _ = cluster
    ctx, clock, _ = _ctx(tmp_path, abort_at=3.0)
    fault = fnodes.CordonFault(Cordon(nodes=NodeSelection(nodes=("w1",)), duration_s=60.0))
    outcome = fault.inject(ctx)
    assert clock.monotonic() == 3.0
    assert outcome.details["held_s"] == 3.0 and outcome.details["aborted"] is True
    assert core.nodes["w1"]["unschedulable"] is False and _pending(ctx) == []
    assert [o.status for o in ctx.undo_outcomes] == ["undone"]


def test_without_an_abort_the_cordon_holds_its_duration(tmp_path: Any, cluster: Any) -> None:
    ctx, clock, _ = _ctx(tmp_path, abort_at=None)
    outcome = fnodes.CordonFault(Cordon(nodes=NodeSelection(nodes=("w1",)),
                                        duration_s=60.0)).inject(ctx)
    assert clock.monotonic() == 60.0 and outcome.details["aborted"] is False


def test_a_node_loss_is_restored_at_once_on_abort(tmp_path: Any, cluster: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _, docker = cluster
    monkeypatch.setattr(fnodes, "_workload_tolerations", lambda ctx: {})
    ctx, clock, observer = _ctx(tmp_path, abort_at=4.0)
    ctx.node = docker.runtime
    fault = fnodes.NodeLossFault(NodeLoss(nodes=NodeSelection(nodes=("w1",)), duration_s=120.0,
                                          mode="pause"))
    outcome = fault.inject(ctx)
    assert clock.monotonic() == 4.0  # not 120 s
    assert docker.containers["w1"] == "running"  # unpaused by the fault's own undo
    assert outcome.details["aborted"] is True and outcome.details["held_s"] == 4.0
    assert [o.status for o in ctx.undo_outcomes] == ["undone"] and _pending(ctx) == []
    assert ("abort", "outage", "guard outage (outage) breached: 3 (threshold 2): down") in \
        observer.events


def test_a_drain_stops_retrying_a_blocked_eviction_on_abort(tmp_path: Any, cluster: Any,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    core, _ = cluster
    pod = PodInfo(name="p1", namespace="ns", node="w1", owner_kind="ReplicaSet")
    monkeypatch.setattr(knodes, "pods_on_node", lambda k, node: [pod])
    calls: list[float] = []

    def evict(k: Any, ns: str, name: str, grace: Any) -> knodes.EvictionResult:
        calls.append(clock.monotonic())
        return knodes.EvictionResult(f"{ns}/{name}", "blocked", ("strict",), "PDB")

    monkeypatch.setattr(knodes, "evict", evict)
    monkeypatch.setattr(knodes, "pod_names_on_node", lambda k, node, namespace=None: {"p1"})
    ctx, clock, _ = _ctx(tmp_path, abort_at=3.0)
    fault = fnodes.DrainFault(Drain(nodes=NodeSelection(nodes=("w1",)), timeout_s=120.0))
    outcome = fault.inject(ctx)
    assert clock.monotonic() == 3.0 and calls == [0.0, 1.0, 2.0]  # no retry after the abort
    assert outcome.details["blocked"] is True and outcome.details["aborted"] is True
    assert core.nodes["w1"]["unschedulable"] is True  # a drain is uncordoned by the runner
    assert [o.status for o in fault.undo(ctx)] == ["undone"]
    assert core.nodes["w1"]["unschedulable"] is False


def test_later_pod_kill_rounds_are_skipped_on_abort(tmp_path: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    killed: list[str] = []
    monkeypatch.setattr(kpods, "running_pods", lambda k, ns, sel: [
        SimpleNamespace(name=f"p{len(killed)}")])
    monkeypatch.setattr(kpods, "delete_pod", lambda k, ns, name, grace: killed.append(name))
    ctx, clock, _ = _ctx(tmp_path, abort_at=12.0)
    fpods.PodKillFault(PodKill(selector=SEL, repeat=5, interval_s=10.0)).inject(ctx)
    assert killed == ["p0", "p1"] and clock.monotonic() == 12.0


def test_a_probe_break_stops_watching_on_abort(tmp_path: Any) -> None:
    ctx, clock, _ = _ctx(tmp_path, abort_at=2.0)
    fault = fprobes.ProbeBreakFault(spec=SimpleNamespace())  # type: ignore[arg-type]
    fault._observe(ctx, [], since=0.0, until=300.0, phase="break")
    assert clock.monotonic() == 2.0
