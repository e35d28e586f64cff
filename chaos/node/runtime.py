"""What a fault, an undo handler or a probe may do to a node, whatever reaches it.

A run picks its node runtime once (``chaos.node.access``): today ``DockerRuntime`` (kind's node
containers, through the docker CLI on this host); next an agent pod per node reached through the
API server. Faults ask ``supports`` before a loss mode instead of assuming Docker, and read
``transport_failed`` to tell "the path to the node failed" (the fault may still be in place)
from "the command on the node said no".
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

# how a node is lost, and the power action that brings it back
LossMode = Literal["stop", "pause"]
PowerVerb = Literal["stop", "start", "pause", "unpause"]
RESTORE: dict[LossMode, PowerVerb] = {"stop": "start", "pause": "unpause"}


@dataclass(frozen=True, slots=True)
class NodeMachineState:
    """The machine (kind: the container) a node runs on: what an undo must see before it says
    "undone"."""

    status: str  # running, paused, exited, created, restarting, dead
    running: bool
    paused: bool

    @property
    def up(self) -> bool:
        return self.status == "running" and self.running and not self.paused


class NodeRuntime(Protocol):
    """Every node-level action kube-chaos takes. No method raises over a command's failure
    except ``state``, which must not guess."""

    @property
    def access(self) -> str:
        """How nodes are reached ("docker"), recorded in report.json and each undo's target so
        that `kube-chaos rollback` reaches them the same way."""
        ...

    def exec(self, node: str, *argv: str, stdin: str | None = None,
             timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` as root in the node's host namespaces; never raises (a transport that
        could not run it at all answers exit 125)."""
        ...

    def transport_failed(self, proc: subprocess.CompletedProcess[str]) -> bool:
        """The path to the node failed (not: the command on it said no)."""
        ...

    def supports(self, mode: LossMode) -> bool:
        """Whether this runtime can lose a node ``mode``-wise and bring it back."""
        ...

    def power(self, node: str, verb: PowerVerb,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Stop, start, pause or unpause the node's machine; never raises."""
        ...

    def state(self, node: str) -> NodeMachineState | None:
        """The node machine's state; None only when it answers that the machine does not exist
        (the cluster was deleted); ClusterError when that cannot be told."""
        ...

    def address(self, node: str) -> str:
        """The machine's address on the cluster's network; "" when it cannot be read."""
        ...


@runtime_checkable
class UndoSwitch(Protocol):
    """A runtime whose nodes can undo a fault by themselves when the run stops renewing its
    lease (the agent's dead man's switch); DockerRuntime has none."""

    def arm(self, node: str, key: str, *argv: str, stdin: str | None = None) -> None:
        """Before the fault acts: ``argv`` (run as ``exec`` runs it) undoes it; raises
        ClusterError when it cannot be registered (the fault must not act then)."""
        ...

    def disarm(self, node: str, key: str) -> None:
        """The fault was undone by the run itself; best effort, never raises."""
        ...


@runtime_checkable
class JournalTarget(Protocol):
    """A runtime that records more than its access name with each undo's target."""

    def journal_target(self) -> dict[str, str]:
        ...


def journal_keys(rt: NodeRuntime | None) -> dict[str, str]:
    """What ``rt`` adds to an undo's journal target besides ``node_access``."""
    return rt.journal_target() if isinstance(rt, JournalTarget) else {}
