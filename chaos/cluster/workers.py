"""The in-cluster load's provisioning port for kind clusters kube-chaos made: the locust worker
image built (or reused) and copied onto the nodes, and this machine's address on kind's network.

The engine only sees the ``WorkerImage`` protocol (chaos.engine.incluster); the pytest plugin
hands it this implementation for a kind cluster, so run-time code never provisions by itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from chaos.cluster import kind, kindload
from chaos.cluster.config import ClusterConfig
from chaos.cluster.locust_image import ensure_image
from chaos.cluster.progress import Progress


@dataclass(frozen=True, slots=True)
class KindWorkers:
    """Worker image and master address for the kind cluster ``cluster``."""

    cluster: str
    progress: Progress | None = None

    def image(self) -> str:
        """Build (or reuse) the worker image and load it into the cluster's nodes: idempotent,
        so the run's set-up does it before the experiment's clock starts."""
        progress = self.progress or Progress()
        image = ensure_image(progress=progress)
        kindload.ensure_loaded(ClusterConfig(name=self.cluster), image, progress)
        return image

    def gateway(self) -> str:
        """This machine's address on kind's Docker network, which the worker pods reach."""
        return kind.network_gateway()
