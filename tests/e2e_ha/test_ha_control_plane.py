"""End to end on a highly available control plane: a 3-control-plane kind cluster of its own
(`kc-ha`, NodePorts on 127.0.0.1:31080-31099), brought up from the offline caches, and the
control-plane-loss experiments run on it for real.

Never skipped: without Docker, kind or the node image the session fixture fails. The cluster
is deleted at the end when this session created it; an existing healthy one is reused and kept
(so a developer can iterate). ``KUBE_CHAOS_HA_CLUSTER`` names another cluster.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from chaos.cluster import kind, loadbalancer
from chaos.cluster.config import DEFAULT_PORTS, ClusterConfig, PortMapping
from chaos.cluster.shell import capture
from chaos.cluster.versions import PINS

ROOT = Path(__file__).resolve().parents[2]
OFFSET = 1000  # the experiments' load.url is 127.0.0.1:31080
# pause mode, one and two of three; the stop variant (about 100 s more) is run by hand
EXPERIMENTS = ("experiments/ha/cp-loss-one-of-three.yaml",
               "experiments/ha/cp-loss-two-of-three-negative.yaml")
CFG = ClusterConfig(
    name=os.environ.get("KUBE_CHAOS_HA_CLUSTER", "kc-ha"), control_planes=3,
    ports=tuple(PortMapping(node + OFFSET, node) for _, node in DEFAULT_PORTS))


@pytest.fixture(scope="session")
def ha_cluster() -> Iterator[kind.ClusterInfo]:
    info = kind.up(CFG, wait_s=600)
    yield info
    if not info.reused:
        kind.down(CFG)


def _docker(*args: str) -> str:
    proc = capture(["docker", *args])
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_three_control_planes_behind_our_load_balancer(ha_cluster: kind.ClusterInfo) -> None:
    names = set(ha_cluster.nodes)
    assert {f"{CFG.name}-control-plane", f"{CFG.name}-control-plane2",
            f"{CFG.name}-control-plane3", f"{CFG.name}-external-load-balancer"} <= names
    # kind ran its load balancer from the image we built offline under its name
    lb = f"{CFG.name}-external-load-balancer"
    assert _docker("inspect", "-f", "{{.Config.Image}}", lb) == PINS.kind_load_balancer
    label = _docker("image", "inspect", "-f",
                    f'{{{{index .Config.Labels "{loadbalancer.SOURCE_LABEL}"}}}}',
                    PINS.kind_load_balancer)
    assert label == loadbalancer.image_key(PINS)
    # the kubeconfig's server is the load balancer's published port, not a node's
    server = yaml.safe_load(ha_cluster.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    published = _docker("port", lb, "6443/tcp")
    assert urlsplit(server).port == int(published.rsplit(":", 1)[1])
    nodes = json.loads(subprocess.run(
        ["kubectl", "--kubeconfig", str(ha_cluster.kubeconfig), "get", "nodes", "-o", "json"],
        capture_output=True, text=True, check=True, timeout=60).stdout)["items"]
    roles = sorted("control-plane" if "node-role.kubernetes.io/control-plane" in n["metadata"][
        "labels"] else "worker" for n in nodes)
    assert roles == ["control-plane"] * 3 + ["worker"] * 2
    # the ports proxy, not a node, publishes the NodePorts, and forwards to every node
    assert loadbalancer.proxy_running(CFG), loadbalancer.proxy_diagnosis(CFG)
    assert _docker("port", loadbalancer.proxy_name(CFG), "30080/tcp") == "127.0.0.1:31080"
    conf = _docker("exec", loadbalancer.proxy_name(CFG), "cat", loadbalancer.CONFIG_PATH)
    for node in CFG.node_names():
        assert f"server {node} {node}:30080" in conf


def _report(reports: Path, name: str) -> dict[str, Any]:
    [path] = reports.glob(f"*/{name}/report.json")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _slas(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in report["slas"]}


def test_control_plane_loss_experiments(ha_cluster: kind.ClusterInfo, tmp_path: Path) -> None:
    """One of three lost: the API keeps answering; two of three: the API is down while the
    workload serves on, detected by maxApiOutage; both: the API answers again after."""
    reports = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "chaos", *EXPERIMENTS, "-v",
         "-p", "no:cacheprovider", f"--chaos-kubeconfig={ha_cluster.kubeconfig}",
         f"--chaos-context={ha_cluster.context}", f"--chaos-reports={reports}"],
        cwd=ROOT, capture_output=True, text=True, timeout=1500, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]

    one = _report(reports, "cp-loss-one-of-three")
    assert one["verdict"] == "pass"
    slas = _slas(one)
    assert slas["maxApiOutage"]["passed"] and slas["maxOutage"]["passed"]
    api = one["api_server"]
    assert api["requests"] > 200  # every 100 ms, not a few samples
    assert api["longest_outage_s"] is not None and api["longest_outage_s"] <= 5.0
    [fault] = one["recovery"]["faults"]
    assert fault["figures"]["quorum_kept"] == 1.0 and fault["figures"]["lost"] == 1.0
    [lost] = fault["targets"]
    members = api["etcd_members"]
    assert members[lost]["longest_unhealthy_s"] >= 20.0  # paused for 30 s
    # the survivors stay healthy, but for an etcd leader election when the lost one led
    assert all(m["longest_unhealthy_s"] < 10.0 for n, m in members.items() if n != lost)

    two = _report(reports, "cp-loss-two-of-three-negative")
    assert two["verdict"] == "pass"  # a negative control: passes when the breach is detected
    slas = _slas(two)
    assert not slas["maxApiOutage"]["passed"]
    assert slas["maxApiOutage"]["observed"] >= 20.0
    assert slas["maxOutage"]["passed"]  # the workload kept serving without a control plane
    api = two["api_server"]
    assert api["etcd_ready_longest_outage_s"] >= 20.0
    # and recovers when they return: the API answered again within a minute of the lift, and
    # the last probes were served
    assert api["back_after_lift_s"] is not None and api["back_after_lift_s"] < 60.0
    last = api["outage_windows"][-1]
    assert last["end_s"] < api["lifted_at_s"] + 60.0


def _paused(nodes: list[str]) -> list[str]:
    return [n for n in nodes if _docker("inspect", "-f", "{{.State.Paused}}", n) == "true"]


def test_a_run_killed_with_two_control_planes_lost_is_rolled_back(
        ha_cluster: kind.ClusterInfo, tmp_path: Path) -> None:
    """SIGKILL while two of three are paused (no quorum): both undos were journaled before the
    first pause, so `kube-chaos rollback` gives them back and the API answers again."""
    env = {**os.environ, "KUBE_CHAOS_STATE": str(tmp_path / "state")}
    cps = [n for n in CFG.node_names() if "control-plane" in n]
    victim = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-m", "chaos", EXPERIMENTS[1], "-p",
         "no:cacheprovider", f"--chaos-kubeconfig={ha_cluster.kubeconfig}",
         f"--chaos-context={ha_cluster.context}", f"--chaos-reports={tmp_path / 'reports'}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while len(_paused(cps)) < 2:
            assert victim.poll() is None, "the run ended before it lost two control planes"
            assert time.monotonic() < deadline, "two control planes never paused"
            time.sleep(0.5)
    finally:
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
    assert len(_paused(cps)) == 2  # the fault outlived its run
    [journal] = (tmp_path / "state" / "journal").glob("*.jsonl")
    rollback = subprocess.run(
        [sys.executable, "-m", "chaos.cli", "rollback", "--journal", str(journal)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert _paused(cps) == []
    ready = subprocess.run(
        ["kubectl", "--kubeconfig", str(ha_cluster.kubeconfig), "wait", "--for=condition=Ready",
         "node", "--all", "--timeout=120s"], capture_output=True, text=True, timeout=180,
        check=False)
    assert ready.returncode == 0, ready.stdout + ready.stderr
