"""Blast-radius rules over resolved targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import ExperimentInvalid
from chaos.model import BlastRadius
from chaos.model.parse import parse_experiment
from chaos.plan.blast import node_violations, pod_violations


def test_pod_limits() -> None:
    assert pod_violations(BlastRadius(max_pods=2), "pod-kill", ["a", "b"], 3) == []
    assert pod_violations(BlastRadius(max_pods=1), "pod-kill", ["a", "b"], 3) == [
        "pod-kill would hit 2 pods (a, b); the blast radius allows 1"]
    assert pod_violations(BlastRadius(max_percent=34), "pod-kill", ["a"], 3) == []
    assert pod_violations(BlastRadius(max_percent=33), "pod-kill", ["a"], 3) == [
        "pod-kill would hit 1 of 3 pods (33 %); the blast radius allows 33 % (0 pod(s))"]


def test_node_limits_and_the_control_plane() -> None:
    one = BlastRadius()
    assert node_violations(one, "drain", ["w1"], [], []) == []
    assert node_violations(one, "drain", ["w1", "w2"], [], []) == [
        "drain would hit 2 nodes (w1, w2); the blast radius allows 1 at a time (raise maxNodes "
        "to allow more)"]
    assert node_violations(one, "node-loss", ["cp"], ["cp"], []) == [
        "node-loss would hit control-plane node(s) cp, which only an experiment naming them in "
        "nodes: may do"]
    assert node_violations(one, "node-loss", ["cp"], ["cp"], ["cp"]) == []


def test_merged_takes_the_stricter_limit() -> None:
    a = BlastRadius(max_pods=3, max_percent=None, max_nodes=2)
    b = BlastRadius(max_pods=None, max_percent=50, max_nodes=1)
    assert a.merged(b) == BlastRadius(max_pods=3, max_percent=50, max_nodes=1)


def test_blast_radius_in_the_experiment(good: str, exp_dir: Path) -> None:
    text = good.replace("  timeout: 180s", "  timeout: 180s\n  blastRadius: {maxPods: 2, "
                        "maxPercent: 50, maxNodes: 1}")
    exp = parse_experiment(text, exp_dir / "x.yaml")
    assert exp.blast_radius == BlastRadius(max_pods=2, max_percent=50.0, max_nodes=1)
    over = text.replace("      count: 1\n", "      count: 3\n")
    with pytest.raises(ExperimentInvalid) as err:
        parse_experiment(over, exp_dir / "x.yaml")
    assert str(err.value).endswith(
        "x.yaml:25: spec.faults[0].count: 3 pods exceeds the blast radius (maxPods: 2); raise "
        "spec.blastRadius to allow it")


@pytest.mark.parametrize(("fault", "limits", "expected"), [
    ("{type: control-plane-loss, count: 3}", "{}",
     "spec.faults[0].count: 3 nodes exceeds the blast radius (maxNodes: 1)"),
    ("{type: cordon, count: 2}", "{}",
     "spec.faults[0].count: 2 nodes exceeds the blast radius (maxNodes: 1)"),
    ("{type: drain, count: 3}", "{maxNodes: 2}",
     "spec.faults[0].count: 3 nodes exceeds the blast radius (maxNodes: 2)"),
    ("{type: node-loss, count: 2}", "{}",
     "spec.faults[0].count: 2 nodes exceeds the blast radius (maxNodes: 1)"),
    ("{type: pod-kill, percent: 50}", "{maxPods: 1}",
     "spec.faults[0].percent: 2 pods (50 % of 3) exceeds the blast radius (maxPods: 1)"),
    ("{type: container-kill, count: 2}", "{maxPercent: 50}",
     "spec.faults[0].count: 2 pods exceeds the blast radius (maxPercent: 50 % of "
     "spec.workload.replicas, 3)"),
    ("{type: partition, count: 3, peer: {cidr: 10.0.0.0/8}}", "{maxPods: 2}",
     "spec.faults[0].count: 3 pods exceeds the blast radius (maxPods: 2)"),
    ("{type: probe-break, percent: 100}", "{maxPercent: 34}",
     "spec.faults[0].percent: 3 pods (100 % of 3) exceeds the blast radius (maxPercent: 34 %"),
])
def test_every_fault_whose_target_count_the_file_gives_is_checked_at_collection(
        good: str, exp_dir: Path, fault: str, limits: str, expected: str) -> None:
    text = good.replace("    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n",
                        f"    - {fault}\n").replace("  timeout: 180s",
                                                  f"  timeout: 180s\n  blastRadius: {limits}")
    with pytest.raises(ExperimentInvalid) as err:
        parse_experiment(text, exp_dir / "x.yaml")
    assert expected in str(err.value)


@pytest.mark.parametrize(("fault", "limits"), [
    ("{type: control-plane-loss, count: 2}", "{maxNodes: 2}"),
    ("{type: pod-kill, percent: 34}", "{maxPods: 2, maxPercent: 67}"),  # 2 of 3
    ("{type: pod-kill, percent: 50, selector: {app: httpd, tier: web}}", "{maxPods: 1}"),
    ("{type: latency, count: 1, latency: 10ms}", "{maxPercent: 34}"),
])
def test_counts_within_the_blast_radius_pass(good: str, exp_dir: Path, fault: str,
                                             limits: str) -> None:
    """A share of pods of another selector is counted by the cluster only (checked when the
    fault runs)."""
    text = good.replace("    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n",
                        f"    - {fault}\n").replace("  timeout: 180s",
                                                  f"  timeout: 180s\n  blastRadius: {limits}")
    assert parse_experiment(text, exp_dir / "x.yaml").faults


def _with_faults(good: str, faults: str, limits: str) -> str:
    return good.replace("    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n",
                        faults).replace("  timeout: 180s",
                                        f"  timeout: 180s\n  blastRadius: {limits}")


@pytest.mark.parametrize(("faults", "limits"), [
    ("    - {type: pod-kill, percent: 10}\n", "{maxPods: 1}"),  # 10 % of 3 is one pod
    ("    - {type: pod-kill, count: 3}\n", "{maxPercent: 100}"),  # exactly at the limit
    ("    - {type: pod-kill, count: 3}\n", "{maxPercent: 99.999999999}"),  # within rounding
])
def test_counts_at_the_blast_radius_pass(good: str, exp_dir: Path, faults: str,
                                         limits: str) -> None:
    assert parse_experiment(_with_faults(good, faults, limits), exp_dir / "x.yaml").faults


@pytest.mark.parametrize(("faults", "limits", "expected"), [
    # 33.5 % of 3 is 1.005 pods: rounded up to 2
    ("    - {type: pod-kill, percent: 33.5}\n", "{maxPods: 1}",
     "x.yaml:24: spec.faults[0].percent: 2 pods (33.5 % of 3) exceeds the blast radius "
     "(maxPods: 1); raise spec.blastRadius to allow it"),
    ("    - {type: pod-kill, count: 2}\n", "{maxPercent: 66}",
     "x.yaml:24: spec.faults[0].count: 2 pods exceeds the blast radius (maxPercent: 66 % of "
     "spec.workload.replicas, 3); raise spec.blastRadius to allow it"),
    # a share of another selector's pods is left to the run; the faults after it are checked
    ("    - {type: pod-kill, percent: 50, selector: {app: other}}\n"
     "    - {type: pod-kill, count: 3}\n", "{maxPods: 2}",
     "x.yaml:25: spec.faults[1].count: 3 pods exceeds the blast radius (maxPods: 2); raise "
     "spec.blastRadius to allow it"),
])
def test_counts_over_the_blast_radius_are_refused_in_full(good: str, exp_dir: Path, faults: str,
                                                         limits: str, expected: str) -> None:
    with pytest.raises(ExperimentInvalid) as err:
        parse_experiment(_with_faults(good, faults, limits), exp_dir / "x.yaml")
    assert str(err.value).replace(str(exp_dir / "x.yaml"), "x.yaml") == expected


def test_percent_limits_at_their_edges_in_full() -> None:
    half = BlastRadius(max_percent=50)
    assert pod_violations(half, "pod-kill", ["a"], 2) == []  # exactly the limit
    assert pod_violations(half, "pod-kill", [], 0) == []  # no replicas: no share to take
    assert pod_violations(half, "pod-kill", ["a"], 1) == [
        "pod-kill would hit 1 of 1 pods (100 %); the blast radius allows 50 % (0 pod(s))"]
    assert pod_violations(half, "pod-kill", ["a", "b", "c"], 4) == [
        "pod-kill would hit 3 of 4 pods (75 %); the blast radius allows 50 % (2 pod(s))"]
    # over the limit by no more than float noise (1e-9 %) is within it
    assert pod_violations(BlastRadius(max_percent=49.999999999), "pod-kill", ["a"], 2) == []


def test_every_unnamed_control_plane_node_is_listed() -> None:
    assert node_violations(BlastRadius(max_nodes=2), "node-loss", ["cp1", "cp2"],
                           ["cp1", "cp2"], []) == [
        "node-loss would hit control-plane node(s) cp1, cp2, which only an experiment naming "
        "them in nodes: may do"]
