"""Which node runtime a run (or a rollback) uses: chosen here, once, never in a fault."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

from chaos.errors import RollbackFailed
from chaos.k8s.client import Kube
from chaos.node.kind import DockerRuntime
from chaos.node.runtime import NodeRuntime

# journals written before the access path was recorded all reached their nodes with docker
LEGACY_ACCESS = "docker"
KNOWN = (LEGACY_ACCESS, "agent")
CHOICES = ("auto", "docker", "agent")

Access = Literal["agent", "docker"]


def for_cluster(kind_cluster: str | None) -> NodeRuntime | None:
    """The runtime of a run: kind's node containers when the cluster is a kind cluster on this
    host, else none (node-level faults then refuse, saying why)."""
    return DockerRuntime() if kind_cluster else None


def resolve(choice: str | None, kind_cluster: str | None) -> Access:
    """``--chaos-node-access``: ``auto`` (or unset) is docker for a kind cluster kube-chaos
    reaches on this machine and the agent everywhere else; ValueError for anything but the
    three choices."""
    picked = (choice or "auto").strip().lower()
    if picked == "auto":
        return "docker" if kind_cluster else "agent"
    if picked == "docker":
        return "docker"
    if picked == "agent":
        return "agent"
    raise ValueError(f"node access must be one of {', '.join(CHOICES)}, not {choice!r}")


def for_access(access: str, target: Mapping[str, str] | None = None,
               kube: Callable[[], Kube] | None = None) -> NodeRuntime:
    """The runtime an undo's recorded ``node_access`` names (a journal is untrusted text: only a
    known name is accepted). The agent's needs the cluster (``kube``, asked only then) and
    reads the agent's session from ``target``."""
    if access == "docker":
        return DockerRuntime()
    if access == "agent" and kube is not None:
        from chaos.node.agent import AgentRuntime

        return AgentRuntime.for_undo(kube(), dict(target or {}))
    if not access:
        raise RollbackFailed("the run that recorded this undo had no access to its nodes")
    raise RollbackFailed(f"node access {access[:40]!r} is not one this kube-chaos knows "
                         f"({', '.join(KNOWN)})")
