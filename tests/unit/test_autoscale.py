"""Autoscaling: the load-spike fault written into the open-loop schedule, the scale-out and
scale-in figures from the Observer's timeline, and the maxScaleOutTime/maxScaleInTime SLAs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chaos.errors import ExperimentInvalid
from chaos.model import SLASpec
from chaos.model.faults import LoadSpike
from chaos.model.parse import parse_experiment
from chaos.model.timeline import ClusterEvent
from chaos.plan import autoscale as pscale
from chaos.plan import slas as pslas

EXP = """\
apiVersion: kube-chaos/v1
kind: Experiment
metadata: {name: spike}
spec:
  workload: {manifests: [workloads/httpd.yaml], selector: {app: httpd}, service: httpd,
             nodePort: 30080, replicas: 1}
  load: {mode: open, rate: 4/s, warmup: 10s, tail: 20s, maxDuration: 120s}
  faults:
    - {type: load-spike, rate: 60/s, rampUp: 20s, duration: 50s, delay: 2s}
  slas: {maxScaleOutTime: 40s, maxScaleInTime: 1m, p99Latency: 1s}
"""


def test_the_spike_is_written_into_the_open_loop_schedule(exp_dir: Path) -> None:
    exp = parse_experiment(EXP, exp_dir / "x.yaml")
    assert exp.faults == (LoadSpike(rate=60.0, ramp_up_s=20.0, duration_s=50.0, delay_s=2.0),)
    # base rate through warm-up and the delay, ramp, hold the rest of the duration, base again
    assert exp.load.rate_segments == ((4.0, 4.0, 12.0), (4.0, 60.0, 20.0), (60.0, 60.0, 30.0),
                                      (4.0, 4.0, None))
    assert (exp.slas.max_scale_out_s, exp.slas.max_scale_in_s) == (40.0, 60.0)


def test_a_spike_without_ramp_jumps_at_once(exp_dir: Path) -> None:
    exp = parse_experiment(EXP.replace("rampUp: 20s, ", ""), exp_dir / "x.yaml")
    assert exp.load.rate_segments == ((4.0, 4.0, 12.0), (60.0, 60.0, 50.0), (4.0, 4.0, None))


@pytest.mark.parametrize(("old", "new", "where", "says"), [
    ("mode: open, rate: 4/s, ", "", "spec.load.mode", "set mode: open"),
    ("rate: 4/s,", "rate: 4/s, steps: [{rate: 2/s, duration: 5s}],", "spec.load.steps",
     "without steps or rampUp"),
    ("rate: 4/s,", "rate: 4/s, rampUp: 3s,", "spec.load.steps", "without steps or rampUp"),
    ("rampUp: 20s, duration: 50s", "rampUp: 60s, duration: 50s", "spec.faults[0].rampUp",
     "longer than the spike's duration"),
    ("    - {type: load-spike", "    - {type: pod-kill}\n    - {type: load-spike",
     "spec.faults[1]", "must be the first fault"),
    ("delay: 2s}", "delay: 2s}\n    - {type: load-spike, rate: 9/s}", "spec.faults[1]",
     "only one load-spike"),
    ("rate: 60/s", "rate: fast", "spec.faults[0].rate", "arrival rate such as 200/s"),
    ("maxScaleOutTime: 40s", "maxScaleOutTime: 0s", "spec.slas.maxScaleOutTime", ""),
])
def test_bad_spikes_name_the_field(exp_dir: Path, old: str, new: str, where: str,
                                   says: str) -> None:
    assert old in EXP
    with pytest.raises(ExperimentInvalid, match=re.escape(where)) as err:
        parse_experiment(EXP.replace(old, new), exp_dir / "x.yaml")
    assert says in str(err.value)


def ev(t: float, kind: str, name: str, detail: str = "") -> ClusterEvent:
    return ClusterEvent(t, kind, name, detail)


TIMELINE = [
    ev(90.0, "pod-added", "a"), ev(91.0, "pod-ready", "a"),  # before the spike
    ev(112.0, "event", "hpa", "SuccessfulRescale: New size: 3; reason: cpu above target"),
    ev(112.1, "pod-added", "b"), ev(112.1, "pod-added", "c"),
    ev(114.5, "pod-ready", "b"), ev(115.0, "pod-ready", "c"),
    ev(170.0, "event", "hpa", "SuccessfulRescale: New size: 1; reason: All metrics below"),
    ev(170.1, "pod-unready", "b"), ev(171.0, "pod-deleted", "b"),
    ev(172.0, "pod-deleted", "c"),
]


def test_scale_out_and_in_figures_from_the_timeline() -> None:
    fig = pscale.scaling(TIMELINE, start=100.0, hold_end=150.0, initial=["a"],
                         initial_ready=["a"])
    assert fig.initial_pods == 1 and fig.peak_pods == 3
    assert fig.first_rescale_s == pytest.approx(12.0)
    assert fig.first_pod_added_s == pytest.approx(12.1)
    assert fig.scale_out_s == pytest.approx(14.5)  # the first added pod Ready
    assert fig.scale_in_s == pytest.approx(22.0)  # 172: back at one pod, 22 s after the hold
    assert [m for _, m in fig.rescales] == [TIMELINE[2].detail, TIMELINE[7].detail]
    assert [(p.pods, p.ready) for p in fig.series] == [
        (1, 1), (2, 1), (3, 1), (3, 2), (3, 3), (3, 2), (2, 2), (1, 1)]


def test_no_scale_out_leaves_the_figures_unmeasured() -> None:
    fig = pscale.scaling(TIMELINE[:2], start=100.0, hold_end=150.0, initial=["a"],
                         initial_ready=["a"])
    assert (fig.peak_pods, fig.scale_out_s, fig.scale_in_s, fig.first_rescale_s) == (
        1, None, None, None)


def test_pods_replaced_before_the_spike_count_as_initial() -> None:
    events = [ev(90.0, "pod-added", "a"), ev(95.0, "pod-deleted", "a"),
              ev(95.5, "pod-added", "z"), ev(97.0, "pod-ready", "z"),
              ev(120.0, "pod-added", "y"), ev(125.0, "pod-ready", "y")]
    fig = pscale.scaling(events, start=100.0, hold_end=130.0, initial=[], initial_ready=["z"])
    assert fig.initial_pods == 1 and fig.scale_out_s == pytest.approx(25.0)
    assert fig.scale_in_s is None  # never back at one pod


@pytest.mark.parametrize(("out", "back", "passed"), [
    (14.5, 22.0, (True, True)), (45.0, 22.0, (False, True)), (None, None, (False, False)),
    (14.5, 61.0, (True, False)),
])
def test_scaling_slas(out: float | None, back: float | None,
                      passed: tuple[bool, bool]) -> None:
    slas = SLASpec(max_scale_out_s=40.0, max_scale_in_s=60.0)
    obs = pslas.Observation(records=(), fault_window=(0.0, 1.0), scale_out_s=out,
                            scale_in_s=back)
    results = pslas.evaluate(slas, obs)
    assert [(r.name, r.observed, r.passed) for r in results] == [
        ("maxScaleOutTime", out, passed[0]), ("maxScaleInTime", back, passed[1])]


def test_scaling_in_full_at_its_edges() -> None:
    """A pod added exactly at the start is an added pod; a rescale's time is rounded to the
    millisecond; only Kubernetes events count as rescales; a return to the initial count
    exactly at the end of the hold is a scale-in of 0 s; a pod not Ready at the start stays
    not Ready."""
    events = [ev(100.0, "pod-added", "b"),
              ev(100.5, "warning", "b", "SuccessfulRescale: not an event"),
              ev(102.3456, "event", "hpa", "SuccessfulRescale: New size: 3"),
              ev(104.0, "pod-ready", "b"), ev(110.0, "pod-deleted", "b")]
    fig = pscale.scaling(events, start=100.0, hold_end=110.0, initial=["a", "u"],
                         initial_ready=["a"])
    point = pscale.ReplicaPoint
    assert fig == pscale.Scaling(
        series=(point(100.0, 2, 1), point(100.0, 3, 1), point(104.0, 3, 2),
                point(110.0, 2, 1)),
        initial_pods=2, peak_pods=3, first_rescale_s=2.346, first_pod_added_s=0.0,
        scale_out_s=4.0, scale_in_s=0.0,
        rescales=((2.346, "SuccessfulRescale: New size: 3"),))


def test_scale_in_under_a_second_after_the_hold_is_measured() -> None:
    events = [ev(101.0, "pod-added", "b"), ev(110.5, "pod-deleted", "b")]
    fig = pscale.scaling(events, start=100.0, hold_end=110.0, initial=["a"],
                         initial_ready=["a"])
    assert fig.scale_in_s == 0.5


def test_pods_seen_only_added_or_only_ready_before_the_start_were_there() -> None:
    """Before the start: p added (never Ready), q turned Ready (its creation not seen), r
    deleted. The pods at the start are p, q and the untouched s; q and s Ready."""
    events = [ev(90.0, "pod-added", "p"), ev(95.0, "pod-ready", "q"),
              ev(96.0, "pod-deleted", "r")]
    fig = pscale.scaling(events, start=100.0, hold_end=130.0, initial=["r", "s"],
                         initial_ready=["q", "s"])
    assert (fig.initial_pods, fig.series) == (3, (pscale.ReplicaPoint(100.0, 3, 2),))
