"""The FaultContext every fault acts through (its holds, cuts, waits and the undo it journals),
the registry, and the load-spike fault that only holds, on a FakeClock and a scripted Observer."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fault_world import SEL, make_world, snap

from chaos.errors import InjectionFailed
from chaos.faults import base
from chaos.faults.base import FaultOutcome, build, implementations, implements
from chaos.faults.load import LoadSpikeFault
from chaos.journal.store import read_journal
from chaos.model.faults import LoadSpike, PodKill
from chaos.model.hold import Hold


def test_scope_carries_what_target_choice_needs(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    w = make_world(tmp_path, monkeypatch, index=3, seed=11)
    scope = w.ctx.scope()
    assert (scope.kube, scope.namespace, scope.seed, scope.index, scope.workload_selector) == \
        (w.ctx.kube, "ns", 11, 3, SEL)


def test_remaining_counts_down_to_the_deadline_and_past_it(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    w = make_world(tmp_path, monkeypatch, deadline=10.0)
    assert w.ctx.remaining() == 10.0
    w.clock.advance(4.0)
    assert w.ctx.remaining() == 6.0
    w.clock.advance(10.0)
    assert w.ctx.remaining() == -4.0


def test_sleep_never_outlives_the_deadline_and_says_whether_it_was_aborted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = make_world(tmp_path, monkeypatch, deadline=10.0)
    assert w.ctx.sleep(3.0) is False and w.clock.monotonic() == 3.0
    assert w.ctx.sleep(30.0) is False and w.clock.monotonic() == 10.0  # cut at the deadline
    assert w.ctx.sleep(5.0) is False and w.clock.monotonic() == 10.0  # past it: no wait at all
    w2 = make_world(tmp_path / "b", monkeypatch, deadline=10.0)
    assert w2.ctx.sleep(-2.0) is False and w2.clock.monotonic() == 0.0
    assert w2.ctx.aborted is False
    w2.ctx.abort.event.set()
    assert w2.ctx.aborted is True
    assert w2.ctx.sleep(5.0) is True and w2.clock.monotonic() == 0.0


def test_a_hold_records_planned_granted_and_held(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    w = make_world(tmp_path, monkeypatch, deadline=100.0)
    assert w.ctx.hold(30.0) == 30.0
    assert w.ctx.holds == [Hold(planned_s=30.0, granted_s=30.0, held_s=30.0, aborted=False)]
    assert w.clock.monotonic() == 30.0


def test_a_hold_the_budget_cuts_is_granted_only_what_is_left(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = make_world(tmp_path, monkeypatch, deadline=12.0)
    assert w.ctx.hold(30.0) == 12.0
    assert w.ctx.holds[-1] == Hold(planned_s=30.0, granted_s=12.0, held_s=12.0, aborted=False)
    # past the deadline: granted nothing (never a negative grant)
    assert w.ctx.hold(5.0) == 0.0
    assert w.ctx.holds[-1] == Hold(planned_s=5.0, granted_s=0.0, held_s=0.0, aborted=False)
    w.clock.advance(3.0)
    with w.ctx.holding(5.0) as granted:
        assert granted == 0.0


def test_holding_measures_what_the_body_held_rounded_and_whether_aborted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = make_world(tmp_path, monkeypatch)
    with w.ctx.holding(10.0) as granted:
        assert granted == 10.0
        w.clock.advance(1.23456)
        w.ctx.abort.event.set()
    assert w.ctx.holds == [Hold(planned_s=10.0, granted_s=10.0, held_s=1.235, aborted=True)]


def test_holding_records_the_hold_even_when_its_body_raises(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = make_world(tmp_path, monkeypatch)
    with pytest.raises(InjectionFailed), w.ctx.holding(8.0):
        w.clock.advance(2.0)
        raise InjectionFailed("boom")
    assert w.ctx.holds == [Hold(planned_s=8.0, granted_s=8.0, held_s=2.0, aborted=False)]


def test_a_hold_cut_by_an_abort_ends_at_once(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    w = make_world(tmp_path, monkeypatch)
    w.clock.every(4.0, w.ctx.abort.event.set, "guard")
    assert w.ctx.hold(60.0) == 4.0
    assert w.ctx.holds[-1] == Hold(planned_s=60.0, granted_s=60.0, held_s=4.0, aborted=True)


@pytest.mark.parametrize(("planned", "granted", "cut"), [
    (10.0, 9.7, "drain waited 9.7s of 10s"),
    (10.0, 9.75, None),  # within the slack: the budget did not cut it
    (10.0, 9.8, None),
    (10.0, 10.0, None),
    (2.5, 0.04, "drain waited 0.0s of 2.5s"),
])
def test_cut_short_records_only_a_wait_the_budget_really_cut(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planned: float, granted: float,
        cut: str | None) -> None:
    w = make_world(tmp_path, monkeypatch)
    w.ctx.cut_short(planned, granted, "drain waited")
    assert w.ctx.budget_cuts == ([] if cut is None else [cut])


def test_an_aborted_wait_is_no_budget_cut(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    w = make_world(tmp_path, monkeypatch)
    w.ctx.abort.event.set()
    w.ctx.cut_short(10.0, 1.0, "rollout followed")
    assert w.ctx.budget_cuts == []


def test_the_undo_target_names_where_to_send_it(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    w = make_world(tmp_path, monkeypatch)
    # node_access: how `kube-chaos rollback` reaches the nodes again (chaos.node.access)
    assert w.ctx.target() == {"kubeconfig": "/k", "context": "kind-x", "cluster": "x",
                              "namespace": "ns", "node_access": "docker"}
    w2 = make_world(tmp_path / "b", monkeypatch, cluster_name=None)
    assert w2.ctx.target()["cluster"] == ""
    assert w2.ctx.target()["node_access"] == ""  # no node access: no node undo can follow


def test_record_undo_journals_the_action_with_its_target(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    w = make_world(tmp_path, monkeypatch)
    action = w.ctx.record_undo("uncordon", node="w1")
    assert (action.kind, dict(action.params)) == ("uncordon", {"node": "w1"})
    assert dict(action.target) == w.ctx.target()
    [on_disk] = read_journal(w.ctx.journal.path).pending
    assert (on_disk.id, on_disk.kind, dict(on_disk.params), dict(on_disk.target)) == \
        (action.id, "uncordon", {"node": "w1"}, w.ctx.target())


def test_await_state_true_at_once_does_not_wait(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    w = make_world(tmp_path, monkeypatch)
    assert w.ctx.await_state(lambda s: True, 30.0) is True
    assert w.observer.waits == [] and w.clock.monotonic() == 0.0


def test_await_state_follows_changes_until_the_state_holds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    states = [snap(1, nodes={"w1": False}), snap(2, nodes={"w1": False}),
              snap(3, nodes={"w1": True})]
    w = make_world(tmp_path, monkeypatch, states=states, step=2.0)
    assert w.ctx.await_state(lambda s: s.nodes["w1"], 30.0) is True
    assert w.clock.monotonic() == 4.0
    assert w.observer.waits == [(1, 30.0), (2, 28.0)]  # each from the version seen, time left


def test_await_state_gives_up_at_its_timeout_or_the_deadline(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = make_world(tmp_path, monkeypatch, step=1.0)
    assert w.ctx.await_state(lambda s: False, 2.5) is False
    assert w.clock.monotonic() == 2.5
    w2 = make_world(tmp_path / "b", monkeypatch, deadline=3.0, step=1.0)
    assert w2.ctx.await_state(lambda s: False, 30.0) is False
    assert w2.clock.monotonic() == 3.0
    w3 = make_world(tmp_path / "c", monkeypatch, step=1.0)
    assert w3.ctx.await_state(lambda s: False, -5.0) is False
    assert w3.observer.waits == []


def test_await_state_returns_on_an_abort(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    w = make_world(tmp_path, monkeypatch, step=1.0)
    w.clock.every(2.0, w.ctx.abort.event.set, "guard")
    assert w.ctx.await_state(lambda s: False, 60.0) is False
    assert w.clock.monotonic() == 2.0


def test_a_fault_outcome_starts_empty_and_now(tmp_path: Path) -> None:
    before = time.time()
    o = FaultOutcome(type="cordon")
    assert before <= o.started_at <= time.time()
    assert (o.targets, o.ended_at, o.lifted_at, o.details, o.undo, o.holds) == \
        ([], None, None, {}, [], [])
    assert FaultOutcome(type="x").targets is not o.targets  # no shared default


def test_implementations_is_a_copy_and_registering_adds_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    copy = implementations()
    copy.clear()
    assert implementations()  # the registry itself is untouched
    monkeypatch.setattr(base, "_IMPLEMENTATIONS", {})

    class Meteor(PodKill):
        pass

    class MeteorFault:
        def __init__(self, spec: Meteor) -> None:
            self.spec = spec

    assert implements(Meteor)(MeteorFault) is MeteorFault
    assert implementations() == {Meteor: MeteorFault}
    spec = Meteor(selector=SEL)
    assert build(spec).spec is spec  # type: ignore[attr-defined]


# --- load-spike: holds, changes nothing -------------------------------------------------------


def test_load_spike_holds_for_its_duration_and_marks_the_timeline(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = make_world(tmp_path, monkeypatch)
    fault = LoadSpikeFault(LoadSpike(rate=80.0, ramp_up_s=5.0, duration_s=20.0))
    outcome = fault.inject(w.ctx)
    assert outcome.type == "load-spike"
    assert outcome.details == {"rate_per_s": 80.0, "ramp_up_s": 5.0, "duration_s": 20.0}
    assert w.events == [("fault-start", "", "arrivals ramp to 80/s over 5s, held until 20s"),
                        ("fault-end", "", "arrivals back at the base rate")]
    assert w.clock.monotonic() == 20.0
    assert w.ctx.holds == [Hold(planned_s=20.0, granted_s=20.0, held_s=20.0, aborted=False)]
    assert outcome.lifted_at == outcome.ended_at == w.clock.wall()
    assert fault.undo(w.ctx) == [] and w.pending_kinds() == []


def test_load_spike_cut_by_the_budget_or_an_abort_ends_early(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = make_world(tmp_path, monkeypatch, deadline=7.5)
    LoadSpikeFault(LoadSpike(rate=2.5, ramp_up_s=0.0, duration_s=20.0)).inject(w.ctx)
    assert w.ctx.holds[-1] == Hold(planned_s=20.0, granted_s=7.5, held_s=7.5, aborted=False)
    assert w.events[0] == ("fault-start", "", "arrivals ramp to 2.5/s over 0s, held until 20s")
    w2 = make_world(tmp_path / "b", monkeypatch)
    w2.clock.every(3.0, w2.ctx.abort.event.set, "guard")
    o = LoadSpikeFault(LoadSpike(rate=9.0, ramp_up_s=1.0, duration_s=20.0)).inject(w2.ctx)
    assert w2.clock.monotonic() == 3.0 and o.lifted_at == w2.clock.wall()
    assert w2.ctx.holds[-1].aborted is True
