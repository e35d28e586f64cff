"""The harness end to end on the real cluster: faults under real locust load.

Each SLA check here has its negative control: the same fault against a workload that
really breaks, where the harness must say so.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from generator_checks import assert_kept_schedule

from chaos import assert_slas
from chaos.errors import SLAViolated
from chaos.model.parse import load_experiment

pytestmark = pytest.mark.chaos
EXPERIMENTS = Path(__file__).parents[2] / "experiments"
REPORT_KEYS = {"schema_version", "experiment", "seed", "started_at", "ended_at", "cluster",
               "fault", "load", "recovery", "slas", "verdict"}


def _report(result) -> dict:  # type: ignore[no-untyped-def]
    assert result.report_path is not None
    return json.loads(Path(result.report_path).read_text())


def test_pod_kill_on_replicated_workload_keeps_serving(chaos_experiment, request) -> None:
    exp = load_experiment(EXPERIMENTS / "pod-kill-replicated.yaml")
    # a budget this run cannot spend: the SLA is judged, and passes, on a measured count
    result = chaos_experiment(replace(exp, slas=replace(exp.slas, max_failed_requests=10000)))
    assert result.error is None
    assert result.verdict == "pass", [str(s) for s in result.slas]
    budget = result.sla("maxFailedRequests")
    assert budget.passed and budget.observed is not None and budget.observed >= 0
    report = _report(result)
    assert report.keys() >= REPORT_KEYS
    assert report["load"]["requests_total"] > 1000, "load ran throughout the experiment"
    assert_kept_schedule(report)  # closed loop
    assert report["recovery"]["recovery_seconds"] > 0, "the killed pod was really replaced"
    assert all(s["observed"] is not None for s in report["slas"])
    # the killed pod is gone and a new one took its place
    (fault,) = result.faults
    assert len(fault.targets) == 1
    events = report["timeline"]["events"]
    assert any(e["kind"] == "pod-deleted" and e["name"] == fault.targets[0] for e in events)
    assert sum(e["kind"] == "pod-added" for e in events) >= 4
    props = dict(request.node.user_properties)
    assert props["chaos.verdict"] == "pass" and "chaos.sla.maxOutage" in props


def test_negative_control_single_replica_breaks_continuity(chaos_experiment) -> None:
    """The same pod kill with one replica must be *reported* as an outage."""
    exp = load_experiment(EXPERIMENTS / "pod-kill-single-negative.yaml")
    # judged as a normal experiment; recovery must be seen to exceed a 1 s threshold too
    # and an error budget of not one failed request (maxFailedRequests) must be seen spent
    exp = replace(exp, expect="pass", slas=replace(exp.slas, max_recovery_s=1.0,
                                                   max_failed_requests=0))
    result = chaos_experiment(exp)
    assert result.error is None
    assert result.verdict == "fail"
    outage = result.sla("maxOutage")
    assert not outage.passed and outage.observed is not None and outage.observed > 1.0
    recovery = result.sla("maxRecovery")
    assert not recovery.passed and recovery.observed is not None and recovery.observed > 1.0
    failed = result.sla("maxFailedRequests")
    assert not failed.passed and failed.observed is not None and failed.observed >= 1
    report = _report(result)
    assert report["load"]["longest_outage_seconds"] > 1.0
    assert report["load"]["outages"], "the report lists the outage window"
    with pytest.raises(SLAViolated, match=r"maxOutage: observed .*s exceeds"):
        assert_slas(result)


def test_container_kill_restarts_in_place(chaos_experiment, chaos_env) -> None:
    result = chaos_experiment(EXPERIMENTS / "container-kill-replicated.yaml")
    assert result.verdict == "pass", [str(s) for s in result.slas]
    assert result.restarts == 1
    (fault,) = result.faults
    pod_name = fault.targets[0].split("/")[0]
    assert fault.details["pod_uid"][pod_name]  # type: ignore[index]
    events = _report(result)["timeline"]["events"]
    assert not any(e["kind"] == "pod-deleted" and e["name"] == pod_name for e in events), \
        "the pod itself survived: only its container restarted"
    assert any(e["kind"] == "restart" and e["name"] == pod_name for e in events)


def test_negative_control_restarts_sla_fails_when_nothing_restarts(chaos_experiment) -> None:
    """expectedRestarts must be able to fail: a pod kill restarts no container."""
    exp = load_experiment(EXPERIMENTS / "pod-kill-replicated.yaml")
    exp = replace(exp, slas=replace(exp.slas, expected_restarts=1))
    result = chaos_experiment(exp)
    restarts = result.sla("expectedRestarts")
    assert not restarts.passed and restarts.observed == 0
    assert result.verdict == "fail"


def test_unhealthy_service_aborts_before_any_fault(chaos_experiment) -> None:
    exp = load_experiment(EXPERIMENTS / "pod-kill-replicated.yaml")
    broken = replace(exp, load=replace(exp.load, path="/no-such-page", warmup_s=3.0))
    result = chaos_experiment(broken)
    assert result.verdict == "error"
    assert "unhealthy before any fault" in (result.error or "")
    assert result.faults == [], "no fault may be injected into an unhealthy service"


def test_cluster_scoped_objects_are_created_tracked_and_deleted(chaos_experiment, chaos_env,
                                                                tmp_path) -> None:
    """A ClusterRole outlives the namespace: allowed explicitly, it is journaled before it is
    created and deleted (and confirmed gone) when the run ends."""
    import uuid

    role = f"kc-harness-{uuid.uuid4().hex[:6]}"
    workloads = tmp_path / "workloads"
    workloads.mkdir()
    (workloads / "httpd-replicated.yaml").write_text(
        (EXPERIMENTS / "workloads" / "httpd-replicated.yaml").read_text())
    (workloads / "role.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
        f"metadata: {{name: {role}}}\nrules: [{{apiGroups: [''], resources: [pods], "
        "verbs: [get]}]\n")
    text = (EXPERIMENTS / "pod-kill-replicated.yaml").read_text().replace(
        "manifests: [workloads/httpd-replicated.yaml]",
        "manifests: [workloads/httpd-replicated.yaml, workloads/role.yaml]\n"
        "    clusterScoped: allow")
    exp_path = tmp_path / "with-role.yaml"
    exp_path.write_text(text)
    result = chaos_experiment(exp_path)
    assert result.verdict == "pass", (result.error, [str(s) for s in result.slas])
    undo = _report(result)["undo"]
    assert [(u["kind"], u["status"]) for u in undo] == [("delete-object", "undone")], undo
    assert undo[0]["reason"] == "", "it existed and was deleted (not 'already gone')"
    from chaos.k8s.objects import object_state

    assert object_state(chaos_env.kube, "rbac.authorization.k8s.io/v1", "ClusterRole",
                        role) == "absent"
