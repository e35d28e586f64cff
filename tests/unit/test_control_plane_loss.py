"""control-plane-loss: the spec, etcd quorum, the restart order, the API-server probe's
figures and the maxApiOutage SLA."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chaos.engine.phases import needs_api_probe
from chaos.errors import ExperimentInvalid
from chaos.faults.controlplane import restart_order
from chaos.model import ControlPlaneLoss, SLASpec
from chaos.model.apiprobe import ApiProbeData, LeaseReading, MemberReading
from chaos.model.parse import parse_experiment
from chaos.model.timeline import RequestRecord
from chaos.plan import apiprobe as papi
from chaos.plan import slas as pslas
from chaos.plan.quorum import quorum, quorum_kept


def probes(pattern: str, t0: float = 100.0, step: float = 0.1) -> tuple[RequestRecord, ...]:
    """One probe per character: '.' answered in 10 ms, 'x' failed after 1 s."""
    return tuple(RequestRecord(t0 + i * step, 0.01 if c == "." else 1.0, c == ".",
                               200 if c == "." else 0) for i, c in enumerate(pattern))


def test_outage_windows_are_runs_of_failed_probes() -> None:
    recs = probes("..xxx..x.")
    windows = papi.windows(recs, origin=100.0)
    assert [(w["start_s"], w["end_s"], w["failures"]) for w in windows] == [
        (0.2, 0.5, 3), (0.7, 0.8, 1)]
    assert papi.longest_outage_s(recs, 100.0, 101.0) == pytest.approx(0.3)
    assert papi.longest_outage_s(recs, 200.0, 201.0) is None  # no probe there: not measured


def test_outage_windows_in_full_within_start_and_end_to_the_millisecond() -> None:
    recs = (RequestRecord(100.00012, 0.01, True, 200),
            RequestRecord(100.05, 0.01, False, 0),  # before start
            RequestRecord(100.20012, 0.5, False, 0), RequestRecord(100.30012, 0.51237, False, 0),
            RequestRecord(100.4, 2.0, False, 0))  # at or after end
    assert papi.windows(recs, origin=100.0, start=100.1, end=100.35) == [
        {"start_s": 0.2, "end_s": 0.812, "seconds": 0.612, "failures": 2}]


def test_lease_changes_skip_unreadable_samples() -> None:
    readings = [
        LeaseReading(1.0, "kube-scheduler", "cp1_aaa"),
        LeaseReading(2.0, "kube-scheduler", None),  # API down: says nothing
        LeaseReading(3.0, "kube-scheduler", "cp2_bbb"),
        LeaseReading(4.0, "kube-scheduler", "cp2_ccc"),  # same node, new process: no change
        LeaseReading(1.5, "kube-controller-manager", "cp1_x"),
    ]
    changes = papi.lease_changes(readings, origin=2.5)
    assert changes == [{"lease": "kube-scheduler", "at_s": 0.5, "holder_from": "cp1",
                        "holder_to": "cp2"}]
    assert papi.holders_at(readings, 2.5, after=False) == {"kube-scheduler": "cp1",
                                                           "kube-controller-manager": "cp1"}
    assert papi.holders_at(readings, 2.5, after=True)["kube-scheduler"] == "cp2"


def test_member_windows_count_unreachable_as_unhealthy() -> None:
    readings = [MemberReading(t, "cp1", h) for t, h in
                ((0.0, True), (2.0, None), (4.0, False), (6.0, True), (8.0, False))]
    out = papi.member_figures(readings, origin=0.0)["cp1"]
    assert out["samples"] == 5 and out["unhealthy_samples"] == 3
    assert [(w["start_s"], w["end_s"]) for w in out["unhealthy_windows"]] == [(2.0, 6.0),
                                                                              (8.0, 8.0)]
    assert out["longest_unhealthy_s"] == 4.0


def test_figures_are_relative_to_the_fault() -> None:
    data = ApiProbeData(requests=probes("....xxxxx...."),
                        leases=(LeaseReading(100.0, "kube-scheduler", "cp1_a"),
                                LeaseReading(101.0, "kube-scheduler", "cp2_b")),
                        server="https://127.0.0.1:1")
    fig = papi.figures(data, (100.3, 102.0))
    assert fig["longest_outage_s"] == pytest.approx(0.5)
    assert fig["outage_windows"][0]["start_s"] == pytest.approx(0.1)
    assert fig["reelection_s"] == {"kube-scheduler": pytest.approx(0.7)}
    assert fig["requests"] == 13 and fig["failed"] == 5
    assert fig["etcd_ready_longest_outage_s"] is None  # not sampled


def test_max_api_outage_sla_passes_fails_and_fails_unmeasured() -> None:
    slas = SLASpec(max_api_outage_s=2.0)
    for observed, passed in ((1.5, True), (2.5, False), (None, False)):
        obs = pslas.Observation(records=(), fault_window=(0.0, 1.0),
                                api_longest_outage_s=observed)
        [result] = pslas.evaluate(slas, obs)
        assert (result.name, result.passed, result.observed) == ("maxApiOutage", passed, observed)


EXP = """\
apiVersion: kube-chaos/v1
kind: Experiment
metadata: {name: cp}
spec:
  workload: {manifests: [workloads/httpd.yaml], selector: {app: httpd}, service: httpd,
             nodePort: 30080, replicas: 3}
  faults:
    - {type: control-plane-loss, count: 2, duration: 20s}
  slas: {maxApiOutage: 5s}
  blastRadius: {maxNodes: 2}
"""


def test_control_plane_loss_parses_with_defaults(exp_dir: Path) -> None:
    exp = parse_experiment(EXP, exp_dir / "x.yaml")
    assert exp.faults == (ControlPlaneLoss(count=2, duration_s=20.0),)
    assert exp.faults[0].mode == "pause" and exp.slas.max_api_outage_s == 5.0
    assert needs_api_probe(exp)
    with pytest.raises(ExperimentInvalid, match=re.escape("spec.faults[0].mode")):
        parse_experiment(EXP.replace("duration: 20s", "mode: explode"), exp_dir / "x.yaml")


def test_control_plane_loss_count_over_max_nodes_is_a_collection_error(exp_dir: Path) -> None:
    """Its count is known from the file, so the blast radius is checked at collection (under
    the default maxNodes: 1 a count of 2 or 3 is refused), as for every node fault."""
    for count in (2, 3):
        text = EXP.replace("  blastRadius: {maxNodes: 2}\n", "").replace(
            "count: 2", f"count: {count}")
        with pytest.raises(ExperimentInvalid) as err:
            parse_experiment(text, exp_dir / "x.yaml")
        assert str(err.value).endswith(
            f"x.yaml:8: spec.faults[0].count: {count} nodes exceeds the blast radius "
            "(maxNodes: 1); raise spec.blastRadius to allow it")
    assert parse_experiment(EXP.replace("maxNodes: 2", "maxNodes: 3"), exp_dir / "x.yaml")


def test_quorum_of_three_survives_one_loss_only() -> None:
    assert quorum(3) == 2 and quorum(1) == 1 and quorum(5) == 3
    assert quorum_kept(3, 1) and not quorum_kept(3, 2) and not quorum_kept(1, 1)
    assert quorum_kept(5, 2) and not quorum_kept(5, 3)


def test_stopped_nodes_restart_in_address_order() -> None:
    order = restart_order({"cp3": "172.18.0.10", "cp2": "172.18.0.9", "cp1": ""})
    assert order == ["cp2", "cp3", "cp1"]  # numerically, not as strings; unknown last


def test_back_after_lift_is_the_outage_going_on_at_the_lift() -> None:
    recs = probes("..xxxxx...")  # failures from 100.2 to the served probe at 100.7
    assert papi.back_after_lift_s(recs, 100.45) == pytest.approx(0.25)
    assert papi.back_after_lift_s(recs, 100.75) == 0.0
    assert papi.back_after_lift_s(recs, 200.0) is None
    fig = papi.figures(ApiProbeData(requests=recs), (100.0, 101.0), lifted_at=100.45)
    assert fig["lifted_at_s"] == pytest.approx(0.45)
    assert fig["back_after_lift_s"] == pytest.approx(0.25)


# -- the fault against fakes (Docker, the API, the clock) ---------------------------------------


@pytest.fixture
def three_control_planes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """cp2 and cp3 chosen of cp1..cp3; records how many undos were journaled at each pause."""
    from test_faults_abort import _ctx
    from test_undo_faults import FakeCore, FakeDocker

    from chaos.faults import controlplane as fcp
    from chaos.faults import undo
    from chaos.journal.store import read_journal
    from chaos.k8s import nodes as knodes

    names = ("cp1", "cp2", "cp3")
    core = FakeCore({n: {"unschedulable": False, "ready": True} for n in names})
    docker = FakeDocker(dict.fromkeys(names, "running"))
    journaled_at_pause: list[int] = []
    holder: dict[str, Any] = {}

    def fake_docker(*args: str, timeout: float = 60) -> Any:
        if args[0] in ("pause", "stop"):
            journaled_at_pause.append(len(read_journal(holder["ctx"].journal.path).pending))
            docker.containers[args[-1]] = "paused" if args[0] == "pause" else "exited"
            return docker._proc(args)
        return docker.docker(*args, timeout=timeout)

    kube = SimpleNamespace(core=core, context="kind-x")
    monkeypatch.setattr(undo, "kube_for", lambda action: kube)
    monkeypatch.setattr(docker.runtime, "fake_docker", fake_docker)
    monkeypatch.setattr(undo, "node_for", lambda action: docker.runtime)
    monkeypatch.setattr(knodes, "get_node",
                        lambda k, name: knodes.node_view(core.read_node(name)))
    monkeypatch.setattr(fcp, "control_plane_targets",
                        lambda scope, spec: (("cp2", "cp3"), names))

    def make(abort_at: float | None) -> Any:
        ctx, clock, observer = _ctx(tmp_path, abort_at)
        ctx.node = docker.runtime
        holder["ctx"] = ctx
        return ctx, clock, observer, docker, journaled_at_pause

    return make


def test_every_undo_is_journaled_before_the_first_node_is_lost(three_control_planes: Any
                                                              ) -> None:
    from chaos.faults.controlplane import ControlPlaneLossFault
    from chaos.journal.store import read_journal

    ctx, clock, observer, docker, journaled = three_control_planes(None)
    outcome = ControlPlaneLossFault(ControlPlaneLoss(count=2, duration_s=30.0)).inject(ctx)
    assert journaled == [2, 2]  # both undos on disk before the first pause
    starts = [e for e in observer.events if e[0] == "fault-start"]
    assert [e[1] for e in starts] == ["cp2", "cp3"]
    assert set(docker.containers.values()) == {"running"}  # all given back
    assert not read_journal(ctx.journal.path).pending
    assert [o.status for o in ctx.undo_outcomes] == ["undone", "undone"]
    assert outcome.details["quorum_kept"] is False and outcome.details["lost"] == 2
    assert outcome.details["held_s"] == 30.0 and outcome.lifted_at is not None
    assert clock.monotonic() == 30.0


def test_an_abort_gives_the_control_plane_back_at_once(three_control_planes: Any) -> None:
    from chaos.faults.controlplane import ControlPlaneLossFault

    ctx, clock, _, docker, _ = three_control_planes(4.0)
    outcome = ControlPlaneLossFault(ControlPlaneLoss(count=2, duration_s=120.0,
                                                     mode="stop")).inject(ctx)
    assert clock.monotonic() == 4.0 and outcome.details["aborted"] is True
    assert set(docker.containers.values()) == {"running"}


def test_every_figure_of_the_api_server_section_at_once() -> None:
    """The report's api_server section, every field pinned (checked by hand): probes every
    0.5 s failing 101.5-103 and at 105, etcd's readyz failing at 102 and 103, the controller
    manager's lease moving from cp1 to cp2 through an unreadable sample, the scheduler's
    staying on cp1 (a new process on the same node), cp1's etcd member unhealthy or
    unreachable from 101 to 103, the fault window 101-106 and its lift at 102."""
    data = ApiProbeData(
        requests=probes("...xxxx...x..", t0=100.0, step=0.5),
        etcd_ready=probes("..xx.....", t0=100.0, step=1.0),
        leases=(LeaseReading(100.0, "kube-controller-manager", "cp1_a"),
                LeaseReading(101.5, "kube-controller-manager", None),
                LeaseReading(102.5, "kube-controller-manager", "cp2_b"),
                LeaseReading(99.0, "kube-scheduler", "cp1_c"),
                LeaseReading(103.0, "kube-scheduler", "cp1_d")),
        members=(MemberReading(100.0, "cp1", True), MemberReading(101.0, "cp1", None),
                 MemberReading(102.0, "cp1", False), MemberReading(103.0, "cp1", True),
                 MemberReading(100.0, "cp2", True), MemberReading(103.0, "cp2", True)),
        interval_s=0.5, server="https://127.0.0.1:6443")
    assert papi.figures(data, (101.0, 106.0), lifted_at=102.0) == {
        "server": "https://127.0.0.1:6443", "interval_s": 0.5, "requests": 13, "failed": 5,
        "error_rate_during_fault": 0.5, "longest_outage_s": 2.0,
        "outage_windows": [{"start_s": 0.5, "end_s": 2.5, "seconds": 2.0, "failures": 4},
                           {"start_s": 4.0, "end_s": 4.5, "seconds": 0.5, "failures": 1}],
        "etcd_ready_longest_outage_s": 2.0,
        "etcd_ready_outage_windows": [{"start_s": 1.0, "end_s": 3.0, "seconds": 2.0,
                                       "failures": 2}],
        "lease_changes": [{"lease": "kube-controller-manager", "at_s": 1.5,
                           "holder_from": "cp1", "holder_to": "cp2"}],
        "reelection_s": {"kube-controller-manager": 1.5, "kube-scheduler": None},
        "holders_before": {"kube-scheduler": "cp1", "kube-controller-manager": "cp1"},
        "holders_after": {"kube-scheduler": "cp1", "kube-controller-manager": "cp2"},
        "etcd_members": {
            "cp1": {"samples": 4, "unhealthy_samples": 2, "longest_unhealthy_s": 2.0,
                    "unhealthy_windows": [{"start_s": 0.0, "end_s": 2.0, "seconds": 2.0,
                                           "failures": 2}]},
            "cp2": {"samples": 2, "unhealthy_samples": 0, "unhealthy_windows": [],
                    "longest_unhealthy_s": 0.0}},
        "lifted_at_s": 1.0, "back_after_lift_s": 1.5}
    # with no fault, times count from the first probe and nothing is "during the fault"
    bare = papi.figures(data, None)
    assert bare["outage_windows"][0]["start_s"] == 1.5 and bare["lifted_at_s"] is None
    assert bare["error_rate_during_fault"] == round(5 / 13, 4)  # rounded to 4 places
