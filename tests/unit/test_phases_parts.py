"""One phase of chaos.engine.phases at a time, on the figures and lines it leaves behind: the
blast-radius refusal and its audit line, what inject and the faults' emit write to the audit
trail, recovery's shortfall and its guards, the tail's judgement of a load that stopped early,
the guards' wiring. The fakes are tests/unit/test_phases.py's; time is a FakeClock."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from test_phases import (
    SEL,
    FakeCluster,
    FakeFault,
    FakeLoad,
    StepObserver,
    World,
    _experiment,
    _state,
)

from chaos.clock import FakeClock
from chaos.engine import phases as ph
from chaos.engine.phases import RunPorts
from chaos.errors import ExperimentAborted, SafetyRefused
from chaos.faults.targets import Targets
from chaos.journal.store import UndoAction
from chaos.model import BlastRadius, LoadProfile, PodKill, SLASpec
from chaos.model.abort import AbortSpec, Breach, KubernetesGuard
from chaos.model.apiprobe import ApiProbeData
from chaos.model.faults import ControlPlaneLoss, Cordon, NodeSelection
from chaos.model.timeline import RequestRecord


@pytest.fixture
def world() -> World:
    return World(clock=FakeClock())


class ListAudit:
    """The audit trail as (event, fields) pairs."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, object]]] = []

    def write(self, event: str, **fields: object) -> None:
        self.lines.append((event, fields))


def _ports(world: World, **over: Any) -> RunPorts:
    numbers = iter(range(1, 100))
    ports = RunPorts(cluster=FakeCluster(world), start_load=lambda *a: FakeLoad(world),
                     build_fault=lambda spec: FakeFault(spec, world, next(numbers)),
                     resolve_targets=lambda scope, spec: Targets("Pod", world.targets))
    return replace(ports, **over)


def _audited(world: World, tmp_path: Path, **exp_over: Any) -> tuple[ph.RunState, ListAudit]:
    state = _state(world, tmp_path, _experiment(**exp_over))
    audit = ListAudit()
    state.audit = audit  # type: ignore[assignment]
    return state, audit


# -- check_blast_radius -------------------------------------------------------------------------


def test_a_refused_fault_names_every_problem_and_leaves_an_audit_line(world: World,
                                                                      tmp_path: Path) -> None:
    state, audit = _audited(world, tmp_path,
                            blast_radius=BlastRadius(max_pods=1, max_percent=50))
    problems = ["pod-kill would hit 2 pods (web-a, web-b); the blast radius allows 1",
                "pod-kill would hit 2 of 3 pods (67 %); the blast radius allows 50 % "
                "(1 pod(s))"]
    with pytest.raises(SafetyRefused) as refused:
        ph.check_blast_radius(state, PodKill(selector=SEL), Targets("Pod", ("web-a", "web-b")))
    assert str(refused.value) == ("blast radius: pod-kill would hit 2 pods (web-a, web-b); the "
                                  "blast radius allows 1; pod-kill would hit 2 of 3 pods (67 %); "
                                  "the blast radius allows 50 % (1 pod(s))")
    assert audit.lines == [("refused", {"fault": "pod-kill", "problems": problems})]


def test_the_command_lines_blast_radius_tightens_the_experiments(world: World,
                                                                 tmp_path: Path) -> None:
    state, audit = _audited(world, tmp_path)  # the experiment sets no pod limit
    targets = Targets("Pod", ("web-a", "web-b"))
    ph.check_blast_radius(state, PodKill(selector=SEL), targets)
    state.limits = BlastRadius(max_pods=1)
    with pytest.raises(SafetyRefused, match=r"^blast radius: pod-kill would hit 2 pods "
                                            r"\(web-a, web-b\); the blast radius allows 1$"):
        ph.check_blast_radius(state, PodKill(selector=SEL), targets)
    assert [event for event, _ in audit.lines] == ["refused"]


def test_nodes_are_judged_by_the_node_limits(world: World, tmp_path: Path) -> None:
    state, _ = _audited(world, tmp_path)
    with pytest.raises(SafetyRefused) as refused:
        ph.check_blast_radius(state, Cordon(nodes=NodeSelection(pods_of=SEL)),
                              Targets("Node", ("w1", "w2")))
    assert str(refused.value) == ("blast radius: cordon would hit 2 nodes (w1, w2); the blast "
                                  "radius allows 1 at a time (raise maxNodes to allow more)")


def test_a_control_plane_node_is_hit_only_when_named_or_by_a_control_plane_loss(
        world: World, tmp_path: Path) -> None:
    state, audit = _audited(world, tmp_path)
    cp = Targets("Node", ("kc-control-plane",), control_plane=("kc-control-plane",))
    # named in nodes:, or the fault's very type names the control plane: allowed
    ph.check_blast_radius(state, Cordon(nodes=NodeSelection(nodes=("kc-control-plane",))), cp)
    ph.check_blast_radius(state, ControlPlaneLoss(), cp)
    assert audit.lines == []
    for spec in (Cordon(nodes=NodeSelection(pods_of=SEL)), PodKill(selector=SEL)):
        with pytest.raises(SafetyRefused) as refused:
            ph.check_blast_radius(state, spec, cp)
        assert str(refused.value) == (f"blast radius: {spec.type} would hit control-plane "
                                      "node(s) kc-control-plane, which only an experiment "
                                      "naming them in nodes: may do")


# -- the audit trail of inject and the faults' emit ----------------------------------------------


def test_inject_audits_each_fault_by_its_index_type_and_targets(world: World,
                                                                tmp_path: Path) -> None:
    state, audit = _audited(world, tmp_path,
                            faults=(PodKill(selector=SEL), PodKill(selector=SEL)))
    ph.inject(state, _ports(world))
    start = {"fault": "pod-kill", "target": "web-a", "detail": "pod-kill"}
    assert audit.lines == [
        ("fault-inject", {"index": 0, "fault": "pod-kill"}), ("fault-start", start),
        ("fault-injected", {"index": 0, "fault": "pod-kill", "targets": ["web-a"]}),
        ("fault-inject", {"index": 1, "fault": "pod-kill"}), ("fault-start", start),
        ("fault-injected", {"index": 1, "fault": "pod-kill", "targets": ["web-a"]})]


def test_a_control_plane_faults_events_go_onto_its_nodes(world: World,
                                                         tmp_path: Path) -> None:
    state, audit = _audited(world, tmp_path)
    emit = ph._announcing(state, _ports(world), ControlPlaneLoss())
    emit("fault-start", "kc-control-plane")  # no detail: an empty one
    assert world.log == ["event KubeChaosFault Node/kc-control-plane"]
    assert audit.lines == [("fault-start", {"fault": "control-plane-loss",
                                            "target": "kc-control-plane", "detail": ""})]
    last = state.observer.events()[-1]  # type: ignore[union-attr]
    assert (last.kind, last.name, last.detail) == ("fault-start", "kc-control-plane", "")


# -- deploy, steady and the load's first answer -------------------------------------------------


def test_deploy_adds_what_it_created_to_what_the_run_already_made(world: World,
                                                                  tmp_path: Path) -> None:
    earlier = UndoAction("delete-object", {"kind": "PriorityClass", "name": "early"})
    made = UndoAction("delete-object", {"kind": "ClusterRole", "name": "web"})

    class CreatingCluster(FakeCluster):
        def deploy(self, *args: Any) -> list[UndoAction]:
            super().deploy(*args)
            return [made]

    state = _state(world, tmp_path)
    state.created = [earlier]
    ph.deploy(state, _ports(world, cluster=CreatingCluster(world)))
    assert state.created == [earlier, made]


def test_the_first_answer_is_awaited_to_the_last_poll_before_its_deadline(
        world: World, tmp_path: Path) -> None:
    world.load_answers = False  # running, never answering
    state = _state(world, tmp_path)
    ph._await_first_answer(state, FakeLoad(world))
    # 30 s in quarter seconds: the poll that reaches the deadline is the last
    assert world.clock.sleeps == [ph.LOAD_START_POLL_S] * 120


@pytest.mark.parametrize(("workers", "where"), [
    (0, "http://127.0.0.1:30080"), (2, "service web from 2 worker pod(s)")])
def test_steady_says_where_the_load_goes(world: World, tmp_path: Path, workers: int,
                                         where: str) -> None:
    exp = _experiment(load=LoadProfile(warmup_s=5, tail_s=5, max_duration_s=60,
                                       in_cluster_workers=workers))
    state = _state(world, tmp_path, exp)
    state.node_port = 30080
    messages: list[str] = []
    state.log = messages.append
    ph.steady(state, _ports(world))
    assert messages == [f"[offline] load on {where}/: {exp.load.loop.describe(exp.load)}"]


@pytest.mark.parametrize(("max_api_outage_s", "fault", "probed"), [
    (None, PodKill(selector=SEL), False),
    (5.0, PodKill(selector=SEL), True),
    (None, ControlPlaneLoss(), True),
    (5.0, ControlPlaneLoss(), True),
])
def test_the_api_probe_runs_for_a_control_plane_target_or_a_declared_max_api_outage(
        max_api_outage_s: float | None, fault: Any, probed: bool) -> None:
    exp = _experiment(faults=(fault,), slas=SLASpec(max_api_outage_s=max_api_outage_s))
    assert ph.needs_api_probe(exp) is probed


def test_the_api_probe_is_stopped_and_read_once(world: World, tmp_path: Path) -> None:
    data = ApiProbeData(server="https://127.0.0.1:6443")
    calls: list[str] = []
    probe = SimpleNamespace(stop=lambda: calls.append("stop"),
                            data=lambda: calls.append("data") or data)
    state = _state(world, tmp_path)
    state.api_probe = probe  # type: ignore[assignment]
    ph.stop_api_probe(state)
    ph.stop_api_probe(state)
    assert state.api_data is data
    assert calls == ["stop", "data"]


# -- start_guards --------------------------------------------------------------------------------


def test_the_guards_get_the_loads_wait_in_seconds_and_the_outage_bound(
        world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[Any, ...]] = []

    def build_checks(*args: Any, **kwargs: Any) -> list[Any]:
        seen.append((*args[5:], kwargs))
        return []

    monkeypatch.setattr(ph, "build_checks", build_checks)
    exp = _experiment(load=LoadProfile(warmup_s=5, tail_s=5, max_duration_s=60, wait_ms=250),
                      slas=SLASpec(max_error_rate=0.05, outage_bound_s=2.5))
    state = _state(world, tmp_path, exp)
    ph.start_guards(state, _ports(world))
    assert seen == [(world.clock, 0.25, {"outage_bound_s": 2.5})]
    assert state.monitor is not None
    state.monitor.stop()


def test_a_breach_is_logged_and_put_on_the_timeline_with_what_it_read(world: World,
                                                                      tmp_path: Path) -> None:
    world.conditions = {"Available": "False"}
    guard = KubernetesGuard(name="available", kind="Deployment", object_name="web",
                            condition="Available")
    state = _state(world, tmp_path, _experiment(abort=AbortSpec(guards=(guard,))))
    messages: list[str] = []
    state.log = messages.append
    ph.start_guards(state, _ports(world))
    assert state.monitor is not None
    state.monitor.stop()
    breach = state.abort.breach
    assert breach is not None and breach.guard == "available"
    assert messages == [f"[offline] abort: {breach.describe()}"]
    last = state.observer.events()[-1]  # type: ignore[union-attr]
    assert (last.kind, last.name, last.detail) == ("abort", "available", breach.describe())


# -- recover --------------------------------------------------------------------------------------


def _late(wall: float = 1_700_000_000.0) -> World:
    return World(clock=FakeClock(monotonic=1000.0, wall=wall))


def _stopped_monitor(state: ph.RunState) -> list[str]:
    calls: list[str] = []
    state.monitor = SimpleNamespace(stop=lambda: calls.append("stop"))  # type: ignore[assignment]
    return calls


@pytest.mark.parametrize("recovers", [True, False])
def test_recover_stops_the_guards_whether_or_not_the_workload_came_back(
        tmp_path: Path, recovers: bool) -> None:
    world = _late()
    obs = StepObserver(world)
    state = _state(world, tmp_path, observer=obs)
    stops = _stopped_monitor(state)
    obs.at(0.1, "pod-unready", "web-a")
    if recovers:
        obs.at(0.6, "pod-ready", "web-a")
    ph.recover(state, None)  # type: ignore[arg-type]
    assert stops == ["stop"]
    assert state.shortfalls == []  # with or without recovery, the wait had its full budget


def test_a_recovery_wait_cut_by_the_budget_is_a_shortfall(tmp_path: Path) -> None:
    world = _late()
    obs = StepObserver(world)
    # maxRecovery 30 s: a 70 s wait; 50 s of budget, less the 5 s tail and 5 s, leave 40 s
    state = _state(world, tmp_path, observer=obs, timeout_s=50.0)
    obs.at(0.5, "pod-unready", "web-a")  # never Ready again
    ph.recover(state, None)  # type: ignore[arg-type]
    assert state.shortfalls == ["recovery waited 40.0s of 70s"]


def test_without_a_declared_max_recovery_a_shorter_wait_is_no_shortfall(tmp_path: Path) -> None:
    world = _late()
    obs = StepObserver(world)
    exp = _experiment(slas=SLASpec(max_error_rate=0.05))  # the default wait: 130 s
    state = _state(world, tmp_path, exp, obs, timeout_s=50.0)
    obs.at(0.5, "pod-unready", "web-a")
    ph.recover(state, None)  # type: ignore[arg-type]
    assert state.shortfalls == []


def test_an_abort_as_the_recovery_budget_ends_is_no_shortfall(tmp_path: Path) -> None:
    """The guard monitor's thread may set the abort at any moment: one that lands as the
    budget runs out aborts the run, and the wait it cut is not a shortfall."""
    world = _late()
    breach = Breach(guard="errors", type="error-rate", value=0.9, threshold=0.5,
                    detail="error rate 0.900", at=world.clock.wall())

    class AbortingObserver(StepObserver):
        def events(self) -> list[Any]:
            if world.clock.monotonic() - 1000.0 >= 40.0:
                state.abort.trigger(breach)
            return super().events()

    obs = AbortingObserver(world)
    state = _state(world, tmp_path, observer=obs, timeout_s=50.0)
    obs.at(0.5, "pod-unready", "web-a")
    with pytest.raises(ExperimentAborted):
        ph.recover(state, None)  # type: ignore[arg-type]
    assert state.shortfalls == []


def test_recover_counts_endpoints_against_their_number_before_the_fault(
        tmp_path: Path) -> None:
    """web-c is Ready but was no endpoint: the Service had two. One endpoint leaves and web-c's
    arrives: two again, so whole, though not the same two."""
    world = _late()
    obs = StepObserver(world)
    state = _state(world, tmp_path, observer=obs)
    state.initial_endpoints = {"web-a", "web-b"}
    obs.at(0.1, "endpoint-removed", "web-a")
    obs.at(0.6, "endpoint-added", "web-c")
    start = world.clock.monotonic()
    ph.recover(state, None)  # type: ignore[arg-type]
    assert world.clock.monotonic() == start  # whole at once: no wait
    assert obs.waits == []


def test_a_fault_at_wall_time_zero_is_timed_from_zero(tmp_path: Path) -> None:
    world = _late(wall=0.0)
    obs = StepObserver(world)
    state = _state(world, tmp_path, observer=obs)
    assert state.fault_t == 0.0
    obs.at(0.5, "pod-unready", "web-a")
    obs.at(0.9, "pod-ready", "web-a")  # disrupted and back within the first second
    ph.recover(state, None)  # type: ignore[arg-type]
    assert obs.waits == []  # recovered: not waiting 2 s for a disruption to show


# -- tail ----------------------------------------------------------------------------------------


def _tail(world: World, tmp_path: Path, load: Any) -> ph.RunState:
    state = _state(world, tmp_path)
    state.load = load
    ph.tail(state, None)  # type: ignore[arg-type]  # tail needs no port
    return state


WHY = "load.maxDuration 60s; see locust.log"


def test_a_load_stopped_before_the_tail_is_one_shortfall(world: World, tmp_path: Path) -> None:
    world.load_dies = True
    state = _tail(world, tmp_path, FakeLoad(world))
    assert state.shortfalls == [f"the load had stopped before the tail began ({WHY})"]


def test_a_load_that_stopped_in_the_tail_without_an_answer_stopped_zero_seconds_in(
        world: World, tmp_path: Path) -> None:
    world.load_answers, world.load_ends_after_s = False, 2.0
    state = _tail(world, tmp_path, FakeLoad(world))
    assert state.shortfalls == ["the load stopped 0.0s into the tail, short of the 3s "
                                f"steady-state window ({WHY})"]


def test_a_load_that_stopped_half_a_second_into_the_tail_says_so(world: World,
                                                                  tmp_path: Path) -> None:
    world.load_ends_after_s = 10.55
    load = FakeLoad(world)
    world.clock.advance(10.0)  # warm-up, fault and recovery
    state = _tail(world, tmp_path, load)
    assert state.shortfalls == ["the load stopped 0.5s into the tail, short of the 3s "
                                f"steady-state window ({WHY})"]


class LastAnswerLoad:
    """Stops by itself 4 s into the tail; its last answer came ``into`` seconds into it."""

    log_path = Path("locust.log")

    def __init__(self, clock: FakeClock, into: float) -> None:
        self.clock, self.start = clock, clock.wall()
        self.record = RequestRecord(t=self.start + into, latency_s=0.01, ok=True, status=200)

    @property
    def running(self) -> bool:
        return self.clock.wall() < self.start + 4.0

    def stop(self) -> None:
        pass

    def wait(self, timeout: float | None = None) -> Any:
        return SimpleNamespace(records=(self.record,), generators=(), cpu=None)


@pytest.mark.parametrize(("into", "short"), [(2.5, True), (2.75, False), (3.0, False)])
def test_a_load_that_stopped_in_the_tail_must_cover_its_window_less_the_slack(
        world: World, tmp_path: Path, into: float, short: bool) -> None:
    state = _tail(world, tmp_path, LastAnswerLoad(world.clock, into))
    assert state.shortfalls == ([f"the load stopped {into:.1f}s into the tail, short of the 3s "
                                 f"steady-state window ({WHY})"] if short else [])


# -- cleanup -------------------------------------------------------------------------------------


def test_cleanup_after_an_abort_notes_when_every_undo_had_run(world: World,
                                                              tmp_path: Path) -> None:
    state = _state(world, tmp_path)
    state.abort.trigger(Breach(guard="halt", type="halt", value=None, threshold=None,
                               detail="halted", at=world.clock.wall()))
    world.clock.advance(7.0)
    ph.cleanup(state)
    assert state.undone_at == world.clock.wall()
    assert world.log == ["observer.stop"]

