"""Cluster topology and the kind configuration derived from it (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from chaos.cluster.cache import cache_root
from chaos.cluster.versions import PINS

DEFAULT_NAME = "kube-chaos"
# NodePorts the bundled workloads use, published on 127.0.0.1 only.
DEFAULT_PORTS = tuple((p, p) for p in range(30080, 30090))


@dataclass(frozen=True, slots=True)
class PortMapping:
    host_port: int
    node_port: int
    listen: str = "127.0.0.1"  # never publish on other interfaces


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    name: str = DEFAULT_NAME
    workers: int = 2
    kubernetes: str = PINS.kubernetes
    image: str | None = None  # a node image the user names; else resolved/built
    ports: tuple[PortMapping, ...] = field(
        default_factory=lambda: tuple(PortMapping(h, n) for h, n in DEFAULT_PORTS)
    )
    api_server_port: int | None = None  # None: kind picks a free 127.0.0.1 port

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    @property
    def state_dir(self) -> Path:
        return cache_root() / "clusters" / self.name

    @property
    def kubeconfig(self) -> Path:
        """A kubeconfig of our own, so we never edit the user's ~/.kube/config."""
        return self.state_dir / "kubeconfig"

    def node_names(self) -> list[str]:
        workers = [
            f"{self.name}-worker" + ("" if i == 1 else str(i)) for i in range(1, self.workers + 1)
        ]
        return [f"{self.name}-control-plane", *workers]


def kind_config(cfg: ClusterConfig) -> str:
    """kind's v1alpha4 Cluster config for `cfg`.

    kube-proxy runs in nftables mode: it programs its own table and so never
    depends on which iptables backend (legacy or nft) the node picked at boot.
    Port mappings sit on the control-plane node: kube-proxy forwards NodePorts
    to pods on any node, and worker faults (drain, loss) never cut the path.
    """
    control_plane: dict[str, object] = {"role": "control-plane"}
    if cfg.ports:
        control_plane["extraPortMappings"] = [
            {"containerPort": p.node_port, "hostPort": p.host_port, "listenAddress": p.listen,
             "protocol": "TCP"}
            for p in cfg.ports
        ]
    networking: dict[str, object] = {"kubeProxyMode": "nftables", "apiServerAddress": "127.0.0.1"}
    if cfg.api_server_port:
        networking["apiServerPort"] = cfg.api_server_port
    doc = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": cfg.name,
        "networking": networking,
        "nodes": [control_plane, *({"role": "worker"} for _ in range(cfg.workers))],
    }
    return yaml.safe_dump(doc, sort_keys=False)
