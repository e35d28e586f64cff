"""The run core without a cluster: phases in order, the undo on every exit path, safety,
verdicts and negative controls, against fakes of the cluster, the Observer, the load and the
faults (chaos.engine.phases.RunPorts). Time is a FakeClock: nothing here sleeps."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest
from fake_node import FakeNode

from chaos.clock import FakeClock
from chaos.engine import phases as ph
from chaos.engine.monitor import HttpAnswer, HttpGet
from chaos.engine.phases import RunPorts
from chaos.engine.runner import RunEnv, run_experiment
from chaos.errors import HaltActive, InjectionFailed, SafetyRefused
from chaos.faults.base import FaultContext, FaultOutcome
from chaos.faults.targets import Targets
from chaos.journal.store import Journal, UndoAction, UndoOutcome
from chaos.k8s.observe import PodState, Snapshot
from chaos.load.records import CAPTURE_HEADER, CaptureRecords
from chaos.model import (
    Experiment,
    LoadProfile,
    PodKill,
    Selector,
    SLASpec,
    SteadyState,
    WorkloadSpec,
)
from chaos.model.abort import (
    AbortSpec,
    ErrorRateGuard,
    HaltMarker,
    HttpGuard,
    KubernetesGuard,
    OutageGuard,
    PrometheusGuard,
)
from chaos.model.timeline import ClusterEvent, RequestRecord
from chaos.plan.generator import CpuTimes

SEL = Selector.of({"app": "web"})
PODS = ("web-a", "web-b", "web-c")


def _experiment(**over: Any) -> Experiment:
    exp = Experiment(
        name="offline",
        workload=WorkloadSpec(manifests=(), selector=SEL, service="web", node_port=30080,
                              replicas=3),
        load=LoadProfile(warmup_s=5, tail_s=5, max_duration_s=60),
        steady_state=SteadyState(max_error_rate=0.0, ready_replicas=3, window_s=3),
        faults=(PodKill(selector=SEL),),
        slas=SLASpec(max_error_rate=0.05, max_recovery_s=30),
        timeout_s=120)
    return replace(exp, **over)


@dataclass
class World:
    """What happened, in order, across every fake."""

    clock: FakeClock
    log: list[str] = field(default_factory=list)
    # wall-time windows in which the service fails every request
    outages: list[tuple[float, float]] = field(default_factory=list)
    fail_at: str | None = None  # "deploy" | "inject" | "inject-2" | "interrupt"
    undo_status: str = "undone"
    recovers_after_s: float = 4.0
    observer_stop_s: float = 0.0  # how long stopping the watches takes
    node_port: int = 30080  # what the deployed Service says
    ready_pods: tuple[str, ...] = PODS  # Ready when the run starts
    load_answers: bool = True  # False: requests hang, none completes
    load_cpu: CpuTimes | None = None  # what the load processes got of the CPUs
    load_dies: bool = False  # the load generator exits at once
    load_ends_after_s: float | None = None  # the load generator exits this long after its start
    load_starts_after_s: float = 0.0  # its first request (a busy machine starts locust slowly)
    loads: list[tuple[str, Path]] = field(default_factory=list)  # (url, out dir) per start
    deploy_timeouts: list[float] = field(default_factory=list)
    targets: tuple[str, ...] = (PODS[0],)  # what a fault would hit, for the blast radius
    hold_s: float | None = None  # the fault holds (like a node loss) for this long
    outage_at_inject: float | None = None  # the fault starts an outage of this many seconds
    halt_at: float | None = None  # wall time from which the cluster is halted
    conditions: dict[str, str] | None = field(default_factory=lambda: {"Available": "True"})
    prepare_s: float = 0.0  # the harness's set-up (image builds, metrics-server) takes this long
    deploy_s: float = 0.0  # the workload takes this long to roll out
    deployed_ports: list[int | None] = field(default_factory=list)  # what each deploy was given
    ports_in_use: dict[int, str] = field(default_factory=dict)  # NodePort -> Service holding it


class FakeObserver:
    def __init__(self, world: World) -> None:
        self.w = world
        self._events: list[ClusterEvent] = []
        self.ready = set(world.ready_pods)
        self.version = 0

    def start(self) -> None:
        self.w.log.append("observer.start")

    def stop(self) -> None:
        self.w.log.append("observer.stop")
        self.w.clock.advance(self.w.observer_stop_s)

    def emit(self, kind: str, name: str, detail: str = "") -> None:
        self._events.append(ClusterEvent(self.w.clock.wall(), kind, name, detail))
        self.version += 1

    def snapshot(self) -> Snapshot:
        pods = {n: PodState(n, f"uid-{n}", "w1", n in self.ready, 0) for n in PODS}
        return Snapshot(self.version, MappingProxyType(pods), frozenset(self.ready),
                        MappingProxyType({"w1": True}))

    def wait_change(self, version: int, timeout_s: float) -> Snapshot:
        self.w.clock.advance(timeout_s)  # nothing else moves a fake clock
        return self.snapshot()

    def events(self) -> list[ClusterEvent]:
        return sorted(self._events, key=lambda e: e.t)


class FakeLoad:
    """Answers one request every 0.1 s of clock time, failing inside the world's outages."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.started = world.clock.wall() + world.load_starts_after_s
        self.stopped_at: float | None = self.started if world.load_dies else None
        self.log_path = Path("locust.log")
        world.log.append("load.start")

    @property
    def running(self) -> bool:
        ends = self.w.load_ends_after_s
        if self.stopped_at is None and ends is not None \
                and self.w.clock.wall() >= self.started + ends:
            self.stopped_at = self.started + ends
        return self.stopped_at is None

    def records(self) -> list[RequestRecord]:
        if not self.w.load_answers:
            return []
        end = self.stopped_at or self.w.clock.wall()
        if end < self.started:
            return []
        out, t = [], self.started
        # its first answer is in the moment it starts (phases waits for a real one's first)
        while t < end or t == end == self.started:
            down = any(a <= t < b for a, b in self.w.outages)
            out.append(RequestRecord(t=t, latency_s=0.01, ok=not down,
                                     status=503 if down else 200))
            t += 0.1
        return out

    def records_since(self, t: float) -> list[RequestRecord]:
        return [r for r in self.records() if r.t >= t]

    def stop(self) -> None:
        if self.stopped_at is None:
            self.stopped_at = self.w.clock.wall()
            self.w.log.append("load.stop")

    def wait(self, timeout: float | None = None) -> Any:
        return SimpleNamespace(records=tuple(self.records()), generators=(), cpu=self.w.load_cpu)

    def cpu_times(self) -> CpuTimes | None:
        return self.w.load_cpu


@dataclass
class FakeFault:
    spec: Any
    world: World
    number: int

    def inject(self, ctx: FaultContext) -> FaultOutcome:
        w = self.world
        action = ctx.record_undo("none", pod=PODS[0])  # journaled before it acts
        self._action = action
        w.log.append(f"fault{self.number}.inject")
        if w.fail_at == f"inject-{self.number}":
            raise InjectionFailed("the API server said no")
        if w.fail_at == "interrupt":
            raise KeyboardInterrupt
        now = w.clock.wall()
        ctx.emit("fault-start", PODS[0], "pod-kill")
        if w.outage_at_inject is not None:
            w.outages.append((now, now + w.outage_at_inject))
        if w.hold_s is not None:  # a fault with a duration: held, then undone by itself
            ctx.hold(w.hold_s)  # the declared hold: planned, granted and held are recorded
            cut_short = ctx.aborted
            w.log.append(f"fault{self.number}.held {'aborted' if cut_short else 'full'} "
                         f"{w.clock.wall() - now:g}s")
            self.undo(ctx)
            return FaultOutcome(type="cordon", targets=["w1"], started_at=now)
        ctx.emit("pod-unready", PODS[0], "killed")
        w.clock.advance(w.recovers_after_s)
        ctx.emit("pod-ready", PODS[0], "replaced")
        return FaultOutcome(type="pod-kill", targets=[PODS[0]], started_at=now)

    def undo(self, ctx: FaultContext) -> list[UndoOutcome]:
        if not hasattr(self, "_action"):
            return []
        self.world.log.append(f"fault{self.number}.undo")
        status = self.world.undo_status
        action = self._action
        del self._action  # idempotent, like undo_pending: a second call finds nothing
        outcome = UndoOutcome(action, status,  # type: ignore[arg-type]
                              "" if status == "undone" else "docker: connection refused",
                              at=self.world.clock.wall())
        ctx.undo_outcomes.append(outcome)
        return [outcome]


@dataclass
class FakeCluster:
    world: World
    kube: Any = field(default_factory=lambda: SimpleNamespace(context="kind-offline"))

    def prepare(self, exp: Experiment) -> None:
        self.world.log.append("prepare")
        self.world.clock.advance(self.world.prepare_s)

    def deploy(self, exp: Experiment, namespace: str, timeout_s: float,
               journal: Journal, node_port: int | None) -> list[UndoAction]:
        self.world.log.append("deploy")
        self.world.deployed_ports.append(node_port)
        self.world.clock.advance(self.world.deploy_s)
        self.world.deploy_timeouts.append(timeout_s)
        if self.world.fail_at == "deploy":
            raise InjectionFailed("rollout of deployment/web did not finish")
        return []

    def node_port(self, namespace: str, service: str) -> int | None:
        return self.world.node_port

    def node_ports_in_use(self) -> dict[int, str]:
        self.world.log.append("node-ports-listed")
        return dict(self.world.ports_in_use)

    def observer(self, namespace: str, selector: Selector, service: str) -> FakeObserver:
        return FakeObserver(self.world)

    def server_version(self) -> str | None:
        return "v1.34.4"

    def announce(self, namespace: str, kind: str, name: str, reason: str,
                 message: str) -> None:
        self.world.log.append(f"event {reason} {kind}/{name}")

    def halt_marker(self, timeout_s: float) -> HaltMarker | None:
        w = self.world
        if w.halt_at is not None and w.clock.wall() >= w.halt_at:
            return HaltMarker(by="ops@laptop (pid 7)", at=w.halt_at, reason="game day over")
        return None

    def conditions(self, kind: str, name: str, namespace: str | None,
                   timeout_s: float) -> dict[str, str] | None:
        return self.world.conditions


@pytest.fixture
def world() -> World:
    return World(clock=FakeClock())


def _run(world: World, tmp_path: Path, exp: Experiment | None = None,
         allow: tuple[str, ...] = ("kind-offline",), http: HttpGet | None = None,
         allow_hosts: tuple[str, ...] = (), fault: type[FakeFault] | None = None,
         observer: type[FakeObserver] | None = None, load: type[FakeLoad] = FakeLoad,
         **env_over: Any) -> Any:
    faults = iter(range(1, 100))
    cluster = FakeCluster(world)
    if observer is not None:
        cluster.observer = lambda *a: observer(world)  # type: ignore[method-assign]
    ports = RunPorts(cluster=cluster,
                     start_load=lambda url, e, out, ns: world.loads.append((url, out))
                     or load(world),
                     build_fault=lambda spec: (fault or FakeFault)(spec, world, next(faults)),
                     resolve_targets=lambda scope, spec: Targets("Pod", world.targets),
                     http_get=http or _no_http)
    env = RunEnv(kube=SimpleNamespace(context="kind-offline"),  # type: ignore[arg-type]
                 kubeconfig="", run_id="run-1", reports_dir=tmp_path, seed=11,
                 cluster_name=None, journal=Journal(tmp_path / "journal.jsonl"),
                 allow_contexts=allow, clock=world.clock, allow_hosts=allow_hosts)
    for key, value in env_over.items():
        setattr(env, key, value)

    @contextlib.contextmanager
    def namespace(env: RunEnv, exp: Experiment, keep: Callable[[], bool]) -> Iterator[str]:
        world.log.append("namespace.create")
        try:
            yield "kc-offline-abc123"
        finally:
            world.log.append("namespace.keep" if keep() else "namespace.delete")

    return run_experiment(exp or _experiment(), env, ports=ports, namespace=namespace)


def _no_http(url: str, timeout_s: float) -> HttpAnswer:
    raise AssertionError(f"unexpected HTTP request to {url}")


def _report(result: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(result.report_path).read_text())
    return data


def test_phases_run_in_order_and_everything_is_put_back(world: World, tmp_path: Path) -> None:
    result = _run(world, tmp_path)
    assert world.log == ["prepare", "namespace.create", "deploy", "observer.start", "load.start",
                         "fault1.inject", "event KubeChaosFault Pod/web-a", "fault1.undo",
                         "load.stop", "observer.stop", "namespace.delete"]
    assert list(result.phases) == ["setup", "deploy", "steady", "inject", "recover", "tail",
                                   "cleanup", "report"]
    assert result.verdict == "pass" and result.error is None
    assert result.recovery_seconds == pytest.approx(4.0)
    report = _report(result)
    assert [u["status"] for u in report["undo"]] == ["undone"]
    assert report["seed"] == 11
    # the manifest is written even where the cluster cannot be read: what failed is named
    manifest = report["manifest"]
    assert manifest["seed"] == 11 and manifest["rerun"]["argv"][:2] == ["kube-chaos", "run"]
    assert "--seed=11" in manifest["rerun"]["argv"]
    assert [e.split(":")[0] for e in manifest["errors"]] == ["images", "nodes"]


def test_an_sla_breach_fails_and_a_negative_control_passes_on_it(world: World,
                                                                  tmp_path: Path) -> None:
    start = world.clock.wall()
    world.outages = [(start + 5.5, start + 8.0)]  # during the fault: 2.5 s of errors
    assert _run(world, tmp_path).verdict == "fail"
    world.log.clear()
    start = world.clock.wall()
    world.outages = [(start + 5.5, start + 8.0)]
    negative = _run(world, tmp_path, _experiment(expect="fail", name="offline-negative"))
    assert negative.verdict == "pass"
    assert negative.sla("maxErrorRate").passed is False


def test_a_run_stopped_before_its_tail_is_still_judged_on_its_generators_cpu(
        world: World, tmp_path: Path) -> None:
    """The steady state fails on the load's figures, so the tail (where the load's result is
    collected) never comes: cleanup reads the generator's CPU, and a starved generator is
    named instead of the service."""
    start = world.clock.wall()
    world.outages = [(start, start + 100)]
    world.load_cpu = CpuTimes(cpu_s=2.0, wait_s=30.0, slices=200)
    result = _run(world, tmp_path)
    assert result.verdict == "error"
    assert (result.error or "").startswith("load generator overloaded: its processes waited "
                                           "150 ms for a CPU per wake-up")
    world.load_cpu = CpuTimes(cpu_s=2.0, wait_s=0.2, slices=200)
    assert "SteadyStateFailed" in (_run(world, tmp_path).error or "")


def test_a_negative_control_that_sees_nothing_fails(world: World, tmp_path: Path) -> None:
    assert _run(world, tmp_path, _experiment(expect="fail")).verdict == "fail"


def test_an_unhealthy_service_stops_the_run_before_any_fault(world: World,
                                                            tmp_path: Path) -> None:
    start = world.clock.wall()
    world.outages = [(start, start + 100)]
    result = _run(world, tmp_path)
    assert result.verdict == "error" and "SteadyStateFailed" in (result.error or "")
    assert result.records and not any(r.ok for r in result.records)  # kept for the report
    assert not any(e.startswith("fault") for e in world.log)
    assert world.log[-3:] == ["load.stop", "observer.stop", "namespace.delete"]


def test_a_failed_deploy_is_an_error_with_a_report(world: World, tmp_path: Path) -> None:
    world.fail_at = "deploy"
    result = _run(world, tmp_path)
    assert result.verdict == "error" and "rollout of deployment/web" in (result.error or "")
    assert result.restarts is None  # no fault ran: nothing to count from
    assert "load.start" not in world.log and "namespace.delete" in world.log
    assert _report(result)["verdict"] == "error"


def test_a_fault_failing_mid_way_undoes_every_fault_injected(world: World,
                                                             tmp_path: Path) -> None:
    world.fail_at = "inject-2"
    exp = _experiment(faults=(PodKill(selector=SEL), PodKill(selector=SEL)))
    result = _run(world, tmp_path, exp)
    assert result.verdict == "error" and "the API server said no" in (result.error or "")
    # an errored run is not judged: no recovery figure, no SLA results; restarts still count
    assert result.recovery_seconds is None and result.slas == [] and result.restarts == 0
    assert world.log.index("fault2.undo") < world.log.index("fault1.undo")  # newest first
    assert world.log.index("fault1.undo") < world.log.index("load.stop")
    assert [u["status"] for u in _report(result)["undo"]] == ["undone", "undone"]


def test_ctrl_c_undoes_then_propagates(world: World, tmp_path: Path) -> None:
    world.fail_at = "interrupt"
    with pytest.raises(KeyboardInterrupt):
        _run(world, tmp_path)
    assert world.log[-4:] == ["fault1.undo", "load.stop", "observer.stop", "namespace.delete"]


def test_an_unconfirmed_undo_makes_the_verdict_error_and_is_reported(world: World,
                                                                     tmp_path: Path) -> None:
    world.undo_status = "failed"
    result = _run(world, tmp_path, _experiment(faults=(PodKill(selector=SEL),) * 2))
    assert result.verdict == "error"
    assert len(result.undo_failures) == 2
    assert result.error == ("undo not confirmed (still pending in the journal; run `kube-chaos "
                            "rollback`): " + "; ".join(result.undo_failures))
    assert result.undo_failures and "connection refused" in result.undo_failures[0]
    undo = _report(result)["undo"]
    assert undo[0]["status"] == "failed" and "connection refused" in undo[0]["reason"]


def test_an_unsafe_context_is_refused_before_anything_is_created(world: World,
                                                                 tmp_path: Path) -> None:
    from chaos.k8s import health

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(health, "provisioned_problem", lambda kube: "no marker")
        with pytest.raises(SafetyRefused, match="--chaos-allow-context=kind-offline"):
            _run(world, tmp_path, allow=())
    assert world.log == []


def test_the_seed_of_the_experiment_wins_over_the_session_seed(world: World,
                                                               tmp_path: Path) -> None:
    assert _report(_run(world, tmp_path, _experiment(seed=99)))["seed"] == 99


# --- one phase at a time ---------------------------------------------------------------------
# The figures below (budgets, windows, waits) are what a run's duration and its verdict rest on,
# so they are pinned exactly.


class StepObserver(FakeObserver):
    """Something changes every ``step`` seconds: wait_change returns after at most ``step``.
    Records each (version, timeout) it was asked to wait for."""

    def __init__(self, world: World, step: float = 2.0) -> None:
        super().__init__(world)
        self.step = step
        self.waits: list[tuple[int, float]] = []

    def wait_change(self, version: int, timeout_s: float) -> Snapshot:
        self.waits.append((version, timeout_s))
        if len(self.waits) > 1000:
            raise RuntimeError("recover never stops waiting")
        self.w.clock.advance(min(timeout_s, self.step))
        self.version += 1
        return self.snapshot()

    def at(self, dt: float, kind: str, name: str) -> None:
        """An event ``dt`` seconds after now (negative: before)."""
        self._events.append(ClusterEvent(self.w.clock.wall() + dt, kind, name, ""))


def _state(world: World, tmp_path: Path, exp: Experiment | None = None,
           observer: FakeObserver | None = None, timeout_s: float = 120.0) -> ph.RunState:
    messages: list[str] = []
    state = ph.RunState(
        exp=exp or _experiment(), namespace="kc-offline-abc123", seed=11, clock=world.clock,
        deadline=world.clock.monotonic() + timeout_s, out_dir=tmp_path,
        journal=Journal(tmp_path / "journal.jsonl"), kubeconfig="/kube/config",
        cluster_name="kc", log=messages.append)
    state.observer = observer if observer is not None else FakeObserver(world)
    state.initial_ready = set(PODS)
    state.initial_endpoints = set(PODS)
    state.fault_t = world.clock.wall()
    return state


@pytest.fixture
def late_world() -> World:
    """A monotonic clock far from zero, so elapsed time is never confused with a reading."""
    return World(clock=FakeClock(monotonic=1000.0))


def _recover(world: World, state: ph.RunState) -> float:
    """Run the recover phase; returns the seconds it waited."""
    start = world.clock.monotonic()
    ph.recover(state, None)  # type: ignore[arg-type]  # recover needs no port
    return world.clock.monotonic() - start


@pytest.mark.parametrize(("max_recovery_s", "timeout_s", "budget"), [
    (30.5, 120.0, 71.0),   # twice the SLA plus 10 s
    (None, 300.0, 130.0),  # no SLA: twice 60 s plus 10 s
    (30.0, 50.0, 40.0),    # the deadline, less the tail and 5 s for the report
])
def test_recover_waits_at_most_its_budget_in_steps_of_two_seconds(
        late_world: World, tmp_path: Path, max_recovery_s: float | None, timeout_s: float,
        budget: float) -> None:
    obs = StepObserver(late_world)
    exp = _experiment(slas=SLASpec(max_error_rate=0.05, max_recovery_s=max_recovery_s))
    state = _state(late_world, tmp_path, exp, obs, timeout_s)
    obs.at(0.5, "pod-unready", "web-a")  # never Ready again
    assert _recover(late_world, state) == pytest.approx(budget)
    full, rest = divmod(budget, 2.0)
    assert [t for _, t in obs.waits] == [2.0] * int(full) + ([rest] if rest else [])
    assert [v for v, _ in obs.waits] == list(range(len(obs.waits)))  # always the latest version


def test_recover_gives_an_undisturbed_workload_two_seconds_to_show_a_disruption(
        late_world: World, tmp_path: Path) -> None:
    obs = StepObserver(late_world, step=0.5)
    state = _state(late_world, tmp_path, observer=obs)
    obs.at(-3.0, "pod-unready", "web-a")  # a blip before the fault does not count
    obs.at(-2.0, "pod-ready", "web-a")
    assert _recover(late_world, state) == pytest.approx(2.5)  # the first look past 2 s
    assert [t for _, t in obs.waits] == [2.0] * 5


def test_recover_returns_as_soon_as_the_workload_is_whole_again(late_world: World,
                                                                tmp_path: Path) -> None:
    obs = StepObserver(late_world)
    state = _state(late_world, tmp_path, observer=obs)
    obs.at(0.1, "pod-unready", "web-a")
    obs.at(0.6, "pod-ready", "web-a")  # recovered after 0.6 s
    assert _recover(late_world, state) == 0.0
    assert obs.waits == []


def test_recover_judges_endpoints_against_those_present_before_the_fault(
        late_world: World, tmp_path: Path) -> None:
    obs = StepObserver(late_world)
    state = _state(late_world, tmp_path, observer=obs)
    state.initial_endpoints = {"web-a", "web-b"}  # the Service fronted two of three pods
    obs.at(0.1, "endpoint-removed", "web-b")
    obs.at(0.2, "endpoint-removed", "web-a")
    obs.at(0.6, "endpoint-added", "web-b")  # one endpoint of the two: not whole
    assert _recover(late_world, state) == pytest.approx(70.0)  # the whole budget
    obs.at(0.7, "endpoint-added", "web-a")  # both again: whole, though web-c never was one
    assert _recover(late_world, state) == 0.0


def _records(*spec: tuple[float, float, bool]) -> tuple[RequestRecord, ...]:
    """(start, latency, ok) in completion order, as the load generator delivers them."""
    return tuple(RequestRecord(t=t, latency_s=lat, ok=ok, status=200 if ok else 503)
                 for t, lat, ok in spec)


OK_TO_10 = tuple((float(t), 0.01, True) for t in range(11))


@pytest.mark.parametrize(("records", "restored"), [
    ((), False),  # nothing measured: not restored
    (OK_TO_10, True),
    ((*OK_TO_10[:-1], (10.0, 0.01, False)), False),  # the very last request failed
    ((*OK_TO_10[:6], (6.0, 0.01, False), *OK_TO_10[7:]), True),  # 6 s: before the 3 s window
    # completion order: a slow request started at 9.8 completes last; the window is
    # [6.8, 10.8), so the failure started at 11.0 (after that) does not count
    ((*OK_TO_10[:10], (11.0, 0.1, False), (9.8, 1.5, True)), True),
])
def test_steady_restored_judges_the_last_window_before_the_last_completed_request(
        world: World, tmp_path: Path, records: tuple[tuple[float, float, bool], ...],
        restored: bool) -> None:
    state = _state(world, tmp_path)
    state.records = _records(*records)
    assert ph._steady_restored(state) is restored


def test_steady_restored_allows_the_declared_error_rate_and_needs_every_replica(
        world: World, tmp_path: Path) -> None:
    obs = FakeObserver(world)
    exp = _experiment(steady_state=SteadyState(max_error_rate=0.25, ready_replicas=3,
                                               window_s=3))
    state = _state(world, tmp_path, exp, obs)
    state.records = _records((7.0, 0.01, False), (8.0, 0.01, True), (9.0, 0.01, True),
                             (10.0, 0.01, True))
    assert ph._steady_restored(state) is True  # exactly the allowed rate
    state.records = _records((7.0, 0.01, False), (8.0, 0.01, False), (9.0, 0.01, True),
                             (10.0, 0.01, True))
    assert ph._steady_restored(state) is False  # above it, even with every replica Ready
    state.records = _records((9.0, 0.01, True), (10.0, 0.01, True))
    obs.ready = {"web-a", "web-b"}
    assert ph._steady_restored(state) is False  # no errors, but a replica is missing


class WaitingLoad(FakeLoad):
    def __init__(self, world: World) -> None:
        super().__init__(world)
        self.timeouts: list[float | None] = []

    def wait(self, timeout: float | None = None) -> Any:
        self.timeouts.append(timeout)
        return super().wait(timeout)


@pytest.mark.parametrize(("timeout_s", "slept"), [(100.0, 5.0), (7.0, 2.0), (3.0, 0.0)])
def test_tail_keeps_the_load_for_the_tail_but_leaves_five_seconds_of_the_deadline(
        world: World, tmp_path: Path, timeout_s: float, slept: float) -> None:
    load = WaitingLoad(world)
    world.clock.advance(0.35)  # some requests were answered before the tail
    state = _state(world, tmp_path, timeout_s=timeout_s)
    state.load = load
    ph.tail(state, None)  # type: ignore[arg-type]  # tail needs no port
    assert world.clock.sleeps == [slept]
    assert load.timeouts == [30]
    assert not load.running
    assert state.records == tuple(load.records()) and len(state.records) == int(
        (0.35 + slept) / 0.1) + 1
    assert state.steady_restored is True


class RecordingFault(FakeFault):
    def inject(self, ctx: FaultContext) -> FaultOutcome:
        self.world.log.append(f"ctx{self.number}:{ctx.index}:{self.world.clock.monotonic()}")
        self.ctx = ctx
        return super().inject(ctx)


def test_inject_waits_each_delay_and_hands_every_fault_the_run_context(
        world: World, tmp_path: Path) -> None:
    specs = (PodKill(selector=SEL), PodKill(selector=SEL, delay_s=3.0),
             PodKill(selector=SEL, delay_s=500.0))
    exp = _experiment(faults=specs)
    world.recovers_after_s = 1.0
    state = _state(world, tmp_path, exp)
    state.fault_t = None
    built: list[Any] = []
    numbers = iter(range(1, 10))

    def build(spec: Any) -> RecordingFault:
        built.append(spec)
        return RecordingFault(spec, world, next(numbers))

    ports = RunPorts(cluster=FakeCluster(world), start_load=lambda *a: FakeLoad(world),
                     build_fault=build,
                     resolve_targets=lambda scope, spec: Targets("Pod", world.targets))
    messages: list[str] = []
    state.log = messages.append
    start = world.clock.wall()
    ph.inject(state, ports)
    assert built == list(specs)
    # 1 s per fault to recover; the second waits 3 s, the third what is left of 120 s
    assert [e for e in world.log if e.startswith("ctx")] == ["ctx1:0:0.0", "ctx2:1:4.0",
                                                             "ctx3:2:120.0"]
    assert state.fault_t == start  # the first fault's start
    assert messages == ["[offline] injecting pod-kill"] * 3
    ctx = state.contexts[1]
    assert (ctx.kube, ctx.namespace, ctx.journal, ctx.seed, ctx.clock) == (
        ports.cluster.kube, "kc-offline-abc123", state.journal, 11, world.clock)
    assert (ctx.workload_selector, ctx.cluster_name, ctx.kubeconfig) == (SEL, "kc", "/kube/config")
    assert ctx.observer is state.observer and ctx.deadline == state.deadline
    ctx.emit("pod-ready", "web-z", "back")  # the fault's emit lands on the run's timeline
    last = state.observer.events()[-1]
    assert (last.kind, last.name, last.detail) == ("pod-ready", "web-z", "back")
    assert state.active == []  # all undone at the end of the phase
    assert [e for e in world.log if e.endswith(".undo")] == ["fault3.undo", "fault2.undo",
                                                             "fault1.undo"]


class DrainFault(FakeFault):
    """A blocked drain: one container restart before the fault (not counted), one during."""

    def inject(self, ctx: FaultContext) -> FaultOutcome:
        obs = ctx.observer
        assert isinstance(obs, FakeObserver)
        obs._events.append(ClusterEvent(self.world.clock.wall() - 1.0, "restart", "web-c", ""))
        outcome = super().inject(ctx)
        ctx.emit("restart", PODS[1], "")
        return replace(outcome, type="drain", answer=True, details={"blocked": True})


def test_what_the_run_measured_is_what_the_slas_judge(world: World, tmp_path: Path) -> None:
    exp = _experiment(slas=SLASpec(max_error_rate=0.05, max_recovery_s=30, max_restarts=1,
                                   steady_state_restored=True, expect_blocked=True))
    result = _run(world, tmp_path, exp, fault=DrainFault)
    assert [(r.name, r.observed, r.passed) for r in result.slas] == [
        ("maxErrorRate", 0.0, True), ("maxRecovery", pytest.approx(4.0), True),
        ("maxRestarts", 1.0, True), ("steadyStateRestored", 1.0, True),
        ("expectBlocked", 1.0, True)]
    assert result.restarts == 1 and result.verdict == "pass"


class HalfEndpointObserver(FakeObserver):
    """web-c is Ready but not (yet) an endpoint of the Service when the fault starts."""

    def snapshot(self) -> Snapshot:
        snap = super().snapshot()
        return replace(snap, endpoints=snap.endpoints - {"web-c"})


class EndpointFlap(FakeFault):
    def inject(self, ctx: FaultContext) -> FaultOutcome:
        ctx.emit("endpoint-removed", "web-b", "")
        ctx.emit("endpoint-removed", "web-a", "")
        outcome = super().inject(ctx)
        ctx.emit("endpoint-added", "web-b", "")
        return outcome


def test_recovery_counts_endpoints_from_those_present_before_the_fault(world: World,
                                                                      tmp_path: Path) -> None:
    result = _run(world, tmp_path, fault=EndpointFlap, observer=HalfEndpointObserver)
    assert result.recovery_seconds is None  # one endpoint of the two before: never whole
    assert result.sla("maxRecovery").passed is False


def test_the_fault_window_ends_with_the_last_request(world: World, tmp_path: Path) -> None:
    start = world.clock.wall()
    # warm-up 5 s, fault and recovery 4 s, tail 5 s: the last request starts just before 14 s
    world.outages = [(start + 13.95, start + 100)]
    result = _run(world, tmp_path)
    assert result.requests_failed == 1 and not result.records[-1].ok
    in_fault = [r for r in result.records if r.t >= start + 5.0]
    assert result.error_rate_during_fault == 1 / len(in_fault)


@pytest.mark.parametrize(("keep", "expect", "kept"), [
    ("always", "pass", True), ("on-failure", "pass", False), ("on-failure", "fail", True),
    ("never", "fail", False),
])
def test_the_namespace_is_kept_as_asked(world: World, tmp_path: Path, keep: str, expect: str,
                                        kept: bool) -> None:
    # expect: fail on a run whose SLAs hold makes the verdict "fail"
    result = _run(world, tmp_path, _experiment(expect=expect), keep_namespace=keep)
    assert result.verdict == expect
    assert world.log[-1] == ("namespace.keep" if kept else "namespace.delete")


def test_phase_timings_are_monotonic_seconds_to_the_millisecond(tmp_path: Path) -> None:
    world = World(clock=FakeClock(monotonic=1000.0), recovers_after_s=1.23456,
                  observer_stop_s=0.00123)
    result = _run(world, tmp_path)
    assert result.phases == {"setup": 0.0, "deploy": 0.0, "steady": 5.0, "inject": 1.235,
                             "recover": 0.0,
                             "tail": 5.0, "cleanup": 0.001, "report": 0.0}


class ContextFault(FakeFault):
    seen: list[FaultContext] = []

    def inject(self, ctx: FaultContext) -> FaultOutcome:
        ContextFault.seen.append(ctx)
        return super().inject(ctx)


def test_the_run_hands_faults_the_environment_and_reports_it(world: World,
                                                             tmp_path: Path) -> None:
    import importlib.metadata as md
    import platform

    from chaos import __version__
    from chaos.k8s.client import client_version

    ContextFault.seen.clear()
    node = FakeNode()
    result = _run(world, tmp_path, fault=ContextFault, cluster_name="kc", kubeconfig="/kc",
                  node=node)
    [ctx] = ContextFault.seen
    assert (ctx.cluster_name, ctx.kubeconfig, ctx.seed) == ("kc", "/kc", 11)
    assert ctx.node is node  # the run's node runtime, handed to every fault
    report = _report(result)
    assert report["cluster"] == {"context": "kind-offline", "kind_cluster": "kc",
                                 "node_access": "docker",
                                 "namespace": "kc-offline-abc123", "node_port": 30080,
                                 "server_version": "v1.34.4"}
    # without node access, faults get none and report.json says so
    ContextFault.seen.clear()
    result = _run(world, tmp_path / "none", fault=ContextFault)
    assert ContextFault.seen[0].node is None
    assert _report(result)["cluster"]["node_access"] is None
    assert report["versions"] == {"kube-chaos": __version__,
                                  "python": platform.python_version(),
                                  "kubernetes-client": client_version(),
                                  "locust": md.version("locust"), "kubernetes": "v1.34.4"}


def _error(world: World, tmp_path: Path, exp: Experiment | None = None) -> str | None:
    result = _run(world, tmp_path, exp)
    assert result.verdict == "error"
    return result.error  # type: ignore[no-any-return]


def test_deploy_waits_at_most_two_minutes_and_checks_what_it_deployed(
        world: World, tmp_path: Path) -> None:
    result = _run(world, tmp_path, _experiment(timeout_s=300))
    assert world.deploy_timeouts == [120.0]
    assert world.loads == [("http://127.0.0.1:30080", result.report_path.parent / "load")]
    world.node_port = 30081
    assert _error(world, tmp_path) == ("InjectionFailed: service web has nodePort 30081, "
                                       "experiment says 30080")
    world.node_port, world.ready_pods = 30080, ()
    assert _error(world, tmp_path) == ("InjectionFailed: selector 'app=web' matches no Ready "
                                       "pod in namespace kc-offline-abc123")


def test_steady_state_failures_say_what_was_wrong(world: World, tmp_path: Path) -> None:
    world.load_dies = True
    assert _error(world, tmp_path) == ("SteadyStateFailed: the load generator stopped during "
                                       "warm-up; see locust.log")
    world.load_dies, world.load_answers = False, False
    assert _error(world, tmp_path) == (
        "SteadyStateFailed: no request completed in the 3.0s steady-state window before the "
        "fault: the service at http://127.0.0.1:30080 is not answering")
    world.load_answers, world.ready_pods = True, PODS[:2]
    assert _error(world, tmp_path) == ("SteadyStateFailed: only 2 of 3 pods Ready before any "
                                       "fault; no fault was injected")


def test_the_warm_up_counts_from_the_first_answer_of_a_slow_starting_load(
        world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Locust's first request 8 s after its start: the 5 s warm-up counted from the start finds
    an empty steady-state window and fails a healthy service; counted from the first answer, the
    run goes on."""
    start = world.clock.wall()
    world.load_starts_after_s = 8.0
    result = _run(world, tmp_path)
    assert result.error is None and result.verdict == "pass"
    assert min(r.t for r in result.records) == start + 8.0
    monkeypatch.setattr(ph, "LOAD_START_S", 0.0)  # the old behaviour
    assert _error(world, tmp_path).startswith("SteadyStateFailed: no request completed")


def test_a_load_that_never_answers_is_waited_for_a_bounded_time(world: World,
                                                                tmp_path: Path) -> None:
    world.load_answers = False
    start = world.clock.wall()
    assert _error(world, tmp_path).startswith("SteadyStateFailed: no request completed")
    assert ph.LOAD_START_S + 5.0 <= world.clock.wall() - start < ph.LOAD_START_S + 6.0


def test_the_steady_state_error_rate_is_failures_over_the_window(world: World,
                                                                 tmp_path: Path) -> None:
    start = world.clock.wall()
    world.outages = [(start + 4.45, start + 4.55)]  # one request of the last 3 s fails
    assert _error(world, tmp_path) == (
        "SteadyStateFailed: service unhealthy before any fault: error rate 0.033 over the last "
        "3.0s (1/30 failed) exceeds steady-state maxErrorRate 0.0; no fault was injected")


def test_the_report_carries_what_the_run_measured(world: World, tmp_path: Path) -> None:
    start = world.clock.wall()
    result = _run(world, tmp_path)
    report = _report(result)
    window = report["fault"]["window"]
    # rounded in the report; from the first fault to the end of the last request
    assert window["end"] - window["start"] == pytest.approx(result.records[-1].end - start - 5.0,
                                                            abs=0.001)
    assert report["recovery"]["recovery_seconds"] == pytest.approx(4.0)
    assert report["recovery"]["restarts"] == 0 and result.restarts == 0
    assert [s["name"] for s in report["slas"]] == ["maxErrorRate", "maxRecovery"]
    assert report["experiment"]["error"] is None
    assert [e["kind"] for e in report["timeline"]["events"]] == [
        "fault-start", "pod-unready", "pod-ready"]
    assert [f["type"] for f in report["fault"]["faults"]] == ["pod-kill"]
    assert report["load"]["requests_total"] == len(result.records) > 0
    assert result.longest_outage_s == 0.0  # measured: no outage (None would mean unmeasured)
    world.fail_at = "deploy"
    failed = _run(world, tmp_path)
    assert _report(failed)["experiment"]["error"] == failed.error is not None


class CrashingUndo(FakeFault):
    def undo(self, ctx: FaultContext) -> list[UndoOutcome]:
        raise RuntimeError("docker went away")


def test_an_undo_that_raises_is_named_by_its_fault(world: World, tmp_path: Path) -> None:
    result = _run(world, tmp_path, fault=CrashingUndo)
    assert result.undo_failures == ["CrashingUndo.undo raised: docker went away"]


def test_time_left_never_goes_negative(world: World, tmp_path: Path) -> None:
    state = _state(world, tmp_path, timeout_s=10.0)
    world.clock.advance(12.0)
    assert state.left() == 0.0


def test_recover_waits_the_last_half_second_of_its_budget(late_world: World,
                                                          tmp_path: Path) -> None:
    obs = StepObserver(late_world)
    exp = _experiment(slas=SLASpec(max_error_rate=0.05, max_recovery_s=30.25))
    state = _state(late_world, tmp_path, exp, obs)
    obs.at(0.5, "pod-unready", "web-a")
    assert _recover(late_world, state) == pytest.approx(70.5)
    assert obs.waits[-1][1] == pytest.approx(0.5)


def test_the_longest_outage_counts_only_from_the_fault_on(world: World, tmp_path: Path) -> None:
    start = world.clock.wall()
    world.outages = [(start + 0.5, start + 1.0)]  # during warm-up, before the steady window
    result = _run(world, tmp_path)
    assert result.verdict == "pass" and result.requests_failed == 5
    assert result.longest_outage_s == 0.0


def test_the_audit_trail_records_who_what_and_every_undo(world: World, tmp_path: Path) -> None:
    from chaos.journal.audit import read_audit

    result = _run(world, tmp_path)
    trail = read_audit(Path(result.report_path).parent / "audit.jsonl")
    assert [e["event"] for e in trail] == ["run-start", "fault-inject", "fault-start",
                                           "fault-injected", "undo", "run-end"]
    first = trail[0]
    assert first["context"] == "kind-offline" and first["seed"] == 11
    assert "@" in str(first["who"]) and first["namespace"] == "kc-offline-abc123"
    assert trail[2]["target"] == "web-a" and trail[3]["targets"] == ["web-a"]
    assert trail[4]["status"] == "undone" and trail[-1]["verdict"] == "pass"


def test_a_fault_beyond_the_blast_radius_is_refused_before_it_acts(world: World,
                                                                   tmp_path: Path) -> None:
    from chaos.model import BlastRadius

    world.targets = ("web-a", "web-b")
    exp = _experiment(blast_radius=BlastRadius(max_pods=1))
    result = _run(world, tmp_path, exp)
    assert result.verdict == "error"
    assert "blast radius: pod-kill would hit 2 pods (web-a, web-b); the blast radius allows 1" \
        in (result.error or "")
    assert "fault1.inject" not in world.log
    world.log.clear()
    exp = _experiment(blast_radius=BlastRadius(max_percent=50))
    assert _run(world, tmp_path, exp).verdict == "error"  # 2 of 3 pods is 67 %
    world.targets = ("web-a",)
    assert _run(world, tmp_path, exp).verdict == "pass"  # 1 of 3 is 33 %
# -- abort guards and the kill switch ----------------------------------------------------------


def _guarded(*guards: Any, interval_s: float = 1.0, **over: Any) -> Experiment:
    return _experiment(abort=AbortSpec(guards=guards, interval_s=interval_s), **over)


def test_a_breach_cuts_a_holding_fault_short_and_its_undo_runs_at_once(world: World,
                                                                        tmp_path: Path) -> None:
    world.hold_s, world.outage_at_inject = 60.0, 30.0  # a 60 s fault that breaks the service
    result = _run(world, tmp_path, _guarded(OutageGuard(name="outage", max_s=2.0)))
    assert result.verdict == "aborted" and result.error is None
    # evaluated every second from the fault's start: 1 s, 2 s, then 3 s > 2 s breaches
    assert "fault1.held aborted 3s" in world.log
    assert world.log[world.log.index("fault1.held aborted 3s") + 1] == "fault1.undo"
    assert world.log[-3:] == ["load.stop", "observer.stop", "namespace.delete"]
    assert list(result.phases) == ["setup", "deploy", "steady", "inject", "cleanup", "report"]
    assert result.slas == []  # a cut-short run is not judged
    abort = _report(result)["abort"]
    assert abort["aborted"] is True and abort["guard"] == "outage" and abort["type"] == "outage"
    assert abort["value"] == pytest.approx(3.0, abs=0.11) and abort["threshold"] == 2.0
    assert abort["breach_to_undo_seconds"] == 0.0  # same fake instant: undo ran at once
    assert abort["t"] == pytest.approx(5.0 + 3.0)  # warm-up, then 3 s into the fault
    stats = {g["name"]: g for g in abort["guards"]}
    assert stats["outage"]["evaluations"] == 4  # before the fault, then at 1, 2 and 3 s
    assert stats["outage"]["max_gap_seconds"] == 1.0
    assert stats["halt"]["max_gap_seconds"] == 0.25
    assert _report(result)["verdict"] == "aborted"
    events = _report(result)["timeline"]["events"]
    assert any(e["kind"] == "abort" and e["name"] == "outage" for e in events)


def test_without_a_breach_the_guards_leave_the_run_alone(world: World, tmp_path: Path) -> None:
    world.hold_s, world.outage_at_inject = 10.0, 1.5  # a short outage, under the threshold
    result = _run(world, tmp_path, _guarded(OutageGuard(name="outage", max_s=2.0),
                                            slas=SLASpec(max_recovery_s=30)))
    assert result.verdict == "pass"
    assert "fault1.held full 10s" in world.log
    abort = _report(result)["abort"]
    assert abort["aborted"] is False and abort["guard"] is None
    assert {g["name"] for g in abort["guards"]} == {"halt", "outage"}
    outage = next(g for g in abort["guards"] if g["name"] == "outage")
    assert outage["evaluations"] >= 10 and outage["max_gap_seconds"] == 1.0


def test_a_halt_aborts_a_running_fault_within_a_quarter_second(world: World,
                                                            tmp_path: Path) -> None:
    world.hold_s = 60.0
    world.halt_at = world.clock.wall() + 5.0 + 10.2  # 10.2 s into the fault
    result = _run(world, tmp_path, _guarded())
    assert result.verdict == "aborted"
    held = next(e for e in world.log if e.startswith("fault1.held"))
    assert held == "fault1.held aborted 10.25s"  # the next quarter-second tick
    abort = _report(result)["abort"]
    assert abort["guard"] == "halt" and abort["type"] == "halt"
    assert "halted by ops@laptop (pid 7)" in abort["detail"] and "game day over" in abort[
        "detail"]
    assert abort["breach_to_undo_seconds"] == 0.0


def test_a_halted_cluster_refuses_to_start_a_run(world: World, tmp_path: Path) -> None:
    world.halt_at = world.clock.wall() - 60
    with pytest.raises(HaltActive, match=r"halted by ops@laptop \(pid 7\) at .*: game day "
                                         r"over; .*kube-chaos halt --clear"):
        _run(world, tmp_path)
    assert world.log == []  # nothing created


def test_a_halt_during_warm_up_stops_the_run_before_any_fault(world: World,
                                                              tmp_path: Path) -> None:
    world.halt_at = world.clock.wall() + 2.0  # after the start check, before the first fault
    result = _run(world, tmp_path)
    assert result.verdict == "aborted"
    assert not any(e.startswith("fault") for e in world.log)
    assert _report(result)["abort"]["guard"] == "halt"
    assert _report(result)["fault"]["faults"] == []


def test_an_abort_while_recovering_skips_the_rest(world: World, tmp_path: Path) -> None:
    world.outage_at_inject = 40.0  # the pod kill's outage outlasts the recovery wait
    world.recovers_after_s = 0.0
    result = _run(world, tmp_path, _guarded(ErrorRateGuard(name="errors", max=0.5,
                                                           window_s=2.0)))
    assert result.verdict == "aborted"
    assert list(result.phases) == ["setup", "deploy", "steady", "inject", "recover", "cleanup",
                                   "report"]
    abort = _report(result)["abort"]
    assert abort["guard"] == "errors" and abort["value"] > 0.5


def test_an_unconfirmed_undo_after_an_abort_is_an_error(world: World, tmp_path: Path) -> None:
    world.hold_s, world.outage_at_inject, world.undo_status = 60.0, 30.0, "failed"
    result = _run(world, tmp_path, _guarded(OutageGuard(name="outage", max_s=2.0)))
    assert result.verdict == "error" and "undo not confirmed" in (result.error or "")
    assert _report(result)["abort"]["guard"] == "outage"  # still named


def test_http_and_prometheus_guards_read_through_the_http_port(world: World,
                                                               tmp_path: Path) -> None:
    world.hold_s = 60.0
    calls: list[str] = []

    def http(url: str, timeout_s: float) -> HttpAnswer:
        calls.append(url)
        if "api/v1/query" in url:
            value = "0" if world.clock.wall() > world_start + 5 + 4 else "1"
            return HttpAnswer(200, ('{"status":"success","data":{"resultType":"vector",'
                                    '"result":[{"metric":{"job":"httpd"},"value":[1,"'
                                    + value + '"]}]}}').encode())
        return HttpAnswer(200)

    world_start = world.clock.wall()
    exp = _guarded(HttpGuard(name="ready", url="http://127.0.0.1:30086/readyz"),
                   PrometheusGuard(name="up", url="http://127.0.0.1:9090",
                                   query='up{job="httpd"}', min=1.0))
    result = _run(world, tmp_path, exp, http=http)
    assert result.verdict == "aborted"
    abort = _report(result)["abort"]
    assert abort["guard"] == "up" and abort["value"] == 0.0 and abort["threshold"] == ">= 1"
    assert "http://127.0.0.1:30086/readyz" in calls
    assert "http://127.0.0.1:9090/api/v1/query?query=up%7Bjob%3D%22httpd%22%7D" in calls


def test_a_guard_that_cannot_be_read_before_any_fault_is_an_error(world: World,
                                                                  tmp_path: Path) -> None:
    exp = _guarded(PrometheusGuard(name="up", url="http://127.0.0.1:9", query="up", min=1.0))
    result = _run(world, tmp_path, exp,
                  http=lambda url, t: HttpAnswer(None, error="connection refused"))
    assert result.verdict == "error" and "GuardUnusable" in (result.error or "")
    assert "connection refused" in (result.error or "")
    assert not any(e.startswith("fault") for e in world.log)


def test_guards_reach_only_allowed_hosts(world: World, tmp_path: Path) -> None:
    exp = _guarded(HttpGuard(name="shop", url="https://shop.example.com/health"))
    with pytest.raises(SafetyRefused, match=r"--chaos-allow-host=shop\.example\.com"):
        _run(world, tmp_path, exp)
    assert world.log == []
    result = _run(world, tmp_path, exp, http=lambda url, t: HttpAnswer(200),
                  allow_hosts=("shop.example.com",))
    assert result.verdict == "pass"


def test_a_kubernetes_condition_guard_aborts_when_the_condition_changes(
        world: World, tmp_path: Path) -> None:
    world.hold_s = 60.0
    world.conditions = {"Available": "False"}
    exp = _guarded(KubernetesGuard(name="available", kind="Deployment", object_name="web",
                                   condition="Available"))
    result = _run(world, tmp_path, exp)
    assert result.verdict == "aborted"
    assert not any(e.startswith("fault") for e in world.log)  # breached before any fault
    abort = _report(result)["abort"]
    assert abort["value"] == "False" and abort["threshold"] == "True"


# -- a run is judged only on what happened ------------------------------------------------------


def _holding(**over: Any) -> Experiment:
    """A fault that holds 30 s (the fakes hold world.hold_s) under a 60 s budget."""
    return _experiment(timeout_s=60, slas=SLASpec(max_error_rate=0.05), **over)


@pytest.mark.parametrize("expect", ["pass", "fail"])
def test_a_hold_cut_by_the_budget_is_an_error_never_judged(world: World, tmp_path: Path,
                                                           expect: str) -> None:
    """The audit's case: the workload took 47 s to turn Ready under a 60 s timeout, so a 30 s
    probe break held 9.7 s and the run passed. Whatever the SLAs or ``expect`` say, such a run
    is `error`, naming what fell short and where the budget went."""
    world.hold_s, world.deploy_s = 30.0, 40.0
    result = _run(world, tmp_path, _holding(expect=expect))
    assert result.verdict == "error" and result.slas == []
    assert "pod-kill held 15.0s of 30s" in (result.error or "")  # 60 - 40 deploy - 5 warm-up
    assert "deploy took 40.0s" in (result.error or "")
    assert "timeout is 60s" in (result.error or "")
    holds = _report(result)["fault"]["faults"][0]["holds"]
    assert holds == [{"planned_s": 30.0, "granted_s": 15.0, "held_s": 15.0, "aborted": False}]


def test_a_hold_that_fits_is_judged_and_reported(world: World, tmp_path: Path) -> None:
    world.hold_s, world.deploy_s = 30.0, 10.0  # 10 + 5 warm-up + 30 held, tail in budget
    result = _run(world, tmp_path, _holding())
    assert result.verdict == "pass", result.error
    holds = _report(result)["fault"]["faults"][0]["holds"]
    assert holds == [{"planned_s": 30.0, "granted_s": 30.0, "held_s": 30.0, "aborted": False}]


def test_the_harness_set_up_is_not_charged_to_the_experiments_budget(world: World,
                                                                     tmp_path: Path) -> None:
    """The cold metrics-server build (157 s) used to run inside deploy, under the timeout."""
    world.hold_s, world.prepare_s = 30.0, 500.0
    result = _run(world, tmp_path, _holding())
    assert result.verdict == "pass", result.error
    assert result.phases["setup"] == 500.0
    assert world.log[:2] == ["prepare", "namespace.create"]


def test_a_tail_cut_by_the_budget_is_an_error(world: World, tmp_path: Path) -> None:
    world.hold_s, world.deploy_s = 30.0, 17.0  # the hold fits; 3 s of budget for the tail
    result = _run(world, tmp_path, _holding())
    assert result.verdict == "error"
    assert "tail ran 3.0s of 5s" in (result.error or "")  # 5 s kept for the stop


def test_a_warm_up_cut_by_the_budget_is_an_error(world: World, tmp_path: Path) -> None:
    world.deploy_s = 117.0  # 3 s left of 120: the 5 s warm-up cannot run
    result = _run(world, tmp_path)
    assert result.verdict == "error" and "warm-up ran 3.0s of 5s" in (result.error or "")


def test_a_load_that_stopped_before_the_end_is_an_error(world: World, tmp_path: Path) -> None:
    world.load_ends_after_s = 8.0  # past the fault, before the tail's end
    result = _run(world, tmp_path)
    assert result.verdict == "error"
    assert "the load had stopped before the tail began" in (result.error or "")


def test_a_load_that_stopped_early_in_the_tail_is_an_error(world: World,
                                                           tmp_path: Path) -> None:
    world.load_ends_after_s = 10.5  # 1 s into the tail: short of the 3 s steady window
    result = _run(world, tmp_path)
    assert result.verdict == "error"
    assert "the load stopped 1.5s into the tail, short of the 3s steady-state window" in (
        result.error or ""), result.error


def test_a_load_that_covers_the_steady_window_of_the_tail_is_judged(world: World,
                                                                     tmp_path: Path) -> None:
    world.load_ends_after_s = 13.0  # 3.5 s into the tail: the steady window is covered
    assert _run(world, tmp_path).verdict == "pass"


def test_an_aborted_hold_is_aborted_not_cut_short(world: World, tmp_path: Path) -> None:
    world.hold_s, world.outage_at_inject = 30.0, 20.0
    result = _run(world, tmp_path, _guarded(ErrorRateGuard(name="errors", max=0.5,
                                                           window_s=2.0)))
    assert result.verdict == "aborted"
    holds = _report(result)["fault"]["faults"][0]["holds"]
    assert holds[0]["aborted"] is True and holds[0]["held_s"] < 30.0


class CaptureFileLoad(FakeLoad):
    """What it answered, written as locust writes it: a capture file (v2), read back by the run
    as a real run's is, streamed from disk."""

    malformed = False  # a malformed line half-way (a torn write, a broken locust plugin)

    def wait(self, timeout: float | None = None) -> Any:
        out = self.w.loads[-1][1]
        out.mkdir(parents=True, exist_ok=True)
        path = out / "capture.tsv"
        recs = self.records()
        lines = [CAPTURE_HEADER] + [f"{r.t}\t\t{r.latency_s}\t{int(r.ok)}\t{r.status}\t\n"
                                    for r in recs]
        if self.malformed:
            lines.insert(1 + len(recs) // 2, "1700000000.5\t\tnot-a-latency\t1\t200\t\n")
        path.write_text("".join(lines))
        return SimpleNamespace(records=CaptureRecords([path], len(recs), recs[-1]),
                               generators=(), cpu=None)


class MalformedCaptureLoad(CaptureFileLoad):
    malformed = True


def test_a_malformed_capture_line_errors_the_run_and_keeps_its_report(world: World,
                                                                      tmp_path: Path) -> None:
    """The error names the file and line; report.json is still written (it was lost when the
    error escaped the run), with what was read before the line."""
    good = _run(world, tmp_path / "good", load=CaptureFileLoad)
    assert good.verdict == "pass" and good.error is None  # the same run, its capture intact
    result = _run(World(clock=FakeClock()), tmp_path / "bad", load=MalformedCaptureLoad)
    assert result.verdict == "error" and result.slas == []
    assert result.error is not None
    assert result.error.startswith("CaptureFormatError: ")
    line = 2 + good.requests_total // 2
    assert (f"capture.tsv:{line}: could not convert string to float: 'not-a-latency'"
            in result.error)
    report = _report(result)
    assert report["verdict"] == "error" and report["experiment"]["error"] == result.error
    assert 0 < result.requests_total < good.requests_total  # what came before the line
    assert report["load"]["requests_total"] == result.requests_total
    assert len(list(result.records)) == result.requests_total  # and the result reads the same


def test_a_faults_start_and_end_go_to_the_audit_and_onto_each_target_as_events() -> None:
    """The faults' emit (phases._announcing): every event onto the timeline; the start and
    the end of a fault also into the audit trail and, as Kubernetes Events, onto each object
    it names (pods, or nodes for node faults; a container's pod; at most 20)."""
    from chaos.model.faults import Cordon, NodeSelection, PodKill

    timeline: list[tuple[str, str, str]] = []
    audit: list[tuple[str, dict[str, object]]] = []
    events: list[tuple[str, str, str, str, str]] = []
    s = SimpleNamespace(observer=SimpleNamespace(emit=lambda *a: timeline.append(a)),
                        record=lambda what, **f: audit.append((what, f)), namespace="ns",
                        exp=SimpleNamespace(name="exp"))
    ports = SimpleNamespace(cluster=SimpleNamespace(announce=lambda *a: events.append(a)))
    emit = ph._announcing(s, ports, PodKill(selector=Selector.of({"app": "web"})))  # type: ignore[arg-type]
    emit("pod-deleted", "web-1", "")
    assert timeline == [("pod-deleted", "web-1", "")] and audit == [] and events == []
    emit("fault-start", "web-1,web-2/httpd,", "grace 0s")
    assert audit == [("fault-start", {"fault": "pod-kill", "target": "web-1,web-2/httpd,",
                                      "detail": "grace 0s"})]
    assert events == [("ns", "Pod", "web-1", "KubeChaosFault", "kube-chaos pod-kill (exp): "
                       "grace 0s"), ("ns", "Pod", "web-2", "KubeChaosFault",
                                     "kube-chaos pod-kill (exp): grace 0s")]
    events.clear()
    node_emit = ph._announcing(s, ports, Cordon(nodes=NodeSelection(nodes=("n0",))))  # type: ignore[arg-type]
    node_emit("fault-end", ",".join(f"n{i}" for i in range(25)), "uncordoned")
    assert len(events) == 20 and events[0] == ("ns", "Node", "n0", "KubeChaosFaultEnded",
                                               "kube-chaos cordon (exp): uncordoned")
    assert timeline[-1] == ("fault-end", ",".join(f"n{i}" for i in range(25)), "uncordoned")
