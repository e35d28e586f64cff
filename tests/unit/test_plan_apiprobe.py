"""The API-server probe's figures at their edges: windows that hold nothing, lifts and lease
changes at an instant that is also a boundary, times kept to the millisecond."""

from __future__ import annotations

from chaos.model.apiprobe import ApiProbeData, LeaseReading, MemberReading
from chaos.model.timeline import RequestRecord
from chaos.plan import apiprobe as papi


def ok(t: float) -> RequestRecord:
    return RequestRecord(t, 0.01, True, 200)


def failed(t: float) -> RequestRecord:
    return RequestRecord(t, 1.0, False, 0)


def probes(pattern: str, t0: float = 100.0) -> tuple[RequestRecord, ...]:
    """One probe every 0.1 s: '.' answered in 10 ms, 'x' failed after 1 s."""
    return tuple(ok(t0 + i / 10) if c == "." else failed(t0 + i / 10)
                 for i, c in enumerate(pattern))


# -- the lift ----------------------------------------------------------------------------------


def test_a_lift_at_the_outages_first_failure_waits_for_all_of_it() -> None:
    assert papi.back_after_lift_s(probes("..xxx.."), 100.2) == 0.3


def test_a_lift_where_one_outage_ends_and_the_next_begins_waits_for_the_next() -> None:
    """A served and a failed probe both started at 100.2: the first outage ends there, the
    second starts there and lasts until 100.4."""
    recs = (ok(100.0), failed(100.1), ok(100.2), failed(100.2), failed(100.3), ok(100.4))
    assert papi.back_after_lift_s(recs, 100.2) == 0.2


def test_the_wait_after_a_lift_and_the_lift_itself_are_kept_to_the_millisecond() -> None:
    recs = probes("..xxxxx...")  # failing from 100.2 to the served probe at 100.7
    assert papi.back_after_lift_s(recs, 100.4501) == 0.25
    fig = papi.figures(ApiProbeData(requests=recs), (100.0, 101.0), lifted_at=100.4501)
    assert (fig["lifted_at_s"], fig["back_after_lift_s"]) == (0.45, 0.25)


# -- the fault window --------------------------------------------------------------------------


def test_no_probe_in_the_fault_window_is_no_error_rate_but_all_served_is_zero() -> None:
    recs = probes("..xx..")  # 100.0 to 100.5
    before = papi.figures(ApiProbeData(requests=recs), (200.0, 210.0))
    after = papi.figures(ApiProbeData(requests=recs), (50.0, 60.0))
    assert before["error_rate_during_fault"] is None and after["error_rate_during_fault"] is None
    served = papi.figures(ApiProbeData(requests=recs), (100.4, 101.0))
    assert served["error_rate_during_fault"] == 0.0


def test_the_longest_outage_is_the_one_inside_the_window_to_the_millisecond() -> None:
    recs = (failed(100.0), ok(100.2501), failed(100.3), failed(100.4), failed(100.5),
            failed(100.6), ok(101.0))
    assert papi.longest_outage_s(recs, 100.0, 100.3) == 0.25
    assert papi.longest_outage_s(recs, 100.0, 102.0) == 0.7


def test_figures_without_a_probe_or_a_fault_count_from_zero() -> None:
    data = ApiProbeData(leases=(LeaseReading(5.0, "kube-scheduler", "cp1_a"),
                                LeaseReading(7.0, "kube-scheduler", "cp2_b")))
    assert papi.figures(data, None) == {
        "server": "", "interval_s": 0.1, "requests": 0, "failed": 0,
        "error_rate_during_fault": None, "longest_outage_s": None, "outage_windows": [],
        "etcd_ready_longest_outage_s": None, "etcd_ready_outage_windows": [],
        "lease_changes": [{"lease": "kube-scheduler", "at_s": 7.0, "holder_from": "cp1",
                           "holder_to": "cp2"}],
        "reelection_s": {"kube-scheduler": 7.0},
        "holders_before": {"kube-scheduler": None},
        "holders_after": {"kube-scheduler": "cp2"},
        "etcd_members": {}, "lifted_at_s": None, "back_after_lift_s": None}


# -- leases ------------------------------------------------------------------------------------


def test_a_new_holder_seen_at_the_faults_start_is_a_reelection_after_nothing() -> None:
    data = ApiProbeData(requests=probes("...."),
                        leases=(LeaseReading(99.0, "kube-scheduler", "cp1_a"),
                                LeaseReading(100.1, "kube-scheduler", "cp2_b")))
    assert papi.figures(data, (100.1, 101.0))["reelection_s"] == {"kube-scheduler": 0.0}


def test_the_holders_node_is_everything_before_the_first_underscore() -> None:
    assert papi.holder_node("kind-control-plane_4a1f_b2") == "kind-control-plane"
    assert papi.holder_node("cp1") == "cp1"
    assert papi.holder_node("") is None and papi.holder_node(None) is None


def test_a_reading_at_the_instant_is_not_before_it() -> None:
    readings = [LeaseReading(1.0, "kube-scheduler", "cp1_a"),
                LeaseReading(2.5, "kube-scheduler", "cp2_b")]
    assert papi.holders_at(readings, 2.5, after=False) == {"kube-scheduler": "cp1"}
    assert papi.holders_at(readings, 2.5, after=True) == {"kube-scheduler": "cp2"}


def test_lease_changes_are_timed_to_the_millisecond() -> None:
    readings = [LeaseReading(1.0, "kube-scheduler", "cp1_a"),
                LeaseReading(3.0004, "kube-scheduler", "cp2_b")]
    assert papi.lease_changes(readings, origin=2.5) == [
        {"lease": "kube-scheduler", "at_s": 0.5, "holder_from": "cp1", "holder_to": "cp2"}]


# -- etcd members ------------------------------------------------------------------------------


def test_member_windows_are_relative_to_the_origin_to_the_millisecond() -> None:
    """cp1 unhealthy from 101.5004 to the healthy sample at 103.7507, then again from 105.2504
    to its last sample at 106.5007 (the run still going on)."""
    readings = [MemberReading(t, "cp1", h) for t, h in (
        (100.0, True), (101.5004, None), (102.0, False), (103.7507, True),
        (105.2504, False), (106.5007, None))]
    assert papi.member_figures(readings, origin=100.0) == {"cp1": {
        "samples": 6, "unhealthy_samples": 4, "longest_unhealthy_s": 2.25,
        "unhealthy_windows": [
            {"start_s": 1.5, "end_s": 3.751, "seconds": 2.25, "failures": 2},
            {"start_s": 5.25, "end_s": 6.501, "seconds": 1.25, "failures": 2}]}}
