"""The rollout and rollback faults' parts, one by one: which controller they act on (and what is
refused), the restore they journal, the controller watch's verdicts, the figures and the
summary lines, and a StatefulSet rollback that forces its stuck pods out. The whole faults
against a fake API are in test_fault_rollout.py."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from fault_world import SEL, World, make_world
from test_fault_rollout import (
    DONE,
    OLD,
    TEMPLATE,
    FakeAPI,
    ScriptedObserver,
    context,
    deployment,
    pod,
)
from test_fault_rollout import snap as rsnap

from chaos.clock import FakeClock
from chaos.errors import ClusterError, InjectionFailed
from chaos.faults import rollout as fr
from chaos.faults.rollout import RollbackFault, RolloutFault
from chaos.journal.store import Journal, UndoAction
from chaos.k8s import controllers as kc
from chaos.k8s.observe import PodState
from chaos.model.experiment import ControllerRef, Rollback, Rollout
from chaos.plan import rollout as ro


@pytest.fixture
def w(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return make_world(tmp_path, monkeypatch)


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "rollout.jsonl")


@pytest.fixture
def api(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> FakeAPI:
    """test_fault_rollout's fake API, which also checks each call names the namespace."""
    fake = FakeAPI(journal, deployment(1))
    fake.install(monkeypatch)
    for name in ("read", "find", "patch_template", "watch_until", "revisions",
                 "force_stuck_pods"):
        real = getattr(kc, name)

        def checked(kube: Any, ns: str, *args: Any, _real: Any = real, **kwargs: Any) -> Any:
            assert kube is not None and ns == "ns"
            return _real(kube, ns, *args, **kwargs)

        monkeypatch.setattr(kc, name, checked)
    return fake


def sts(update: str = "db-2", current: str = "db-2", **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "db", "uid": "uid-db", "generation": 2,
                         "resourceVersion": "rv2"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": copy.deepcopy(TEMPLATE)},
            "status": {"observedGeneration": 2, "updateRevision": update,
                       "currentRevision": current, **status}}


def target(obj: dict[str, Any] | None = None, kind: str = "Deployment") -> fr._Target:
    obj = deployment(1) if obj is None else obj
    return fr._Target(kind, obj["metadata"]["name"], obj)


# --- which controller -------------------------------------------------------------------------


def test_resolve_finds_the_one_controller_running_the_workload(
        w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[tuple[str, str, str]] = []
    monkeypatch.setattr(kc, "find", lambda kube, ns, sel: [("Deployment", "web")]
                        if (ns, sel) == ("ns", SEL) else [])

    def read(kube: Any, ns: str, kind: str, name: str) -> dict[str, Any]:
        reads.append((ns, kind, name))
        return deployment(1)

    monkeypatch.setattr(kc, "read", read)
    t = fr._resolve(w.ctx, None, "rollout")
    assert (t.kind, t.name, str(t)) == ("Deployment", "web", "Deployment/web")
    assert reads == [("ns", "Deployment", "web")]
    named = fr._resolve(w.ctx, ControllerRef("StatefulSet", "db"), "rollback")
    assert (named.kind, named.name) == ("StatefulSet", "db")
    assert reads[-1] == ("ns", "StatefulSet", "db")


@pytest.mark.parametrize(("found", "listed"), [
    ([], "0 Deployments/StatefulSets in ns run pods matching 'app=web' (none); name one with "
         "target"),
    ([("Deployment", "a"), ("StatefulSet", "b")],
     "2 Deployments/StatefulSets in ns run pods matching 'app=web' (Deployment/a, "
     "StatefulSet/b); name one with target"),
])
def test_resolve_refuses_no_or_several_controllers(w: World, monkeypatch: pytest.MonkeyPatch,
                                                   found: list[tuple[str, str]],
                                                   listed: str) -> None:
    monkeypatch.setattr(kc, "find", lambda kube, ns, sel: found)
    monkeypatch.setattr(kc, "read", lambda *a: pytest.fail("read without a single match"))
    with pytest.raises(InjectionFailed) as info:
        fr._resolve(w.ctx, None, "rollout")
    assert str(info.value) == f"rollout: {listed}"


def test_resolve_names_an_api_failure_and_a_missing_controller(
        w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*args: Any) -> Any:
        raise ClusterError("cannot list deployments: Forbidden")

    monkeypatch.setattr(kc, "find", down)
    with pytest.raises(InjectionFailed, match=r"^rollback: cannot list deployments: Forbidden$"):
        fr._resolve(w.ctx, None, "rollback")
    monkeypatch.setattr(kc, "read", down)
    with pytest.raises(InjectionFailed, match=r"^rollout: cannot list deployments: Forbidden$"):
        fr._resolve(w.ctx, ControllerRef("Deployment", "web"), "rollout")
    monkeypatch.setattr(kc, "read", lambda *a: None)
    with pytest.raises(InjectionFailed, match=r"^rollout: no StatefulSet db in namespace ns$"):
        fr._resolve(w.ctx, ControllerRef("StatefulSet", "db"), "rollout")


def test_strategy_refusals_name_the_controller() -> None:
    on_delete = sts()
    on_delete["spec"]["updateStrategy"] = {"type": "OnDelete"}
    with pytest.raises(InjectionFailed) as info:
        fr._strategy(target(on_delete, "StatefulSet"), "rollback")
    assert str(info.value) == ("rollback: StatefulSet/db updates with OnDelete: its pods change "
                               "only when deleted, so there is no rollout to measure")
    paused = deployment(1)
    paused["spec"]["paused"] = True
    with pytest.raises(InjectionFailed, match=r"^rollout: Deployment/web is paused: a template "
                                              r"change would not roll out$"):
        fr._strategy(target(paused), "rollout")
    with pytest.raises(InjectionFailed, match=r"^rollout: DaemonSet/web: no rollout strategy"):
        fr._strategy(target(deployment(1), "DaemonSet"), "rollout")
    recreate = deployment(1)
    recreate["spec"]["strategy"] = {"type": "Recreate"}
    assert fr._strategy(target(recreate), "rollout").type == "Recreate"
    unpaused = deployment(1)
    unpaused["spec"]["paused"] = False
    assert fr._strategy(target(unpaused), "rollout").max_surge == 1


def test_target_revision_selector_and_whether_its_pods_are_watched() -> None:
    d = target()
    assert fr._revision(d) == "1"
    assert fr._revision(target({"metadata": {"name": "x"}})) == ""
    assert fr._revision(target(sts(update="db-7"), "StatefulSet")) == "db-7"
    assert fr._revision(target({"metadata": {"name": "db"}}, "StatefulSet")) == ""
    assert d.selector.labels == SEL.labels
    assert fr._Target("Deployment", "x", {}).selector.labels == ()
    assert d.watched_by(SEL) is True
    other = deployment(1)
    other["spec"]["template"]["metadata"]["labels"] = {"app": "db"}
    assert target(other).watched_by(SEL) is False
    assert fr._Target("Deployment", "x", {"spec": {"template": {}}}).watched_by(SEL) is False


def test_serving_revisions_are_the_ready_live_pods_of_the_controller() -> None:
    foreign = PodState("x", "u", "w1", True, 0, False,
                       MappingProxyType({"app": "db", "pod-template-hash": "db1"}))
    s = rsnap(1, pod("a", "r1"), pod("b", "r2", ready=False), pod("c", "r3", terminating=True),
              foreign)
    assert fr._serving_revisions(s, SEL) == frozenset({"r1"})


# --- the journaled restore and the patch --------------------------------------------------------


def test_the_restore_records_the_template_revision_and_a_floor_on_its_wait(w: World) -> None:
    t = target(deployment(4))
    a = fr._record_restore(w.ctx, t, 5.0)
    assert a.kind == "restore-template"
    assert dict(a.params) == {
        "workload": "Deployment/web",
        "template": json.dumps(TEMPLATE, sort_keys=True, separators=(",", ":")),
        "revision": "4", "timeout_s": "60"}
    assert fr._record_restore(w.ctx, t, 300.4).params["timeout_s"] == "300"
    assert w.pending_kinds() == ["restore-template", "restore-template"]


def test_patch_sends_the_resource_version_read_and_names_a_refusal(
        w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[Any, ...]] = []

    def patch(kube: Any, ns: str, kind: str, name: str, template: Any, *,
              resource_version: str | None = None) -> dict[str, Any]:
        sent.append((ns, kind, name, template, resource_version))
        return {"metadata": {"generation": 5}}

    monkeypatch.setattr(kc, "patch_template", patch)
    assert fr._patch(w.ctx, target(deployment(3)), {"t": 1}, "rollout") == \
        {"metadata": {"generation": 5}}
    assert sent == [("ns", "Deployment", "web", {"t": 1}, "rv3")]

    def conflict(*args: Any, **kwargs: Any) -> Any:
        raise ClusterError("409 Conflict")

    monkeypatch.setattr(kc, "patch_template", conflict)
    with pytest.raises(InjectionFailed, match=r"^rollout of Deployment/web: 409 Conflict$"):
        fr._patch(w.ctx, target(), {}, "rollout of Deployment/web")


def rs(name: str, revision: str, owner: str = "uid-web") -> dict[str, Any]:
    return {"metadata": {"name": name, "annotations": {"deployment.kubernetes.io/revision":
                                                       revision},
                         "ownerReferences": [{"uid": owner}]}}


def test_replicasets_after_a_change_name_the_new_and_the_old(
        w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kc, "read", lambda kube, ns, kind, name: deployment(3))
    monkeypatch.setattr(kc, "revisions", lambda kube, ns, kind: [
        rs("web-a", "2"), rs("web-b", "3"), rs("other", "2", owner="uid-other"),
        {"metadata": {"name": "orphan", "annotations": {}}}])
    assert fr._replicasets(w.ctx, target(), "2") == {
        "revision_before": "2", "revision_after": "3", "new_replicaset": "web-b",
        "old_replicaset": "web-a"}
    assert fr._replicasets(w.ctx, target(), "9")["old_replicaset"] is None


def test_replicasets_of_a_statefulset_are_its_revisions(w: World,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kc, "read", lambda kube, ns, kind, name: sts("db-3", "db-2"))
    assert fr._replicasets(w.ctx, target(sts(), "StatefulSet"), "db-2") == {
        "update_revision": "db-3", "current_revision": "db-2", "revision_before": "db-2"}


def test_replicasets_of_a_gone_or_unreadable_controller(w: World,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kc, "read", lambda *a: None)
    assert fr._replicasets(w.ctx, target(), "1") == {}

    def down(*args: Any) -> Any:
        raise ClusterError("cannot list replicasets: timeout")

    monkeypatch.setattr(kc, "read", lambda kube, ns, kind, name: deployment(2))
    monkeypatch.setattr(kc, "revisions", down)
    assert fr._replicasets(w.ctx, target(), "1") == {
        "revisions_error": "cannot list replicasets: timeout"}


def test_pending_restore_finds_only_this_controllers_in_this_namespace(w: World) -> None:
    t = target()
    assert fr._pending_restore(w.ctx, t) is None
    w.ctx.record_undo("uncordon", workload="Deployment/web")
    w.ctx.record_undo("restore-template", workload="Deployment/api")
    w.ctx.journal.record(UndoAction("restore-template", {"workload": "Deployment/web"},
                                    target={"namespace": "other"}))
    assert fr._pending_restore(w.ctx, t) is None
    mine = w.ctx.record_undo("restore-template", workload="Deployment/web")
    found = fr._pending_restore(w.ctx, t)
    assert found is not None and found.id == mine.id


# --- the controller watch ----------------------------------------------------------------------


def test_the_watch_ignores_older_generations_and_times_done_once(w: World) -> None:
    seen: list[int] = []
    watch = fr._ControllerWatch(w.ctx, target(), 2, 30.0,
                                lambda obj: seen.append(obj["metadata"]["generation"]))
    assert watch.daemon is True and watch.name == "kube-chaos-rollout-web"
    assert watch._seen(deployment(1, **DONE)) is False and watch.last is None
    w.clock.advance(2.0)
    assert watch._seen(deployment(2, observedGeneration=1)) is False
    assert watch.last is not None and seen == []
    w.clock.advance(1.0)
    assert watch._seen(deployment(2, replicas=4, readyReplicas=3)) is False
    assert seen == [2]
    w.clock.advance(1.0)
    assert watch._seen(deployment(3, **DONE)) is True
    assert watch.done_at == 4.0 and watch.stalled_at is None
    w.clock.advance(1.0)
    assert watch._seen(deployment(3, **DONE)) is True
    assert watch.done_at == 4.0 and seen == [2]  # each noted once


def test_the_watch_times_a_stall_once(w: World) -> None:
    stalled = deployment(2, conditions=[{"type": "Progressing", "status": "False",
                                         "reason": "ProgressDeadlineExceeded",
                                         "lastUpdateTime": "t1"}])
    watch = fr._ControllerWatch(w.ctx, target(), 2, 30.0)
    w.clock.advance(7.0)
    assert watch._seen(stalled) is True and watch.stalled_at == 7.0
    w.clock.advance(1.0)
    watch._seen(stalled)
    assert watch.stalled_at == 7.0 and watch.done_at is None
    assert watch._seen({"metadata": {}}) is False  # no generation: older than any change


def test_the_watch_thread_passes_its_stop_and_reports_its_error(
        w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    got: dict[str, Any] = {}

    def watch_until(kube: Any, ns: str, kind: str, name: str, until: Any, timeout_s: float,
                    stop: Any) -> None:
        got.update(ns=ns, kind=kind, name=name, timeout=timeout_s, stopped=stop())

    monkeypatch.setattr(kc, "watch_until", watch_until)
    watch = fr._ControllerWatch(w.ctx, target(), 2, 12.5)
    watch.stop()
    watch.run()
    assert got == {"ns": "ns", "kind": "Deployment", "name": "web", "timeout": 12.5,
                   "stopped": True}
    assert watch.finished.is_set() and watch.error is None

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ClusterError("watch closed")

    monkeypatch.setattr(kc, "watch_until", broken)
    watch = fr._ControllerWatch(w.ctx, target(), 2, 1.0)
    watch.run()
    assert watch.error == "ClusterError: watch closed" and watch.finished.is_set()


# --- figures and summaries ----------------------------------------------------------------------


STRATEGY = ro.Strategy("Deployment", "RollingUpdate", 3, 1, 0, {"maxSurge": 1}, 600)


def followed(surge: int = 1, unavailable: int = 0, done: float | None = None,
             stalled: float | None = None, final: ro.PodCounts | None = None,
             message: str = "timed out") -> fr._Followed:
    peaks = ro.Peaks(3, frozenset({"old"}), max_surge=surge, max_unavailable=unavailable,
                     samples=4)
    last = ro.Progress(True, done is not None, "t" if stalled is not None else None, message,
                       "3/3 ready", "2")
    return fr._Followed(peaks, done_s=done, stalled_s=stalled, last=last, final=final)


def test_figures_set_what_was_seen_next_to_what_the_strategy_allows() -> None:
    final = ro.PodCounts(4, 4, 3, MappingProxyType({"old": 2, "new": 1}))
    f = fr._figures(STRATEGY, followed(surge=1, unavailable=0, final=final), True)
    assert f["pods_observed"] is True and f["pod_samples"] == 4
    assert f["surge_within_strategy"] is True and f["unavailable_within_strategy"] is True
    assert f["ready_at_end"] == 3 and f["ready_by_revision_at_end"] == {"old": 2, "new": 1}
    assert f["strategy"] == STRATEGY.as_dict()
    assert (f["declared_max_surge"], f["declared_max_unavailable"]) == (1, 0)
    over = fr._figures(STRATEGY, followed(surge=2, unavailable=1), True)
    assert over["surge_within_strategy"] is False and over["unavailable_within_strategy"] is False
    assert over["ready_at_end"] is None and over["ready_by_revision_at_end"] == {}
    unseen = fr._figures(STRATEGY, followed(), False)
    assert unseen["pods_observed"] is False and unseen["max_surge_observed"] is None
    assert "surge_within_strategy" not in unseen and unseen["declared_max_surge"] == 1


def test_stall_reasons() -> None:
    assert fr._stall_reason("Deployment", followed(stalled=3.0)) == \
        "ProgressDeadlineExceeded: timed out"
    assert fr._stall_reason("Deployment", followed(stalled=3.0, message="")) == \
        "ProgressDeadlineExceeded"
    assert fr._stall_reason("StatefulSet", followed()) == \
        "not complete within wait (a StatefulSet has no progress deadline)"
    assert fr._stall_reason("StatefulSet", followed(done=4.0)) is None
    assert fr._stall_reason("Deployment", followed()) is None
    no_last = followed(stalled=3.0)
    no_last.last = None
    assert fr._stall_reason("Deployment", no_last) is None


def test_summaries_say_how_the_change_ended() -> None:
    seen = "surge 1/1, unavailable 0/0 (observed/allowed)"
    assert fr._summary(STRATEGY, followed(done=12.34), stalled=False, reason=None, old_ready=0,
                       kept=False, wait_s=60) == f"rollout complete in 12.3s; {seen}"
    assert fr._summary(STRATEGY, followed(stalled=20.0), stalled=True, reason="R", old_ready=3,
                       kept=True, wait_s=60) == \
        f"rollout stalled (R); old pods kept serving (3/3 Ready); {seen}"
    assert fr._summary(STRATEGY, followed(), stalled=False, reason=None, old_ready=1,
                       kept=False, wait_s=7.5) == \
        f"rollout unfinished after 7.5s; old pods did NOT keep serving (1/3 Ready); {seen}"
    assert fr._summary(STRATEGY, followed(), stalled=False, reason=None, old_ready=None,
                       kept=None, wait_s=5) == (
        "rollout unfinished after 5s; old pods not watched; pods not watched (the workload's "
        "selector does not match them)")
    assert fr._r(None) is None and fr._r(2.00049) == 2.0


# --- whole faults: a StatefulSet rollback, a budget cut, a rollout's exact outcome ----------------


def _sts_api(api: FakeAPI) -> None:
    bad = copy.deepcopy(TEMPLATE)
    bad["spec"]["containers"][0]["image"] = "web:missing"
    current = sts(readyReplicas=1)
    current["spec"]["template"] = bad
    api.current = current

    def rev(name: str, n: int, template: dict[str, Any]) -> dict[str, Any]:
        return {"metadata": {"name": name, "ownerReferences": [{"uid": "uid-db",
                                                                "controller": True}]},
                "revision": n, "data": {"spec": {"template": {**template, "$patch": "replace"}}}}

    api.history = [rev("db-1", 1, TEMPLATE), rev("db-2", 2, bad)]
    done = sts("db-1", "db-1", readyReplicas=2, updatedReplicas=2)
    done["metadata"]["generation"] = 3
    done["status"]["observedGeneration"] = 3
    api.after = [done]


def test_a_statefulset_rollback_forces_its_stuck_pods_out(
        api: FakeAPI, journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    _sts_api(api)
    api.forced = ["db-0"]
    forced_with: list[dict[str, Any]] = []

    def force(kube: Any, ns: str, obj: dict[str, Any]) -> list[str]:
        forced_with.append(obj)
        return ["db-0"]

    monkeypatch.setattr(kc, "force_stuck_pods", force)
    clock = FakeClock()
    events: list[tuple[str, str, str]] = []
    ready = [pod("db-0", "db-1"), pod("db-1", "db-1")]
    outcome = RollbackFault(Rollback(target=ControllerRef("StatefulSet", "db"))).inject(
        context(journal, ScriptedObserver(clock, [rsnap(1, *ready)]), clock, events))
    d = outcome.details
    assert (d["from_revision"], d["from"], d["to_revision"], d["to"]) == (2, "db-2", 1, "db-1")
    assert d["forced_pods"] == ["db-0"] and len(forced_with) == 1
    assert d["completed"] is True and d["whole"] is True and "watch_error" not in d
    assert d["summary"] == "rollback to revision 1: whole again in 0.0s; forced out db-0"
    assert events[0] == ("fault-start", "StatefulSet/db", "rollback to revision 1 (db-1)")
    assert events[-1] == ("fault-end", "StatefulSet/db", d["summary"])
    [(template, rv)] = api.patches
    assert template == TEMPLATE and rv == "rv2"


def test_a_failed_force_is_a_watch_error_and_never_whole_is_said(
        api: FakeAPI, journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    _sts_api(api)

    def force(kube: Any, ns: str, obj: dict[str, Any]) -> list[str]:
        raise ClusterError("cannot delete db-0")

    monkeypatch.setattr(kc, "force_stuck_pods", force)
    clock = FakeClock()
    outcome = RollbackFault(Rollback(target=ControllerRef("StatefulSet", "db"), wait_s=4)
                            ).inject(context(journal, ScriptedObserver(clock, [rsnap(1)]),
                                             clock, []))
    d = outcome.details
    assert d["watch_error"] == "cannot delete db-0" and d["forced_pods"] == []
    assert d["whole"] is False and d["summary"] == "rollback to revision 1: NOT whole after 4s"


def test_a_rollback_whose_history_cannot_be_read_is_refused(
        api: FakeAPI, journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*args: Any) -> Any:
        raise ClusterError("cannot list replicasets")

    monkeypatch.setattr(kc, "revisions", down)
    clock = FakeClock()
    with pytest.raises(InjectionFailed, match=r"^rollback of Deployment/web: cannot list "
                                              r"replicasets$"):
        RollbackFault(Rollback()).inject(
            context(journal, ScriptedObserver(clock, [rsnap(1, *OLD)]), clock, []))


def test_a_rollout_followed_until_the_budget_ran_out_is_recorded_as_cut(
        api: FakeAPI, journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    def endless(kube: Any, ns: str, kind: str, name: str, until: Any, timeout_s: float,
                stop: Any) -> None:
        while not stop():  # a watch that sees nothing until the fault stops following
            time.sleep(0.001)

    monkeypatch.setattr(kc, "watch_until", endless)
    clock = FakeClock()
    observer = ScriptedObserver(clock, [rsnap(1, *OLD)])
    looks: list[float] = []
    real_wait = observer.wait_change

    def wait_change(version: int, timeout_s: float) -> Any:
        looks.append(timeout_s)
        return real_wait(version, timeout_s)

    observer.wait_change = wait_change  # type: ignore[method-assign]
    ctx = context(journal, observer, clock, [])
    ctx.deadline = 10.0
    outcome = RolloutFault(Rollout(image="web:2", wait_s=120)).inject(ctx)
    assert looks[0] == fr.LOOK_S == 0.25  # the controller's verdict is looked at this often
    assert len(looks) == 40
    assert ctx.budget_cuts == ["rollout followed 10.0s of 120s"]
    assert outcome.details["unfinished"] is True and clock.monotonic() == 10.0
    assert outcome.details["wait_s"] == 120


def test_a_rollout_outcome_names_its_change_and_revisions(api: FakeAPI, journal: Journal) -> None:
    clock = FakeClock()
    api.after = [deployment(2, **DONE)]
    api.history = [{"metadata": {"name": "web-1", "annotations": {
        "deployment.kubernetes.io/revision": "1"}, "ownerReferences": [{"uid": "uid-web"}]}},
        {"metadata": {"name": "web-2", "annotations": {
            "deployment.kubernetes.io/revision": "2"}, "ownerReferences": [{"uid": "uid-web"}]}}]
    events: list[tuple[str, str, str]] = []
    fault = RolloutFault(Rollout(image="web:2"))
    outcome = fault.inject(context(journal, ScriptedObserver(clock, [rsnap(1, *OLD)]), clock,
                                   events))
    d = outcome.details
    assert (d["target"], d["container"], d["change"]) == \
        ("Deployment/web", "web", "image=web:2")
    assert (d["revision_before"], d["revision_after"], d["new_replicaset"],
            d["old_replicaset"]) == ("1", "2", "web-2", "web-1")
    assert d["last_status"] == "3/3 ready, 3 updated, 3 available"
    assert d["stall_reason"] is None and d["stall_condition_time"] is None
    assert d["old_ready_at_end"] == 3 and d["old_pods_kept_serving"] is False
    assert events[0] == ("fault-start", "Deployment/web", "rollout image=web:2")
    assert outcome.ended_at is not None and outcome.started_at <= outcome.ended_at
    assert [a.kind for a in fault.pending] == ["restore-template"]


@pytest.mark.parametrize(("fault", "detail"), [
    (RolloutFault(Rollout(image="web:2")), "rollout undone: template restored"),
    (RollbackFault(Rollback()), "rollback undone: template restored"),
])
def test_undo_restores_the_recorded_template_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: Any, detail: str) -> None:
    w = make_world(tmp_path, monkeypatch, handled=("restore-template",))
    fault.pending.append(w.ctx.record_undo("restore-template", workload="Deployment/web"))
    assert [(o.action.kind, o.status) for o in fault.undo(w.ctx)] == \
        [("restore-template", "undone")]
    assert w.kinds("fault-end") == [("", detail)]
    assert w.pending_kinds() == [] and fault.pending == [] and fault.undo(w.ctx) == []


def test_a_rollback_outcome_in_full(api: FakeAPI, journal: Journal,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Every field of a StatefulSet rollback's outcome: a stale done status of the previous
    generation is not taken for this one's, two forced pods and two errors are joined."""
    _sts_api(api)
    stale = sts("db-2", "db-2", readyReplicas=1, updatedReplicas=1)  # generation 2, done
    stale["spec"]["replicas"] = 1
    final = api.after[-1]
    api.after = [stale, final]
    kinds: list[str] = []
    real_revisions = kc.revisions

    def revisions(kube: Any, ns: str, kind: str) -> Any:
        kinds.append(kind)
        return real_revisions(kube, ns, kind)

    def force(kube: Any, ns: str, obj: dict[str, Any]) -> list[str]:
        assert kube is not None and ns == "ns" and obj["metadata"]["generation"] == 3
        raise ClusterError("cannot delete db-1")

    def watch_then_fail(kube: Any, ns: str, kind: str, name: str, until: Any, timeout_s: float,
                        stop: Any = None) -> None:
        for obj in api.after:
            if until(copy.deepcopy(obj)):
                break
        raise ClusterError("watch closed")

    monkeypatch.setattr(kc, "revisions", revisions)
    monkeypatch.setattr(kc, "force_stuck_pods", force)
    monkeypatch.setattr(kc, "watch_until", watch_then_fail)
    clock = FakeClock(monotonic=50.0)
    ctx = context(journal, ScriptedObserver(clock, [rsnap(1)]), clock, [])
    outcome = RollbackFault(Rollback(target=ControllerRef("StatefulSet", "db"), wait_s=4)
                            ).inject(ctx)
    assert kinds == ["StatefulSet"]
    assert outcome.type == "rollback" and outcome.targets == ["StatefulSet/db"]
    assert outcome.started_at is not None and outcome.ended_at is not None
    d = outcome.details
    assert d["target"] == "StatefulSet/db" and d["wait_s"] == 4
    assert d["rollback_seconds"] == 0.0 and d["completed"] is True  # the final status, not stale
    assert d["last_status"] == "2/2 ready, 2 updated"
    assert d["whole"] is False and d["whole_seconds"] is None
    assert d["watch_error"] == "ClusterError: watch closed; cannot delete db-1"
    assert d["pods_observed"] is True  # its pods carry the workload's labels


def test_forced_pods_are_listed_in_the_summary(api: FakeAPI, journal: Journal,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _sts_api(api)
    monkeypatch.setattr(kc, "force_stuck_pods", lambda kube, ns, obj: ["db-0", "db-1"])
    clock = FakeClock()
    ready = [pod("db-0", "db-1"), pod("db-1", "db-1")]
    outcome = RollbackFault(Rollback(target=ControllerRef("StatefulSet", "db"))).inject(
        context(journal, ScriptedObserver(clock, [rsnap(1, *ready)]), clock, []))
    assert str(outcome.details["summary"]).endswith("; forced out db-0, db-1")


def test_a_status_without_a_generation_is_older_than_the_first_change(w: World) -> None:
    watch = fr._ControllerWatch(w.ctx, target(), 1, 30.0)
    assert watch._seen({"metadata": {}, "status": {}}) is False and watch.last is None


def test_rollout_and_rollback_refusals_say_which_fault_refused(
        api: FakeAPI, journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    ctx = context(journal, ScriptedObserver(clock, [rsnap(1, *OLD)]), clock, [])
    assert api.current is not None
    api.current["spec"]["paused"] = True
    with pytest.raises(InjectionFailed, match=r"^rollout: Deployment/web is paused"):
        RolloutFault(Rollout(image="web:2")).inject(ctx)
    with pytest.raises(InjectionFailed, match=r"^rollback: Deployment/web is paused"):
        RollbackFault(Rollback()).inject(ctx)
    api.current["spec"]["paused"] = False
    monkeypatch.setattr(kc, "find", lambda kube, ns, sel: [])
    with pytest.raises(InjectionFailed, match=r"^rollout: 0 Deployments"):
        RolloutFault(Rollout(image="web:2")).inject(ctx)
    with pytest.raises(InjectionFailed, match=r"^rollback: 0 Deployments"):
        RollbackFault(Rollback()).inject(ctx)
    with pytest.raises(InjectionFailed) as info:
        RolloutFault(Rollout(image="web:1", target=ControllerRef("Deployment", "web"))
                     ).inject(ctx)
    assert str(info.value) == ("rollout of Deployment/web: image=web:1 is what the template "
                               "already says: there is nothing to roll out")

    def conflict(*args: Any, **kwargs: Any) -> Any:
        raise ClusterError("409 Conflict")

    monkeypatch.setattr(kc, "patch_template", conflict)
    with pytest.raises(InjectionFailed, match=r"^rollout of Deployment/web: 409 Conflict$"):
        RolloutFault(Rollout(image="web:2", target=ControllerRef("Deployment", "web"))
                     ).inject(ctx)


def test_a_rollout_ignores_a_done_status_of_the_previous_generation(
        api: FakeAPI, journal: Journal) -> None:
    stale = deployment(1, replicas=2, readyReplicas=2, updatedReplicas=2, availableReplicas=2)
    stale["spec"]["replicas"] = 2
    api.after = [stale, deployment(2, **DONE)]
    clock = FakeClock()
    events: list[tuple[str, str, str]] = []
    outcome = RolloutFault(Rollout(image="web:2", args=("--fast",))).inject(
        context(journal, ScriptedObserver(clock, [rsnap(1, *OLD)]), clock, events))
    d = outcome.details
    assert outcome.type == "rollout" and outcome.targets == ["Deployment/web"]
    assert d["last_status"] == "3/3 ready, 3 updated, 3 available"
    assert "image=web:2" in str(d["change"]) and "--fast" in str(d["change"])
    assert d["stalled_after_s"] is None and d["stalled"] is False
    assert events[-1] == ("fault-end", "Deployment/web", d["summary"])
    [(template, _)] = api.patches
    assert template["spec"]["containers"][0]["args"] == ["--fast"]


def test_a_statefulset_not_complete_within_its_wait_is_stalled(
        api: FakeAPI, journal: Journal) -> None:
    api.current = sts()
    api.after = []  # the watch sees nothing: not complete within wait
    clock = FakeClock()
    outcome = RolloutFault(Rollout(image="web:2", target=ControllerRef("StatefulSet", "db"),
                                   wait_s=3)).inject(
        context(journal, ScriptedObserver(clock, [rsnap(1, *OLD)]), clock, []))
    d = outcome.details
    assert d["stalled"] is True and d["unfinished"] is False and d["completed"] is False
    assert d["stall_reason"] == "not complete within wait (a StatefulSet has no progress " \
                                "deadline)"
    done = sts("db-3", "db-3", readyReplicas=2, updatedReplicas=2)
    done["metadata"]["generation"] = done["status"]["observedGeneration"] = 3
    api.current, api.after = sts(), [done]
    outcome = RolloutFault(Rollout(image="web:2", target=ControllerRef("StatefulSet", "db"))
                           ).inject(context(journal, ScriptedObserver(clock, [rsnap(1, *OLD)]),
                                            clock, []))
    assert outcome.details["stalled"] is False and outcome.details["completed"] is True


def test_old_pods_kept_serving_within_the_unavailability_allowed(
        api: FakeAPI, journal: Journal) -> None:
    assert api.current is not None
    api.current["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": 1, "maxUnavailable": 1}
    api.after = [deployment(2, observedGeneration=1)]
    clock = FakeClock()
    pods = [pod("web-o1", "old"), pod("web-o2", "old"), pod("web-o3", "old", ready=False)]
    outcome = RolloutFault(Rollout(image="web:2", wait_s=2)).inject(
        context(journal, ScriptedObserver(clock, [rsnap(1, *pods)]), clock, []))
    assert outcome.details["old_ready_at_end"] == 2
    assert outcome.details["old_pods_kept_serving"] is True  # 2 >= 3 - 1


def test_replicasets_read_the_deployments_own_kind_and_name(
        w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, ...]] = []

    def read(kube: Any, ns: str, kind: str, name: str) -> dict[str, Any]:
        asked.append(("read", kind, name))
        now = deployment(3)
        del now["metadata"]["annotations"]
        return now

    def revisions(kube: Any, ns: str, kind: str) -> list[dict[str, Any]]:
        asked.append(("revisions", kind))
        return [{"metadata": {"name": "web-x", "ownerReferences": [{"uid": "uid-web"}]}}]

    monkeypatch.setattr(kc, "read", read)
    monkeypatch.setattr(kc, "revisions", revisions)
    assert fr._replicasets(w.ctx, target(), "2") == {
        "revision_before": "2", "revision_after": "", "new_replicaset": None,
        "old_replicaset": None}
    assert asked == [("read", "Deployment", "web"), ("revisions", "Deployment")]
    assert fr._r(1.23456) == 1.235
    assert fr._stall_reason("Deployment", followed(stalled=1.0, message="X")) == \
        "ProgressDeadlineExceeded: X"


def _unnumbered(monkeypatch: pytest.MonkeyPatch, *objs: dict[str, Any]) -> None:
    """The patch answers, and the watched versions carry, no metadata.generation."""
    real = kc.patch_template

    def patch(*args: Any, **kwargs: Any) -> dict[str, Any]:
        obj = real(*args, **kwargs)
        del obj["metadata"]["generation"]
        return obj

    monkeypatch.setattr(kc, "patch_template", patch)
    for obj in objs:
        del obj["metadata"]["generation"]


def test_a_rollout_whose_patch_names_no_generation_follows_every_version(
        api: FakeAPI, journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    api.after = [deployment(2, **DONE)]
    _unnumbered(monkeypatch, *api.after)
    clock = FakeClock()
    outcome = RolloutFault(Rollout(image="web:2", wait_s=3)).inject(
        context(journal, ScriptedObserver(clock, [rsnap(1, *OLD)]), clock, [], api))
    assert outcome.details["completed"] is True
    assert outcome.details["last_status"] == "3/3 ready, 3 updated, 3 available"


def test_a_rollback_whose_patch_names_no_generation_follows_every_version(
        api: FakeAPI, journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    _sts_api(api)
    _unnumbered(monkeypatch, *api.after)
    clock = FakeClock()
    ready = [pod("db-0", "db-1"), pod("db-1", "db-1")]
    outcome = RollbackFault(Rollback(target=ControllerRef("StatefulSet", "db"), wait_s=3)
                            ).inject(context(journal, ScriptedObserver(clock, [rsnap(1, *ready)]),
                                             clock, [], api))
    assert outcome.details["completed"] is True
    assert outcome.details["last_status"] == "2/2 ready, 2 updated"
