"""Following one rollout (`_follow`): the pod loop next to the controller watch, on a fake clock.
When it stops (the controller's verdict, every replica of a whole revision Ready, or the end of
its wait), the times it reports from the patch, the peaks it counts against the pods that served
before, how long it waits per look, and the budget cut it records when the run's deadline, not
the declared wait, ended it. The watch thread is replaced by a stand-in that finishes at a set
time on the clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fault_world import World, make_world, snap
from test_fault_rollout import DONE, FakeAPI, deployment, pod

from chaos.faults import rollout as fr
from chaos.faults.rollout import RolloutFault
from chaos.model.experiment import Rollout
from chaos.plan import rollout as ro

PATCHED_AT = 10.0
OLD = frozenset({"old"})


def strategy(replicas: int = 3) -> ro.Strategy:
    return ro.Strategy("Deployment", "RollingUpdate", replicas, 1, 0, {"maxSurge": 1}, 600)


class Watch:
    """Stands in for _ControllerWatch: finished once the clock reaches ``finish_at``, when the
    controller reported the change done (or, with ``stalled``, stalled)."""

    def __init__(self, w: World, finish_at: float | None, stalled: bool = False) -> None:
        self.w, self.finish_at, self.stalled = w, finish_at, stalled
        self.finished = self
        self.timeouts: list[float] = []
        self.joined: list[float | None] = []
        self.last: ro.Progress | None = None
        self.error: str | None = None
        self.done_at: float | None = None
        self.stalled_at: float | None = None

    def __call__(self, ctx: Any, target: Any, generation: int, timeout_s: float,
                 on_observed: Any = None) -> Watch:
        self.timeouts.append(timeout_s)
        return self

    def is_set(self) -> bool:
        if self.finish_at is None or self.w.clock.monotonic() < self.finish_at:
            return False
        if self.stalled:
            self.stalled_at = self.finish_at
        else:
            self.done_at = self.finish_at
        return True

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def join(self, timeout: float | None = None) -> None:
        self.joined.append(timeout)


def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *states: Any,
          deadline: float = 600.0) -> World:
    w = make_world(tmp_path, monkeypatch, deadline=deadline,
                   states=[snap(i, p) for i, p in enumerate(states, start=1)])
    w.clock.advance(PATCHED_AT)
    return w


def follow(w: World, watch: Watch, monkeypatch: pytest.MonkeyPatch, wait_s: float = 30.0,
           replicas: int = 3, whole_revision: str | None = None) -> fr._Followed:
    monkeypatch.setattr(fr, "_ControllerWatch", watch)
    target = fr._Target("Deployment", "web", deployment(1, **DONE))
    return fr._follow(w.ctx, target, 2, PATCHED_AT, strategy(replicas), OLD, wait_s,
                      whole_revision=whole_revision)


OLD_PODS = [pod("web-o1", "old"), pod("web-o2", "old"), pod("web-o3", "old")]
NEW_PODS = [pod("web-n1", "new"), pod("web-n2", "new"), pod("web-n3", "new")]


def test_a_whole_revision_is_awaited_past_the_controllers_done(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = world(tmp_path, monkeypatch, OLD_PODS, [*OLD_PODS[:2], NEW_PODS[0]], NEW_PODS)
    watch = Watch(w, finish_at=PATCHED_AT + 0.25)
    out = follow(w, watch, monkeypatch, whole_revision="new")
    assert (out.done_s, out.whole_s, out.stalled_s) == (0.25, 0.5, None)
    assert w.clock.monotonic() == PATCHED_AT + 0.5, "ends as soon as the revision is whole"
    assert out.final == ro.PodCounts(3, 3, 3, {"new": 3})
    assert watch.timeouts == [30.0] and watch.joined == [1.0]
    assert w.ctx.budget_cuts == []


def test_a_stalled_controller_ends_the_wait_for_a_whole_revision(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stuck = [*OLD_PODS, pod("web-n1", "new", ready=False)]
    w = world(tmp_path, monkeypatch, OLD_PODS, stuck)
    watch = Watch(w, finish_at=PATCHED_AT + 0.25, stalled=True)
    out = follow(w, watch, monkeypatch, whole_revision="new")
    assert (out.done_s, out.whole_s, out.stalled_s) == (None, None, 0.25)
    assert w.clock.monotonic() == PATCHED_AT + 0.25
    assert out.peaks.as_dict() == {"max_surge_observed": 1, "max_unavailable_observed": 0,
                                   "max_pods_observed": 4, "min_ready_observed": 3,
                                   "min_old_ready_observed": 3}
    assert w.ctx.budget_cuts == []


def test_a_revision_with_no_ready_pod_is_never_whole(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    w = world(tmp_path, monkeypatch, [pod("web-o1", "old")])
    out = follow(w, Watch(w, finish_at=PATCHED_AT), monkeypatch, wait_s=1.0, replicas=1,
                 whole_revision="new")
    assert (out.done_s, out.whole_s) == (0.0, None)
    assert w.clock.monotonic() == PATCHED_AT + 1.0, "waited its whole wait for the revision"


def test_the_last_look_waits_only_what_is_left_of_the_wait(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = world(tmp_path, monkeypatch, OLD_PODS)
    watch = Watch(w, finish_at=None)
    out = follow(w, watch, monkeypatch, wait_s=0.1)
    assert w.observer.waits == [(1, pytest.approx(0.1))]
    assert watch.timeouts == [1.0], "the controller watch gets at least a second"
    assert out.done_s is None and w.ctx.budget_cuts == []


def test_a_run_past_its_deadline_follows_nothing_and_records_the_cut(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = world(tmp_path, monkeypatch, OLD_PODS, deadline=5.0)  # already passed at the patch
    out = follow(w, Watch(w, finish_at=None), monkeypatch)
    assert w.observer.waits == [] and out.peaks.samples == 1
    assert w.ctx.budget_cuts == ["rollout followed 0.0s of 30s"]


def test_the_runs_deadline_cutting_the_wait_is_recorded_as_granted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = world(tmp_path, monkeypatch, OLD_PODS, deadline=PATCHED_AT + 5.0)
    watch = Watch(w, finish_at=None)
    follow(w, watch, monkeypatch)
    assert watch.timeouts == [5.0]
    assert w.clock.monotonic() == PATCHED_AT + 5.0
    assert w.ctx.budget_cuts == ["rollout followed 5.0s of 30s"]


def test_a_change_done_inside_a_cut_budget_is_no_cut(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    w = world(tmp_path, monkeypatch, OLD_PODS, deadline=PATCHED_AT + 5.0)
    out = follow(w, Watch(w, finish_at=PATCHED_AT + 1.0), monkeypatch)
    assert out.done_s == 1.0
    assert w.ctx.budget_cuts == []


# --- what a rollout's outcome says of what was followed ------------------------------------------


STALL = ro.Progress(True, False, "2026-11-02T10:00:20Z",
                    'ReplicaSet "web-new" has timed out progressing.',
                    "3/3 ready, 1 updated, 3 available", "2")


def rollout(w: World, monkeypatch: pytest.MonkeyPatch, watch: Watch, replicas: int = 3,
            max_unavailable: int = 0, wait_s: float = 30.0) -> dict[str, Any]:
    current = deployment(1)
    current["spec"]["replicas"] = replicas
    current["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] = max_unavailable
    FakeAPI(w.ctx.journal, current).install(monkeypatch)
    monkeypatch.setattr(fr, "_ControllerWatch", watch)
    outcome = RolloutFault(Rollout(image="web:2", wait_s=wait_s)).inject(w.ctx)
    return {"answer": outcome.answer, **outcome.details}


def test_a_stalled_rollout_answers_stalled_and_says_why(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    w = world(tmp_path, monkeypatch, OLD_PODS, [*OLD_PODS, pod("web-n1", "new", ready=False)])
    watch = Watch(w, finish_at=PATCHED_AT + 0.25, stalled=True)
    watch.last = STALL
    d = rollout(w, monkeypatch, watch)
    assert (d["answer"], d["stalled"], d["completed"], d["unfinished"]) == \
        (True, True, False, False)
    assert d["stalled_after_s"] == 0.25
    assert d["stall_reason"] == ('ProgressDeadlineExceeded: ReplicaSet "web-new" has timed out '
                                 'progressing.')
    assert (d["old_ready_at_end"], d["old_pods_kept_serving"]) == (3, True)
    assert d["summary"] == ('rollout stalled (ProgressDeadlineExceeded: ReplicaSet "web-new" '
                            'has timed out progressing.); old pods kept serving (3/3 Ready); '
                            'surge 1/1, unavailable 0/0 (observed/allowed)')


def test_no_old_pod_ready_is_not_keeping_serving_even_where_none_need_be(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = world(tmp_path, monkeypatch, [pod("web-o1", "old", ready=False)])
    d = rollout(w, monkeypatch, Watch(w, finish_at=None), replicas=1, max_unavailable=1,
                wait_s=1.0)
    assert (d["answer"], d["unfinished"]) == (False, True)
    assert (d["old_ready_at_end"], d["old_pods_kept_serving"]) == (0, False)


def test_the_one_old_pod_of_one_replica_ready_kept_serving(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = world(tmp_path, monkeypatch, [pod("web-o1", "old")])
    d = rollout(w, monkeypatch, Watch(w, finish_at=None), replicas=1, wait_s=1.0)
    assert (d["answer"], d["unfinished"]) == (False, True)
    assert (d["old_ready_at_end"], d["old_pods_kept_serving"]) == (1, True)
    assert d["summary"] == ("rollout unfinished after 1s; old pods kept serving (1/1 Ready); "
                            "surge 0/1, unavailable 0/0 (observed/allowed)")
