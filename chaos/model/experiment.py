"""The experiment domain: what to deploy, how to load it, what to break, what must hold.

Everything here is immutable and free of I/O; ``chaos.model.parse`` builds it from YAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from chaos.errors import EXCERPT_CHARS, excerpt
from chaos.model import values as v
from chaos.model.abort import AbortSpec
from chaos.model.faults import (
    FAULT_TYPES,
    AnyFault,
    Bandwidth,
    ContainerKill,
    ControllerRef,
    ControlPlaneLoss,
    Cordon,
    Dns,
    Drain,
    FaultSpec,
    Latency,
    NetworkFault,
    NodeLoss,
    NodeSelection,
    PacketLoss,
    Partition,
    PodKill,
    ProbeBreak,
    Rollback,
    Rollout,
)
from chaos.model.fields import option
from chaos.model.loadmodes import LOAD_MODES, LoadMode
from chaos.model.netvalues import Peer
from chaos.model.selector import Selector
from chaos.model.slas import SLASpec

__all__ = [
    "FAULT_TYPES",
    "AbortSpec",
    "AnyFault",
    "Bandwidth",
    "ContainerKill",
    "ControlPlaneLoss",
    "ControllerRef",
    "Cordon",
    "Dns",
    "Drain",
    "ExistingWorkload",
    "Experiment",
    "FaultSpec",
    "Latency",
    "LoadProfile",
    "NetworkFault",
    "NodeLoss",
    "NodeSelection",
    "PacketLoss",
    "Partition",
    "Peer",
    "PodKill",
    "ProbeBreak",
    "Rollback",
    "Rollout",
    "SLASpec",
    "Selector",
    "SteadyState",
    "WorkloadSpec",
]


API_VERSION = "kube-chaos/v1"
KIND = "Experiment"
# Namespaces no experiment may target, whatever it says (plus any namespace labelled
# kube-chaos.io/protected=true, checked against the cluster).
PROTECTED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
PROTECTED_LABEL = "kube-chaos.io/protected"
ROLLOUT_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


@dataclass(frozen=True, slots=True)
class ExistingWorkload:
    """A workload that is already running (a game day against staging): kube-chaos creates,
    changes and deletes nothing of it except through the declared faults, and never deletes
    its namespace. ``kind``/``name`` name its controller, whose rollout must be complete
    before any fault; without them the selector's Ready pods are the whole check."""

    schema_rules: ClassVar[Mapping[str, Any]] = {
        "dependentRequired": {"kind": ["name"], "name": ["kind"]}}

    namespace: str = option("namespace", v.Value("dns-label", {
        **v.DNS_LABEL_REF, "not": {"enum": list(PROTECTED_NAMESPACES)}}),
        "its namespace; never a protected one")
    kind: str | None = option("kind", v.enum(*ROLLOUT_KINDS), "the controller whose rollout "
                              "must be complete before any fault (with name)", None)
    name: str | None = option("name", v.DNS_SUBDOMAIN, "the controller's name (with kind)", None)


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """One Kubernetes object by API version, kind and name (no namespace: see its users)."""

    api_version: str
    kind: str
    name: str

    def __str__(self) -> str:
        text = f"{self.kind}/{self.name}"
        # read from a manifest, unchecked: errors quote it, so only short and printable whole
        return text if len(text) <= 2 * EXCERPT_CHARS and text.isprintable() else excerpt(text)


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    schema_rules: ClassVar[Mapping[str, Any]] = {"oneOf": [
        {"required": ["manifests"]}, {"required": ["existing"], "not": {"required": ["images"]}}]}

    # read by the parser itself: either manifests or existing
    manifests: tuple[Path, ...] = option(
        "manifests", v.FILES, "paths relative to the experiment file, inside its folder "
        "(another folder needs --chaos-allow-path)", reader="own", required=False)
    selector: Selector = option("selector", v.SELECTOR, "the labels of the workload's pods")
    service: str = option("service", v.DNS_LABEL, "the Service the load goes through")
    # None when spec.load.url names where the load goes (then optional); "auto": each run
    # picks a free port among those the cluster publishes and sets it on the Service
    node_port: int | Literal["auto"] | None = option(
        "nodePort", v.NODE_PORT_OR_AUTO, "the Service's NodePort the load reaches on "
        "127.0.0.1, or auto: each run picks a free published port and sets it on the Service "
        "(default: the nodePort the Service in the manifests declares, auto when it declares "
        "none; not needed with spec.load.url)", required=False)
    replicas: int = option("replicas", v.COUNT, "the Ready pods the steady state waits for")
    url_path: str = option("path", v.URL_PATH, "path only; load always targets "
                           "http://127.0.0.1:<nodePort>", "/")
    namespace_scoped: bool = option("namespaceScoped", v.BOOL, "the workload lives in the "
                                    "run's own namespace (default true)", True)
    # images to copy from the local Docker engine into a kind cluster before deploying
    # (there is no registry); images kube-chaos builds itself need not be listed
    images: tuple[str, ...] = option("images", v.IMAGE_LIST, "images to load from the local "
                                     "Docker engine into a kind cluster before deploying", ())
    # Cluster-scoped objects the manifests create (ClusterRole, CRD, ...), in manifest order.
    # Parsing refuses them unless the experiment says ``clusterScoped: allow``; the namespace's
    # deletion does not remove them, so the runner must track and delete each one itself.
    cluster_scoped: Literal["refuse", "allow"] = option(
        "clusterScoped", v.enum("refuse", "allow"), "allow: cluster-scoped objects in the "
        "manifests are created, tracked and deleted after the run", "refuse")
    cluster_objects: tuple[ObjectRef, ...] = ()
    existing: ExistingWorkload | None = option(  # then manifests is empty
        "existing", v.section(ExistingWorkload), "a workload that is already running: nothing "
        "is created or deleted, its namespace is never deleted", None, reader="section")


@dataclass(frozen=True, slots=True)
class LoadProfile:
    """Locust load: at ``url`` when given (a real service; its host must be allow-listed with
    --chaos-allow-host), else at the kind cluster's ``http://127.0.0.1:<nodePort>``; then
    ``path``."""

    users: int = 10
    spawn_rate: float = 10.0
    warmup_s: float = 5.0
    tail_s: float = 10.0
    max_duration_s: float = 90.0
    max_requests: int | None = None
    locustfile: Path | None = None
    path: str = "/"
    wait_ms: float = 50.0
    # False: every request opens a new connection. Readiness changes only steer *new*
    # connections (kube-proxy keeps established flows), so keep-alive clients can ride
    # through a readiness outage that connection-per-request clients see.
    keep_alive: bool = True
    url: str | None = None  # base URL (scheme, host, port) instead of the NodePort
    # request headers whose values are read from environment variables at run time (tokens,
    # a Host header): (header, variable); the values never enter reports or logs
    headers_from_env: tuple[tuple[str, str], ...] = ()
    tls_verify: bool = True
    # the name of a mode in chaos.model.loadmodes (closed loop, open loop); ``loop`` is it
    mode: str = "closed"
    # (rate_from, rate_to, seconds or None = forever), arrivals per second; open mode only
    rate_segments: tuple[tuple[float, float, float | None], ...] = ()
    max_in_flight: int = 1000  # open mode: concurrent requests per load process
    drop_after_s: float = 0.5  # open mode: an arrival not sent by then is recorded dropped
    timeout_s: float = 5.0  # per request; a request still unanswered then failed
    workers: int = 1  # >1: a locust master and this many local worker processes
    # >0 (spec.load.inCluster.workers): the workers are this many pods inside the target
    # cluster, reaching the Service by its cluster DNS name; the master runs here
    in_cluster_workers: int = 0
    # the load generator's own lateness the run tolerates (chaos.plan.generator): beyond it
    # the figures measure the load machine, and the run is an error, not a verdict
    max_generator_lag_s: float = 0.1

    @property
    def loop(self) -> LoadMode:
        """The load mode: what it reads, how it drives locust."""
        return LOAD_MODES[self.mode]


@dataclass(frozen=True, slots=True)
class SteadyState:
    """What the workload must show before the faults, and again after them."""

    schema_rules: ClassVar[Mapping[str, Any]] = {}

    max_error_rate: float = option("maxErrorRate", v.RATIO, "the share of failed requests "
                                   "allowed in the window (default 0)", 0.0)
    # None: spec.workload.replicas (the parser fills it in)
    ready_replicas: int | None = option("readyReplicas", v.COUNT_OR_ZERO, "Ready pods "
                                        "(default: spec.workload.replicas)", None)
    window_s: float = option("window", v.DURATION, "how long it must hold (default 3s)", 3.0)


@dataclass(frozen=True, slots=True)
class BlastRadius:
    """How much one fault may hit, checked against the targets it resolves to before it acts
    (and by `kube-chaos plan`). Nodes default to one at a time; control-plane nodes only when
    an experiment names them."""

    schema_rules: ClassVar[Mapping[str, Any]] = {}

    max_pods: int | None = option("maxPods", v.COUNT, "pods one fault may hit", None)
    max_percent: float | None = option("maxPercent", v.PERCENT, "percent of "
                                       "spec.workload.replicas one fault may hit", None)
    max_nodes: int = option("maxNodes", v.COUNT, "default 1: one node at a time", 1)

    def merged(self, other: BlastRadius) -> BlastRadius:
        """The stricter of two limits each (experiment file and command line)."""
        def low(a: float | None, b: float | None) -> float | None:
            return b if a is None else a if b is None else min(a, b)

        pods = low(self.max_pods, other.max_pods)
        return BlastRadius(max_pods=None if pods is None else int(pods),
                           max_percent=low(self.max_percent, other.max_percent),
                           max_nodes=min(self.max_nodes, other.max_nodes))


@dataclass(frozen=True, slots=True)
class Experiment:
    """One experiment file; each declared field says where in the document it sits."""

    # JSON Schema keywords for spec: none today (without spec.load.url the NodePort comes from
    # the manifests' Service when not given, which only the parser can read)
    schema_rules: ClassVar[Mapping[str, Any]] = {}

    name: str = option("name", v.DNS_LABEL, "the experiment's name (the pytest item's)",
                       at="metadata")
    workload: WorkloadSpec = option("workload", v.section(WorkloadSpec), "what to deploy, or "
                                    "the running workload to use", reader="section", at="spec")
    load: LoadProfile = option("load", v.section(LoadProfile), "the load sent while the "
                               "faults act", reader="section", required=False, at="spec")
    steady_state: SteadyState = option(
        "steadyState", v.section(SteadyState), "what must hold before the faults and again "
        "after them", reader="section", required=False, at="spec")
    faults: tuple[FaultSpec, ...] = option(
        "faults", v.items({"$ref": "#/$defs/fault"}, "faults"), "the faults, in turn",
        reader="own", at="spec")
    slas: SLASpec = option("slas", v.section(SLASpec), "what must hold for the experiment to "
                           "pass", reader="section", at="spec")
    description: str = option("description", v.TEXT, "what the experiment shows", "",
                              at="metadata")
    path: Path | None = None
    timeout_s: float = option("timeout", v.POSITIVE_DURATION, "the whole run's limit "
                              "(default 300s)", 300.0, at="spec")
    expect: Literal["pass", "fail"] = option("expect", v.enum("pass", "fail"), "fail: the "
                                             "SLAs are expected to be violated", "pass",
                                             at="spec")
    tags: tuple[str, ...] = option("tags", v.TAGS, "pytest markers ('-' and '.' read as '_'); "
                                   "not pytest's own markers or Python keywords", (),
                                   at="metadata")
    seed: int | None = option("seed", v.SEED, "the seed of every random choice (default: a "
                              "new one, recorded)", None, at="spec")
    blast_radius: BlastRadius = option(
        "blastRadius", v.section(BlastRadius), "how much one fault may hit; checked against "
        "its resolved targets before it acts", BlastRadius(), reader="section", at="spec")
    abort: AbortSpec = option(  # guards that stop the run early
        "abort", v.section(AbortSpec), "abort guards, evaluated at least once a second while "
        "faults are active; the first breach undoes every fault at once and the verdict is "
        "aborted", AbortSpec(), reader="section", at="spec")

    @property
    def exclusive(self) -> bool:
        """Whether a run needs the cluster to itself: one of its faults' types declares so (what
        a scheduler running experiments side by side must read before pairing this one)."""
        return any(f.exclusive for f in self.faults)
