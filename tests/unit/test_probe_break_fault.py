"""probe-break against fake pods (real client objects), a fake admin endpoint and a fake node
network: the undo journaled before the break, the break itself (admin call or the block with
its port), the restart into a startup probe, what is refused before anything is touched, and
the figures Kubernetes produced (endpoints left and rejoined, restart and its latency)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fault_world import SEL, World, make_world, snap
from kubernetes import client as k

from chaos.errors import InjectionFailed
from chaos.faults import probes as fprobes
from chaos.journal.store import UndoAction
from chaos.k8s import pods as kpods
from chaos.k8s import probes as kprobes
from chaos.k8s.observe import PodState, Snapshot
from chaos.k8s.pods import PodView
from chaos.model.experiment import ProbeBreak
from chaos.node import netns, tasks


def probe(port: Any = "http", handler: str = "http", **kw: Any) -> k.V1Probe:
    if handler == "http":
        return k.V1Probe(http_get=k.V1HTTPGetAction(port=port, path="/ready"), **kw)
    if handler == "tcp":
        return k.V1Probe(tcp_socket=k.V1TCPSocketAction(port=port), **kw)
    return k.V1Probe(_exec=k.V1ExecAction(command=["true"]), **kw)


def v1pod(name: str, *, readiness: k.V1Probe | None = None, liveness: k.V1Probe | None = None,
          startup: k.V1Probe | None = None, ports: tuple[int, ...] = (8080,),
          restarts: int = 1, running: bool = True) -> k.V1Pod:
    container = k.V1Container(
        name="app", image="img",
        ports=[k.V1ContainerPort(container_port=p, name="http" if i == 0 else f"p{i}")
               for i, p in enumerate(ports)] or None,
        readiness_probe=readiness, liveness_probe=liveness, startup_probe=startup)
    state = k.V1ContainerState(running=k.V1ContainerStateRunning() if running else None)
    status = k.V1ContainerStatus(name="app", image="img", image_id="", ready=True,
                                 restart_count=restarts, state=state,
                                 container_id=f"containerd://cid-{name}" if running else None)
    return k.V1Pod(metadata=k.V1ObjectMeta(name=name, uid=f"uid-{name}"),
                   spec=k.V1PodSpec(node_name=f"node-{name}", containers=[container]),
                   status=k.V1PodStatus(phase="Running", container_statuses=[status]))


class Pods:
    def __init__(self, w: World) -> None:
        self.w = w
        self.pods: dict[str, k.V1Pod | None] = {
            "web-1": v1pod("web-1", readiness=probe(period_seconds=2),
                           liveness=probe(8081, initial_delay_seconds=5, period_seconds=4,
                                          timeout_seconds=2, failure_threshold=3),
                           ports=(8080, 8081))}
        self.calls: list[tuple[Any, ...]] = []
        self.kills: dict[str, list[float]] = {}  # pod -> "Killing" event times (from the break)
        self.admin_error: str | None = None
        self.reread: dict[str, k.V1Pod | None] = {}  # what a second read finds

    def running(self, kube: Any, ns: str, selector: Any) -> list[PodView]:
        assert (kube, ns, selector) == (self.w.ctx.kube, "ns", SEL)
        return [PodView(n, f"uid-{n}", f"node-{n}", "Running", True, "10.0.0.1", ("app",))
                for n in self.pods]

    def read_pod(self, kube: Any, ns: str, name: str) -> k.V1Pod | None:
        assert (kube, ns) == (self.w.ctx.kube, "ns")
        self.calls.append(("read_pod", ns, name))
        if name in self.reread and sum(c[2] == name for c in self.calls) > 1:
            return self.reread[name]
        return self.pods.get(name)

    def admin_call(self, kube: Any, ns: str, pod: str, port: int, verb: str, which: str,
                   after: int) -> None:
        assert kube is self.w.ctx.kube
        self.calls.append(("admin", ns, pod, port, verb, which, after, self.w.pending_kinds()))
        if self.admin_error:
            raise InjectionFailed(self.admin_error)

    def block(self, node: str, uid: str, table: str, port: int, sources: Any) -> None:
        self.calls.append(("block", node, uid, table, port, list(sources),
                           self.w.pending_kinds()))

    def kill(self, node: str, cid: str, signal: str) -> None:
        self.calls.append(("kill", node, cid, signal))

    def event_times(self, kube: Any, ns: str, pod: str, reason: str, since: float) -> list[float]:
        assert (kube, ns, reason) == (self.w.ctx.kube, "ns", "Killing")
        return [since + t for t in self.kills.get(pod, [])]

    def of(self, what: str) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] == what]


def on_node(w: World, fake: Callable[..., Any]) -> Callable[..., Any]:
    """``fake`` as a chaos.node function: called with the context's node runtime first."""
    def call(rt: Any, *args: Any) -> Any:
        assert rt is w.ctx.node and rt is not None, rt
        return fake(*args)
    return call


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[World, Pods]:
    w = make_world(tmp_path, monkeypatch, handled=("clear-admin-probe", "unblock-probe"))
    p = Pods(w)
    monkeypatch.setattr(kpods, "running_pods", p.running)
    monkeypatch.setattr(tasks, "kill_container", on_node(w, p.kill))
    monkeypatch.setattr(kprobes, "read_pod", p.read_pod)
    monkeypatch.setattr(kprobes, "admin_call", p.admin_call)
    monkeypatch.setattr(netns, "block_probe", on_node(w, p.block))
    monkeypatch.setattr(kprobes, "event_times", p.event_times)
    monkeypatch.setattr(netns, "node_addresses",
                        on_node(w, lambda node: [f"172.18.0.{len(node)}"]))
    return w, p


def scripted(w: World, *, leaves: float | None = 4.0, rejoins: float | None = 3.0,
             restarts_at: float | None = None, uid: str = "uid-web-1") -> None:
    """web-1 leaves the endpoints ``leaves`` s after the break (at t=0), rejoins ``rejoins`` s
    after the undo cleared it, and restarts ``restarts_at`` s after the break."""
    cleared: dict[str, float] = {}

    def clear(action: UndoAction) -> None:
        cleared["at"] = w.clock.monotonic()

    w.effects.update({"clear-admin-probe": clear, "unblock-probe": clear})

    def at(now: float) -> Snapshot:
        out = leaves is not None and now >= leaves
        back = "at" in cleared and rejoins is not None and now >= cleared["at"] + rejoins
        restarted = restarts_at is not None and now >= restarts_at
        state = PodState("web-1", uid, "node-web-1", True, 1 + int(restarted))
        return snap(int(now * 100), [state], [] if out and not back else ["web-1"])

    w.observer.at = at


def test_an_admin_readiness_break_is_journaled_then_holds_and_clears(
        world: tuple[World, Pods]) -> None:
    w, p = world
    scripted(w)
    fault = fprobes.ProbeBreakFault(ProbeBreak(selector=SEL, method="admin", duration_s=20.0))
    outcome = fault.inject(w.ctx)
    assert outcome.started_at == 1_700_000_000.0  # the run's clock, read at the start
    [call] = p.of("admin")
    assert call == ("admin", "ns", "web-1", 8080, "fail", "readiness", 0, ["clear-admin-probe"])
    [action] = outcome.undo
    assert (action.kind, dict(action.params)) == ("clear-admin-probe", {
        "pod": "web-1", "namespace": "ns", "port": "8080", "probe": "readiness",
        "pod_uid": "uid-web-1", "restarts": "1"})
    assert outcome.type == "probe-break" and outcome.targets == ["web-1"]
    assert w.clock.monotonic() == 23.0  # 20 s held, then until it rejoined 3 s later
    assert w.ctx.holds[0].planned_s == 20.0 and w.ctx.holds[0].held_s == 20.0
    assert outcome.details == {
        "probe": "readiness", "method": "admin", "duration_s": 20.0,
        "probe_settings": {"web-1": {
            "handler": "httpGet", "port": 8080, "path": "/ready", "initialDelaySeconds": 0,
            "periodSeconds": 2, "timeoutSeconds": 1, "failureThreshold": 3,
            "successThreshold": 1}},
        "predicted_restart_latency_s": None, "predicted_kill_window_s": None,
        "observed_restart_latency_s": {"web-1": None}, "kill_decided_after_s": {},
        "restart_count_before": {"web-1": 1}, "restart_count_after": {"web-1": 1},
        "forced_restart_into_startup": False,
        "left_endpoints_after_s": {"web-1": 4.0},
        "rejoined_endpoints_after_clear_s": {"web-1": 3.0},
        "warnings": [], "aborted": False}
    assert w.kinds("fault-start") == [("web-1", "probe-break readiness (admin)")]
    assert w.kinds("fault-end") == [("web-1", "probe-break readiness cleared")]
    assert w.pending_kinds() == [] and outcome.ended_at is not None


def test_a_network_liveness_break_blocks_the_probe_port_and_times_the_restart(
        world: tuple[World, Pods]) -> None:
    w, p = world
    scripted(w, leaves=None, restarts_at=13.0)
    p.kills["web-1"] = [12.34567, 40.0]
    outcome = fprobes.ProbeBreakFault(ProbeBreak(selector=SEL, probe="liveness",
                                                 duration_s=30.0)).inject(w.ctx)
    table = kprobes.table_name("web-1")
    assert p.of("block") == [("block", "node-web-1", "uid-web-1", table, 8081,
                              ["172.18.0.10"], ["unblock-probe"])]
    assert p.of("admin") == [] and p.of("kill") == []
    [action] = outcome.undo
    assert (action.kind, dict(action.params)) == ("unblock-probe", {
        "node": "node-web-1", "pod": "web-1", "pod_uid": "uid-web-1", "table": table,
        "namespace": "ns"})
    d = outcome.details
    assert d["method"] == "network" and d["probe"] == "liveness"
    assert d["predicted_restart_latency_s"] == 5 + 4 * 3
    assert d["predicted_kill_window_s"] == [8, 14]
    assert d["kill_decided_after_s"] == {"web-1": 12.346}
    assert d["observed_restart_latency_s"] == {"web-1": 13.0}
    assert d["restart_count_after"] == {"web-1": 2}
    assert d["left_endpoints_after_s"] == {"web-1": None}
    assert w.kinds("fault-start") == [("web-1", "probe-break liveness (network, port 8081)")]
    assert w.kinds("fault-end") == [("web-1", "probe-break liveness cleared")]


def test_no_kill_event_is_no_kill_time_and_a_replaced_pod_is_not_counted(
        world: tuple[World, Pods]) -> None:
    w, _p = world
    scripted(w, restarts_at=2.0, uid="uid-replacement")
    outcome = fprobes.ProbeBreakFault(ProbeBreak(selector=SEL, probe="liveness",
                                                 duration_s=5.0)).inject(w.ctx)
    d = outcome.details
    assert d["kill_decided_after_s"] == {"web-1": None}
    assert d["observed_restart_latency_s"] == {"web-1": None}
    assert d["restart_count_after"] == {"web-1": None}


def test_a_startup_break_restarts_the_container_into_its_blocked_startup_probe(
        world: tuple[World, Pods]) -> None:
    w, p = world
    p.pods["web-1"] = v1pod("web-1", startup=probe(failure_threshold=5, period_seconds=3))
    scripted(w)
    outcome = fprobes.ProbeBreakFault(ProbeBreak(selector=SEL, probe="startup",
                                                 duration_s=10.0)).inject(w.ctx)
    assert p.of("kill") == [("kill", "node-web-1", "cid-web-1", "KILL")]
    assert [c[0] for c in p.calls if c[0] in ("block", "kill")] == ["block", "kill"]
    assert ("event", "web-1", "probe-break startup: container restarted into its startup "
                              "probe") in w.events
    d = outcome.details
    assert d["forced_restart_into_startup"] is True
    assert d["predicted_restart_latency_s"] == 0 + 3 * 5
    assert d["predicted_kill_window_s"] == [12, 16]


def test_a_startup_break_without_a_running_container_is_undone_and_refused(
        world: tuple[World, Pods]) -> None:
    w, p = world
    p.pods["web-1"] = v1pod("web-1", startup=probe())
    p.reread["web-1"] = v1pod("web-1", startup=probe(), running=False)
    with pytest.raises(InjectionFailed, match=r"^probe-break startup: web-1 has no running "
                                              r"container$"):
        fprobes.ProbeBreakFault(ProbeBreak(selector=SEL, probe="startup")).inject(w.ctx)
    assert p.of("kill") == [] and w.pending_kinds() == []
    assert [a.kind for a in w.undone] == ["unblock-probe"]
    p.reread["web-1"] = None
    p.calls.clear()
    with pytest.raises(InjectionFailed, match="has no running container"):
        fprobes.ProbeBreakFault(ProbeBreak(selector=SEL, probe="startup")).inject(w.ctx)


def test_a_startup_break_by_admin_is_refused_before_anything_is_journaled(
        world: tuple[World, Pods]) -> None:
    w, p = world
    p.pods["web-1"] = v1pod("web-1", startup=probe())
    with pytest.raises(InjectionFailed) as info:
        fprobes.ProbeBreakFault(ProbeBreak(selector=SEL, probe="startup",
                                           method="admin")).inject(w.ctx)
    assert str(info.value) == (
        "probe-break startup needs method: network: a startup probe only runs after a "
        "container (re)start, and the workload's admin state does not survive one")
    assert w.pending_kinds() == [] and p.of("admin") == []


def test_network_mode_needs_a_kind_cluster(world: tuple[World, Pods]) -> None:
    w, p = world
    w.ctx.node = None  # no node access (not a kind cluster)
    with pytest.raises(InjectionFailed, match=r"network mode needs the node containers of a kind "
                                              r"cluster .docker exec.; use method: admin"):
        fprobes.ProbeBreakFault(ProbeBreak(selector=SEL)).inject(w.ctx)
    assert p.calls == []
    scripted(w)  # admin mode works without one
    fprobes.ProbeBreakFault(ProbeBreak(selector=SEL, method="admin",
                                       duration_s=1.0)).inject(w.ctx)
    assert len(p.of("admin")) == 1


@pytest.mark.parametrize(("pod", "spec", "message"), [
    (None, ProbeBreak(selector=SEL), "^probe-break: pod web-1 disappeared$"),
    (v1pod("web-1", readiness=probe()), ProbeBreak(selector=SEL, probe="liveness"),
     "^probe-break: pod web-1 has no liveness probe$"),
    (v1pod("web-1", liveness=probe(handler="exec")), ProbeBreak(selector=SEL, probe="liveness"),
     r"^probe-break network mode cannot break an exec probe \(web-1 liveness\); "
     r"use method: admin$"),
    (v1pod("web-1", readiness=probe("metrics")), ProbeBreak(selector=SEL),
     "^probe-break: cannot resolve the readiness probe port of web-1$"),
    (v1pod("web-1", readiness=probe(handler="exec"), ports=()),
     ProbeBreak(selector=SEL, method="admin"),
     "^probe-break admin: pod web-1 declares no container port$"),
])
def test_what_cannot_be_broken_is_refused_with_its_reason(
        world: tuple[World, Pods], pod: k.V1Pod | None, spec: ProbeBreak, message: str) -> None:
    w, p = world
    p.pods["web-1"] = pod
    with pytest.raises(InjectionFailed, match=message):
        fprobes.ProbeBreakFault(spec).inject(w.ctx)
    assert p.of("admin") == [] and p.of("block") == [] and w.pending_kinds() == []


def test_a_grpc_probe_cannot_be_broken_on_the_network(world: tuple[World, Pods]) -> None:
    w, p = world
    p.pods["web-1"] = v1pod("web-1", readiness=k.V1Probe(grpc=k.V1GRPCAction(port=9000)))
    with pytest.raises(InjectionFailed, match="cannot break an grpc probe"):
        fprobes.ProbeBreakFault(ProbeBreak(selector=SEL)).inject(w.ctx)


def test_an_admin_break_of_a_probe_without_a_port_uses_the_first_container_port(
        world: tuple[World, Pods]) -> None:
    w, p = world
    p.pods["web-1"] = v1pod("web-1", liveness=probe(handler="exec"), ports=(9090, 8080))
    scripted(w)
    fprobes.ProbeBreakFault(ProbeBreak(selector=SEL, probe="liveness", method="admin",
                                       duration_s=1.0)).inject(w.ctx)
    assert p.of("admin")[0][3] == 9090


def test_probes_sharing_the_blocked_port_are_warned_about(world: tuple[World, Pods]) -> None:
    w, p = world
    p.pods["web-1"] = v1pod("web-1", readiness=probe(), liveness=probe(8080, handler="tcp"),
                            startup=probe("http"))
    scripted(w)
    outcome = fprobes.ProbeBreakFault(ProbeBreak(selector=SEL, duration_s=1.0)).inject(w.ctx)
    assert outcome.details["warnings"] == [
        "web-1: the readiness probe shares port 8080 with the liveness and startup probe(s): "
        "blocking it breaks them too"]
    p.pods["web-1"] = v1pod("web-1", readiness=probe(), liveness=probe(8081),
                            ports=(8080, 8081))
    outcome = fprobes.ProbeBreakFault(ProbeBreak(selector=SEL, duration_s=1.0)).inject(w.ctx)
    assert outcome.details["warnings"] == []


def test_a_failed_admin_call_still_runs_the_journaled_undo(world: tuple[World, Pods]) -> None:
    w, p = world
    p.admin_error = "admin endpoint refused"
    fault = fprobes.ProbeBreakFault(ProbeBreak(selector=SEL, method="admin"))
    with pytest.raises(InjectionFailed, match="admin endpoint refused"):
        fault.inject(w.ctx)
    assert [a.kind for a in w.undone] == ["clear-admin-probe"] and w.pending_kinds() == []
    assert fault.pending == []


def test_an_undo_that_fails_is_in_the_outcome(world: tuple[World, Pods]) -> None:
    w, _p = world
    scripted(w, rejoins=None)
    w.failing["unblock-probe"] = "table still there"
    outcome = fprobes.ProbeBreakFault(ProbeBreak(selector=SEL, duration_s=2.0)).inject(w.ctx)
    [error] = outcome.details["undo_errors"]  # type: ignore[misc]
    assert error.startswith("unblock-probe(") and error.endswith("FAILED: table still there")
    assert w.pending_kinds() == ["unblock-probe"]


def test_a_pod_that_never_rejoins_is_followed_a_minute_or_to_the_deadline(
        world: tuple[World, Pods]) -> None:
    w, _p = world
    scripted(w, rejoins=None)
    outcome = fprobes.ProbeBreakFault(ProbeBreak(selector=SEL, duration_s=10.0)).inject(w.ctx)
    assert w.clock.monotonic() == 10.0 + fprobes.REJOIN_WAIT_S == 70.0
    assert outcome.details["rejoined_endpoints_after_clear_s"] == {"web-1": None}
    w.ctx.deadline = w.clock.monotonic() + 25.0
    fprobes.ProbeBreakFault(ProbeBreak(selector=SEL, duration_s=20.0)).inject(w.ctx)
    assert w.clock.monotonic() == 95.0  # 20 s held, 5 s left to watch


def test_observe_times_leaving_rejoining_and_restarts_per_phase(
        world: tuple[World, Pods]) -> None:
    w, _ = world
    t = fprobes._Target("web-1", "uid-web-1", "n", None, restarts_before=1,  # type: ignore[arg-type]
                        broken_at=-2.0)
    states = [snap(1, [PodState("web-1", "uid-web-1", "n", True, 1)], ["web-1"]),
              snap(2, [PodState("web-1", "uid-web-1", "n", True, 1)], []),
              snap(3, [PodState("web-1", "uid-web-1", "n", True, 2)], [])]
    w.observer.states = states
    w.clock.advance(10.0)  # times are from ``since`` and the break, not the clock's zero
    t.broken_at = 8.0
    fault = fprobes.ProbeBreakFault(ProbeBreak(selector=SEL))
    fault._observe(w.ctx, [t], since=10.0, until=15.0, phase="break")
    assert (t.left_endpoints_s, t.restarted_s, t.restarts_after) == (1.0, 4.0, 2)
    assert t.rejoined_endpoints_s is None and w.clock.monotonic() == 15.0
    assert [timeout for _, timeout in w.observer.waits] == [5.0, 4.0, 3.0, 2.0, 1.0]
    w.observer.states = [snap(4, [], []), snap(5, [], ["web-1"])]
    fault._observe(w.ctx, [t], since=15.0, until=60.0, phase="rejoin")
    assert t.rejoined_endpoints_s == 1.0 and w.clock.monotonic() == 16.0
    assert t.left_endpoints_s == 1.0  # a rejoin does not touch what the break measured


def test_r_rounds_and_keeps_none() -> None:
    assert fprobes._r(None) is None and fprobes._r(1.23456) == 1.235


def test_an_admin_break_whose_pod_vanished_before_the_port_was_read_is_refused(
        world: tuple[World, Pods]) -> None:
    w, p = world
    p.pods["web-1"] = v1pod("web-1", liveness=probe(handler="exec"))
    p.reread["web-1"] = None
    with pytest.raises(InjectionFailed, match=r"^probe-break admin: pod web-1 declares no "
                                              r"container port$"):
        fprobes.ProbeBreakFault(ProbeBreak(selector=SEL, probe="liveness",
                                           method="admin")).inject(w.ctx)
    assert p.of("admin") == [] and w.pending_kinds() == []


def test_a_pending_undo_is_run_by_undo_with_the_probe_named(world: tuple[World, Pods]) -> None:
    w, _ = world
    fault = fprobes.ProbeBreakFault(ProbeBreak(selector=SEL, probe="liveness"))
    fault.pending.append(w.ctx.record_undo("unblock-probe", pod="web-1"))
    assert [o.status for o in fault.undo(w.ctx)] == ["undone"]
    assert w.kinds("fault-end") == [("web-1", "probe-break liveness cleared")]


def test_no_time_left_after_the_hold_means_no_rejoin_watch(world: tuple[World, Pods]) -> None:
    w, _ = world
    scripted(w, rejoins=None)
    w.ctx.deadline = 20.0
    fprobes.ProbeBreakFault(ProbeBreak(selector=SEL, duration_s=20.0)).inject(w.ctx)
    assert w.clock.monotonic() == 20.0
