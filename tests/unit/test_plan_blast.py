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
