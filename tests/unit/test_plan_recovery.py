from __future__ import annotations

import pytest

from chaos.model import ClusterEvent as E
from chaos.plan import recovery as rc

PODS = ["web-a", "web-b", "web-c"]


def test_pod_kill_recovery_measured_from_fault_to_ready_again() -> None:
    events = [
        E(10.2, "pod-unready", "web-a"),
        E(10.3, "pod-added", "web-d"),
        E(11.0, "pod-deleted", "web-a"),
        E(14.5, "pod-ready", "web-d"),
    ]
    assert rc.recovery_seconds(events, 10.0, 3, PODS) == pytest.approx(4.5)
    assert rc.ready_counts(events, PODS) == [(10.2, 2), (11.0, 2), (14.5, 3)]


def test_endpoints_must_also_return_when_tracked() -> None:
    events = [
        E(10.1, "pod-unready", "web-a"),
        E(10.2, "endpoint-removed", "web-a"),
        E(12.0, "pod-ready", "web-a"),
        E(13.0, "endpoint-added", "web-a"),
    ]
    assert rc.recovery_seconds(events, 10.0, 3, PODS) == pytest.approx(3.0)


def test_never_recovered_and_never_disrupted() -> None:
    assert rc.recovery_seconds([E(10.1, "pod-unready", "web-a")], 10.0, 3, PODS) is None
    assert rc.recovery_seconds([], 10.0, 3, PODS) == 0.0
    assert rc.recovery_seconds([], 10.0, 3, PODS[:2]) is None


def test_flap_after_recovery_extends_it_and_events_before_fault_only_set_state() -> None:
    events = [
        E(5.0, "pod-ready", "web-c"),
        E(10.1, "pod-unready", "web-a"),
        E(11.0, "pod-ready", "web-a"),
        E(12.0, "pod-unready", "web-b"),
        E(15.0, "pod-ready", "web-b"),
    ]
    assert rc.recovery_seconds(events, 10.0, 3, PODS[:2]) == pytest.approx(5.0)


def test_restarts_and_node_times() -> None:
    events = [
        E(1.0, "restart", "web-a", "web: 1"),
        E(12.0, "restart", "web-a", "web: 2"),
        E(12.5, "node-notready", "kind-worker"),
        E(13.0, "node-notready", "kind-worker2"),
        E(10.0, "fault-start", "f0"),
        E(11.0, "fault-end", "f0"),
        E(20.0, "fault-start", "f1"),
    ]
    assert rc.restarts(events) == 2
    assert rc.restarts(events, since=10.0) == 1
    assert rc.restarts(events, until=10.0) == 1
    assert rc.time_to_node_notready(events, 10.0) == pytest.approx(2.5)
    assert rc.time_to_node_notready(events, 10.0, "kind-worker2") == pytest.approx(3.0)
    assert rc.time_to_node_notready(events, 14.0) is None
    assert rc.fault_windows(events) == [
        rc.FaultWindow("f0", 10.0, 11.0),
        rc.FaultWindow("f1", 20.0, None),
    ]


def test_a_service_fronting_some_of_the_pods_is_whole_at_its_own_count() -> None:
    # two frontends behind the Service, three backends that are not: five Ready pods wanted,
    # two endpoints
    pods = ["fe-a", "fe-b", "be-a", "be-b", "be-c"]
    events = [
        E(10.1, "pod-unready", "fe-a"),
        E(10.2, "endpoint-removed", "fe-a"),
        E(12.0, "pod-ready", "fe-a"),
        E(13.0, "endpoint-added", "fe-a"),
    ]
    assert rc.recovery_seconds(events, 10.0, 5, pods, ["fe-a", "fe-b"]) == pytest.approx(3.0)
    # one endpoint short of where it was is not recovered
    assert rc.recovery_seconds(events[:3], 10.0, 5, pods, ["fe-a", "fe-b"]) is None


def test_a_service_without_endpoints_before_the_fault_needs_every_desired_pod_behind_it() -> None:
    events = [
        E(10.1, "pod-unready", "web-a"),
        E(11.0, "pod-ready", "web-a"),
        E(12.0, "endpoint-added", "web-a"),
        E(13.0, "endpoint-added", "web-b"),
        E(14.0, "endpoint-added", "web-c"),
    ]
    assert rc.recovery_seconds(events, 10.0, 3, PODS, []) == 4.0
