"""Fault implementations, one module per family, each class registered for the spec type it
implements (``@implements(PodKill)``); the runner builds a fault with ``build(spec)``."""

from __future__ import annotations

from chaos.faults import (  # noqa: F401  (importing registers them)
    controlplane,
    load,
    network,
    nodes,
    pods,
    probes,
    rollout,
)
from chaos.faults.base import Fault, build, implementations, implements

__all__ = ["Fault", "build", "implementations", "implements"]
