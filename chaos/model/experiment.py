"""The experiment domain: what to deploy, how to load it, what to break, what must hold.

Everything here is immutable and free of I/O; ``chaos.model.parse`` builds it from YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from chaos.errors import EXCERPT_CHARS, excerpt
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

    namespace: str
    kind: str | None = None  # one of ROLLOUT_KINDS
    name: str | None = None


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
    manifests: tuple[Path, ...]
    selector: Selector
    service: str
    node_port: int | None  # None when spec.load.url names where the load goes
    replicas: int
    url_path: str = "/"
    namespace_scoped: bool = True
    # images to copy from the local Docker engine into a kind cluster before deploying
    # (there is no registry); images kube-chaos builds itself need not be listed
    images: tuple[str, ...] = ()
    # Cluster-scoped objects the manifests create (ClusterRole, CRD, ...), in manifest order.
    # Parsing refuses them unless the experiment says ``clusterScoped: allow``; the namespace's
    # deletion does not remove them, so the runner must track and delete each one itself.
    cluster_scoped: Literal["refuse", "allow"] = "refuse"
    cluster_objects: tuple[ObjectRef, ...] = ()
    existing: ExistingWorkload | None = None  # then manifests is empty


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

    @property
    def loop(self) -> LoadMode:
        """The load mode: what it reads, how it drives locust."""
        return LOAD_MODES[self.mode]


@dataclass(frozen=True, slots=True)
class SteadyState:
    max_error_rate: float = 0.0
    ready_replicas: int | None = None
    window_s: float = 3.0


@dataclass(frozen=True, slots=True)
class BlastRadius:
    """How much one fault may hit, checked against the targets it resolves to before it acts
    (and by `kube-chaos plan`). Nodes default to one at a time; control-plane nodes only when
    an experiment names them."""

    max_pods: int | None = None
    max_percent: float | None = None  # of the workload's replicas
    max_nodes: int = 1

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
    name: str
    workload: WorkloadSpec
    load: LoadProfile
    steady_state: SteadyState
    faults: tuple[FaultSpec, ...]
    slas: SLASpec
    description: str = ""
    path: Path | None = None
    timeout_s: float = 300.0
    expect: Literal["pass", "fail"] = "pass"
    tags: tuple[str, ...] = field(default=())
    seed: int | None = None
    blast_radius: BlastRadius = field(default_factory=BlastRadius)
    abort: AbortSpec = field(default_factory=AbortSpec)  # guards that stop the run early

    @property
    def exclusive(self) -> bool:
        """Whether a run needs the cluster to itself: one of its faults' types declares so (what
        a scheduler running experiments side by side must read before pairing this one)."""
        return any(f.exclusive for f in self.faults)
