"""Judging a run (chaos.report.evaluate): observations in, the report's data out, no cluster.

Each error path is shown to win only where it should: a run cut short, an undo left pending, a
malformed capture line, a fault window without a request; an abort is a verdict, not an error;
and a clean run is judged by its SLAs, passing or failing on the records alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import pytest

from chaos.faults.base import FaultOutcome
from chaos.load.records import UpToMalformed
from chaos.model import (
    Experiment,
    LoadProfile,
    Selector,
    SLASpec,
    SteadyState,
    WorkloadSpec,
)
from chaos.model.abort import Breach
from chaos.model.faults import LoadSpike, PodKill
from chaos.model.timeline import ClusterEvent, RequestRecord
from chaos.plan.generator import CpuTimes
from chaos.report.data import AbortRecord
from chaos.report.evaluate import RunRecord, cut_short, evaluate

SEL = Selector(labels=(("app", "web"),))
FAULT_T = 105.0


def _exp(**slas: float) -> Experiment:
    return Experiment(
        name="judged", workload=WorkloadSpec(manifests=(Path("w.yaml"),), selector=SEL,
                                             service="web", node_port=30080, replicas=2),
        load=LoadProfile(), steady_state=SteadyState(), faults=(PodKill(selector=SEL),),
        slas=SLASpec(**slas))  # type: ignore[arg-type]


def _records(failing: range = range(0)) -> list[RequestRecord]:
    """One request a second from t=100 to t=119; those whose index is in ``failing`` fail."""
    return [RequestRecord(t=100.0 + i, latency_s=0.01, ok=i not in failing,
                          status=503 if i in failing else 200) for i in range(20)]


def _run(recs: list[RequestRecord] | None = None, **over: object) -> RunRecord:
    recs = _records() if recs is None else recs
    run = RunRecord(
        experiment=_exp(max_error_rate=0.1), seed=7, started_at=95.0, ended_at=130.0,
        records=UpToMalformed(recs), kept=recs, fault_t=FAULT_T,
        outcomes=(FaultOutcome("pod-kill", targets=["web-1"], started_at=FAULT_T,
                               ended_at=FAULT_T + 0.5),),
        initial_ready=frozenset({"web-1", "web-2"}), timings={"deploy": 12.0})
    return replace(run, **over)  # type: ignore[arg-type]


def test_a_clean_run_is_judged_by_its_slas_and_passes() -> None:
    data = evaluate(_run())
    assert (data.verdict, data.error) == ("pass", None)
    assert [(r.name, r.passed) for r in data.slas] == [("maxErrorRate", True)]
    assert data.fault_window == (FAULT_T, 119.01)
    assert data.seed == 7 and data.faults[0].targets == ("web-1",)
    assert data.load is not None and data.load.requests_total == 20


def test_errors_in_the_fault_window_fail_the_sla() -> None:
    data = evaluate(_run(_records(failing=range(6, 12))))
    assert (data.verdict, data.error) == ("fail", None)
    [sla] = data.slas
    assert sla.name == "maxErrorRate" and not sla.passed and sla.observed == pytest.approx(6 / 15)


def test_a_run_cut_short_is_an_error_naming_where_the_budget_went() -> None:
    data = evaluate(_run(shortfalls=("pod-kill held 0.0s of 30s",),
                         timings={"setup": 300.0, "deploy": 179.5, "steady": 0.4}))
    assert data.verdict == "error" and data.slas == ()
    assert data.error is not None and data.error.startswith(
        "the run did not happen as declared, so no SLA was judged: pod-kill held 0.0s of 30s")
    assert "deploy took 179.5s" in data.error and "setup" not in data.error
    assert data.recovery_seconds is None


def test_the_runs_own_error_is_kept_over_a_shortfall() -> None:
    data = evaluate(_run(error="InjectionFailed: no pod matched", shortfalls=("tail",)))
    assert (data.verdict, data.error) == ("error", "InjectionFailed: no pod matched")


def test_an_abort_is_a_verdict_not_an_error_and_judges_no_sla() -> None:
    breach = Breach("errors", "http", 503, "2xx", "HTTP 503", 110.0)
    data = evaluate(_run(aborted=True, abort=AbortRecord(breach=breach, undo_complete_at=111.0),
                         shortfalls=("pod-kill held 5.0s of 30s",)))
    assert (data.verdict, data.error, data.slas) == ("aborted", None, ())
    assert data.abort is not None and data.abort.breach_to_undo_s == 1.0


def test_an_undo_left_pending_errors_the_run() -> None:
    data = evaluate(_run(undo_failures=("uncordon node kind-worker: timed out",)))
    assert data.verdict == "error" and data.slas == ()
    assert data.error == ("undo not confirmed (still pending in the journal; run `kube-chaos "
                          "rollback`): uncordon node kind-worker: timed out")


class _Malformed(Exception):
    pass


class _CutCapture:
    """A capture whose line 11 is malformed: each pass stops there and names it."""

    def __init__(self, records: list[RequestRecord]) -> None:
        self.records = records
        self.problem: Exception | None = None

    def __iter__(self) -> Iterator[RequestRecord]:
        yield from self.records[:11]
        self.problem = _Malformed("capture.jsonl:12: not JSON")


def test_a_malformed_capture_line_errors_the_run_and_keeps_what_was_read() -> None:
    capture = _CutCapture(_records())
    data = evaluate(_run(records=capture, kept=_records()))
    assert data.error == "_Malformed: capture.jsonl:12: not JSON"
    assert data.verdict == "error" and data.recovery_seconds is None and data.slas == ()
    assert data.records is capture  # the report holds what was read, not the full list


def test_a_fault_window_without_a_request_judges_nothing() -> None:
    early = [r for r in _records() if r.t < FAULT_T - 1]
    data = evaluate(_run(early, fault_t=FAULT_T, ended_at=130.0))
    assert data.verdict == "error" and data.slas == ()
    assert data.error is not None and "no request started during the fault window" in data.error


def test_recovery_and_restarts_are_read_from_the_events() -> None:
    events = (ClusterEvent(FAULT_T + 0.2, "pod-deleted", "web-1"),
              ClusterEvent(FAULT_T + 0.3, "pod-notready", "web-1"),
              ClusterEvent(FAULT_T + 2.0, "pod-ready", "web-3"),
              ClusterEvent(FAULT_T + 3.0, "restart", "web-2"))
    data = evaluate(_run(events=events))
    assert data.verdict == "pass"
    assert data.recovery_seconds == pytest.approx(2.0)
    assert data.restarts == 1


def test_judging_is_pure_the_same_record_gives_the_same_report() -> None:
    run = _run(_records(failing=range(7, 9)))
    assert evaluate(run) == evaluate(run)
    with pytest.raises(FrozenInstanceError):
        run.error = "changed"  # type: ignore[misc]


def test_cut_short_names_at_most_the_three_longest_phases() -> None:
    text = cut_short(["tail"], 60, {"deploy": 5.0, "steady": 4.0, "inject": 3.0, "recover": 2.0,
                                    "setup": 99.0, "tail": 0.5})
    assert "deploy took 5.0s, steady took 4.0s, inject took 3.0s)" in text
    assert "recover" not in text and "setup" not in text and "timeout is 60s" in text


def _open(lag_s: float, n: int = 20) -> list[RequestRecord]:
    """Open-loop arrivals one a second from t=100, each sent ``lag_s`` after it was due."""
    return [RequestRecord(t=100.0 + i, latency_s=lag_s + 0.01, ok=True, status=200,
                          scheduled=True, sent=100.0 + i + lag_s) for i in range(n)]


def test_a_generator_that_sent_late_errors_the_run_and_blames_the_load_machine() -> None:
    data = evaluate(_run(_open(0.25)))
    assert (data.verdict, data.slas) == ("error", ())
    assert data.error is not None and data.error.startswith(
        "load generator overloaded: send lag p99 250 ms (bound 100 ms)")
    assert "--chaos-parallel" in data.error and "maxGeneratorLag" in data.error
    assert data.generator is not None and data.generator.send_lag_p99_s == pytest.approx(0.25)


def test_a_generator_within_its_bound_leaves_the_run_to_its_slas() -> None:
    data = evaluate(_run(_open(0.05)))
    assert (data.verdict, data.error) == ("pass", None)
    assert data.generator is not None and data.generator.overload is None


def test_the_bound_is_the_experiments_own() -> None:
    run = _run(_open(0.05))
    tight = replace(run.experiment, load=LoadProfile(max_generator_lag_s=0.02))
    data = evaluate(replace(run, experiment=tight))
    assert data.verdict == "error" and "(bound 20 ms)" in (data.error or "")


def test_one_arrival_the_generator_reached_too_late_errors_the_run() -> None:
    recs = _open(0.001)
    recs[3] = RequestRecord(t=103.0, latency_s=0.6, ok=False, status=0, scheduled=True,
                            error="Dropped: late, due 600 ms ago (bound 500 ms): generator "
                                  "overloaded")
    data = evaluate(_run(recs))
    assert data.verdict == "error"
    assert "1 arrival(s) dropped because the generator reached them too late" in (data.error or "")
    # a drop for want of a free sender waits on the service: the SLAs judge that one
    recs[3] = replace(recs[3], error="Dropped: no free sender within 500 ms (2 in flight)")
    assert evaluate(_run(recs)).error is None


def test_load_processes_starved_of_cpu_error_a_closed_loop_run() -> None:
    starved = evaluate(_run(load_cpu=CpuTimes(cpu_s=2.0, wait_s=30.0, slices=200)))
    assert starved.verdict == "error" and "waited 150 ms for a CPU per wake-up" in (
        starved.error or "")
    fed = evaluate(_run(load_cpu=CpuTimes(cpu_s=2.0, wait_s=0.4, slices=200)))
    assert (fed.verdict, fed.error) == ("pass", None)
    assert fed.generator is not None and fed.generator.mean_cpu_wait_s == pytest.approx(0.002)


def test_an_abort_is_still_an_abort_when_the_generator_was_late() -> None:
    breach = Breach("errors", "http", 503, "2xx", "HTTP 503", 110.0)
    data = evaluate(_run(_open(0.5), aborted=True,
                         abort=AbortRecord(breach=breach, undo_complete_at=111.0)))
    assert (data.verdict, data.error) == ("aborted", None)


def test_a_steady_state_failed_on_an_overloaded_generators_figures_is_its_overload() -> None:
    steady = "SteadyStateFailed: error rate 0.31 > 0 over the last 3s"
    data = evaluate(_run(_open(0.3), error=steady, fault_t=None, outcomes=()))
    assert data.verdict == "error" and (data.error or "").startswith("load generator overloaded")
    # any other error of the run is its own, overloaded or not
    other = evaluate(_run(_open(0.3), error="InjectionFailed: no pod matched"))
    assert other.error == "InjectionFailed: no pod matched"
    # and a steady state that failed with the generator on time is the service's
    assert evaluate(_run(_open(0.01), error=steady)).error == steady


def test_an_overload_is_named_over_a_shortfall_it_may_have_caused() -> None:
    data = evaluate(_run(_open(0.3), shortfalls=("the load had stopped before the tail",)))
    assert (data.error or "").startswith("load generator overloaded")
    assert evaluate(_run(_open(0.01), shortfalls=("tail",))).error.startswith(  # type: ignore[union-attr]
        "the run did not happen as declared")


def test_a_load_spike_run_reports_its_scaling_and_each_windows_latency() -> None:
    """The HPA figures a load-spike run reports, every field pinned: the pods over time, the
    first rescale, the first added pod and its Ready (scale-out), the count back (scale-in),
    and the latency percentiles of the four windows: before (warm-up), ramp, hold, after
    (tail). Records every 0.25 s, latencies rising within each window so that p50, p95 and
    p99 differ and a record on a window's edge counts in the window it opens."""
    spike = LoadSpike(rate=80.0, ramp_up_s=4.0, duration_s=10.0)
    recs = []
    for k in range(100):  # t = 100 .. 124.75
        t = 100.0 + 0.25 * k
        base, i = ((10, k) if t < 105 else (50, k - 20) if t < 109 else
                   (200, 2 * (k - 36)) if t < 115 else (20, k - 60))
        recs.append(RequestRecord(t=t, latency_s=(base + i) / 1000.0, ok=True, status=200))
    events = (ClusterEvent(106.0, "event", "hpa", "SuccessfulRescale New size: 3; reason: cpu"),
              ClusterEvent(107.0, "pod-added", "web-3"), ClusterEvent(110.0, "pod-ready", "web-3"),
              ClusterEvent(118.0, "pod-deleted", "web-3"))
    exp = replace(_exp(), faults=(spike,), load=LoadProfile(warmup_s=5.0, tail_s=10.0),
                  slas=SLASpec(max_scale_out_s=6.0, max_scale_in_s=2.0))
    data = evaluate(_run(recs, experiment=exp, events=events,
                         outcomes=(FaultOutcome("load-spike", started_at=FAULT_T,
                                                ended_at=115.0),)))
    assert data.autoscaling == {
        "hold_end_s": 10.0, "initial_pods": 2, "peak_pods": 3, "first_rescale_s": 1.0,
        "first_pod_added_s": 2.0, "scale_out_s": 5.0, "scale_in_s": 3.0,
        "rescales": [{"t_s": 1.0, "message": "SuccessfulRescale New size: 3; reason: cpu"}],
        "latency_ms": {
            "before": {"p50_ms": 19.0, "p95_ms": 28.0, "p99_ms": 29.0, "requests": 20},
            "ramp": {"p50_ms": 57.0, "p95_ms": 65.0, "p99_ms": 65.0, "requests": 16},
            "hold": {"p50_ms": 222.0, "p95_ms": 244.0, "p99_ms": 246.0, "requests": 24},
            "after": {"p50_ms": 39.0, "p95_ms": 57.0, "p99_ms": 59.0, "requests": 40}},
        "series": [{"t_s": 0.0, "pods": 2, "ready": 2}, {"t_s": 2.0, "pods": 3, "ready": 2},
                   {"t_s": 5.0, "pods": 3, "ready": 3}, {"t_s": 13.0, "pods": 2, "ready": 2}]}
    # the scaling SLAs read the same figures: out in 5 s passes 6 s, in after 3 s fails 2 s
    assert [(r.name, r.passed, r.observed) for r in data.slas] == [
        ("maxScaleOutTime", True, 5.0), ("maxScaleInTime", False, 3.0)]


def test_without_a_spike_or_a_scaling_sla_there_are_no_scaling_figures() -> None:
    assert evaluate(_run()).autoscaling is None
    only_sla = replace(_exp(), slas=SLASpec(max_scale_in_s=30.0))
    assert evaluate(_run(experiment=only_sla)).autoscaling is not None


def test_cut_short_in_full_counts_phases_of_a_second_or_more() -> None:
    text = cut_short(["a held 0s of 10s", "b held 1s of 5s"], 30,
                     {"setup": 9.0, "deploy": 2.0, "steady": 1.0, "inject": 0.99})
    assert text == (
        "the run did not happen as declared, so no SLA was judged: a held 0s of 10s; b held 1s "
        "of 5s (the experiment's timeout is 30s; deploy took 2.0s, steady took 1.0s). Give it "
        "the time it declares: raise spec.timeout (and load.maxDuration, for the load), or "
        "shorten what it must hold")


def test_cut_short_without_a_phase_worth_naming() -> None:
    assert cut_short(["tail"], 60, {"setup": 50.0, "deploy": 0.5}) == (
        "the run did not happen as declared, so no SLA was judged: tail (the experiment's "
        "timeout is 60s). Give it the time it declares: raise spec.timeout (and "
        "load.maxDuration, for the load), or shorten what it must hold")
