"""Run one experiment end to end.

deploy -> watch -> load -> steady state -> faults -> recovery -> tail -> SLAs -> report,
with every undo recorded in the journal before its fault acts, and run in
`finally` on SLA failure, Ctrl-C and pytest-timeout expiry alike.
"""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chaos import __version__ as KUBE_CHAOS_VERSION
from chaos.clock import Clock, SystemClock
from chaos.errors import ChaosError, InjectionFailed, SafetyRefused, SteadyStateFailed
from chaos.faults import Fault
from chaos.faults import build as build_fault
from chaos.faults.base import FaultContext, FaultOutcome
from chaos.journal import Journal
from chaos.k8s import health
from chaos.k8s import workload as kw
from chaos.k8s.client import Kube, client_version
from chaos.k8s.observe import Observer, quiet_stop
from chaos.load.runner import LoadError, LoadRun
from chaos.model.experiment import Experiment
from chaos.model.timeline import RequestRecord, SLAResult
from chaos.plan import manifests as pmanifests
from chaos.plan import recovery as prec
from chaos.plan import slas as pslas
from chaos.plan import timeline as ptl
from chaos.report.data import FaultRecord, ReportData
from chaos.report.writer import write_report


@dataclass
class RunEnv:
    """Where and how experiments run; one per pytest session (or CLI invocation)."""

    kube: Kube
    kubeconfig: str
    run_id: str
    reports_dir: Path
    seed: int
    cluster_name: str | None  # kind cluster (node containers reachable), else None
    journal: Journal
    keep_namespace: str = "never"  # never | on-failure | always
    allow_contexts: tuple[str, ...] = ()
    clock: Clock = field(default_factory=SystemClock)
    log: Callable[[str], None] = lambda _msg: None
    # (required, referenced): copies the required images, and those it can build among the
    # referenced ones, into the cluster's nodes (kind, no registry); None where the cluster
    # pulls its images itself
    provide_images: Callable[[Sequence[str], Sequence[str]], None] | None = None


@dataclass
class ExperimentResult:
    """The measured outcome; `report_path` points at report.json."""

    experiment: Experiment
    verdict: str
    slas: list[SLAResult]
    recovery_seconds: float | None
    longest_outage_s: float | None
    requests_total: int
    requests_failed: int
    error_rate_during_fault: float | None
    restarts: int | None
    faults: list[FaultOutcome]
    report_path: Path | None
    namespace: str
    error: str | None = None
    records: tuple[RequestRecord, ...] = ()
    # wall seconds spent in each phase (deploy, steady, faults, recovery, tail, teardown)
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def failed_slas(self) -> list[SLAResult]:
        return [r for r in self.slas if not r.passed]

    def sla(self, name: str) -> SLAResult:
        for r in self.slas:
            if r.name == name:
                return r
        raise KeyError(f"no SLA {name!r} in this result ({[r.name for r in self.slas]})")


def check_safety(env: RunEnv) -> None:
    """Refuse faults on clusters kube-chaos did not make, unless the user named them."""
    if env.kube.context in env.allow_contexts:
        return
    if health.is_provisioned_by_us(env.kube):
        return
    raise SafetyRefused(
        f"refusing to inject faults into context {env.kube.context!r}: it is not a kind cluster "
        "provisioned by kube-chaos. If this really is a cluster you may break, allow it with "
        f"--chaos-allow-context={env.kube.context} (or the chaos_allow_contexts ini option)."
    )


@contextlib.contextmanager
def _namespace(env: RunEnv, exp: Experiment, failed: list[bool]) -> Iterator[str]:
    ns = kw.namespace_name(exp.name)
    kw.create_namespace(env.kube, ns, env.run_id)
    try:
        yield ns
    finally:
        keep = env.keep_namespace == "always" or (env.keep_namespace == "on-failure" and failed[0])
        if keep:
            env.log(f"keeping namespace {ns} for inspection")
        else:
            with contextlib.suppress(ChaosError):
                kw.release_node_ports(env.kube, ns)
                kw.delete_namespace(env.kube, ns)


def run_experiment(exp: Experiment, env: RunEnv) -> ExperimentResult:
    """Run `exp`; never raises for an SLA breach (the result carries the verdict)."""
    check_safety(env)
    clock = env.clock
    seed = exp.seed if exp.seed is not None else env.seed
    started_wall = clock.wall()
    deadline = clock.monotonic() + exp.timeout_s
    failed = [True]
    outcomes: list[FaultOutcome] = []
    undoers: list[tuple[Fault, FaultContext]] = []
    observer: Observer | None = None
    load: LoadRun | None = None
    error: str | None = None
    records: tuple[RequestRecord, ...] = ()
    out_dir = _unique_dir(env.reports_dir / env.run_id, exp.name)
    fault_t: float | None = None
    initial_ready: set[str] = set()
    initial_endpoints: set[str] = set()
    steady_restored: bool | None = None
    phases: dict[str, float] = {}
    mark = [clock.monotonic()]

    def phase(name: str) -> None:
        now = clock.monotonic()
        phases[name] = round(phases.get(name, 0.0) + now - mark[0], 3)
        mark[0] = now

    with _namespace(env, exp, failed) as ns:
        try:
            env.log(f"[{exp.name}] deploying into namespace {ns}")
            manifests = kw.read_manifests(exp.workload.manifests)
            _provide_images(env, exp, [doc for _, doc in manifests])
            docs = kw.apply_documents(env.kube, ns, manifests)
            kw.wait_rollouts(env.kube, ns, pmanifests.rollout_targets(docs),
                             timeout_s=min(120.0, _left(clock, deadline)))
            port = kw.node_port_of(env.kube, ns, exp.workload.service)
            if port != exp.workload.node_port:
                raise InjectionFailed(
                    f"service {exp.workload.service} has nodePort {port}, experiment says "
                    f"{exp.workload.node_port}")
            observer = Observer(env.kube, ns, exp.workload.selector, exp.workload.service)
            observer.start()
            phase("deploy")
            if not observer.snapshot().ready_pods:
                raise InjectionFailed(
                    f"selector {exp.workload.selector.to_label_selector()!r} matches no Ready "
                    f"pod in namespace {ns}")
            url = f"http://127.0.0.1:{port}"
            prof = exp.load
            load = LoadRun.from_profile(url, prof, out_dir / "load")
            env.log(f"[{exp.name}] load on {url}{prof.path}: {prof.users} users")
            _steady_state(exp, load, observer, clock, deadline)
            phase("steady")
            before = observer.snapshot()
            initial_ready, initial_endpoints = set(before.ready_pods), set(before.endpoints)
            for index, spec in enumerate(exp.faults):
                if spec.delay_s:
                    clock.sleep(min(spec.delay_s, _left(clock, deadline)))
                impl = build_fault(spec)
                ctx = FaultContext(
                    kube=env.kube, namespace=ns, journal=env.journal, seed=seed, clock=clock,
                    workload_selector=exp.workload.selector, cluster_name=env.cluster_name,
                    kubeconfig=env.kubeconfig, emit=observer.emit, observer=observer,
                    deadline=deadline,
                    index=index)
                undoers.append((impl, ctx))
                fault_wall = clock.wall()
                fault_t = fault_t if fault_t is not None else fault_wall
                env.log(f"[{exp.name}] injecting {spec.type}")
                outcomes.append(impl.inject(ctx))
            _run_undo(undoers)
            undoers = []
            phase("faults")
            desired = exp.steady_state.ready_replicas or exp.workload.replicas
            recovery_wait = min(_left(clock, deadline) - prof.tail_s - 5,
                                (exp.slas.max_recovery_s or 60.0) * 2 + 10)
            faults_done = clock.monotonic()

            def recovered(o: Observer) -> bool:
                # healthy again after the disruption; or never disrupted, given 2 s to show it
                rs = prec.recovery_seconds(o.events_unlocked(), fault_t or 0.0, desired,
                                           initial_ready, initial_endpoints)
                return rs is not None and (rs > 0 or clock.monotonic() - faults_done > 2.0)

            observer.wait_for(recovered, timeout_s=max(0.0, recovery_wait))
            phase("recovery")
            clock.sleep(min(prof.tail_s, max(0.0, _left(clock, deadline) - 5)))
            load.stop()
            result = load.wait(timeout=30)
            records = result.records
            steady_restored = _steady_restored(exp, records, observer, desired)
            phase("tail")
        except (ChaosError, LoadError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            env.log(f"[{exp.name}] error: {error}")
        finally:
            _run_undo(undoers)
            if load is not None:
                with contextlib.suppress(Exception):
                    load.stop()
                if not records:
                    with contextlib.suppress(Exception):
                        records = tuple(load.records())
            quiet_stop(observer)
        events = observer.events() if observer is not None else []
        ended = clock.wall()
        window_end = records[-1].end if records else ended
        fault_window = (fault_t, max(window_end, fault_t)) if fault_t is not None else None
        desired = exp.steady_state.ready_replicas or exp.workload.replicas
        recovery_s = (prec.recovery_seconds(events, fault_t, desired, initial_ready,
                                            initial_endpoints)
                      if fault_t is not None and not error else None)
        restarts = prec.restarts(events, since=fault_t) if fault_t is not None else None
        blocked = _drain_blocked(outcomes)
        sla_results: list[SLAResult] = []
        if fault_window is not None and not error:
            obs = pslas.Observation(records=records, fault_window=fault_window,
                                    recovery_seconds=recovery_s, restarts=restarts,
                                    steady_state_restored=steady_restored, drain_blocked=blocked)
            sla_results = pslas.evaluate(exp.slas, obs)
        verdict = pslas.verdict(sla_results, exp.expect, errored=error is not None)
        server = _safe_version(env)  # once, for both the cluster and versions sections
        failed[0] = verdict != "pass"
        fault_records = tuple(_fault_record(i, exp, o) for i, o in enumerate(outcomes))
        data = ReportData(
            experiment=exp, seed=seed, started_at=started_wall, ended_at=ended, verdict=verdict,
            records=records, events=tuple(events), faults=fault_records,
            fault_window=fault_window, slas=tuple(sla_results), recovery_seconds=recovery_s,
            restarts=restarts, cluster=_cluster_info(env, ns, server), versions=_versions(server),
            error=error)
        report_path = write_report(out_dir, data)
        phase("report")
    phase("teardown")
    in_fault = ptl.in_window(records, *fault_window) if fault_window else []
    return ExperimentResult(
        experiment=exp, verdict=verdict, slas=sla_results, recovery_seconds=recovery_s,
        longest_outage_s=ptl.longest_outage_s(in_fault) if in_fault else None,
        requests_total=len(records), requests_failed=sum(1 for r in records if not r.ok),
        error_rate_during_fault=ptl.error_rate(records, *fault_window) if fault_window else None,
        restarts=restarts, faults=outcomes, report_path=report_path, namespace=ns, error=error,
        records=records, phases=phases)


def _provide_images(env: RunEnv, exp: Experiment, docs: Sequence[dict[str, object]]) -> None:
    """Images the workload needs, onto the nodes before anything is created: the ones the
    experiment lists, and the ones the manifests run (the provider builds those it knows and
    skips the rest, which the cluster must then pull)."""
    if env.provide_images is None:
        if exp.workload.images:
            env.log(f"[{exp.name}] spec.workload.images ignored: {env.kube.context} is not a kind "
                    "cluster kube-chaos can load images into; its nodes must pull them")
        return
    env.provide_images(exp.workload.images, pmanifests.referenced_images(docs))


def _unique_dir(parent: Path, name: str) -> Path:
    """<parent>/<name>, or <name>-2, -3 ... when one run executes an experiment again."""
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        candidate = parent / (name if n == 1 else f"{name}-{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise ChaosError(f"too many runs of {name} under {parent}")


def _left(clock: Clock, deadline: float) -> float:
    return max(0.0, deadline - clock.monotonic())


def _steady_state(exp: Experiment, load: LoadRun, observer: Observer, clock: Clock,
                  deadline: float) -> None:
    """Warm up, then require the declared steady state before any fault."""
    ss = exp.steady_state
    since = clock.wall()
    clock.sleep(min(exp.load.warmup_s, _left(clock, deadline)))
    window_start = max(since, clock.wall() - ss.window_s)
    recent = [r for r in load.records_since(window_start)]
    if not load.running and not recent:
        raise SteadyStateFailed(f"the load generator stopped during warm-up; see "
                                f"{load.log_path}")
    if not recent:
        raise SteadyStateFailed(
            f"no request completed in the {ss.window_s:.1f}s steady-state window before the "
            f"fault: the service at 127.0.0.1:{exp.workload.node_port} is not answering")
    failures = sum(1 for r in recent if not r.ok)
    rate = failures / len(recent)
    if rate > ss.max_error_rate:
        raise SteadyStateFailed(
            f"service unhealthy before any fault: error rate {rate:.3f} over the last "
            f"{ss.window_s:.1f}s ({failures}/{len(recent)} failed) exceeds steady-state "
            f"maxErrorRate {ss.max_error_rate}; no fault was injected")
    want = ss.ready_replicas or exp.workload.replicas
    ready = len(observer.snapshot().ready_pods)
    if ready < want:
        raise SteadyStateFailed(
            f"only {ready} of {want} pods Ready before any fault; no fault "
            "was injected")


def _steady_restored(exp: Experiment, records: tuple[RequestRecord, ...], observer: Observer,
                     desired: int) -> bool:
    """Back to steady state at the end of the tail: no errors beyond the steady threshold in
    the last window, and every replica Ready."""
    if not records:
        return False
    end = records[-1].t
    tail = ptl.in_window(records, end - exp.steady_state.window_s, end + 1)
    rate = ptl.error_rate(tail, end - exp.steady_state.window_s, end + 1) if tail else None
    return rate is not None and rate <= exp.steady_state.max_error_rate and \
        len(observer.snapshot().ready_pods) >= desired


def _run_undo(undoers: list[tuple[Fault, FaultContext]]) -> None:
    """Undo in reverse order; an undo failure is logged in the journal, never raised over
    the experiment's own outcome."""
    for impl, ctx in reversed(undoers):
        with contextlib.suppress(Exception):
            impl.undo(ctx)


def _drain_blocked(outcomes: list[FaultOutcome]) -> bool | None:
    drains = [o for o in outcomes if o.type == "drain"]
    if not drains:
        return None
    return any(bool(o.details.get("blocked")) for o in drains)


def _fault_record(index: int, exp: Experiment, o: FaultOutcome) -> FaultRecord:
    figures: dict[str, float | None] = {}
    for key, value in o.details.items():
        if isinstance(value, int | float):  # bool is an int: blocked -> 1.0
            figures[key] = float(value)
        elif isinstance(value, dict):  # per-target figures, e.g. time_to_notready_s[node]
            for sub, v in value.items():
                if isinstance(v, int | float) or v is None:
                    figures[f"{key}[{sub}]"] = None if v is None else float(v)
    spec = exp.faults[index] if index < len(exp.faults) else exp.faults[-1]
    return FaultRecord(index=index, spec=spec, targets=tuple(o.targets), started_at=o.started_at,
                       ended_at=o.ended_at, figures=figures, details=dict(o.details))


def _cluster_info(env: RunEnv, namespace: str, server: str | None
                  ) -> dict[str, str | int | float | bool | list[str] | None]:
    return {"context": env.kube.context, "kind_cluster": env.cluster_name,
            "namespace": namespace, "server_version": server}


def _safe_version(env: RunEnv) -> str | None:
    try:
        return kw.server_version(env.kube)
    except ChaosError:
        return None


def _versions(server: str | None) -> dict[str, str]:
    out = {"kube-chaos": KUBE_CHAOS_VERSION, "python": platform.python_version(),
           "kubernetes-client": client_version()}
    with contextlib.suppress(Exception):
        import importlib.metadata as md

        out["locust"] = md.version("locust")
    if server:
        out["kubernetes"] = server
    return out


