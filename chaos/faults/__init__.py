"""Fault families, and the registry the runner builds faults from: ``FAULTS[spec.type](spec)``."""

from __future__ import annotations

from chaos.faults.nodes import CordonFault, DrainFault, NodeLossFault
from chaos.faults.pods import ContainerKillFault, PodKillFault
from chaos.faults.probes import ProbeBreakFault

FAULTS: dict[str, type] = {
    "pod-kill": PodKillFault,
    "container-kill": ContainerKillFault,
    "cordon": CordonFault,
    "drain": DrainFault,
    "node-loss": NodeLossFault,
    "probe-break": ProbeBreakFault,
}

__all__ = ["FAULTS", "ContainerKillFault", "CordonFault", "DrainFault", "NodeLossFault",
           "PodKillFault", "ProbeBreakFault"]
