"""The provisioned kind cluster itself: real kubelets, real Service routing, real DNS."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest
from kubernetes import client

from chaos.cluster import kind, kindload
from chaos.cluster.config import ClusterConfig
from chaos.cluster.progress import Progress
from chaos.engine.runner import RunEnv
from chaos.k8s import health

pytestmark = pytest.mark.chaos
WORKLOADS = Path(__file__).parents[2] / "experiments" / "workloads"


def _expected_nodes(env: RunEnv) -> int:
    if env.cluster_name is None:  # fail, never skip: a run that checked nothing must say so
        pytest.fail(f"context {env.kube.context!r} is not a kind cluster provisioned by "
                    "kube-chaos: these tests check the cluster kube-chaos builds")
    return len(kind.node_containers(env.cluster_name))


def test_every_node_and_kube_system_pod_is_ready(chaos_env: RunEnv) -> None:
    nodes = _expected_nodes(chaos_env)
    assert nodes == 3, "default topology: one control plane and two workers"
    assert health.problems_of(chaos_env.kube, nodes) == []


def test_nothing_anywhere_tried_to_pull_an_image(chaos_env: RunEnv) -> None:
    pods = chaos_env.kube.core.list_pod_for_all_namespaces().items
    assert pods
    assert [e for p in pods for e in health.pull_errors(p)] == []
    events = chaos_env.kube.core.list_event_for_all_namespaces().items
    pulls = [f"{e.involved_object.name}: {e.reason} {e.message}" for e in events
             if e.reason in ("Pulling", "Failed", "ErrImagePull", "BackOff")
             and "image" in (e.message or "").lower()]
    assert pulls == []


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=3) as resp:
        assert resp.status == 200
        body: dict[str, object] = json.loads(resp.read())
        return body


def test_replicated_workload_answers_on_localhost_node_port(chaos_deploy, chaos_env) -> None:
    chaos_deploy(WORKLOADS / "httpd-replicated.yaml")
    served_by = set()
    errors: list[str] = []
    deadline = time.monotonic() + 30
    while len(served_by) < 2 and time.monotonic() < deadline:
        try:
            served_by.add(_get("http://127.0.0.1:30080/")["pod"])
        except OSError as exc:  # rolled out is not yet routed: kube-proxy may lag the rollout
            errors.append(str(exc))
            time.sleep(0.2)
    assert len(served_by) >= 2, (
        f"kube-proxy should spread new connections over the replicas; served by {served_by}, "
        f"errors: {errors[-3:]}")


def test_service_dns_name_resolves_inside_a_pod(chaos_deploy, chaos_env, chaos_namespace) -> None:
    chaos_deploy(WORKLOADS / "httpd-replicated.yaml")
    svc = chaos_env.kube.core.read_namespaced_service("httpd", chaos_namespace)
    # the kindnetd image is FROM our Debian toolbox, preloaded on every node: it has getent
    image = _preloaded_image(chaos_env, "kindnetd")
    fqdn = f"httpd.{chaos_namespace}.svc.cluster.local"
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="dns-probe"),
        spec=client.V1PodSpec(restart_policy="Never", containers=[client.V1Container(
            name="getent", image=image, image_pull_policy="Never", command=["getent", "hosts",
                                                                           fqdn])]))
    chaos_env.kube.core.create_namespaced_pod(chaos_namespace, pod)
    deadline = time.monotonic() + 60
    phase = "Pending"
    while time.monotonic() < deadline and phase not in ("Succeeded", "Failed"):
        time.sleep(1)
        phase = chaos_env.kube.core.read_namespaced_pod("dns-probe", chaos_namespace).status.phase
    log = chaos_env.kube.core.read_namespaced_pod_log("dns-probe", chaos_namespace)
    assert phase == "Succeeded", log
    assert svc.spec.cluster_ip in log and fqdn in log


def _preloaded_image(env: RunEnv, name: str) -> str:
    for pod in env.kube.core.list_namespaced_pod("kube-system").items:
        for c in pod.spec.containers:
            if name in c.image:
                return str(c.image)
    pytest.fail(f"no {name} image in kube-system: the provisioned cluster is incomplete")


def test_deleted_pod_is_replaced_and_ready_again(chaos_deploy, chaos_env, chaos_namespace) -> None:
    chaos_deploy(WORKLOADS / "httpd-replicated.yaml")
    core = chaos_env.kube.core
    before = {p.metadata.name for p in core.list_namespaced_pod(chaos_namespace,
                                                                label_selector="app=httpd").items}
    victim = sorted(before)[0]
    core.delete_namespaced_pod(victim, chaos_namespace, grace_period_seconds=0)
    deadline = time.monotonic() + 60
    ready: set[str] = set()
    while time.monotonic() < deadline:
        pods = core.list_namespaced_pod(chaos_namespace, label_selector="app=httpd").items
        ready = {p.metadata.name for p in pods if health.pod_ready(p)
                 and p.metadata.deletion_timestamp is None}
        if len(ready) == 3 and victim not in ready:
            break
        time.sleep(0.5)
    assert len(ready) == 3 and victim not in ready
    assert ready - before, "a new pod (new name) replaced the deleted one"


def test_cluster_down_leaves_no_containers_or_kubeconfig(chaos_env: RunEnv) -> None:
    _expected_nodes(chaos_env)
    cfg = ClusterConfig(name="kc-downtest", workers=0, ports=())
    kind.up(cfg)
    assert kind.node_containers(cfg.name) == ["kc-downtest-control-plane"]
    assert cfg.kubeconfig.exists()
    kind.down(cfg)
    assert kind.node_containers(cfg.name) == []
    assert not cfg.kubeconfig.exists()
    user_kubeconfig = Path.home() / ".kube" / "config"
    if user_kubeconfig.exists():
        assert "kind-kc-downtest" not in user_kubeconfig.read_text()
    assert cfg.name not in kind.existing_clusters(kindload.kind_binary(Progress(quiet=True)))


def test_taken_port_is_a_one_paragraph_error_not_a_traceback(chaos_env: RunEnv) -> None:
    import socket
    import subprocess
    import sys

    _expected_nodes(chaos_env)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 31080))
        sock.listen()
        proc = subprocess.run(
            [sys.executable, "-m", "chaos.cli", "cluster", "up", "--name", "kc-porttest",
             "--port-offset", "1000"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert "Port 127.0.0.1:31080 is already taken" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert kind.node_containers("kc-porttest") == [], "nothing was created"
