"""Autoscaling on the real cluster: metrics-server answers (`kubectl top`), an HPA scales the
workload out under a load-spike and back in afterwards, and the capped negative control (HPA
at maxReplicas 1) fails its p99 latency SLA. The two are started together, but a load-spike
needs the cluster to itself (its facet: scale-out hangs on the nodes' free capacity), so the
cluster lock run_experiment holds makes the second wait for the first (issue 20)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from chaos.cluster import metrics_server
from chaos.cluster.cache import cache_root
from chaos.cluster.versions import PINS
from chaos.engine.runner import ExperimentResult, RunEnv

pytestmark = pytest.mark.chaos
EXPERIMENTS = Path(__file__).parents[2] / "experiments"


def _kubectl(env: RunEnv) -> list[str]:
    binary = cache_root() / "bin" / f"kubernetes-{PINS.kubernetes}" / "kubectl"
    assert binary.exists(), f"{binary} missing: `kube-chaos cluster up` builds it"
    return [str(binary), "--kubeconfig", env.kubeconfig, "--context", env.kube.context]


def test_metrics_api_answers_kubectl_top(chaos_env: RunEnv) -> None:
    # what an experiment that deploys an HPA gets first on a kind cluster kube-chaos made
    assert chaos_env.provide_metrics is not None
    chaos_env.provide_metrics()
    base = _kubectl(chaos_env)
    nodes = chaos_env.kube.core.list_node().items
    assert metrics_server.node_metrics(base) == len(nodes)
    top = subprocess.run([*base, "top", "nodes", "--no-headers"], capture_output=True,
                         text=True, timeout=30, check=False)
    assert top.returncode == 0, top.stderr
    assert len(top.stdout.splitlines()) == len(nodes)
    deployed = subprocess.run([*base, "-n", "kube-system", "get", "deployment", "metrics-server",
                               "-o", "jsonpath={.spec.template.spec.containers[0].image}"],
                              capture_output=True, text=True, timeout=30, check=False)
    assert deployed.stdout == metrics_server.image_tag()


def test_hpa_scales_out_and_in_and_the_capped_control_fails_p99(
        chaos_experiment: Callable[..., ExperimentResult]) -> None:
    with ThreadPoolExecutor(2) as pool:
        scaled_f = pool.submit(chaos_experiment, EXPERIMENTS / "hpa-scale-out.yaml")
        capped_f = pool.submit(chaos_experiment, EXPERIMENTS / "hpa-capped-negative.yaml")
        scaled, capped = scaled_f.result(), capped_f.result()

    assert scaled.error is None, scaled.error
    assert scaled.verdict == "pass", [(r.name, r.observed) for r in scaled.slas]
    fig = json.loads(Path(scaled.report_path or "").read_text())["autoscaling"]
    assert fig["initial_pods"] == 1 and fig["peak_pods"] > 1
    # the HPA decided, its pod was created, then Ready: in that order, within the SLA
    assert 0 < fig["first_rescale_s"] <= fig["first_pod_added_s"] + 1.0
    assert fig["first_pod_added_s"] < fig["scale_out_s"] <= 45
    assert fig["rescales"][0]["message"].startswith("SuccessfulRescale: New size:")
    # pods over time went up, then back down to one after the spike
    pods = [p["pods"] for p in fig["series"]]
    peak = pods.index(max(pods))
    assert pods[0] == 1 and pods[-1] == 1 and 1 in pods[peak:]
    assert fig["scale_in_s"] is not None and fig["scale_in_s"] <= 70
    assert scaled.sla("maxScaleOutTime").observed == pytest.approx(fig["scale_out_s"], abs=0.01)
    lat = fig["latency_ms"]
    assert lat["ramp"]["requests"] > 0 and lat["ramp"]["p99_ms"] is not None

    # the capped control: expect: fail, and it did fail, on p99 latency
    assert capped.error is None, capped.error
    assert capped.verdict == "pass", [(r.name, r.observed) for r in capped.slas]
    p99 = capped.sla("p99Latency")
    assert not p99.passed and p99.observed is not None and p99.observed > 2000
    capped_fig = json.loads(Path(capped.report_path or "").read_text())["autoscaling"]
    assert capped_fig["peak_pods"] == 1 and capped_fig["scale_out_s"] is None
