"""Probe break on a real kind cluster: readiness leaves endpoints, liveness restarts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kind_nodes import DOCKER
from test_faults_helpers import (
    Cluster,
    cluster_from_env,
    ensure_workload_image,
    kubectl,
    make_ctx,
    namespace,
    pods,
)

from chaos.engine.runner import RunEnv
from chaos.errors import InjectionFailed
from chaos.faults.probes import ProbeBreakFault
from chaos.journal.store import Journal, pending_in
from chaos.k8s import probes as kprobes
from chaos.model.experiment import ProbeBreak, Selector
from chaos.node import netns

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(300)]

HTTPD = Selector.of({"app": "httpd"})


@pytest.fixture(scope="module")
def cluster(chaos_env: RunEnv) -> Iterator[Cluster]:
    c = cluster_from_env(chaos_env)
    ensure_workload_image(c)
    yield c


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.jsonl")


def _block_gone(cluster: Cluster, ns: str, pod: str) -> bool:
    p = kprobes.read_pod(cluster.kube, ns, pod)
    assert p is not None
    return not netns.table_present(DOCKER, p.spec.node_name, p.metadata.uid,
                                   kprobes.table_name(pod))


@pytest.mark.parametrize("method", ["admin", "network"])
def test_readiness_break_leaves_endpoints_without_restart(cluster: Cluster, journal: Journal,
                                                          method: str) -> None:
    with namespace(cluster, f"kc-ready-{method}", "httpd-replicated.yaml") as ns:
        if method == "network":
            # readiness and liveness share port 8080, so the block fails liveness too: with its
            # 2 s x 3 the kubelet may restart the container within ~4 s (seen in this suite).
            # Give liveness room, so the test shows readiness alone.
            kubectl(cluster, "-n", ns, "patch", "deployment/httpd", "--type=json", "-p",
                    '[{"op": "replace", "path": "/spec/template/spec/containers/0/'
                    'livenessProbe/failureThreshold", "value": 10}]')
            kubectl(cluster, "-n", ns, "rollout", "status", "deployment/httpd",
                    "--timeout=120s", timeout=150)
        ctx = make_ctx(cluster, ns, journal, dict(HTTPD))
        spec = ProbeBreak(selector=HTTPD, probe="readiness", duration_s=4, method=method)
        outcome = ProbeBreakFault(spec).inject(ctx)
        (pod,) = outcome.targets
        d = outcome.details
        print(f"\nreadiness/{method} {pod}: left after {d['left_endpoints_after_s']}, "
              f"rejoined {d['rejoined_endpoints_after_clear_s']} after clear")
        left = d["left_endpoints_after_s"][pod]  # type: ignore[index]
        assert left is not None and left < 4, "pod never left the endpoints"
        assert d["rejoined_endpoints_after_clear_s"][pod] is not None  # type: ignore[index]
        assert d["restart_count_after"] == d["restart_count_before"]
        assert d["probe_settings"][pod]["periodSeconds"] == 1  # type: ignore[index]
        assert pending_in(journal.path) == []
        if method == "network":
            assert _block_gone(cluster, ns, pod)
            assert any("shares port 8080" in w for w in d["warnings"])  # type: ignore[attr-defined]
        else:
            state = kprobes.admin_state(cluster.kube, ns, pod, 8080)
            assert state["probes"]["readiness"]["failing"] is False


@pytest.mark.parametrize("method", ["admin", "network"])
def test_liveness_break_restarts_once_near_predicted_latency(cluster: Cluster,
                                                             journal: Journal,
                                                             method: str) -> None:
    """14 s: the kill (~6 s) plus the 5 s graceful stop fit; in network mode the block is gone
    before the new container's startup probe (30 x 1 s) could give up, so exactly one restart."""
    with namespace(cluster, f"kc-live-{method}", "httpd-replicated.yaml") as ns:
        ctx = make_ctx(cluster, ns, journal, dict(HTTPD))
        spec = ProbeBreak(selector=HTTPD, probe="liveness", duration_s=14, method=method)
        outcome = ProbeBreakFault(spec).inject(ctx)
        (pod,) = outcome.targets
        d = outcome.details
        predicted = d["predicted_restart_latency_s"]
        observed = d["observed_restart_latency_s"][pod]  # type: ignore[index]
        killed = d["kill_decided_after_s"][pod]  # type: ignore[index]
        print(f"\nliveness/{method} restart of {pod}: kill decided after {killed}s, "
              f"restartCount bumped after {observed}s, predicted {predicted}s "
              f"(initialDelay 0 + period 2 x failureThreshold 3)")
        assert predicted == 6
        before = d["restart_count_before"][pod]  # type: ignore[index]
        assert d["restart_count_after"][pod] == before + 1  # type: ignore[index]
        # the kubelet counts failures on its own period grid and then stops the container
        # (graceful: SHUTDOWN_DELAY 5 s in this workload) before the new one is counted
        assert observed is not None and predicted - 2 <= observed <= predicted + 15
        # Killing events carry whole-second timestamps: allow 1 s either side of the window
        low, high = d["predicted_kill_window_s"]  # type: ignore[misc]
        assert (low, high) == (4, 7)
        assert killed is not None and low - 1 <= killed <= high + 1
        assert pod in {q.metadata.name for q in pods(cluster, ns, "app=httpd")}, \
            "the pod must be restarted in place, not replaced"
        assert pending_in(journal.path) == []


EXEC_PROBE = """
apiVersion: v1
kind: Pod
metadata: {name: exec-probe, labels: {app: exec-probe}}
spec:
  containers:
    - name: httpd
      image: kube-chaos/httpd:dev
      imagePullPolicy: Never
      args: ["--addr=:8080"]
      ports: [{containerPort: 8080}]
      readinessProbe: {exec: {command: ["/httpd", "--version"]}, periodSeconds: 5}
"""


def test_network_mode_refuses_exec_probes(cluster: Cluster, journal: Journal) -> None:
    with namespace(cluster, "kc-exec") as ns:
        kubectl(cluster, "-n", ns, "apply", "-f", "-", stdin=EXEC_PROBE)
        kubectl(cluster, "-n", ns, "wait", "pod/exec-probe", "--for=jsonpath={.status.phase}="
                "Running", "--timeout=90s", timeout=100)
        ctx = make_ctx(cluster, ns, journal, {"app": "exec-probe"})
        spec = ProbeBreak(selector=Selector.of({"app": "exec-probe"}), probe="readiness",
                          duration_s=1, method="network")
        with pytest.raises(InjectionFailed,
                           match=r"network mode cannot break an exec probe.*use method: admin"):
            ProbeBreakFault(spec).inject(ctx)
        assert pending_in(journal.path) == [], "nothing may be journaled for a refused break"
