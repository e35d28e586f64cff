"""Containers' tasks on a node, through the node's containerd (``ctr``, namespace k8s.io)."""

from __future__ import annotations

from chaos.errors import InjectionFailed
from chaos.node.runtime import NodeRuntime


def kill_container(rt: NodeRuntime, node: str, container_id: str, signal: str = "KILL") -> None:
    """Signal a container's init process (the kubelet then restarts it in place)."""
    sig = signal if signal.startswith("SIG") else f"SIG{signal}"
    proc = rt.exec(node, "ctr", "--namespace", "k8s.io", "task", "kill", "--signal", sig,
                   container_id, timeout=30)
    if proc.returncode != 0:
        raise InjectionFailed(
            f"container-kill on node {node}: `ctr task kill {container_id[:12]}` failed: "
            f"{proc.stderr.strip() or proc.stdout.strip()}"
        )
