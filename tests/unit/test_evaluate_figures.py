"""The figures chaos.report.evaluate hands the report, each pinned to its input: the outage
bound, the errors after a fault's lift, the endpoints recovery is judged on, the API server's
figures from the control plane's lift, the answers faults give (a blocked drain, a stalled
rollout), and the autoscaling section's rounding and windows."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_evaluate import FAULT_T, _exp, _records, _run

from chaos.faults.base import FaultOutcome
from chaos.model import LoadProfile, SLASpec
from chaos.model.apiprobe import ApiProbeData
from chaos.model.faults import LoadSpike
from chaos.model.timeline import ClusterEvent, RequestRecord
from chaos.report.evaluate import cut_short, evaluate


def _ok(t: float, latency_s: float = 0.01) -> RequestRecord:
    return RequestRecord(t=t, latency_s=latency_s, ok=True, status=200)


def _failed(t: float, latency_s: float = 0.01) -> RequestRecord:
    return RequestRecord(t=t, latency_s=latency_s, ok=False, status=503)


def test_the_outage_bound_is_the_experiments() -> None:
    """Every request takes 10 ms: under a 5 ms bound none is served, so the whole run is one
    outage."""
    exp = replace(_exp(), slas=SLASpec(max_error_rate=0.1, outage_bound_s=0.005))
    data = evaluate(_run(experiment=exp))
    assert data.load is not None and data.load.fault is not None
    assert data.load.fault.outage_bound_s == 0.005
    assert len(data.load.fault.outages) == 1


def test_a_fault_that_lifted_itself_reports_how_long_errors_outlasted_the_lift() -> None:
    recs = sorted([*_records(), _failed(110.5, 0.01234), _ok(110.61234)], key=lambda r: r.t)
    outcome = FaultOutcome("pod-kill", targets=["web-1"], started_at=FAULT_T,
                           ended_at=FAULT_T + 0.5, lifted_at=110.0)
    data = evaluate(_run(recs, outcomes=(outcome,)))
    # the first request from which all succeed started 0.612 s after the lift; the failed one
    # ended 0.512 s after it
    assert data.faults[0].figures == {"errors_stop_after_lift_s": 0.612,
                                      "last_unserved_after_lift_s": 0.512}


def test_recovery_counts_the_endpoints_the_service_had_before_the_fault() -> None:
    """The Service fronted one of two Ready pods; that endpoint goes, the other pod's comes:
    one endpoint again, whole."""
    events = (ClusterEvent(FAULT_T + 0.2, "endpoint-removed", "web-1"),
              ClusterEvent(FAULT_T + 1.5, "endpoint-added", "web-2"))
    data = evaluate(_run(events=events, initial_endpoints=frozenset({"web-1"})))
    assert data.recovery_seconds == pytest.approx(1.5)


def test_a_fault_window_without_a_request_says_so_in_full() -> None:
    early = [r for r in _records() if r.t < FAULT_T - 1]
    data = evaluate(_run(early))
    assert data.error == cut_short(["no request started during the fault window"], 300.0,
                                   {"deploy": 12.0})
    assert data.error.startswith("the run did not happen as declared, so no SLA was judged: "
                                 "no request started during the fault window (")


@pytest.mark.parametrize(("sla", "name", "fault"), [("expect_blocked", "expectBlocked", "drain"),
                                                    ("expect_stalled", "expectStalled", "rollout")])
def test_the_answer_of_a_later_fault_is_heard(sla: str, name: str, fault: str) -> None:
    """A pod kill asks nothing; the drain (or rollout) after it answers yes."""
    exp = replace(_exp(), slas=SLASpec(**{sla: True}))  # type: ignore[arg-type]
    outcomes = (FaultOutcome("pod-kill", started_at=FAULT_T, ended_at=FAULT_T + 0.5),
                FaultOutcome(fault, started_at=FAULT_T + 1, ended_at=FAULT_T + 2, answer=True))
    data = evaluate(_run(experiment=exp, outcomes=outcomes))
    assert [(r.name, r.observed, r.passed) for r in data.slas] == [
        (name, 1.0, True)]
    assert data.verdict == "pass"


def _api_data() -> ApiProbeData:
    """A probe every half second from t=100 to 119.5: down from 101 to 104 (before the fault),
    and from 107 to 108.5 (in it)."""
    recs = [(_failed if 101.0 <= 100 + k / 2 < 104.0 or 107.0 <= 100 + k / 2 < 108.5 else _ok)(
        100 + k / 2) for k in range(40)]
    return ApiProbeData(requests=tuple(recs), server="https://127.0.0.1:6443")


def test_the_api_servers_figures_count_from_the_fault_and_the_control_planes_lift() -> None:
    exp = replace(_exp(), slas=SLASpec(max_api_outage_s=1.0))
    outcomes = (FaultOutcome("pod-kill", started_at=FAULT_T, ended_at=FAULT_T + 1,
                             lifted_at=FAULT_T + 1),
                FaultOutcome("control-plane-loss", started_at=FAULT_T, ended_at=FAULT_T + 4,
                             lifted_at=FAULT_T + 4))
    data = evaluate(_run(experiment=exp, outcomes=outcomes, api_data=_api_data(),
                         load_generators=({"pod": "load-0", "records": 20},)))
    api = data.api_server
    assert api is not None
    assert (api["requests"], api["failed"]) == (40, 9)
    # in the fault window only: the 1.5 s outage, not the 3 s one before it
    assert api["longest_outage_s"] == pytest.approx(1.5)
    assert api["lifted_at_s"] == 4.0  # the control plane's lift, from the fault's start
    assert [(r.name, r.observed, r.passed) for r in data.slas] == [
        ("maxApiOutage", pytest.approx(1.5), False)]
    assert data.load_generators == ({"pod": "load-0", "records": 20},)


def test_without_a_control_plane_fault_the_api_figures_have_no_lift() -> None:
    data = evaluate(_run(api_data=_api_data()))
    assert data.api_server is not None and data.api_server["lifted_at_s"] is None
    assert data.api_server["back_after_lift_s"] is None


# -- autoscaling ---------------------------------------------------------------------------------


def _scaling(recs: list[RequestRecord], *outcomes: FaultOutcome, spike: LoadSpike | None = None,
             events: tuple[ClusterEvent, ...] = (), tail_s: float = 10.0) -> dict[str, object]:
    exp = replace(_exp(), faults=(spike,) if spike else _exp().faults,
                  load=LoadProfile(warmup_s=5.0, tail_s=tail_s),
                  slas=SLASpec(max_scale_in_s=30.0))
    data = evaluate(_run(recs, experiment=exp, events=events, outcomes=outcomes))
    assert data.autoscaling is not None
    return data.autoscaling


def test_scaling_latencies_are_milliseconds_to_a_tenth() -> None:
    """Without a spike there is no ramp, and a fault that never ended holds nothing: the
    windows before and after the fault alone."""
    recs = [_ok(100.0 + i, 0.01234) for i in range(20)]
    scaling = _scaling(recs, FaultOutcome("pod-kill", started_at=FAULT_T))
    assert scaling["hold_end_s"] == 0.0
    assert scaling["latency_ms"] == {
        "before": {"p50_ms": 12.3, "p95_ms": 12.3, "p99_ms": 12.3, "requests": 5},
        "after": {"p50_ms": 12.3, "p95_ms": 12.3, "p99_ms": 12.3, "requests": 10}}


def test_scaling_p99_is_the_99th_percentile_not_the_slowest() -> None:
    """200 requests after the fault, the k-th taking k ms: p99 is the 198th."""
    recs = [_ok(FAULT_T + k * 0.05, (k + 1) / 1000.0) for k in range(200)]
    scaling = _scaling(recs, FaultOutcome("pod-kill", started_at=FAULT_T, ended_at=FAULT_T))
    assert scaling["latency_ms"] == {
        "before": {"p50_ms": None, "p95_ms": None, "p99_ms": None, "requests": 0},
        "after": {"p50_ms": 100.0, "p95_ms": 190.0, "p99_ms": 198.0, "requests": 200}}


def test_scaling_times_are_seconds_to_the_millisecond() -> None:
    events = (ClusterEvent(FAULT_T + 2.12345, "pod-added", "web-3"),
              ClusterEvent(FAULT_T + 3.45678, "pod-ready", "web-3"))
    scaling = _scaling(_records(), FaultOutcome("pod-kill", started_at=FAULT_T,
                                                ended_at=FAULT_T + 10.12345), events=events)
    assert scaling["hold_end_s"] == 10.123
    assert (scaling["first_pod_added_s"], scaling["scale_out_s"]) == (2.123, 3.457)
    assert scaling["series"] == [{"t_s": 0.0, "pods": 2, "ready": 2},
                                 {"t_s": 2.123, "pods": 3, "ready": 2},
                                 {"t_s": 3.457, "pods": 3, "ready": 3}]


def test_a_spike_cut_short_counts_no_request_past_the_tail() -> None:
    """The spike's 10 s ramp outlasts the run: it ended 2 s in, and the 5 s tail after it ends
    at 112. The ramp's window reaches past that, but a request started at 112 is not the run's
    to count."""
    spike = LoadSpike(rate=80.0, ramp_up_s=10.0, duration_s=10.0)
    scaling = _scaling(_records(), FaultOutcome("load-spike", started_at=FAULT_T,
                                                ended_at=FAULT_T + 2.0), spike=spike, tail_s=5.0)
    latency = scaling["latency_ms"]
    assert isinstance(latency, dict)
    assert {name: w["requests"] for name, w in latency.items()} == {
        "before": 5, "ramp": 7, "after": 5}
