"""Shared helpers for the fault e2e tests (no tests here).

They run on the session's cluster (the plugin's chaos_env: provisioned kind unless
--chaos-kubeconfig), or on the cluster named by KUBE_CHAOS_KUBECONFIG / KUBE_CHAOS_CONTEXT /
KUBE_CHAOS_CLUSTER. Every test works in its own namespace and deletes it.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kind_nodes import DOCKER, container_state

from chaos.clock import SystemClock
from chaos.engine.runner import RunEnv, check_safety
from chaos.faults.base import FaultContext
from chaos.journal.store import Journal
from chaos.k8s import nodes as knodes
from chaos.k8s.client import Kube, connect
from chaos.k8s.observe import Observer
from chaos.model.experiment import Selector

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ROOT / "experiments" / "workloads"


@dataclass(frozen=True)
class Cluster:
    kubeconfig: str
    context: str
    name: str
    kube: Kube


def cluster_from_env(env: RunEnv | None = None) -> Cluster:
    if env is not None and "KUBE_CHAOS_KUBECONFIG" not in os.environ:
        if env.cluster_name is None:
            pytest.fail(f"context {env.kube.context!r} is not a kind cluster kube-chaos "
                        "provisioned: node faults need its node containers")
        check_safety(env)  # the tests' own faults pass the gate users pass
        return Cluster(env.kubeconfig, env.kube.context, env.cluster_name, env.kube)
    name = os.environ.get("KUBE_CHAOS_CLUSTER", "kube-chaos")
    kubeconfig = os.environ.get(
        "KUBE_CHAOS_KUBECONFIG", f"/root/.cache/kube-chaos/clusters/{name}/kubeconfig")
    context = os.environ.get("KUBE_CHAOS_CONTEXT", f"kind-{name}")
    if not Path(kubeconfig).exists():
        pytest.fail(f"no kubeconfig at {kubeconfig} (set KUBE_CHAOS_KUBECONFIG)")
    try:
        kube = connect(kubeconfig, context)
        kube.version.get_code()
    except Exception as exc:
        pytest.fail(f"cluster {context} unreachable: {exc}")
    return Cluster(kubeconfig, context, name, kube)


def ensure_workload_image(cluster: Cluster) -> None:
    from chaos.cluster import kindload
    from chaos.cluster.config import ClusterConfig
    from chaos.cluster.workload_image import build_httpd

    kindload.ensure_loaded(ClusterConfig(name=cluster.name), build_httpd())


def kubectl_path() -> str:
    found = shutil.which("kubectl") or next(
        iter(sorted(glob.glob("/root/.cache/kube-chaos/bin/kubernetes-*/kubectl"))), None)
    if not found:
        pytest.fail("kubectl not found (neither on PATH nor in the kube-chaos cache)")
    return found


def kubectl(cluster: Cluster, *args: str, timeout: float = 120, stdin: str | None = None) -> str:
    proc = subprocess.run([kubectl_path(), "--kubeconfig", cluster.kubeconfig, "--context",
                           cluster.context, *args], capture_output=True, text=True,
                          timeout=timeout, check=False, input=stdin)
    if proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout



@contextmanager
def namespace(cluster: Cluster, prefix: str, *manifests: str) -> Iterator[str]:
    """A fresh namespace with the given workload manifests applied and rolled out."""
    ns = f"{prefix}-{uuid.uuid4().hex[:6]}"
    kubectl(cluster, "create", "namespace", ns)
    try:
        for m in manifests:
            # fixed nodePorts are cluster-wide: let the API server pick one per namespace
            text = "\n".join(line for line in (WORKLOADS / m).read_text().splitlines()
                             if not line.strip().startswith("nodePort:"))
            kubectl(cluster, "-n", ns, "apply", "-f", "-", stdin=text)
        for m in manifests:
            for line in kubectl(cluster, "-n", ns, "get", "-f", str(WORKLOADS / m), "-o",
                                "name").split():
                if line.startswith(("deployment", "statefulset")):
                    kubectl(cluster, "-n", ns, "rollout", "status", line, "--timeout=120s",
                            timeout=150)
        yield ns
    finally:
        if os.environ.get("KUBE_CHAOS_KEEP_NAMESPACE") != "1":
            kubectl(cluster, "delete", "namespace", ns, "--wait=false")


OBSERVERS: list[Observer] = []  # stopped after each test by the conftest


def make_ctx(cluster: Cluster, ns: str, journal: Journal, selector: dict[str, str], *,
             budget_s: float = 240, seed: int = 7, emit: Callable[[str, str, str], None]
             | None = None) -> FaultContext:
    """A fault context as the runner builds it, with a started Observer of the namespace (every
    EndpointSlice in it, the pods matching ``selector``, the nodes)."""
    clock = SystemClock()
    observer = Observer(cluster.kube, ns, Selector.of(selector), None)
    observer.start()
    OBSERVERS.append(observer)
    return FaultContext(
        kube=cluster.kube, namespace=ns, journal=journal, seed=seed, clock=clock,
        workload_selector=Selector.of(selector), cluster_name=cluster.name,
        kubeconfig=cluster.kubeconfig, emit=emit or observer.emit, observer=observer,
        deadline=clock.monotonic() + budget_s, node=DOCKER,
    )


def pods(cluster: Cluster, ns: str, selector: str) -> list[Any]:
    items: list[Any] = cluster.kube.core.list_namespaced_pod(ns, label_selector=selector).items
    return items


def wait_for(what: str, predicate: Callable[[], bool], timeout_s: float,
             step_s: float = 1.0) -> float:
    """Poll ``predicate`` until true; returns the seconds it took, fails the test otherwise."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}")
        time.sleep(step_s)


def workers(cluster: Cluster) -> list[str]:
    return sorted(n.name for n in knodes.list_nodes(cluster.kube) if not n.control_plane)


def assert_nodes_healthy(cluster: Cluster) -> None:
    """No node cordoned, every node container running and the node Ready."""
    for n in knodes.list_nodes(cluster.kube):
        assert not n.unschedulable, f"node {n.name} left cordoned"
        assert container_state(n.name) in ("running", None), f"node {n.name} not running"
    for n in knodes.list_nodes(cluster.kube):
        assert knodes.wait_node_ready(cluster.kube, n.name, 120), f"node {n.name} not Ready"


def restore_nodes(cluster: Cluster) -> None:
    """Last-resort cleanup so one failed test does not poison the next."""
    for n in knodes.list_nodes(cluster.kube):
        state = container_state(n.name)
        if state == "paused":
            DOCKER.power(n.name, "unpause")
        elif state not in ("running", None):
            DOCKER.power(n.name, "start")
        if n.unschedulable:
            knodes.uncordon(cluster.kube, n.name)
