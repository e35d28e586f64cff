"""Simulated nodes and pods (KWOK) on a kind cluster, for the scale benchmarks.

The kwok controller runs as a host process with the cluster's kubeconfig (no image: there is
no registry). It manages only the Node objects that carry ``KWOK_ANNOTATION`` and plays its
own default stages on them and on the pods bound to them: nodes turn Ready and keep their
lease, pods turn Running and Ready at once, and a deleted pod is removed (no kubelet is there
to confirm it). Nothing runs: no containers, probes, IPs that answer, or traffic.

The Node objects are ours to write (``fake_node``): tainted with ``KWOK_TAINT`` so no real pod
lands there, and labelled ``KWOK_LABEL`` so pods can select them (``fake_pod_spec``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chaos.cluster.cache import cache_root
from chaos.cluster.gobuild import install_kwok, kwok_stages
from chaos.cluster.progress import Progress
from chaos.cluster.versions import PINS, Pins
from chaos.errors import ChaosError

KWOK_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
KWOK_LABEL = ("type", "kwok")
KWOK_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}


class KwokFailed(ChaosError):
    """The kwok controller could not be started or stopped."""


def fake_node(name: str, *, cpu: str = "32", memory: str = "256Gi", pods: int = 110
              ) -> dict[str, Any]:
    """A Node object for kwok to manage: annotated for it, tainted against real pods."""
    key, value = KWOK_ANNOTATION
    lkey, lvalue = KWOK_LABEL
    capacity = {"cpu": cpu, "memory": memory, "pods": str(pods)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {key: value, "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {lkey: lvalue, "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                       "kubernetes.io/arch": "amd64", "kubernetes.io/role": "agent"},
        },
        "spec": {"taints": [dict(KWOK_TAINT)]},
        "status": {"allocatable": dict(capacity), "capacity": dict(capacity)},
    }


def fake_pod_spec(node: str | None = None) -> dict[str, Any]:
    """A pod spec that only a kwok node takes: it tolerates the taint and selects the label
    (or names ``node`` outright, which skips the scheduler)."""
    lkey, lvalue = KWOK_LABEL
    spec: dict[str, Any] = {
        "containers": [{"name": "fake", "image": "fake.invalid/none:0"}],
        "tolerations": [{"key": KWOK_TAINT["key"], "operator": "Exists",
                         "effect": "NoSchedule"}],
        "nodeSelector": {lkey: lvalue},
        "terminationGracePeriodSeconds": 0,
    }
    if node is not None:
        spec["nodeName"] = node
    return spec


def kwok_argv(binary: Path, kubeconfig: Path, config: Path) -> list[str]:
    key, value = KWOK_ANNOTATION
    return [str(binary), "--kubeconfig", str(kubeconfig), "--config", str(config),
            f"--manage-nodes-with-annotation-selector={key}={value}",
            "--node-lease-duration-seconds=40", "--cidr=10.0.0.1/16",
            "--node-ip=10.0.0.1"]


@contextmanager
def running_kwok(kubeconfig: Path, workdir: Path, *, pins: Pins = PINS,
                 root: Path | None = None, progress: Progress | None = None
                 ) -> Iterator[subprocess.Popen[bytes]]:
    """Build (or reuse) kwok, run it against ``kubeconfig`` until the block ends, then stop it
    (SIGTERM, then SIGKILL). Its log is ``workdir``/kwok.log."""
    root = root or cache_root()
    progress = progress or Progress()
    binary = install_kwok(pins, root, progress)
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "kwok-stages.yaml"
    config.write_text(kwok_stages(pins, root))
    log_path = workdir / "kwok.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(kwok_argv(binary, kubeconfig, config), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        time.sleep(1.0)
        if proc.poll() is not None:
            raise KwokFailed(f"kwok exited at once with code {proc.returncode}; "
                             f"see {log_path}")
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
