"""One experiment as a sequence of phases over explicit state.

deploy -> steady -> inject -> recover -> tail, then (always) cleanup and evaluate. Each phase
reads and writes ``RunState``; the I/O they need comes through ``RunPorts`` so the whole
sequence runs against fakes in unit tests (tests/unit/test_phases.py) and against a real
cluster everywhere else (``chaos.engine.runner.cluster_ports``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from chaos.abort import AbortSignal
from chaos.clock import Clock
from chaos.engine.monitor import GuardMonitor, HttpGet, build_checks, http_get
from chaos.errors import ExperimentAborted, InjectionFailed, SafetyRefused, SteadyStateFailed
from chaos.faults.base import Fault, FaultContext, FaultOutcome
from chaos.faults.targets import Scope, Targets, resolve
from chaos.faults.undo import settle, undo_errors
from chaos.journal.audit import AuditLog
from chaos.journal.store import Journal, UndoAction, UndoOutcome
from chaos.k8s.client import Kube
from chaos.k8s.observe import Snapshot
from chaos.model.abort import HaltMarker
from chaos.model.apiprobe import ApiProbeData
from chaos.model.experiment import BlastRadius, Experiment, FaultSpec, Selector
from chaos.model.faults import NodeFault
from chaos.model.hold import HOLD_SLACK_S, shortfall
from chaos.model.timeline import ClusterEvent, RequestRecord
from chaos.node.runtime import NodeRuntime
from chaos.plan import blast
from chaos.plan import recovery as prec
from chaos.plan.generator import CpuTimes
from chaos.plan.stream import last_record, one_pass

# -- the ports: what the phases need from the world ---------------------------------------------


class ObserverPort(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...

    # a Protocol: a mutant here would add members that Observer lacks (mypy, not tests)
    def emit(self, kind: str, name: str, detail: str = "") -> None: ...  # pragma: no mutate

    def snapshot(self) -> Snapshot: ...

    def wait_change(self, version: int, timeout_s: float) -> Snapshot: ...

    def events(self) -> list[ClusterEvent]: ...


class LoadResultPort(Protocol):
    @property
    def records(self) -> Iterable[RequestRecord]: ...  # re-iterable, streamed from disk

    # in-cluster load: each worker pod's clock offset and record counts (report.json's
    # load.generators); empty for load from this machine
    @property
    def generators(self) -> tuple[dict[str, float | int | str | None], ...]: ...

    # what the local load processes got of the CPUs while they sent (None: not measured)
    @property
    def cpu(self) -> CpuTimes | None: ...


class LoadPort(Protocol):
    log_path: Path

    @property
    def running(self) -> bool: ...

    def records(self) -> Iterable[RequestRecord]: ...  # re-iterable, streamed from disk

    def records_since(self, t: float) -> list[RequestRecord]: ...

    def stop(self) -> None: ...

    # what the local load processes got of the CPUs so far (None: not measured)
    def cpu_times(self) -> CpuTimes | None: ...

    def wait(self, timeout: float | None = None) -> LoadResultPort: ...


class ApiProbePort(Protocol):
    """The API-server probe (chaos.k8s.apiprobe.ApiProbe is the real one)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def data(self) -> ApiProbeData: ...


class ClusterPort(Protocol):
    """The cluster operations of one run (chaos.engine.runner.KubeCluster is the real one)."""

    @property
    def kube(self) -> Kube: ...

    def prepare(self, exp: Experiment) -> None:
        """The harness's own set-up for ``exp`` (image builds and loads, metrics-server),
        before the experiment's clock starts."""
        ...

    def deploy(self, exp: Experiment, namespace: str, timeout_s: float,
               journal: Journal, node_port: int | None) -> list[UndoAction]:
        """Deploy (or check) the workload, its Service on ``node_port`` for ``nodePort: auto``
        (the run's, RunState.node_port); returns the undo, journaled before the act, of
        anything created outside the namespace (cluster-scoped objects)."""
        ...

    def node_port(self, namespace: str, service: str) -> int | None: ...

    def node_ports_in_use(self) -> dict[int, str]:
        """Every NodePort a Service of the cluster holds -> that Service (namespace/name)."""
        ...

    def observer(self, namespace: str, selector: Selector, service: str) -> ObserverPort: ...

    def server_version(self) -> str | None: ...

    def announce(self, namespace: str, kind: str, name: str, reason: str,
                 message: str) -> None: ...

    def halt_marker(self, timeout_s: float) -> HaltMarker | None: ...

    def conditions(self, kind: str, name: str, namespace: str | None,
                   timeout_s: float) -> dict[str, str] | None: ...


@dataclass
class RunPorts:
    cluster: ClusterPort
    # (url, experiment, output directory, the run's namespace)
    start_load: Callable[[str, Experiment, Path, str], LoadPort]
    build_fault: Callable[[FaultSpec], Fault]
    resolve_targets: Callable[[Scope, FaultSpec], Targets | None] = resolve
    http_get: HttpGet = http_get  # HTTP and Prometheus guards (allow-listed hosts only)
    # the API-server probe, for runs that lose control planes or judge maxApiOutage; None: no
    # probe can run here (its figures are then unmeasured, and maxApiOutage fails)
    start_api_probe: Callable[[], ApiProbePort] | None = None


# -- the state --------------------------------------------------------------------------------


@dataclass
class RunState:
    exp: Experiment
    namespace: str
    seed: int
    clock: Clock
    deadline: float  # monotonic
    out_dir: Path
    journal: Journal
    kubeconfig: str
    cluster_name: str | None
    log: Callable[[str], None]
    # the NodePort the load reaches on 127.0.0.1: the fixed one, or the pick of nodePort: auto
    # (chaos.engine.ports); None with spec.load.url
    node_port: int | None = None
    node: NodeRuntime | None = None  # how faults reach the nodes; None: they cannot
    observer: ObserverPort | None = None
    load: LoadPort | None = None
    fault_t: float | None = None  # wall time of the first fault
    initial_ready: set[str] = field(default_factory=set)
    initial_endpoints: set[str] = field(default_factory=set)
    active: list[tuple[Fault, FaultContext]] = field(default_factory=list)  # undo pending
    contexts: list[FaultContext] = field(default_factory=list)  # each collects undo outcomes
    created: list[UndoAction] = field(default_factory=list)  # deleted by cleanup
    created_outcomes: list[UndoOutcome] = field(default_factory=list)
    outcomes: list[FaultOutcome] = field(default_factory=list)
    undo_crashes: list[str] = field(default_factory=list)  # an undo() that raised
    # every record of the run, re-iterable: each pass streams them again (nothing is held)
    records: Iterable[RequestRecord] = ()
    steady_restored: bool | None = None
    completed: list[str] = field(default_factory=list)  # phases that ran to the end
    # set by the first guard breach or a halt; every fault's wait observes it
    abort: AbortSignal = field(default_factory=AbortSignal)
    monitor: GuardMonitor | None = None  # evaluates the guards from inject to recovery
    undone_at: float | None = None  # wall time every undo had run, after an abort
    audit: AuditLog | None = None
    limits: BlastRadius | None = None  # the command line's, merged with the experiment's
    api_probe: ApiProbePort | None = None
    api_data: ApiProbeData | None = None  # what the probe recorded, once it stopped
    load_generators: tuple[dict[str, float | int | str | None], ...] = ()
    load_cpu: CpuTimes | None = None  # what the local load processes got of the CPUs
    # what did not run as declared because the run's budget ran out (a fault's hold, the
    # warm-up, the recovery wait, the tail, the load): such a run is `error`, never judged
    shortfalls: list[str] = field(default_factory=list)

    def record(self, event: str, **fields: object) -> None:
        """One line of the audit trail (when the run keeps one)."""
        if self.audit is not None:
            self.audit.write(event, **fields)

    def left(self) -> float:
        return max(0.0, self.deadline - self.clock.monotonic())

    def budgeted(self, what: str, planned_s: float, reserve_s: float = 0.0) -> float:
        """The seconds a declared wait of ``planned_s`` may take, keeping ``reserve_s`` of the
        budget for what follows; a cut is recorded as a shortfall (the run is then `error`)."""
        granted = max(0.0, min(planned_s, self.left() - reserve_s))
        if (cut := shortfall(what, granted, planned_s)) is not None:
            self.shortfalls.append(cut)
        return granted

    @property
    def desired(self) -> int:
        return self.exp.steady_state.ready_replicas or self.exp.workload.replicas

    def say(self, message: str) -> None:
        self.log(f"[{self.exp.name}] {message}")


# -- the phases -------------------------------------------------------------------------------


def deploy(s: RunState, ports: RunPorts) -> None:
    """Deploy the workload, check its Service, start watching it."""
    exp = s.exp
    s.say(f"deploying into namespace {s.namespace}")
    s.created += ports.cluster.deploy(exp, s.namespace, min(120.0, s.left()), s.journal,
                                      s.node_port)
    if s.node_port is not None:
        port = ports.cluster.node_port(s.namespace, exp.workload.service)
        if port != s.node_port:
            said = ("the run set" if exp.workload.node_port == "auto" else "experiment says")
            raise InjectionFailed(f"service {exp.workload.service} has nodePort {port}, "
                                  f"{said} {s.node_port}")
    s.observer = ports.cluster.observer(s.namespace, exp.workload.selector,
                                        exp.workload.service)
    s.observer.start()
    if not s.observer.snapshot().ready_pods:
        raise InjectionFailed(f"selector {exp.workload.selector.to_label_selector()!r} matches "
                              f"no Ready pod in namespace {s.namespace}")


def steady(s: RunState, ports: RunPorts) -> None:
    """Start the load, warm up, and require the declared steady state before any fault."""
    exp, clock = s.exp, s.clock
    url = load_url(exp, s.node_port)
    s.load = load = ports.start_load(url, exp, s.out_dir / "load", s.namespace)
    where = (f"service {exp.workload.service} from {exp.load.in_cluster_workers} worker pod(s)"
             if exp.load.in_cluster_workers else url)
    s.say(f"load on {where}{exp.load.path}: {exp.load.loop.describe(exp.load)}")
    if needs_api_probe(exp) and ports.start_api_probe is not None:
        s.api_probe = ports.start_api_probe()  # from the warm-up on: a baseline before faults
        s.api_probe.start()
    ss = exp.steady_state
    _await_first_answer(s, load)
    since = clock.wall()
    clock.sleep(s.budgeted("warm-up ran", exp.load.warmup_s))
    recent = load.records_since(max(since, clock.wall() - ss.window_s))
    if not load.running and not recent:
        raise SteadyStateFailed(f"the load generator stopped during warm-up; see "
                                f"{load.log_path}")
    if not recent:
        raise SteadyStateFailed(
            f"no request completed in the {ss.window_s:.1f}s steady-state window before the "
            f"fault: the service at {url} is not answering")
    failures = sum(1 for r in recent if not r.ok)
    rate = failures / len(recent)
    if rate > ss.max_error_rate:
        raise SteadyStateFailed(
            f"service unhealthy before any fault: error rate {rate:.3f} over the last "
            f"{ss.window_s:.1f}s ({failures}/{len(recent)} failed) exceeds steady-state "
            f"maxErrorRate {ss.max_error_rate}; no fault was injected")
    assert s.observer is not None
    ready = len(s.observer.snapshot().ready_pods)
    if ready < s.desired:
        raise SteadyStateFailed(f"only {ready} of {s.desired} pods Ready before any fault; no "
                                "fault was injected")


# locust starts in a subprocess (gevent, its plugins, our capture): on a busy machine its first
# request can come seconds after the start, and a warm-up counted from the start then judged a
# healthy service by an empty window. The warm-up counts from the first answer instead, failed
# or not; a service that never answers is still caught by the steady-state check after it.
LOAD_START_S = 30.0
LOAD_START_POLL_S = 0.25


def _await_first_answer(s: RunState, load: LoadPort) -> None:
    clock = s.clock
    started = clock.wall()
    deadline = started + min(LOAD_START_S, s.left())
    while load.running and not load.records_since(started) and clock.wall() < deadline:
        clock.sleep(LOAD_START_POLL_S)


def start_guards(s: RunState, ports: RunPorts) -> None:
    """Start the guard monitor (the halt guard and spec.abort's), evaluating each once before
    any fault; an abort wakes the Observer's waiters through an ``abort`` timeline event."""
    observer = s.observer
    assert observer is not None
    s.abort.listen(lambda b: observer.emit("abort", b.guard, b.describe()))
    wait_s = s.exp.load.wait_ms / 1000.0
    checks = build_checks(s.exp.abort, s.namespace, s.load, ports.cluster, ports.http_get,
                          s.clock, wait_s, outage_bound_s=s.exp.slas.outage_bound_s)
    s.monitor = GuardMonitor(checks, s.abort, s.clock, s.say)
    s.monitor.start()


def _check_abort(s: RunState) -> None:
    breach = s.abort.breach
    if breach is not None:
        raise ExperimentAborted(breach)


def inject(s: RunState, ports: RunPorts) -> None:
    """Inject every fault in order, each undone (in reverse) once all have run. The guards run
    from here to the end of recovery; a breach cuts every fault's hold short."""
    assert s.observer is not None
    start_guards(s, ports)
    _check_abort(s)  # breached (or halted) before any fault: nothing is injected
    before = s.observer.snapshot()
    s.initial_ready, s.initial_endpoints = set(before.ready_pods), set(before.endpoints)
    for index, spec in enumerate(s.exp.faults):
        if spec.delay_s:
            s.clock.wait(s.abort.event, min(spec.delay_s, s.left()))
        _check_abort(s)
        fault = ports.build_fault(spec)
        ctx = FaultContext(
            kube=ports.cluster.kube, namespace=s.namespace, journal=s.journal, seed=s.seed,
            clock=s.clock, workload_selector=s.exp.workload.selector,
            cluster_name=s.cluster_name, kubeconfig=s.kubeconfig,
            emit=_announcing(s, ports, spec), observer=s.observer, deadline=s.deadline,
            index=index, abort=s.abort, node=s.node)
        check_blast_radius(s, spec, ports.resolve_targets(ctx.scope(), spec))
        s.active.append((fault, ctx))  # before inject: a half-done fault is undone too
        s.contexts.append(ctx)
        if s.fault_t is None:
            s.fault_t = s.clock.wall()
        s.say(f"injecting {spec.type}")
        s.record("fault-inject", index=index, fault=spec.type)
        outcome = fault.inject(ctx)
        s.outcomes.append(outcome)
        _account_holds(s, spec, ctx, outcome)
        s.record("fault-injected", index=index, fault=spec.type, targets=outcome.targets)
        _check_abort(s)
    undo_active(s)


def _account_holds(s: RunState, spec: FaultSpec, ctx: FaultContext,
                   outcome: FaultOutcome) -> None:
    """Each hold's planned and actual seconds into the fault's outcome (the report states
    both); a hold or a wait the budget cut becomes a shortfall of the run."""
    outcome.holds = list(ctx.holds)
    s.shortfalls += [h.describe(spec.type) for h in ctx.holds if h.short]
    s.shortfalls += [f"{spec.type}: {cut}" for cut in ctx.budget_cuts]


def check_blast_radius(s: RunState, spec: FaultSpec, targets: Targets | None) -> None:
    """Refuse, before it acts, a fault whose targets exceed the blast radius."""
    if targets is None:
        return
    limits = s.exp.blast_radius if s.limits is None else s.exp.blast_radius.merged(s.limits)
    if targets.kind == "Node":
        # a control-plane-loss names the control plane by its very type
        named = (spec.nodes.nodes if isinstance(spec, NodeFault)
                 else targets.control_plane if spec.acts_on == "control-plane" else ())
        problems = blast.node_violations(limits, spec.type, targets.names,
                                         targets.control_plane, named)
    else:
        problems = blast.pod_violations(limits, spec.type, targets.names,
                                        s.exp.workload.replicas)
    if problems:
        s.record("refused", fault=spec.type, problems=problems)
        raise SafetyRefused("blast radius: " + "; ".join(problems))


def _announcing(s: RunState, ports: RunPorts, spec: FaultSpec
                ) -> Callable[[str, str, str], None]:
    """The faults' emit: onto the timeline, and for the start and end of a fault also into the
    audit trail and as Kubernetes Events on the objects it touches."""
    assert s.observer is not None
    observer = s.observer
    kind = "Node" if spec.acts_on in ("nodes", "control-plane") else "Pod"

    def emit(what: str, name: str, detail: str = "") -> None:
        observer.emit(what, name, detail)
        if what not in ("fault-start", "fault-end"):
            return
        s.record(what, fault=spec.type, target=name, detail=detail)
        reason = "KubeChaosFault" if what == "fault-start" else "KubeChaosFaultEnded"
        for target in [t for t in name.split(",") if t][:20]:
            ports.cluster.announce(s.namespace, kind, target.split("/")[0], reason,
                                   f"kube-chaos {spec.type} ({s.exp.name}): {detail}")

    return emit


def recover(s: RunState, ports: RunPorts) -> None:
    """Wait, on the Observer's changes, until the workload is whole again (bounded)."""
    assert s.observer is not None
    exp = s.exp
    natural = (exp.slas.max_recovery_s or 60.0) * 2 + 10
    budget = max(0.0, min(s.left() - exp.load.tail_s - 5, natural))
    start = s.clock.monotonic()
    snap = s.observer.snapshot()
    while True:
        _check_abort(s)  # an abort wakes wait_change through its timeline event
        rs = prec.recovery_seconds(s.observer.events(), s.fault_t or 0.0, s.desired,
                                   s.initial_ready, s.initial_endpoints)
        elapsed = s.clock.monotonic() - start
        # healthy again after the disruption; or never disrupted, given 2 s to show it
        if rs is not None and (rs > 0 or elapsed > 2.0):
            break
        if elapsed >= budget:
            # (a declared maxRecovery only: without one, the wait's length is our default)
            cut = shortfall("recovery waited", budget, natural)
            if rs is None and exp.slas.max_recovery_s is not None and cut is not None \
                    and not s.abort.is_set():
                # not whole yet, and the wait ended on the run's budget, not its own bound
                s.shortfalls.append(cut)
            break
        # re-judged on every change, and at least every 2 s (the never-disrupted case)
        snap = s.observer.wait_change(snap.version, max(0.0, min(budget - elapsed, 2.0)))
    stop_guards(s)  # faults are over: the tail is judged by the SLAs, not the guards
    _check_abort(s)


def stop_guards(s: RunState) -> None:
    if s.monitor is not None:
        s.monitor.stop()


def tail(s: RunState, ports: RunPorts) -> None:
    """Keep the load running for the tail, then collect every record."""
    assert s.load is not None and s.observer is not None
    exp = s.exp
    why = f"load.maxDuration {exp.load.max_duration_s:g}s; see {s.load.log_path}"
    tail_start = s.clock.wall()
    began_without_load = not s.load.running
    if began_without_load:  # the fault and its recovery were judged without load
        s.shortfalls.append(f"the load had stopped before the tail began ({why})")
    s.clock.sleep(s.budgeted("tail ran", exp.load.tail_s, reserve_s=5.0))
    stopped_by_itself = not s.load.running
    s.load.stop()
    stop_api_probe(s)
    result = s.load.wait(timeout=30)
    s.records, s.load_generators, s.load_cpu = result.records, result.generators, result.cpu
    if stopped_by_itself and not began_without_load:
        # the steady state is judged over the tail's last window: the load must cover one
        last = last_record(s.records)
        into = (last.t - tail_start) if last is not None else 0.0
        window = min(exp.steady_state.window_s, exp.load.tail_s)
        if into < window - HOLD_SLACK_S:
            s.shortfalls.append(f"the load stopped {max(0.0, into):.1f}s into the tail, short "
                                f"of the {window:g}s steady-state window ({why})")
    s.steady_restored = _steady_restored(s)


def needs_api_probe(exp: Experiment) -> bool:
    """The API-server probe runs when the control plane is a target or its SLA is declared."""
    return exp.slas.max_api_outage_s is not None or any(
        f.acts_on == "control-plane" for f in exp.faults)


def stop_api_probe(s: RunState) -> None:
    if s.api_probe is not None and s.api_data is None:
        s.api_probe.stop()
        s.api_data = s.api_probe.data()


def load_url(exp: Experiment, node_port: int | None = None) -> str:
    """Where the load goes: ``spec.load.url``, else the NodePort published on 127.0.0.1: the
    run's (``node_port``), else the fixed one; ``nodePort: auto`` before a run picked its port
    has none, and the URL names the host alone."""
    if exp.load.url:
        return exp.load.url
    port = node_port if node_port is not None else exp.workload.node_port
    return f"http://127.0.0.1:{port}" if isinstance(port, int) else "http://127.0.0.1"


PHASES: tuple[Callable[[RunState, RunPorts], None], ...] = (deploy, steady, inject, recover,
                                                             tail)


def undo_active(s: RunState) -> None:
    """Undo the injected faults newest first. Outcomes land in each fault's context; nothing is
    raised (one stuck undo must not strand the others, nor hide the experiment's outcome)."""
    while s.active:
        fault, ctx = s.active.pop()
        try:
            fault.undo(ctx)
        except Exception as exc:  # an undo that raises is still reported
            s.undo_crashes.append(f"{type(fault).__name__}.undo raised: {exc}")


def cleanup(s: RunState) -> None:
    """Always, whatever happened: undo, stop the guards and the load (keeping what it
    recorded), stop watching."""
    undo_active(s)
    if s.abort.is_set():
        s.undone_at = s.clock.wall()
    with contextlib.suppress(Exception):
        stop_guards(s)
    if s.load is not None:
        with contextlib.suppress(Exception):
            s.load.stop()
        if not s.records:
            with contextlib.suppress(Exception):
                s.records = s.load.records()
        if s.load_cpu is None:  # a run that ended before its tail: judged on these too
            with contextlib.suppress(Exception):
                s.load_cpu = s.load.cpu_times()
    with contextlib.suppress(Exception):
        stop_api_probe(s)
    if s.observer is not None:
        with contextlib.suppress(Exception):
            s.observer.stop()
    while s.created:  # what the run made outside its namespace, newest first
        s.created_outcomes.append(settle(s.journal, s.created.pop()))


def _steady_restored(s: RunState) -> bool:
    """Back to steady state at the end of the tail: no errors beyond the steady threshold in
    the last window, and every replica Ready."""
    last = last_record(s.records)
    if last is None:
        return False
    window = s.exp.steady_state.window_s
    rate = one_pass(s.records, last.t - window, last.t + 1).error_rate  # a streamed pass
    assert s.observer is not None
    return rate is not None and rate <= s.exp.steady_state.max_error_rate and \
        len(s.observer.snapshot().ready_pods) >= s.desired


def undo_outcomes(s: RunState) -> list[UndoOutcome]:
    """Every undo of this run in the order it ran: those faults ran themselves (a cordon with a
    duration, a node loss) and those run at the end."""
    return [*(o for ctx in s.contexts for o in ctx.undo_outcomes), *s.created_outcomes]


def undo_failures(s: RunState) -> list[str]:
    """One line per undo that is not confirmed done: it stays pending in the journal."""
    return [*undo_errors(undo_outcomes(s)), *s.undo_crashes]
