"""Which node runtime a run (or a rollback) uses: chosen here, once, never in a fault."""

from __future__ import annotations

from chaos.errors import RollbackFailed
from chaos.node.kind import DockerRuntime
from chaos.node.runtime import NodeRuntime

# journals written before the access path was recorded all reached their nodes with docker
LEGACY_ACCESS = "docker"


def for_cluster(kind_cluster: str | None) -> NodeRuntime | None:
    """The runtime of a run: kind's node containers when the cluster is a kind cluster on this
    host, else none (node-level faults then refuse, saying why)."""
    return DockerRuntime() if kind_cluster else None


def for_access(access: str) -> NodeRuntime:
    """The runtime an undo's recorded ``node_access`` names (a journal is untrusted text: only a
    known name is accepted)."""
    if access == "docker":
        return DockerRuntime()
    if not access:
        raise RollbackFailed("the run that recorded this undo had no access to its nodes")
    raise RollbackFailed(f"node access {access[:40]!r} is not one this kube-chaos knows "
                         f"(docker)")
