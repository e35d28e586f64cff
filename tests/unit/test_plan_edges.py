"""The pure decisions at their edges: boundaries that are inclusive or not, defaults of missing
API fields, and the exact texts that reach reports and timeout messages."""

from __future__ import annotations

from typing import Any

import pytest

from chaos.errors import NotEnoughTargets
from chaos.model import SLASpec
from chaos.model.timeline import ClusterEvent, RequestRecord, SLAResult
from chaos.plan import drain, manifests, recovery, rollout, select, slas
from chaos.plan import timeline as tl

# --- target selection --------------------------------------------------------------------------


@pytest.mark.parametrize(("available", "percent", "expected"), [
    (200, 100, 200), (1000, 10.1, 101), (7, 100, 7),
])
def test_percent_of_many_targets(available: int, percent: float, expected: int) -> None:
    assert select.target_count(available, percent=percent) == expected


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"count": 1, "percent": 10}, "give either count or percent, not both"),
    ({"percent": 0}, "percent must be in (0, 100], got 0"),
    ({"percent": 100.5}, "percent must be in (0, 100], got 100.5"),
    ({"count": 0}, "count must be positive, got 0"),
])
def test_target_count_errors(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError) as info:
        select.target_count(5, **kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_not_enough_targets_lists_them() -> None:
    with pytest.raises(NotEnoughTargets) as info:
        select.choose(["b", "a", "c"], count=4, seed=1, salt="fault-0:pod-kill")
    assert str(info.value) == "fault-0:pod-kill: asked for 4 targets but only 3 exist (a, b, c)"


# --- SLA results -------------------------------------------------------------------------------


def rec(t: float, latency: float = 0.01, ok: bool = True) -> RequestRecord:
    return RequestRecord(t=t, latency_s=latency, ok=ok, status=200 if ok else 503)


def test_every_kind_of_sla_result_is_exact() -> None:
    records = tuple(rec(10 + i * 0.1, latency=(i + 1) / 1000) for i in range(100))
    obs = slas.Observation(records=records, fault_window=(10.0, 20.0), recovery_seconds=3.0,
                           restarts=2, steady_state_restored=False, drain_blocked=True)
    spec = SLASpec(max_error_rate=0.1, max_outage_s=1.0, p95_latency_ms=95.0,
                   p99_latency_ms=98.0, max_recovery_s=3.0, expected_restarts=2,
                   max_restarts=1, steady_state_restored=True, expect_blocked=True)
    assert slas.evaluate(spec, obs) == [
        SLAResult("maxErrorRate", 0.1, 0.0, True, "ratio", "<="),
        SLAResult("maxOutage", 1.0, 0.0, True, "s", "<=", bound_s=1.0),
        SLAResult("p95Latency", 95.0, pytest.approx(95.0), True, "ms", "<="),  # type: ignore[arg-type]
        SLAResult("p99Latency", 98.0, pytest.approx(99.0), False, "ms", "<="),  # type: ignore[arg-type]
        SLAResult("maxRecovery", 3.0, 3.0, True, "s", "<="),
        SLAResult("expectedRestarts", 2, 2.0, True, "count", ">="),
        SLAResult("maxRestarts", 1, 2.0, False, "count", "<="),
        SLAResult("steadyStateRestored", 1.0, 0.0, False, "bool", "=="),
        SLAResult("expectBlocked", 1.0, 1.0, True, "bool", "=="),
    ]


def test_slas_see_only_the_fault_window() -> None:
    # a slow failure before the window and another after it must not count
    records = (rec(5.0, latency=3.0, ok=False), rec(10.0), rec(11.0), rec(12.0),
               rec(20.0, latency=3.0, ok=False))
    obs = slas.Observation(records=records, fault_window=(10.0, 20.0))
    spec = SLASpec(max_error_rate=0.0, max_outage_s=0.0, p95_latency_ms=10.0,
                   p99_latency_ms=10.0)
    assert [(r.name, r.observed, r.passed) for r in slas.evaluate(spec, obs)] == [
        ("maxErrorRate", 0.0, True), ("maxOutage", 0.0, True),
        ("p95Latency", pytest.approx(10.0), True), ("p99Latency", pytest.approx(10.0), True)]


# --- recovery figures --------------------------------------------------------------------------


def ev(t: float, kind: str, name: str) -> ClusterEvent:
    return ClusterEvent(t, kind, name, "")


def test_event_boundaries() -> None:
    events = [ev(1.0, "restart", "a"), ev(2.0, "restart", "a"), ev(3.0, "restart", "b")]
    assert recovery.restarts(events, since=2.0) == 2  # since is inclusive
    assert recovery.restarts(events, until=2.0) == 1  # until is not
    assert recovery.first_event_after(events, "restart", 2.0) == events[1]
    assert recovery.first_event_after(events, "restart", 2.0, name="b") == events[2]


def test_fault_windows_pair_only_fault_events() -> None:
    events = [ev(1.0, "fault-start", "w1"), ev(2.0, "pod-ready", "w1"),
              ev(3.0, "fault-end", "w1"), ev(4.0, "fault-end", "w9")]
    assert recovery.fault_windows(events) == [recovery.FaultWindow("w1", 1.0, 3.0)]


def test_a_pod_ready_again_is_not_counted_twice() -> None:
    assert recovery.ready_counts([ev(1.0, "pod-ready", "a"), ev(2.0, "pod-ready", "b")],
                                 ["a"]) == [(1.0, 1), (2.0, 2)]


def test_recovery_under_a_second_and_endpoints_counted_from_the_initial_set() -> None:
    flap = [ev(10.2, "pod-unready", "a"), ev(10.5, "pod-ready", "a")]
    assert recovery.recovery_seconds(flap, 10.0, 2, ["a", "b"]) == pytest.approx(0.5)
    # an endpoint added twice counts once: two of three endpoints are not whole
    eps = [ev(10.2, "endpoint-removed", "a"), ev(10.3, "endpoint-removed", "b"),
           ev(10.5, "endpoint-added", "a"), ev(10.6, "endpoint-added", "a")]
    assert recovery.recovery_seconds(eps, 10.0, 3, ["a", "b", "c"], ["a", "b", "c"]) is None
    # a Service that fronted two of three Ready pods is whole again at two endpoints
    assert recovery.recovery_seconds(eps[:1] + eps[2:], 10.0, 3, ["a", "b", "c"],
                                     ["a", "b"]) == pytest.approx(0.5)


# --- drains ------------------------------------------------------------------------------------


def pod(**over: Any) -> drain.PodInfo:
    return drain.PodInfo(**{"name": "p", "namespace": "ns", "node": "w1",
                            "owner_kind": "ReplicaSet", **over})


def test_drain_defaults_evict_local_storage_and_refuse_bare_pods() -> None:
    assert drain.decide(pod(has_local_storage=True)) == drain.DrainDecision(
        pod(has_local_storage=True), "evict", "evict through the eviction API (honours PDBs)")
    assert drain.decide(pod(owner_kind=None)).action == "refuse"
    plan = drain.plan_drain([pod(), pod(name="q", node="w2")], "w1")
    assert plan.node == "w1" and plan.evict == (pod(),)


# --- rollouts and manifests --------------------------------------------------------------------


def test_deployment_rollout_with_missing_fields() -> None:
    assert rollout.deployment({}) == rollout.RolloutStatus(
        False, "0/1 ready, 0 updated, 0 available")
    full = {"spec": {"replicas": 1}, "status": {"readyReplicas": 1, "updatedReplicas": 1,
                                                 "availableReplicas": 1, "replicas": 1}}
    assert rollout.deployment(full).done is True  # no generation recorded: nothing to wait for
    stale = {**full, "metadata": {"generation": 1}}
    assert rollout.deployment(stale).done is False  # generation 1 not yet observed
    assert rollout.deployment({"spec": {"replicas": 2}, "status": {"replicas": 2}}).summary == \
        "0/2 ready, 0 updated, 0 available"


def test_statefulset_rollout_summaries() -> None:
    assert rollout.statefulset({}) == rollout.RolloutStatus(False, "0/1 ready, 0 updated")
    on_delete = {"spec": {"replicas": 2, "updateStrategy": {"type": "OnDelete"}},
                 "status": {"readyReplicas": 1}}
    assert rollout.statefulset(on_delete) == rollout.RolloutStatus(False, "1/2 ready, 0 updated")
    partitioned = {"spec": {"replicas": 3, "updateStrategy": {
        "type": "RollingUpdate", "rollingUpdate": {"partition": 2}}},
        "status": {"readyReplicas": 3, "updatedReplicas": 1}}
    assert rollout.statefulset(partitioned) == rollout.RolloutStatus(True, "3/3 ready, 1 updated")
    rolling = {"spec": {"replicas": 1}, "status": {"readyReplicas": 1, "updatedReplicas": 1,
                                                   "updateRevision": "r2",
                                                   "currentRevision": "r2"}}
    assert rollout.statefulset(rolling) == rollout.RolloutStatus(True, "1/1 ready, 1 updated")


def test_daemonset_on_no_node_is_done() -> None:
    assert rollout.daemonset({}) == rollout.RolloutStatus(True, "0/0 ready, 0 updated, "
                                                                "0 available")
    half = {"status": {"desiredNumberScheduled": 2, "updatedNumberScheduled": 2,
                       "numberAvailable": 2}}
    assert rollout.daemonset(half) == rollout.RolloutStatus(False, "0/2 ready, 2 updated, "
                                                                   "2 available")


def test_only_pod_carrying_kinds_contribute_images() -> None:
    docs: list[dict[str, Any]] = [
        {"kind": "Pod", "spec": ["not", "a", "mapping"]},
        {"kind": "Service", "spec": {"template": {"spec": {"containers": [{"image": "x:1"}]}}}},
        {"kind": "Job", "spec": {"template": {"spec": {"containers": [{"image": "job:1"}]}}}},
    ]
    assert manifests.referenced_images(docs) == ("job:1",)


# --- timelines ---------------------------------------------------------------------------------


def test_buckets_cover_the_window_only() -> None:
    with pytest.raises(ValueError, match=r"^bucket width must be positive$"):
        tl.buckets([rec(1.0)], 0)
    records = [rec(9.5), rec(10.2), rec(11.5), rec(12.9), rec(13.0)]
    rows = tl.buckets(records, 1.0, start=10.0, end=13.0)
    assert [(b.start, b.requests) for b in rows] == [(10.0, 1), (11.0, 1), (12.0, 1)]
    assert [(b.start, b.requests) for b in tl.buckets([], 1.0, start=0.0, end=2.0)] == [
        (0.0, 0), (1.0, 0)]
    assert [(b.start, b.requests) for b in tl.buckets([rec(10.2)], 1.0, 10.0, 10.5)] == [
        (10.0, 1)]
    # without an end, the last request closes the last bucket
    assert [b.requests for b in tl.buckets([rec(0.0), rec(0.5), rec(2.5)], 1.0)] == [2, 0, 1]
    # a request a hair before the end (within float slack) stays in the last bucket
    assert [b.requests for b in tl.buckets([rec(0.99995)], 1.0, 0.0, 1.0)] == [1]


def test_bucket_p95_is_the_nearest_rank() -> None:
    records = [rec(0.001 * i, latency=(i + 1) / 1000) for i in range(100)]
    [bucket] = tl.buckets(records, 1.0, 0.0, 1.0)
    assert bucket.p95_s == pytest.approx(0.095)


def test_percentile_bounds() -> None:
    assert tl.percentile([3.0, 1.0, 2.0], 0) == 1.0
    assert tl.percentile([float(i) for i in range(1, 201)], 100) == 200.0
    with pytest.raises(ValueError) as info:
        tl.percentile([1.0], 101)
    assert str(info.value) == "percentile must be within 0..100, got 101"


def test_window_bounds_of_latency_and_outages() -> None:
    records = [rec(5.0, latency=9.0, ok=False), rec(10.0), rec(11.0), rec(20.0, latency=9.0,
                                                                          ok=False)]
    assert tl.latency_percentile(records, 100, 10.0, 20.0) == pytest.approx(0.01)
    assert tl.longest_outage_s(records, 10.0, 20.0) == 0.0
    assert tl.outages(records, 10.0, 20.0) == []
    assert tl.outages(records, 0.0, 10.0) == [tl.Outage(5.0, 14.0, 1)]


def test_a_request_as_slow_as_the_stall_limit_is_not_served() -> None:
    assert tl.outages([rec(1.0, latency=tl.STALL_S), rec(3.0)]) == [tl.Outage(1.0, 3.0, 1)]


@pytest.mark.parametrize(("failing", "expected"), [
    ((), 10.0),  # never failed: steady from the fault on
    ((10,), 11.0),  # only the first bucket failed
    ((10, 12), 13.0),
    ((13,), 14.0),  # the second-last bucket failed
    ((14,), None),  # the last bucket still fails
])
def test_steady_again_after_the_last_failing_bucket(failing: tuple[int, ...],
                                                    expected: float | None) -> None:
    records = [rec(float(t), ok=t not in failing) for t in range(10, 15)]
    assert tl.steady_again_at(records, 10.0, width=1.0) == expected


def test_throughput_over_the_span_of_the_requests() -> None:
    assert tl.throughput_rps([rec(1.0, latency=0.0)]) is None  # no span: no rate
    assert tl.throughput_rps([rec(1.0, latency=0.1), rec(1.2, latency=0.3)]) == \
        pytest.approx(4.0)


def test_a_deployment_whose_status_has_no_replica_count_is_not_done() -> None:
    status = {"readyReplicas": 1, "updatedReplicas": 1, "availableReplicas": 1}
    assert rollout.deployment({"spec": {"replicas": 1}, "status": status}).done is False
