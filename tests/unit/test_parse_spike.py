"""A load-spike fault against the load section: every refusal with its whole message and the
line it points at (the steps or rampUp key when given, else the load, else the fault)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import ExperimentInvalid
from chaos.model.parse import parse_experiment

EXP = """\
apiVersion: kube-chaos/v1
kind: Experiment
metadata: {name: spike}
spec:
  workload: {manifests: [workloads/httpd.yaml], selector: {app: httpd}, service: httpd,
             nodePort: 30080, replicas: 1}
  load:
    mode: open
    rate: 4/s
    warmup: 10s
    tail: 20s
    maxDuration: 120s
  faults:
    - {type: load-spike, rate: 60/s, rampUp: 20s, duration: 50s, delay: 2s}
  slas: {maxScaleOutTime: 40s, maxScaleInTime: 1m, p99Latency: 1s}
"""

ONLY_BASE = ("spec.faults[0] (load-spike) writes the load's schedule itself: give spec.load "
             "only the base rate, without steps or rampUp")


def _error(exp_dir: Path, old: str, new: str) -> str:
    assert old in EXP, old
    with pytest.raises(ExperimentInvalid) as info:
        parse_experiment(EXP.replace(old, new, 1), exp_dir / "x.yaml")
    return str(info.value).replace(str(exp_dir), "D")


@pytest.mark.parametrize(("added", "expected"), [
    ("    steps: [{rate: 2/s, duration: 5s}]\n", f"D/x.yaml:10: spec.load.steps: {ONLY_BASE}"),
    ("    rampUp: 3s\n", f"D/x.yaml:10: spec.load.steps: {ONLY_BASE}"),
    ("    rampUp: 3s\n    steps: [{rate: 2/s, duration: 5s}]\n",
     f"D/x.yaml:11: spec.load.steps: {ONLY_BASE}"),
], ids=["steps", "rampUp", "steps-named-before-rampUp"])
def test_a_shaped_base_load_is_refused_at_its_steps_or_ramp(exp_dir: Path, added: str,
                                                            expected: str) -> None:
    assert _error(exp_dir, "    warmup: 10s\n", added + "    warmup: 10s\n") == expected


def test_a_second_spike_is_refused_with_the_whole_message(exp_dir: Path) -> None:
    assert _error(exp_dir, "delay: 2s}\n", "delay: 2s}\n    - {type: load-spike, rate: 9/s}\n") == (
        "D/x.yaml:15: spec.faults[1]: only one load-spike per experiment: the load's schedule "
        "is fixed before the run")


def test_a_spike_after_another_fault_is_refused_with_the_whole_message(exp_dir: Path) -> None:
    assert _error(exp_dir, "    - {type: load-spike",
                  "    - {type: pod-kill}\n    - {type: load-spike") == (
        "D/x.yaml:15: spec.faults[1]: a load-spike must be the first fault: its place in the "
        "load's schedule is fixed before the run, which only the first fault's start allows")


def test_a_spike_on_closed_loop_load_points_at_the_load(exp_dir: Path) -> None:
    assert _error(exp_dir, "    mode: open\n    rate: 4/s\n", "    users: 3\n") == (
        "D/x.yaml:8: spec.load.mode: a load-spike raises the open-loop arrival rate: set "
        "mode: open and the base rate (e.g. rate: 5/s)")


def test_a_spike_without_a_load_section_points_at_the_fault(exp_dir: Path) -> None:
    load = EXP[EXP.index("  load:"):EXP.index("  faults:")]
    assert _error(exp_dir, load, "") == (
        "D/x.yaml:8: spec.load.mode: a load-spike raises the open-loop arrival rate: set "
        "mode: open and the base rate (e.g. rate: 5/s)")


def test_the_schedule_holds_the_base_rate_through_warmup_and_delay(exp_dir: Path) -> None:
    exp = parse_experiment(EXP, exp_dir / "x.yaml")
    # 10 s warm-up + 2 s delay at the base 4/s, the 20 s ramp to 60/s, the rest of the 50 s
    # at 60/s, then the base rate again; everything else in the load section is kept
    assert exp.load.rate_segments == ((4.0, 4.0, 12.0), (4.0, 60.0, 20.0), (60.0, 60.0, 30.0),
                                      (4.0, 4.0, None))
    assert (exp.load.warmup_s, exp.load.tail_s, exp.load.max_duration_s) == (10.0, 20.0, 120.0)
