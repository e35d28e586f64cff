"""Rollouts and rollbacks on a real kind cluster.

Fault-level tests drive the faults directly in a namespace of their own: a good rollout within
its strategy, three kinds of broken release (missing image, crash loop, failing readiness) that
each stall while the old pods serve, and a StatefulSet whose rollback needs its stuck pod forced
out. Experiment-level tests run the bundled experiments under locust load and check the figures
each report carries; the negative controls must be detected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_faults_helpers import (
    Cluster,
    cluster_from_env,
    ensure_workload_image,
    kubectl,
    make_ctx,
    namespace,
    pods,
    wait_for,
)

from chaos.engine.runner import RunEnv
from chaos.errors import InjectionFailed
from chaos.faults.rollout import RollbackFault, RolloutFault
from chaos.journal.store import Journal, pending_in
from chaos.k8s import controllers as kc
from chaos.model.experiment import ControllerRef, Rollback, Rollout
from chaos.model.parse import load_experiment

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]
EXPERIMENTS = Path(__file__).parents[2] / "experiments"
DEPLOY = ("Deployment", "httpd-rollout")


@pytest.fixture(scope="module")
def cluster(chaos_env: RunEnv) -> Iterator[Cluster]:
    c = cluster_from_env(chaos_env)
    ensure_workload_image(c)
    yield c


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.jsonl")


def _template(cluster: Cluster, ns: str, kind: str, name: str) -> dict[str, Any]:
    obj = kc.read(cluster.kube, ns, kind, name)
    assert obj is not None
    return kc.template_of(obj)


def _timeline(ctx: Any) -> str:
    """The Observer's events, for a failure message."""
    return "\n".join(f"{e.t:.3f} {e.kind} {e.name} {e.detail}" for e in ctx.observer.events())


def _assert_restored(cluster: Cluster, ns: str, journal: Journal, fault: Any, ctx: Any,
                     original: dict[str, Any], kind: str, name: str) -> None:
    outcomes = fault.undo(ctx)
    assert outcomes and all(o.settled for o in outcomes), [o.describe() for o in outcomes]
    assert _template(cluster, ns, kind, name) == original, "the recorded template, exactly"
    assert pending_in(journal.path) == []


# --- faults ----------------------------------------------------------------------------------


def test_good_rollout_completes_within_its_strategy_and_is_undone(cluster: Cluster,
                                                                  journal: Journal) -> None:
    with namespace(cluster, "kc-rollout-good", "httpd-rollout.yaml") as ns:
        ctx = make_ctx(cluster, ns, journal, {"app": "httpd-rollout"})
        original = _template(cluster, ns, *DEPLOY)
        fault = RolloutFault(Rollout(env=(("RELEASE", "2"),), wait_s=60))
        outcome = fault.inject(ctx)
        d = outcome.details
        assert outcome.targets == ["Deployment/httpd-rollout"]
        assert d["completed"] is True and d["stalled"] is False, d["summary"]
        assert 3 < d["rollout_seconds"] < 60  # three pods, each ≈ 2 s startup + readiness
        assert (d["declared_max_surge"], d["declared_max_unavailable"]) == (1, 0)
        assert d["max_surge_observed"] == 1, "maxSurge 1 is used, and never exceeded"
        assert d["max_unavailable_observed"] == 0 and d["min_ready_observed"] == 3
        assert d["new_replicaset"] != d["old_replicaset"]
        assert (d["revision_before"], d["revision_after"]) == ("1", "2")
        assert list(d["ready_by_revision_at_end"].values()) == [3]
        [action] = pending_in(journal.path)
        assert action.kind == "restore-template"
        _assert_restored(cluster, ns, journal, fault, ctx, original, *DEPLOY)


BROKEN = {
    "missing-image": {"image": "kube-chaos/httpd:missing"},
    "crash-loop": {"env": (("STARTUP_DELAY", "never"),)},
    "failing-readiness": {"args": ("--addr=:8080", "--fail-readiness")},
}


def _broken_as_intended(variant: str, pod: Any) -> bool:
    """The surge pod fails the way the variant means to, not some other way."""
    [status] = pod.status.container_statuses or [None]
    if status is None:
        return False
    waiting = status.state.waiting.reason if status.state.waiting else None
    if variant == "missing-image":
        return bool(waiting == "ErrImageNeverPull")
    if variant == "crash-loop":
        last = status.last_state.terminated if status.last_state else None
        return status.restart_count >= 1 and last is not None and last.exit_code == 1
    last = status.last_state.terminated if status.last_state else None
    if last is not None and last.exit_code == 2:
        pytest.fail("the loaded kube-chaos/httpd:dev predates --fail-readiness (it exits 2 on "
                    "an unknown flag): another checkout reloaded its own build of the shared "
                    "tag meanwhile; rerun")
    return bool(status.state.running and not status.ready and status.restart_count == 0)


@pytest.mark.parametrize("variant", list(BROKEN))
def test_broken_release_stalls_at_the_deadline_while_the_old_pods_serve(
        cluster: Cluster, journal: Journal, variant: str) -> None:
    ensure_workload_image(cluster)  # this build: --fail-readiness is new
    with namespace(cluster, f"kc-rollout-{variant}", "httpd-rollout.yaml") as ns:
        ctx = make_ctx(cluster, ns, journal, {"app": "httpd-rollout"})
        original = _template(cluster, ns, *DEPLOY)
        fault = RolloutFault(Rollout(wait_s=60, **BROKEN[variant]))  # type: ignore[arg-type]
        outcome = fault.inject(ctx)
        d = outcome.details
        print(f"{variant}: stalled after {d['stalled_after_s']}s: {d['summary']}")
        assert d["stalled"] is True and d["completed"] is False, d["summary"]
        assert d["rollout_seconds"] is None
        assert 20 <= d["stalled_after_s"] < 40, "progressDeadlineSeconds is 20"
        assert str(d["stall_reason"]).startswith("ProgressDeadlineExceeded")
        assert d["old_pods_kept_serving"] is True and d["old_ready_at_end"] == 3
        assert d["min_old_ready_observed"] == 3 and d["max_unavailable_observed"] == 0
        assert d["max_surge_observed"] == 1
        new = [p for p in pods(cluster, ns, "app=httpd-rollout")
               if p.metadata.labels["pod-template-hash"] not in d["ready_by_revision_at_end"]]
        assert len(new) == 1 and _broken_as_intended(variant, new[0]), new
        _assert_restored(cluster, ns, journal, fault, ctx, original, *DEPLOY)
        wait_for("the broken pod gone", lambda: len(pods(cluster, ns, "app=httpd-rollout")) == 3,
                 30)


def test_statefulset_rollout_stall_and_rollback_with_its_stuck_pod_forced_out(
        cluster: Cluster, journal: Journal) -> None:
    sts = ("StatefulSet", "httpd-sts")
    with namespace(cluster, "kc-rollout-sts", "httpd-statefulset.yaml") as ns:
        ctx = make_ctx(cluster, ns, journal, {"app": "httpd-sts"})
        original = _template(cluster, ns, *sts)
        good = RolloutFault(Rollout(env=(("RELEASE", "2"),), wait_s=60,
                                    target=ControllerRef("StatefulSet", "httpd-sts")))
        d = good.inject(ctx).details
        print(f"StatefulSet: {d['summary']}")
        assert d["completed"] is True, d["summary"]
        assert (d["declared_max_surge"], d["declared_max_unavailable"]) == (0, 1)
        # never a spare pod, and at least one down at a time; more than one is a readiness flap
        # of the other pod (seen once on a loaded machine) and must then be reported as such
        assert d["max_surge_observed"] == 0 and d["max_unavailable_observed"] >= 1, \
            _timeline(ctx)
        assert d["unavailable_within_strategy"] is (d["max_unavailable_observed"] <= 1)
        assert d["update_revision"] == d["current_revision"] != d["revision_before"]
        released = _template(cluster, ns, *sts)

        bad = RolloutFault(Rollout(image="kube-chaos/httpd:missing", wait_s=15))
        d = bad.inject(ctx).details
        assert d["stalled"] is True and "no progress deadline" in str(d["stall_reason"])
        assert d["old_ready_at_end"] == 1 and d["old_pods_kept_serving"] is True

        back = RollbackFault(Rollback(wait_s=60))
        r = back.inject(ctx).details
        print(f"StatefulSet: {r['summary']} (controller: {r['rollback_seconds']}s)")
        assert r["forced_pods"] == ["httpd-sts-1"], "the documented forced rollback"
        assert r["whole"] is True and r["completed"] is True, r["summary"]
        assert r["undo"].startswith("covered by the earlier fault's restore-template")
        assert _template(cluster, ns, *sts) == released
        assert back.undo(ctx) == []
        assert [o.settled for o in bad.undo(ctx)] == [True]
        _assert_restored(cluster, ns, journal, good, ctx, original, *sts)


def test_rollback_on_its_own_restores_what_it_found(cluster: Cluster, journal: Journal) -> None:
    with namespace(cluster, "kc-rollback-alone", "httpd-rollout.yaml") as ns:
        ctx = make_ctx(cluster, ns, journal, {"app": "httpd-rollout"})
        with pytest.raises(InjectionFailed, match="no previous revision"):
            RollbackFault(Rollback()).inject(ctx)
        assert pending_in(journal.path) == []
        # released by someone else (not by this run): the rollback's undo must bring it back
        kubectl(cluster, "-n", ns, "set", "env", "deployment/httpd-rollout", "RELEASE=2")
        kubectl(cluster, "-n", ns, "rollout", "status", "deployment/httpd-rollout",
                "--timeout=120s", timeout=150)
        released = _template(cluster, ns, *DEPLOY)
        back = RollbackFault(Rollback(wait_s=60))
        r = back.inject(ctx).details
        assert r["undo"] == "restore-template recorded" and r["whole"] is True, r["summary"]
        assert (r["from_revision"], r["to_revision"]) == (2, 1)
        assert 0 < r["whole_seconds"] <= r["rollback_seconds"] + 2
        assert r["max_unavailable_observed"] == 0 and r["max_surge_observed"] == 1
        _assert_restored(cluster, ns, journal, back, ctx, released, *DEPLOY)


# --- experiments under load ------------------------------------------------------------------


def _details(result: Any, index: int = 0) -> dict[str, Any]:
    report = json.loads(Path(result.report_path).read_text())
    details: dict[str, Any] = report["fault"]["faults"][index]["details"]
    return details


def test_good_rollout_under_load_and_expect_stalled_can_fail(chaos_experiment) -> None:
    """rollout-good, with expectStalled turned around: the rollout completes without an outage,
    so the one SLA that says it stalled must fail (the SLA's negative control)."""
    exp = load_experiment(EXPERIMENTS / "rollout-good.yaml")
    result = chaos_experiment(replace(exp, slas=replace(exp.slas, expect_stalled=True)))
    assert result.error is None and result.verdict == "fail"
    assert [r.name for r in result.failed_slas] == ["expectStalled"]
    assert result.sla("maxOutage").passed and result.sla("maxErrorRate").passed
    d = _details(result)
    assert d["completed"] is True and d["max_unavailable_observed"] == 0
    assert d["max_surge_observed"] <= d["declared_max_surge"]
    assert result.undo_failures == []


def test_bad_rollout_under_load_stalls_without_outage(chaos_experiment) -> None:
    result = chaos_experiment(EXPERIMENTS / "rollout-bad-stalls.yaml")
    assert result.verdict == "pass", [str(s) for s in result.slas]
    d = _details(result)
    assert d["stalled"] is True and d["old_pods_kept_serving"] is True
    assert result.requests_failed == 0 and result.requests_total > 500


def test_negative_control_recreate_with_a_bad_image_is_an_outage(chaos_experiment) -> None:
    exp = load_experiment(EXPERIMENTS / "rollout-bad-recreate-negative.yaml")
    result = chaos_experiment(replace(exp, expect="pass"))
    assert result.error is None and result.verdict == "fail"
    outage = result.sla("maxOutage")
    assert not outage.passed and outage.observed is not None and outage.observed > 15
    assert result.sla("expectStalled").passed, "it stalls too, but that is not the point"
    d = _details(result)
    assert d["max_unavailable_observed"] == 3 == d["declared_max_unavailable"]
    assert d["old_pods_kept_serving"] is False and d["old_ready_at_end"] == 0


def test_rollback_after_a_bad_rollout_times_the_way_back_to_whole(chaos_experiment) -> None:
    result = chaos_experiment(EXPERIMENTS / "rollback-after-bad.yaml")
    assert result.verdict == "pass", [str(s) for s in result.slas]
    rollout, rollback = _details(result, 0), _details(result, 1)
    assert rollout["stalled"] is True
    assert rollback["whole"] is True and 0 < rollback["whole_seconds"] < 10
    assert rollback["to_revision"] == 1 and rollback["from_revision"] == 2
    assert rollback["undo"].startswith("covered by the earlier fault's restore-template")
    assert result.undo_failures == []
    assert result.requests_failed == 0
