"""The bundled node and probe experiments through the whole harness, under locust load.

Each positive experiment must pass with its recovery figures in the report; each negative
control must be *detected*: run as a normal experiment (expect: pass), it has to fail the SLA
that names the breakage.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from kind_nodes import container_state

from chaos.model.parse import load_experiment

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]
EXPERIMENTS = Path(__file__).parents[2] / "experiments"


def _report(result: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(result.report_path).read_text())
    return data


def _details(result: Any) -> dict[str, Any]:
    (fault,) = _report(result)["fault"]["faults"]
    details: dict[str, Any] = fault["details"]
    return details


def test_drain_moves_the_workload_and_reports_the_drain_duration(chaos_experiment) -> None:
    result = chaos_experiment(EXPERIMENTS / "drain-replicated.yaml")
    assert result.verdict == "pass", [str(s) for s in result.slas]
    details = _details(result)
    assert details["blocked"] is False and details["evicted"]
    assert details["drain_seconds"] > 0
    assert result.requests_total > 1000


def test_strict_pdb_drain_is_reported_blocked_with_the_pdb_name(chaos_experiment) -> None:
    result = chaos_experiment(EXPERIMENTS / "drain-pdb-strict-negative.yaml")
    assert result.verdict == "pass", [str(s) for s in result.slas]
    details = _details(result)
    assert details["blocked"] is True
    assert details["blocked_by"] == ["httpd-strict"]
    assert result.sla("expectBlocked").passed


def test_node_loss_replicated_keeps_serving_and_reports_node_figures(chaos_experiment) -> None:
    result = chaos_experiment(EXPERIMENTS / "node-loss-replicated.yaml")
    assert result.verdict == "pass", [str(s) for s in result.slas]
    details = _details(result)
    (node,) = result.faults[0].targets
    assert details["time_to_notready_s"][node] > 10, "a lost node turns NotReady, not at once"
    assert details["time_to_ready_after_restore_s"][node] is not None
    assert details["tolerations"] == {"node.kubernetes.io/not-ready": 10,
                                      "node.kubernetes.io/unreachable": 10}
    events = _report(result)["timeline"]["events"]
    assert any("TaintManagerEviction" in e["detail"] for e in events), \
        "pods on the lost node were evicted after their toleration"
    assert result.recovery_seconds is not None
    # the paused node's container was resumed, and the undo says so
    assert container_state(node) == "running"
    assert [(u["kind"], u["status"]) for u in _report(result)["undo"]] == [
        ("unpause-node", "undone")]


def test_negative_control_node_loss_single_replica_breaks_continuity(chaos_experiment) -> None:
    exp = load_experiment(EXPERIMENTS / "node-loss-single-negative.yaml")
    result = chaos_experiment(replace(exp, expect="pass"))
    assert result.error is None
    assert result.verdict == "fail"
    outage = result.sla("maxOutage")
    assert not outage.passed and outage.observed is not None and outage.observed > 10


def test_readiness_break_leaves_endpoints_without_restart(chaos_experiment) -> None:
    result = chaos_experiment(EXPERIMENTS / "readiness-break.yaml")
    assert result.verdict == "pass", [str(s) for s in result.slas]
    assert result.restarts == 0
    (pod,) = result.faults[0].targets
    events = _report(result)["timeline"]["events"]
    kinds = [e["kind"] for e in events if e["name"] == pod]
    assert "endpoint-removed" in kinds and "endpoint-added" in kinds[kinds.index(
        "endpoint-removed"):], "the pod left the endpoints and rejoined"


def test_negative_control_readiness_break_on_every_replica_is_an_outage(chaos_experiment) -> None:
    exp = load_experiment(EXPERIMENTS / "readiness-break-all-negative.yaml")
    result = chaos_experiment(replace(exp, expect="pass"))
    assert result.verdict == "fail"
    outage = result.sla("maxOutage")
    assert not outage.passed and outage.observed is not None and outage.observed > 5
    assert _report(result)["load"]["outages"]


def test_liveness_break_restarts_the_container_once(chaos_experiment) -> None:
    result = chaos_experiment(EXPERIMENTS / "liveness-break.yaml")
    assert result.verdict == "pass", [str(s) for s in result.slas]
    assert result.restarts == 1
    details = _details(result)
    (pod,) = result.faults[0].targets
    assert details["predicted_restart_latency_s"] == 6
    assert details["kill_decided_after_s"][pod] is not None
    assert details["kill_decided_after_s"][pod] <= 6 + 1.5


def test_startup_break_gets_the_container_killed_by_its_startup_probe(chaos_experiment) -> None:
    result = chaos_experiment(EXPERIMENTS / "startup-break.yaml")
    assert result.verdict == "pass", [str(s) for s in result.slas]
    assert result.restarts == 2, "our restart into the startup probe, then the kubelet's kill"
    details = _details(result)
    (pod,) = result.faults[0].targets
    assert details["predicted_restart_latency_s"] == 30
    events = _report(result)["timeline"]["events"]
    assert any(e["name"] == pod and "failed startup probe" in e["detail"] for e in events)
    assert not any(e["kind"] == "pod-deleted" and e["name"] == pod for e in events)
