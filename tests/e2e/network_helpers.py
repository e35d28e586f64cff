"""The two-tier workload for the network e2e tests (no tests here): deployed without a NodePort,
and asked from the pods' own kind nodes."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from test_faults_helpers import WORKLOADS, Cluster, kubectl


@dataclass(frozen=True)
class Pod:
    name: str
    uid: str
    node: str
    ip: str


@dataclass(frozen=True)
class Tiers:
    cluster: Cluster
    ns: str

    def pods(self, tier: str) -> list[Pod]:
        items: list[Any] = self.cluster.kube.core.list_namespaced_pod(
            self.ns, label_selector=f"app=tiers,tier={tier}").items
        return sorted((Pod(p.metadata.name, p.metadata.uid, p.spec.node_name, p.status.pod_ip)
                       for p in items if p.metadata.deletion_timestamp is None),
                      key=lambda p: p.name)


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no HTTP answer
    seconds: float
    body: str


def get(pod: Pod, path: str = "/", timeout_s: float = 10) -> Answer:
    """GET from the pod's own kind node (the source is the node, never a faulted peer)."""
    proc = subprocess.run(
        ["docker", "exec", pod.node, "curl", "-s", "-o", "/dev/stderr", "-m", f"{timeout_s:g}",
         "-w", "%{http_code} %{time_total}", f"http://{pod.ip}:8080{path}"],
        capture_output=True, text=True, timeout=timeout_s + 20, check=False)
    code, _, took = proc.stdout.strip().partition(" ")
    return Answer(int(code or 0), float(took or 0), proc.stderr[:500])


def get_many(pod: Pod, n: int, path: str = "/", timeout_s: float = 5) -> list[int]:
    """``n`` GETs in a row from the pod's kind node, in one docker exec: their statuses."""
    loop = (f"for i in $(seq {int(n)}); do curl -s -o /dev/null -m {timeout_s:g} "
            f"-w '%{{http_code}}\\n' http://{pod.ip}:8080{path}; done")
    proc = subprocess.run(["docker", "exec", pod.node, "sh", "-c", loop], capture_output=True,
                          text=True, timeout=n * (timeout_s + 1) + 30, check=False)
    return [int(x) for x in proc.stdout.split()]


def _wait_until_served(tiers: Tiers, within_s: float = 90) -> None:
    """Every frontend answers 200 through the backend before a test looks: Ready says the pod's
    own probe passed, not that the backend Service's endpoints and kube-proxy's rules exist on
    the frontend's node yet (a busy machine took seconds more)."""
    deadline = time.monotonic() + within_s
    while True:
        answers = {p.name: get(p, timeout_s=3) for p in tiers.pods("frontend")}
        if answers and all(a.status == 200 for a in answers.values()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the frontends did not all answer 200 within {within_s:g} s: "
                                 + "; ".join(f"{n}: {a.status} {a.body[:120]}"
                                             for n, a in answers.items()))
        time.sleep(1)


@contextmanager
def tiers_namespace(cluster: Cluster) -> Iterator[Tiers]:
    """tiers.yaml in a fresh namespace, with the frontend Service as ClusterIP: the fault
    tests take no NodePort (30084 stays free for the experiments)."""
    ns = f"kc-net-{uuid.uuid4().hex[:6]}"
    text = (WORKLOADS / "tiers.yaml").read_text()
    text = text.replace("type: NodePort", "type: ClusterIP")
    text = "\n".join(line for line in text.splitlines()
                     if not line.strip().startswith(("nodePort:", "externalTrafficPolicy:")))
    kubectl(cluster, "create", "namespace", ns)
    try:
        kubectl(cluster, "-n", ns, "apply", "-f", "-", stdin=text)
        for d in ("frontend", "backend"):
            kubectl(cluster, "-n", ns, "rollout", "status", f"deployment/{d}",
                    "--timeout=120s", timeout=150)
        tiers = Tiers(cluster, ns)
        _wait_until_served(tiers)
        yield tiers
    finally:
        kubectl(cluster, "delete", "namespace", ns, "--wait=false")
