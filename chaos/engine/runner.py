"""Run one experiment end to end, as the phases of chaos.engine.phases over explicit state.

deploy -> steady -> inject -> recover -> tail; then, whatever happened (SLA breach, an error,
Ctrl-C, SIGTERM, pytest-timeout expiry), cleanup undoes every fault whose undo was journaled
before it acted, and evaluate judges the SLAs and writes the report.
"""

from __future__ import annotations

import contextlib
import platform
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from chaos.clock import Clock, Deadline, SystemClock
from chaos.engine import incluster
from chaos.engine import phases as ph
from chaos.engine.locks import Pace, PaceWarning, hold_claims
from chaos.engine.monitor import http_get
from chaos.engine.ports import held_node_port
from chaos.errors import (
    ChaosError,
    ExperimentAborted,
    HaltActive,
    InjectionFailed,
    SafetyRefused,
)
from chaos.faults import build as build_fault
from chaos.faults.base import FaultOutcome
from chaos.faults.undo import settle
from chaos.journal.audit import AUDIT_NAME, AuditLog, who
from chaos.journal.store import Journal, UndoAction
from chaos.k8s import conditions as kconditions
from chaos.k8s import events as k8s_events
from chaos.k8s import halt as khalt
from chaos.k8s import workload as kw
from chaos.k8s.apiprobe import ApiProbe, control_plane_nodes
from chaos.k8s.client import Kube, client_version
from chaos.k8s.observe import Observer
from chaos.k8s.safety import refuse_unless_ours
from chaos.load.records import UpToMalformed
from chaos.load.runner import POD_CONNECT_WAIT_S, LoadError, LoadRun
from chaos.load.target import allowed_hosts, check_target
from chaos.model.abort import Breach, GuardStats, HaltMarker
from chaos.model.experiment import (
    PROTECTED_LABEL,
    PROTECTED_NAMESPACES,
    BlastRadius,
    ExistingWorkload,
    Experiment,
    Selector,
)
from chaos.model.timeline import RequestRecord, SLAResult
from chaos.node.access import for_cluster
from chaos.node.runtime import NodeRuntime
from chaos.plan import guards as pguards
from chaos.plan import manifests as pmanifests
from chaos.plan.claims import claims_of
from chaos.plan.generator import overloaded
from chaos.plan.manifests import WorkloadRef
from chaos.report.data import AbortRecord
from chaos.report.evaluate import RunRecord, evaluate
from chaos.report.types import JSONValue, ManifestDict
from chaos.report.writer import write_report
from chaos.version import __version__ as KUBE_CHAOS_VERSION


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
    # how node-level faults reach the nodes; left None, it is docker for a kind cluster
    # (chaos.node.access.for_cluster) and none elsewhere (node-level faults then refuse)
    node: NodeRuntime | None = None
    keep_namespace: str = "never"  # never | on-failure | always
    allow_contexts: tuple[str, ...] = ()
    allow_hosts: tuple[str, ...] = ()  # load (and checks) may reach these besides 127.0.0.1
    # folders an experiment's manifests and locustfile may be in besides its own
    allow_paths: tuple[Path, ...] = ()
    blast_radius: BlastRadius | None = None  # command-line limits, on top of each experiment's
    plan: dict[str, object] | None = None  # a reviewed plan.json: the run must match it
    clock: Clock = field(default_factory=SystemClock)
    log: Callable[[str], None] = lambda _msg: None
    # (required, referenced): copies the required images, and those it can build among the
    # referenced ones, into the cluster's nodes (kind, no registry); None where the cluster
    # pulls its images itself
    provide_images: Callable[[Sequence[str], Sequence[str]], None] | None = None
    # metrics-server onto the cluster (kind clusters kube-chaos made), for experiments that
    # deploy a HorizontalPodAutoscaler; None where the cluster has its own metrics pipeline
    provide_metrics: Callable[[], None] | None = None
    # the in-cluster load's worker image and master address (chaos.cluster.workers for kind);
    # None where spec.load.inCluster cannot run
    worker_image: incluster.WorkerImage | None = None
    # the reproducibility manifest's session-wide part (kube-chaos revision, kind node image
    # and config), and the `kube-chaos run` options that target the same cluster again
    session_manifest: dict[str, JSONValue] = field(default_factory=dict)
    rerun_options: tuple[str, ...] = ()
    # the NodePorts the cluster publishes on 127.0.0.1, in the order ``nodePort: auto`` tries
    # them (chaos.engine.ports); empty: auto cannot run here
    node_ports: tuple[int, ...] = ()
    # this cluster's folder of run locks (chaos.engine.locks.folder_for), shared by every
    # process running experiments on it; None: no other process picks ports beside this one
    lock_dir: Path | None = None
    # how many experiments this session runs at once (its xdist workers); above 1, each run
    # takes one of the session's slots (chaos.engine.locks.Pace), fewer after an overload
    parallel: int = 1

    def __post_init__(self) -> None:
        if self.node is None:
            self.node = for_cluster(self.cluster_name)


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
    # re-iterable: each iteration streams the run's capture files again (nothing held)
    records: Iterable[RequestRecord] = ()
    # wall seconds spent in each phase (deploy, steady, inject, recover, tail, cleanup, report)
    phases: dict[str, float] = field(default_factory=dict)
    undo_failures: list[str] = field(default_factory=list)  # undos left pending in the journal
    abort: AbortRecord | None = None  # the guard breach (or halt) that stopped the run

    @property
    def failed_slas(self) -> list[SLAResult]:
        return [r for r in self.slas if not r.passed]

    def sla(self, name: str) -> SLAResult:
        for r in self.slas:
            if r.name == name:
                return r
        raise KeyError(f"no SLA {name!r} in this result ({[r.name for r in self.slas]})")


def check_guard_hosts(env: RunEnv, exp: Experiment) -> None:
    """HTTP and Prometheus guards reach only hosts the user allowed (plus the local host)."""
    bad = pguards.disallowed(exp.abort.urls(), env.allow_hosts)
    if bad:
        hosts = sorted({pguards.host_of(url) for _, url in exp.abort.urls()
                        if not pguards.host_allowed(url, env.allow_hosts)})
        raise SafetyRefused(
            f"{exp.name}: abort guards would send requests to hosts nobody allowed: "
            f"{'; '.join(bad)}. Allow them with "
            + " ".join(f"--chaos-allow-host={h}" for h in hosts)
            + " (or the chaos_allow_host ini option); 127.0.0.1 and localhost always are.")


def check_not_halted(env: RunEnv, cluster: ph.ClusterPort) -> None:
    """No run starts on a halted cluster (`kube-chaos halt`, until `--clear`)."""
    marker = cluster.halt_marker(10.0)
    if marker is not None:
        raise HaltActive(marker, env.kube.context)


def check_safety(env: RunEnv, why_not_ours: Callable[[Kube], str | None] | None = None
                 ) -> None:
    """Refuse faults on clusters kube-chaos did not make, unless the user named them."""
    refuse_unless_ours(env.kube, env.allow_contexts, why_not_ours)


@dataclass
class KubeCluster:
    """The real ClusterPort: our Kubernetes helpers, plus image loading on kind."""

    env: RunEnv

    @property
    def kube(self) -> Kube:
        return self.env.kube

    def prepare(self, exp: Experiment) -> None:
        """What the harness sets up on the user's behalf, before the experiment's clock
        starts (its time is reported as the ``setup`` phase, never charged to spec.timeout):
        the workload's images onto kind's nodes, metrics-server for an HPA, the in-cluster
        load workers' image. Each is cached, so only the first run of a session pays."""
        if exp.workload.existing is None:
            allow = exp.workload.cluster_scoped == "allow"
            manifests = kw.read_manifests(exp.workload.manifests, allow_cluster_scoped=allow)
            _provide_images(self.env, exp, [doc for _, doc in manifests])
            if self.env.provide_metrics is not None and any(
                    doc.get("kind") == "HorizontalPodAutoscaler" for _, doc in manifests):
                self.env.provide_metrics()  # an HPA without the metrics API never scales
        if exp.load.in_cluster_workers and self.env.worker_image is not None:
            self.env.worker_image.image()

    def deploy(self, exp: Experiment, namespace: str, timeout_s: float,
               journal: Journal, node_port: int | None) -> list[UndoAction]:
        existing = exp.workload.existing
        if existing is not None:
            self._check_existing(existing, timeout_s)
            return []
        allow = exp.workload.cluster_scoped == "allow"
        manifests = kw.read_manifests(exp.workload.manifests, allow_cluster_scoped=allow)
        if exp.workload.node_port == "auto":  # the Service gets the port the run picked
            docs = pmanifests.with_node_port([doc for _, doc in manifests],
                                             exp.workload.service, node_port)
            manifests = [(path, doc) for (path, _), doc in zip(manifests, docs, strict=True)]
        created = [journal.record(UndoAction(
            kind="delete-object", params={"api_version": o.api_version, "kind": o.kind,
                                          "name": o.name},
            target={"kubeconfig": self.env.kubeconfig, "context": self.kube.context,
                    "cluster": self.env.cluster_name or "", "namespace": namespace}))
            for o in exp.workload.cluster_objects]  # journaled before they exist
        docs = kw.apply_documents(self.kube, namespace, manifests)
        budget = Deadline(self.env.clock, timeout_s)
        kw.wait_rollouts(self.kube, namespace, pmanifests.rollout_targets(docs), timeout_s)
        if node_port is not None and exp.load.url is None:
            self._wait_serving(ph.load_url(exp, node_port) + exp.load.path,
                               min(30.0, max(budget.remaining(), 1.0)))
        return created

    def _wait_serving(self, url: str, timeout_s: float, streak: int = 3) -> None:
        """Rolled out is not serving: right after a run on the same NodePort (a repeat), the
        node's kube-proxy may take seconds to move the port to the new Service, and a steady
        state judged meanwhile fails on our own deploy, not on the workload. Wait until
        ``streak`` GETs in a row get an HTTP answer below 500; past the deadline, go on and let
        the steady state judge (and name) it."""
        deadline = Deadline(self.env.clock, timeout_s)
        ok = 0
        last = ""
        while not deadline.expired():
            answer = http_get(url, 1.0)
            if answer.status is not None and answer.status < 500:
                ok += 1
                if ok >= streak:
                    return
            else:
                ok = 0
                last = answer.error or f"HTTP {answer.status}"
            deadline.sleep(0.1)
        self.env.log(f"{url} still not serving after {timeout_s:.0f}s ({last}); steady state "
                     "will judge it")

    def node_port(self, namespace: str, service: str) -> int | None:
        return kw.node_port_of(self.kube, namespace, service)

    def node_ports_in_use(self) -> dict[int, str]:
        return kw.node_ports_in_use(self.kube)

    def _check_existing(self, existing: ExistingWorkload, timeout_s: float) -> None:
        """Read-only: the namespace may be targeted and the named controller has rolled out."""
        ns = existing.namespace
        if ns in PROTECTED_NAMESPACES or kw.namespace_labels(self.kube, ns).get(
                PROTECTED_LABEL) == "true":
            raise SafetyRefused(f"namespace {ns} is protected (kube-system, kube-public, "
                                f"kube-node-lease, or labelled {PROTECTED_LABEL}=true): no "
                                "experiment may target it")
        if kw.namespace_state(self.kube, ns) != "active":
            raise InjectionFailed(f"namespace {ns} of the existing workload does not exist "
                                  "(or is being deleted)")
        if existing.kind and existing.name:
            kw.wait_rollouts(self.kube, ns, [WorkloadRef(existing.kind, existing.name)],
                             timeout_s)

    def observer(self, namespace: str, selector: Selector, service: str) -> ph.ObserverPort:
        return Observer(self.kube, namespace, selector, service)

    def server_version(self) -> str | None:
        try:
            return kw.server_version(self.kube)
        except ChaosError:
            return None

    def announce(self, namespace: str, kind: str, name: str, reason: str,
                 message: str) -> None:
        if not k8s_events.announce(self.kube, namespace, kind, name, reason, message):
            self.env.log(f"could not post a {reason} Event on {kind} {name}")
    def halt_marker(self, timeout_s: float) -> HaltMarker | None:
        return khalt.read_halt(self.kube, timeout_s)

    def conditions(self, kind: str, name: str, namespace: str | None,
                   timeout_s: float) -> dict[str, str] | None:
        return kconditions.read_conditions(self.kube, kind, name, namespace, timeout_s)


def start_load(env: RunEnv, url: str, exp: Experiment, out: Path, namespace: str) -> LoadRun:
    """Load from this machine at ``url``; or, with spec.load.inCluster, from worker pods in
    ``namespace`` at the Service's cluster DNS name (chaos.engine.incluster), on the Service
    port behind ``url``'s NodePort (inCluster refuses spec.load.url: ``url`` is the run's
    ``http://127.0.0.1:<nodePort>``)."""
    hosts = allowed_hosts(env.allow_hosts)
    workers = exp.load.in_cluster_workers
    if not workers:
        return _live(LoadRun.from_profile(url, exp.load, out, hosts), exp)
    if env.cluster_name is None or env.worker_image is None:
        raise LoadError(f"{exp.name}: spec.load.inCluster needs a kind cluster kube-chaos made "
                        "(the worker image is loaded into its nodes, the master listens on "
                        "its network); this run's cluster is not one")
    port = kw.service_port(env.kube, namespace, exp.workload.service, urlsplit(url).port)
    target = incluster.service_url(exp.workload.service, namespace, port)
    in_cluster = incluster.prepare(env.cluster_name, env.kube, namespace, workers, env.journal,
                                   env.kubeconfig, env.worker_image)
    host = target.split("//", 1)[1].rsplit(":", 1)[0]
    run = _live(LoadRun.from_profile(target, exp.load, out, hosts | {host},
                                     in_cluster=in_cluster), exp)
    # the warm-up counts from the first request, not from the pods' creation (they take a few
    # seconds to start and connect); one that never comes is the steady state's to name
    run.wait_first_record(POD_CONNECT_WAIT_S)
    return run


def cluster_ports(env: RunEnv) -> ph.RunPorts:
    return ph.RunPorts(
        cluster=KubeCluster(env),
        start_load=lambda url, exp, out, ns: start_load(env, url, exp, out, ns),
        build_fault=build_fault,
        # etcd members are read inside kind's nodes; elsewhere only through the API
        start_api_probe=lambda: ApiProbe(env.kube, control_plane_nodes(env.kube)
                                         if env.cluster_name and env.node else [],
                                         node=env.node))


@contextlib.contextmanager
def journaled_namespace(env: RunEnv, base: str, keep: Callable[[], bool]) -> Iterator[str]:
    """A fresh namespace whose deletion is journaled before it is created, so a run killed
    with SIGKILL leaves it to `kube-chaos rollback` (and the next session's orphan check)
    instead of holding its NodePorts forever. Kept namespaces are left on purpose."""
    ns = kw.namespace_name(base)
    action = env.journal.record(UndoAction(
        kind="delete-namespace", params={"namespace": ns},
        target={"kubeconfig": env.kubeconfig, "context": env.kube.context,
                "cluster": env.cluster_name or "", "namespace": ns}))
    kw.create_namespace(env.kube, ns, env.run_id)
    try:
        yield ns
    finally:
        if keep():
            env.log(f"keeping namespace {ns} for inspection")
            with contextlib.suppress(ChaosError):
                env.journal.done(action)  # kept on purpose: no rollback may delete it
        else:
            outcome = settle(env.journal, action)
            if not outcome.settled:
                env.log(f"namespace {ns} not deleted: {outcome.describe()}")


def _namespace(env: RunEnv, exp: Experiment, keep: Callable[[], bool]
               ) -> contextlib.AbstractContextManager[str]:
    """A fresh namespace for manifests; an existing workload's own namespace, untouched."""
    if exp.workload.existing is not None:
        return contextlib.nullcontext(exp.workload.existing.namespace)
    return journaled_namespace(env, exp.name, keep)


def run_experiment(exp: Experiment, env: RunEnv, ports: ph.RunPorts | None = None,
                   namespace: Callable[[RunEnv, Experiment, Callable[[], bool]],
                                       contextlib.AbstractContextManager[str]] | None = None,
                   repeat: tuple[int, int] | None = None) -> ExperimentResult:
    """Run ``exp``; never raises for an SLA breach (the result carries the verdict). Ctrl-C,
    SIGTERM and timeouts propagate, after the undo has run. ``repeat``: (index, count) of
    this run among the repeats of ``--chaos-repeat``, recorded in the manifest."""
    check_safety(env)
    check_target(ph.load_url(exp), allowed_hosts(env.allow_hosts))  # before anything is created
    check_guard_hosts(env, exp)
    if env.plan is not None:
        exp = _as_reviewed(exp, env)
    ports = ports or cluster_ports(env)
    check_not_halted(env, ports.cluster)

    def say(line: str) -> None:
        env.log(f"[{exp.name}] {line}")

    # what the run claims (the cluster shared or alone, fixed NodePorts, cluster-scoped
    # objects) is held until it has cleaned up, across processes and sessions: experiments run
    # side by side (--chaos-parallel, or two sessions on one cluster) never overlap where they
    # conflict. The wait is before the run: its clock starts once the claims are held.
    # Side by side, a run takes one of its session's slots first (always in the order slot,
    # cluster, keys: no two runs wait on each other). A run whose load generator fell behind
    # is not judged (chaos.plan.generator): the session then runs fewer at once, and this run
    # goes again with them, once. One at a time already, there is nothing to give it.
    pace = Pace(env.lock_dir, env.run_id, env.parallel) \
        if env.lock_dir is not None and env.parallel > 1 else None

    def attempt() -> ExperimentResult:
        with pace.slot(say) if pace is not None else contextlib.nullcontext(0), \
                hold_claims(env.lock_dir, claims_of(exp), say):
            return _run(exp, env, ports, namespace, repeat)

    result = attempt()
    if pace is not None and overloaded(result.error):
        before, after = pace.back_off()
        if after < before:
            why = (f"{exp.name}: its load generator fell behind with {before} experiments at "
                   f"once: {after} from now, and this one again (its report "
                   f"{result.report_path} kept)")
            say(why)
            warnings.warn(why, PaceWarning, stacklevel=2)
            result = attempt()
    return result


def _run(exp: Experiment, env: RunEnv, ports: ph.RunPorts,
         namespace: Callable[[RunEnv, Experiment, Callable[[], bool]],
                             contextlib.AbstractContextManager[str]] | None,
         repeat: tuple[int, int] | None) -> ExperimentResult:
    clock = env.clock
    started = clock.wall()
    verdict: list[str] = []

    def keep() -> bool:
        failed = not verdict or verdict[0] != "pass"
        return env.keep_namespace == "always" or (env.keep_namespace == "on-failure" and failed)

    # the harness's own set-up first: the experiment's budget starts once it is done
    mark = clock.monotonic()
    ports.cluster.prepare(exp)
    setup_s = round(clock.monotonic() - mark, 3)
    # the port is the run's until its namespace, Services and all, is deleted (or kept)
    with held_node_port(exp, env.node_ports, ports.cluster.node_ports_in_use,
                        env.lock_dir) as node_port, \
            (namespace or _namespace)(env, exp, keep) as ns:
        state = ph.RunState(
            exp=exp, namespace=ns, seed=exp.seed if exp.seed is not None else env.seed,
            clock=clock, deadline=Deadline(clock, exp.timeout_s).end,
            out_dir=_unique_dir(env.reports_dir / env.run_id, exp.name), journal=env.journal,
            kubeconfig=env.kubeconfig, cluster_name=env.cluster_name, log=env.log,
            node_port=node_port, node=env.node)
        state.audit = _audit_log(env, state)
        state.limits = env.blast_radius
        if exp.workload.node_port == "auto" and node_port is not None:
            state.say(f"nodePort: auto picked {node_port}")
        state.record("run-start", timeout_s=exp.timeout_s,
                     experiment_file=str(exp.path) if exp.path else None)
        timings: dict[str, float] = {"setup": setup_s}
        error: str | None = None
        try:
            for phase in ph.PHASES:
                mark = clock.monotonic()
                state.say(f"phase {phase.__name__}")
                try:
                    phase(state, ports)
                finally:
                    timings[phase.__name__] = round(clock.monotonic() - mark, 3)
                state.say(f"phase {phase.__name__}: done in {timings[phase.__name__]:.1f}s")
                state.completed.append(phase.__name__)
        except ExperimentAborted as exc:
            state.say(str(exc))  # not an error: the verdict says aborted
        except (ChaosError, LoadError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            state.say(f"error: {error}")
        finally:
            mark = clock.monotonic()
            ph.cleanup(state)
            timings["cleanup"] = round(clock.monotonic() - mark, 3)
        result = _evaluate(state, env, ports, started, error, timings, repeat)
        verdict.append(result.verdict)
    return result


def _as_reviewed(exp: Experiment, env: RunEnv) -> Experiment:
    """Resolve the plan again; refuse to start when it differs from the reviewed one (the
    cluster changed: other pods, replicas, PDBs, permissions...). The run uses its seed."""
    from chaos.engine.preview import differences, plan_experiment, reviewed_digest

    assert env.plan is not None
    digest, seed = reviewed_digest(env.plan, exp.name)
    now = plan_experiment(exp, env.kube, seed=seed, allow_contexts=env.allow_contexts,
                          allow_hosts=env.allow_hosts, limits=env.blast_radius)
    if now.digest() != digest:
        entries: list[dict[str, object]] = env.plan.get("experiments", [])  # type: ignore[assignment]
        reviewed = next(e for e in entries if e.get("experiment") == exp.name)
        raise SafetyRefused(f"{exp.name}: the plan resolved now differs from the reviewed one, so "
                            "nothing was started: " + "; ".join(differences(reviewed, now)))
    if now.problems:
        raise SafetyRefused(f"{exp.name}: " + "; ".join(now.problems))
    return replace(exp, seed=seed)


def _evaluate(s: ph.RunState, env: RunEnv, ports: ph.RunPorts, started: float,
              error: str | None, timings: dict[str, float],
              repeat: tuple[int, int] | None = None) -> ExperimentResult:
    """Gather what the run observed, have it judged (chaos.report.evaluate), write the
    report."""
    # a malformed capture line ends the reading there (and errors the run), not the report
    records = UpToMalformed(s.records)
    events = s.observer.events() if s.observer is not None else []
    ended = env.clock.wall()
    server = ports.cluster.server_version()  # once, for the cluster and versions sections
    undo_failed = ph.undo_failures(s)
    data = evaluate(RunRecord(
        experiment=s.exp, seed=s.seed, started_at=started, ended_at=ended, records=records,
        kept=s.records, events=tuple(events), outcomes=tuple(s.outcomes), fault_t=s.fault_t,
        initial_ready=frozenset(s.initial_ready),
        initial_endpoints=frozenset(s.initial_endpoints), steady_restored=s.steady_restored,
        shortfalls=tuple(s.shortfalls), aborted=s.abort.is_set(), abort=_abort_record(s),
        api_data=s.api_data, undo_failures=tuple(undo_failed),
        undo=tuple(o.as_dict() for o in ph.undo_outcomes(s)), error=error, timings=timings,
        cluster=_cluster_info(env, s, server), versions=_versions(server),
        manifest=_manifest(env, s, server, repeat), load_generators=s.load_generators,
        load_cpu=s.load_cpu))
    for outcome in ph.undo_outcomes(s):
        s.record("undo", action=outcome.action.describe(), status=outcome.status,
                 reason=outcome.reason, done_at=outcome.at)
    s.record("run-end", verdict=data.verdict, error=data.error)
    mark = env.clock.monotonic()
    report_path = write_report(s.out_dir, data)
    timings["report"] = round(env.clock.monotonic() - mark, 3)
    figs = data.load
    fault = figs.fault if figs is not None else None
    return ExperimentResult(
        experiment=s.exp, verdict=data.verdict, slas=list(data.slas),
        recovery_seconds=data.recovery_seconds,
        longest_outage_s=fault.longest_outage_s if fault else None,
        requests_total=figs.requests_total if figs is not None else 0,
        requests_failed=figs.requests_failed if figs is not None else 0,
        error_rate_during_fault=fault.error_rate if fault else None,
        restarts=data.restarts, faults=s.outcomes, report_path=report_path,
        namespace=s.namespace, error=data.error, records=data.records, phases=timings,
        undo_failures=undo_failed, abort=data.abort)


def _manifest(env: RunEnv, s: ph.RunState, server: str | None,
              repeat: tuple[int, int] | None) -> ManifestDict:
    """What produced this run. Read while the workload still exists (before its namespace
    goes); whatever cannot be read is named in ``errors``, never raised over the verdict."""
    from chaos.k8s import provenance as kprov
    from chaos.load.runner import DEFAULT_LOCUSTFILE
    from chaos.model.parse import load_experiment

    errors: list[str] = []
    images: list[dict[str, str | None]] = []
    nodes: list[dict[str, str | None]] = []
    exp = s.exp
    try:
        images = kprov.container_images(env.kube, s.namespace,
                                        exp.workload.selector.to_label_selector())
    except Exception as exc:  # a fake or unreachable cluster: named, not fatal
        errors.append(f"images: {type(exc).__name__}: {exc}")
    try:
        nodes = kprov.node_versions(env.kube)
    except Exception as exc:
        errors.append(f"nodes: {type(exc).__name__}: {exc}")
    exact = False
    if exp.path is not None:
        try:
            # a reviewed plan only sets the seed, which the rerun passes anyway
            exact = load_experiment(exp.path, allow_paths=env.allow_paths) in (
                exp, replace(exp, seed=None))
        except ChaosError as exc:
            errors.append(f"experiment file: {exc}")
    from chaos.report.provenance import build_manifest

    return build_manifest(
        seed=s.seed, experiment=exp.path, exact=exact, manifests=exp.workload.manifests,
        locustfile=exp.load.locustfile or DEFAULT_LOCUSTFILE, images=images, nodes=nodes,
        server_version=server, session=env.session_manifest, rerun_options=env.rerun_options,
        repeat=repeat, errors=errors)


def _abort_record(s: ph.RunState) -> AbortRecord | None:
    """The breach, when undo was complete, and how every guard was evaluated; None when the
    guards never started (the run ended before its first fault)."""
    stats: list[GuardStats] = s.monitor.stats() if s.monitor is not None else []
    breach: Breach | None = s.abort.breach
    if breach is None and s.monitor is None:
        return None
    undone_at = None
    if breach is not None:
        # the last undo that ran after the breach; when none did (nothing was in place, e.g.
        # a pod kill), the moment the runner had nothing left to undo
        after = [o.at for o in ph.undo_outcomes(s) if o.at >= breach.at]
        undone_at = max(after) if after else s.undone_at
    return AbortRecord(breach=breach, undo_complete_at=undone_at, guards=tuple(stats))


def _audit_log(env: RunEnv, s: ph.RunState) -> AuditLog:
    api = getattr(env.kube, "api", None)
    server = getattr(getattr(api, "configuration", None), "host", None)
    return AuditLog(s.out_dir / AUDIT_NAME, who=who(), context=env.kube.context, server=server,
                    run_id=env.run_id, experiment=s.exp.name, seed=s.seed,
                    namespace=s.namespace)


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


def _live(load: LoadRun, exp: Experiment) -> LoadRun:
    """Keep as many seconds of recent records as the live readers need (the rest of the run
    stays on disk): the steady-state window, and each load guard's lookback."""
    load.recent_s = max(load.recent_s, pguards.live_seconds(exp.abort.guards,
                                                            exp.steady_state.window_s))
    return load


def _cluster_info(env: RunEnv, s: ph.RunState, server: str | None
                  ) -> dict[str, str | int | float | bool | list[str] | None]:
    # node_port: where the load went on 127.0.0.1 (the pick of nodePort: auto); None with
    # spec.load.url
    # node_access: how node-level faults reached the nodes ("docker"); None: they could not
    return {"context": env.kube.context, "kind_cluster": env.cluster_name,
            "node_access": env.node.access if env.node is not None else None,
            "namespace": s.namespace, "node_port": s.node_port, "server_version": server}


def _versions(server: str | None) -> dict[str, str]:
    out = {"kube-chaos": KUBE_CHAOS_VERSION, "python": platform.python_version(),
           "kubernetes-client": client_version()}
    with contextlib.suppress(Exception):
        import importlib.metadata as md

        out["locust"] = md.version("locust")
    if server:
        out["kubernetes"] = server
    return out


