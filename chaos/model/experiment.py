"""The experiment domain: what to deploy, how to load it, what to break, what must hold.

Everything here is immutable and free of I/O; ``chaos.model.parse`` builds it from YAML.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal


@dataclass(frozen=True, slots=True, eq=False)
class Selector(Mapping[str, str]):
    """An equality-based label selector; a read-only, hashable mapping label -> value."""

    labels: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, labels: Mapping[str, str]) -> Selector:
        return cls(tuple(sorted(labels.items())))

    def __getitem__(self, key: str) -> str:
        for k, v in self.labels:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self.labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __hash__(self) -> int:
        return hash(self.labels)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self.labels) == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"Selector({dict(self.labels)!r})"

    def to_label_selector(self) -> str:
        """The string form the Kubernetes API takes: ``app=httpd,tier=web``."""
        return ",".join(f"{k}={v}" for k, v in self.labels)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.labels)


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """One Kubernetes object by API version, kind and name (no namespace: see its users)."""

    api_version: str
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    manifests: tuple[Path, ...]
    selector: Selector
    service: str
    node_port: int
    replicas: int
    url_path: str = "/"
    namespace_scoped: bool = True
    # Cluster-scoped objects the manifests create (ClusterRole, CRD, ...), in manifest order.
    # Parsing refuses them unless the experiment says ``clusterScoped: allow``; the namespace's
    # deletion does not remove them, so the runner must track and delete each one itself.
    cluster_scoped: Literal["refuse", "allow"] = "refuse"
    cluster_objects: tuple[ObjectRef, ...] = ()


@dataclass(frozen=True, slots=True)
class LoadProfile:
    """Locust load. The target URL is always ``http://127.0.0.1:<nodePort><path>``."""

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


@dataclass(frozen=True, slots=True)
class SteadyState:
    max_error_rate: float = 0.0
    ready_replicas: int | None = None
    window_s: float = 3.0


@dataclass(frozen=True, slots=True)
class NodeSelection:
    """Which nodes a node fault may hit: exactly one of the three ways is set.

    ``pods_of`` (the default, with the workload's selector) means nodes hosting the workload's pods.
    """

    nodes: tuple[str, ...] = ()
    node_selector: Selector | None = None
    pods_of: Selector | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultSpec:
    """Base of the fault union; ``type`` is the YAML ``type`` value.

    ``delay_s`` is how long to wait, after warmup or the previous fault, before this one.
    """

    type: ClassVar[str] = ""
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PodKill(FaultSpec):
    type: ClassVar[str] = "pod-kill"
    selector: Selector
    count: int | None = 1
    percent: float | None = None
    grace_period_s: int | None = None  # None: the pod's own terminationGracePeriodSeconds
    interval_s: float | None = None
    repeat: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerKill(FaultSpec):
    type: ClassVar[str] = "container-kill"
    selector: Selector
    container: str | None = None  # None: the pod's first container
    count: int | None = 1
    percent: float | None = None
    signal: str = "KILL"


@dataclass(frozen=True, slots=True, kw_only=True)
class Cordon(FaultSpec):
    type: ClassVar[str] = "cordon"
    nodes: NodeSelection
    count: int = 1
    duration_s: float | None = None  # None: until the experiment ends


@dataclass(frozen=True, slots=True, kw_only=True)
class Drain(FaultSpec):
    type: ClassVar[str] = "drain"
    nodes: NodeSelection
    count: int = 1
    timeout_s: float = 60.0
    grace_period_s: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeLoss(FaultSpec):
    type: ClassVar[str] = "node-loss"
    nodes: NodeSelection
    count: int = 1
    duration_s: float = 60.0
    mode: Literal["stop", "pause"] = "stop"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeBreak(FaultSpec):
    type: ClassVar[str] = "probe-break"
    selector: Selector
    count: int | None = 1
    percent: float | None = None
    probe: Literal["readiness", "liveness", "startup"] = "readiness"
    duration_s: float = 30.0
    method: Literal["network", "admin"] = "network"


AnyFault = PodKill | ContainerKill | Cordon | Drain | NodeLoss | ProbeBreak
FAULT_TYPES: dict[str, type[FaultSpec]] = {
    cls.type: cls for cls in (PodKill, ContainerKill, Cordon, Drain, NodeLoss, ProbeBreak)
}


@dataclass(frozen=True, slots=True)
class SLASpec:
    """Thresholds; ``None`` (or False for ``steady_state_restored``) means not declared."""

    max_error_rate: float | None = None
    max_outage_s: float | None = None
    p95_latency_ms: float | None = None
    p99_latency_ms: float | None = None
    max_recovery_s: float | None = None
    expected_restarts: int | None = None  # at least this many restarts observed
    max_restarts: int | None = None
    steady_state_restored: bool = False
    expect_blocked: bool | None = None  # drains: was the drain blocked (e.g. by a PDB)?

    def declared(self) -> bool:
        return (
            any(
                v is not None and v is not False
                for v in (
                    self.max_error_rate,
                    self.max_outage_s,
                    self.p95_latency_ms,
                    self.p99_latency_ms,
                    self.max_recovery_s,
                    self.expected_restarts,
                    self.max_restarts,
                    self.expect_blocked,
                )
            )
            or self.steady_state_restored
        )


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
