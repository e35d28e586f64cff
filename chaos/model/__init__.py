"""Frozen domain objects (no I/O, no Kubernetes)."""

from chaos.model.duration import format_duration, parse_duration
from chaos.model.experiment import (
    FAULT_TYPES,
    AnyFault,
    ContainerKill,
    Cordon,
    Drain,
    Experiment,
    FaultSpec,
    LoadProfile,
    NodeLoss,
    NodeSelection,
    ObjectRef,
    PodKill,
    ProbeBreak,
    Selector,
    SLASpec,
    SteadyState,
    WorkloadSpec,
)
from chaos.model.timeline import Bucket, ClusterEvent, RequestRecord, SLAResult

__all__ = [
    "FAULT_TYPES",
    "AnyFault",
    "Bucket",
    "ClusterEvent",
    "ContainerKill",
    "Cordon",
    "Drain",
    "Experiment",
    "FaultSpec",
    "LoadProfile",
    "NodeLoss",
    "NodeSelection",
    "ObjectRef",
    "PodKill",
    "ProbeBreak",
    "RequestRecord",
    "SLAResult",
    "SLASpec",
    "Selector",
    "SteadyState",
    "WorkloadSpec",
    "format_duration",
    "parse_duration",
]
