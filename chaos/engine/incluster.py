"""In-cluster load (``spec.load.inCluster``): locust workers as pods in the run's namespace.

The master runs on this machine as for local workers, listening only on the kind network's
gateway address; each worker pod runs the locust worker image (chaos.cluster.locust_image),
reaches the Service under test by its cluster DNS name, and streams its records to the master
(see kube_chaos_capture.Collector). Every pod's deletion is journaled before the pod is made,
so a crashed run leaves them to ``kube-chaos rollback`` like everything else it creates.

The worker image and the master's address come in through a ``WorkerImage`` port (for kind:
chaos.cluster.workers.KindWorkers, wired by the plugin): run-time code never provisions.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from chaos.errors import ChaosError
from chaos.faults.undo import settle
from chaos.journal.store import Journal, UndoAction, UndoOutcome
from chaos.k8s import loadpods
from chaos.k8s.client import Kube
from chaos.load.runner import InCluster


class WorkerImage(Protocol):
    """Where in-cluster workers come from: their image on the cluster's nodes, and the address
    they reach this machine's locust master at."""

    def image(self) -> str:
        """The worker image, built (or reused) and on every node; idempotent."""
        ...

    def gateway(self) -> str:
        """This machine's address on the cluster's network ("" when it has none)."""
        ...


@dataclass
class LoadPods:
    """The real PodLauncher: bare pods in ``namespace``, each journaled before it exists."""

    kube: Kube
    namespace: str
    image: str
    journal: Journal
    target: Mapping[str, str]  # the journal's kubeconfig / context / cluster
    prefix: str = field(default_factory=lambda: f"kube-chaos-locust-{uuid.uuid4().hex[:6]}")
    actions: list[UndoAction] = field(default_factory=list)
    outcomes: list[UndoOutcome] = field(default_factory=list)

    def launch(self, index: int, args: Sequence[str], env: Mapping[str, str]) -> None:
        name = f"{self.prefix}-{index}"
        self.actions.append(self.journal.record(UndoAction(
            kind="delete-object",
            params={"api_version": "v1", "kind": "Pod", "name": name,
                    "namespace": self.namespace},
            target=dict(self.target, namespace=self.namespace))))
        loadpods.create_pod(self.kube, self.namespace,
                            loadpods.pod_manifest(name, self.image, index, args, env))

    def remove(self) -> None:
        while self.actions:
            with contextlib.suppress(Exception):  # settle never raises; cleanup must not
                self.outcomes.append(settle(self.journal, self.actions.pop()))


def service_url(service: str, namespace: str, port: int, scheme: str = "http") -> str:
    """Where in-cluster workers send the load: the Service's cluster DNS name, which only the
    cluster's own resolver answers (never an address outside it)."""
    return f"{scheme}://{service}.{namespace}.svc.cluster.local:{port}"


def prepare(cluster: str, kube: Kube, namespace: str, workers: int, journal: Journal,
            kubeconfig: str, images: WorkerImage) -> InCluster:
    """The worker image onto the cluster ``cluster`` (through ``images``), and what LoadRun
    needs to start ``workers`` pods in ``namespace``."""
    image = images.image()
    gateway = images.gateway()
    if not gateway:
        raise ChaosError("no address of this machine on the kind network")
    pods = LoadPods(kube, namespace, image, journal,
                    {"kubeconfig": kubeconfig, "context": kube.context, "cluster": cluster})
    return InCluster(workers=workers, bind_host=gateway, launcher=pods)
