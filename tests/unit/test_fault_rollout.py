"""The rollout and rollback faults and their undo against a fake API and a scripted Observer:
the old template is journaled before the patch, figures come from the pod snapshots, a change
that changes nothing is refused, a rollback after a rollout leaves the restore to it, and the
restore handler confirms its effect or stays pending."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest

from chaos.clock import FakeClock
from chaos.errors import ClusterError, InjectionFailed, RollbackFailed
from chaos.faults import undo
from chaos.faults.base import FaultContext
from chaos.faults.rollout import RollbackFault, RolloutFault
from chaos.journal.store import Journal, UndoAction, pending_in
from chaos.k8s import controllers as kc
from chaos.k8s.observe import PodState, Snapshot
from chaos.model.experiment import ControllerRef, Rollback, Rollout, Selector

TEMPLATE: dict[str, Any] = {
    "metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
    "spec": {"containers": [{"name": "web", "image": "web:1", "resources": {}}]},
}


def deployment(generation: int = 1, template: dict[str, Any] | None = None,
               **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "uid": "uid-web", "generation": generation,
                     "resourceVersion": f"rv{generation}",
                     "annotations": {"deployment.kubernetes.io/revision": str(generation)}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "progressDeadlineSeconds": 20,
                 "strategy": {"type": "RollingUpdate",
                              "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                 "template": copy.deepcopy(template or TEMPLATE)},
        "status": {"observedGeneration": generation, **status},
    }


DONE = {"replicas": 3, "readyReplicas": 3, "updatedReplicas": 3, "availableReplicas": 3}
STALLED = {"replicas": 4, "readyReplicas": 3, "updatedReplicas": 1, "availableReplicas": 3,
           "conditions": [{"type": "Progressing", "status": "False",
                           "reason": "ProgressDeadlineExceeded",
                           "lastUpdateTime": "2026-11-02T10:00:20Z",
                           "message": "ReplicaSet \"web-new\" has timed out progressing."}]}


def pod(name: str, rev: str, ready: bool = True, terminating: bool = False) -> PodState:
    return PodState(name, f"uid-{name}", "w1", ready, 0, terminating,
                    MappingProxyType({"app": "web", "pod-template-hash": rev}))


def snap(version: int, *pods: PodState) -> Snapshot:
    return Snapshot(version, MappingProxyType({p.name: p for p in pods}), frozenset(),
                    MappingProxyType({}))


OLD = [pod("web-o1", "old"), pod("web-o2", "old"), pod("web-o3", "old")]


class ScriptedObserver:
    """Hands out scripted snapshots, one per wait_change; the last one stays."""

    def __init__(self, clock: FakeClock, snaps: list[Snapshot]) -> None:
        self.clock, self.snaps, self.at = clock, snaps, 0
        self.played = threading.Event()  # every scripted state has been handed out
        if len(snaps) == 1:
            self.played.set()

    def snapshot(self) -> Snapshot:
        return self.snaps[self.at]

    def wait_change(self, version: int, timeout_s: float) -> Snapshot:
        if self.at + 1 < len(self.snaps):
            self.at += 1
            if self.at + 1 == len(self.snaps):
                self.played.set()
        else:
            time.sleep(0.005)  # let the controller watch thread run
            self.clock.advance(timeout_s)
        return self.snaps[self.at]


class FakeAPI:
    """The chaos.k8s.controllers functions the faults and the undo use."""

    def __init__(self, journal: Journal, current: dict[str, Any]) -> None:
        self.journal = journal
        self.current: dict[str, Any] | None = current
        self.after: list[dict[str, Any]] = []  # versions a watch sees after a patch
        self.patches: list[tuple[dict[str, Any], str | None]] = []
        self.pending_at_patch: list[int] = []
        self.history: list[dict[str, Any]] = []
        self.forced: list[str] = []
        self.gate: threading.Event | None = None  # the last version waits for the pods' script

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(kc, "read", lambda kube, ns, kind, name: copy.deepcopy(
            self.current))
        monkeypatch.setattr(kc, "find", lambda kube, ns, sel: [("Deployment", "web")])
        monkeypatch.setattr(kc, "patch_template", self.patch)
        monkeypatch.setattr(kc, "watch_until", self.watch)
        monkeypatch.setattr(kc, "revisions", lambda kube, ns, kind: self.history)
        monkeypatch.setattr(kc, "force_stuck_pods", lambda kube, ns, obj: self.forced)

    def patch(self, kube: Any, ns: str, kind: str, name: str, template: dict[str, Any], *,
              resource_version: str | None = None) -> dict[str, Any]:
        self.pending_at_patch.append(len(pending_in(self.journal.path)))
        self.patches.append((copy.deepcopy(template), resource_version))
        assert self.current is not None
        generation = self.current["metadata"]["generation"] + 1
        self.current = deployment(generation, template, observedGeneration=generation - 1)
        return copy.deepcopy(self.current)

    def watch(self, kube: Any, ns: str, kind: str, name: str,
              until: Callable[[dict[str, Any]], bool], timeout_s: float,
              stop: Callable[[], bool] = lambda: False) -> dict[str, Any] | None:
        for i, obj in enumerate(self.after):
            if self.gate is not None and i == len(self.after) - 1:
                self.gate.wait(5)
            if until(copy.deepcopy(obj)):
                self.current = obj
                return obj
        return None


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "run.jsonl")


def context(journal: Journal, observer: ScriptedObserver, clock: FakeClock,
            events: list[tuple[str, str, str]], api: FakeAPI | None = None) -> FaultContext:
    if api is not None:
        api.gate = observer.played
    return FaultContext(kube=SimpleNamespace(context="kind-x"),  # type: ignore[arg-type]
                        namespace="ns", journal=journal, seed=1, clock=clock,
                        workload_selector=Selector.of({"app": "web"}), cluster_name="x",
                        kubeconfig="", emit=lambda *e: events.append(e), observer=observer,
                        deadline=clock.monotonic() + 300)


@pytest.fixture
def api(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAPI]:
    fake = FakeAPI(journal, deployment(1))
    fake.install(monkeypatch)
    yield fake


def test_rollout_journals_the_old_template_before_it_patches(api: FakeAPI,
                                                             journal: Journal) -> None:
    clock = FakeClock()
    api.after = [deployment(2, observedGeneration=1),
                 deployment(2, replicas=4, readyReplicas=3, updatedReplicas=1),
                 deployment(2, **DONE)]
    snaps = [snap(1, *OLD), snap(2, *OLD, pod("web-n1", "new", ready=False)),
             snap(3, *OLD, pod("web-n1", "new")),
             snap(4, *OLD[:2], pod("web-o3", "old", terminating=True), pod("web-n1", "new")),
             snap(5, pod("web-n1", "new"), pod("web-n2", "new"), pod("web-n3", "new"))]
    events: list[tuple[str, str, str]] = []
    fault = RolloutFault(Rollout(image="web:2"))
    outcome = fault.inject(context(journal, ScriptedObserver(clock, snaps), clock, events, api))

    assert api.pending_at_patch == [1], "the restore must be journaled before the patch"
    [(template, rv)] = api.patches
    assert rv == "rv1", "the patch applies only to the object the template was recorded from"
    assert template["spec"]["containers"][0]["image"] == "web:2"
    [action] = pending_in(journal.path)
    assert action.kind == "restore-template"
    assert action.params["workload"] == "Deployment/web"
    assert json.loads(action.params["template"]) == TEMPLATE, "recorded exactly, nulls too"
    d = outcome.details
    assert (d["completed"], d["stalled"], d["unfinished"]) == (True, False, False)
    assert d["rollout_seconds"] is not None
    assert (d["max_surge_observed"], d["max_unavailable_observed"]) == (1, 0)
    assert (d["declared_max_surge"], d["declared_max_unavailable"]) == (1, 0)
    assert d["surge_within_strategy"] and d["unavailable_within_strategy"]
    assert d["min_old_ready_observed"] == 0 and d["old_pods_kept_serving"] is False
    assert str(d["summary"]).startswith("rollout complete in")
    assert [e[0] for e in events] == ["fault-start", "fault-end"]
    assert outcome.targets == ["Deployment/web"] and outcome.undo == [action]


def test_a_stall_is_reported_with_the_old_pods_serving(api: FakeAPI, journal: Journal) -> None:
    clock = FakeClock()
    api.after = [deployment(2, observedGeneration=1), deployment(2, **STALLED)]
    snaps = [snap(1, *OLD), snap(2, *OLD, pod("web-n1", "new", ready=False))]
    outcome = RolloutFault(Rollout(image="web:missing")).inject(
        context(journal, ScriptedObserver(clock, snaps), clock, []))
    d = outcome.details
    assert (d["completed"], d["stalled"], d["rollout_seconds"]) == (False, True, None)
    assert d["stall_condition_time"] == "2026-11-02T10:00:20Z"
    assert "ProgressDeadlineExceeded" in str(d["stall_reason"])
    assert d["old_ready_at_end"] == 3 and d["old_pods_kept_serving"] is True
    assert "old pods kept serving (3/3 Ready)" in str(d["summary"])


def test_a_rollout_that_never_settles_is_unfinished_not_stalled(api: FakeAPI,
                                                                journal: Journal) -> None:
    clock = FakeClock()
    api.after = [deployment(2, observedGeneration=1)]
    outcome = RolloutFault(Rollout(env=(("A", "1"),), wait_s=5)).inject(
        context(journal, ScriptedObserver(clock, [snap(1, *OLD)]), clock, []))
    d = outcome.details
    assert (d["completed"], d["stalled"], d["unfinished"]) == (False, False, True)
    assert str(d["summary"]).startswith("rollout unfinished after 5s")


def test_a_change_that_changes_nothing_is_refused_before_anything_is_journaled(
        api: FakeAPI, journal: Journal) -> None:
    clock = FakeClock()
    ctx = context(journal, ScriptedObserver(clock, [snap(1, *OLD)]), clock, [])
    with pytest.raises(InjectionFailed, match="nothing to roll out"):
        RolloutFault(Rollout(image="web:1")).inject(ctx)
    with pytest.raises(InjectionFailed, match="no container 'db'"):
        RolloutFault(Rollout(image="web:2", container="db")).inject(ctx)
    assert api.patches == [] and pending_in(journal.path) == []


@pytest.mark.parametrize(("spec", "why"), [
    ({"paused": True}, "is paused"),
    ({"strategy": {"rollingUpdate": {"maxSurge": "lots"}}}, "not an int or percentage"),
])
def test_controllers_that_cannot_roll_out_are_refused(api: FakeAPI, journal: Journal,
                                                      spec: dict[str, Any], why: str) -> None:
    assert api.current is not None
    api.current["spec"].update(spec)
    clock = FakeClock()
    with pytest.raises(InjectionFailed, match=why):
        RolloutFault(Rollout(image="web:2")).inject(
            context(journal, ScriptedObserver(clock, [snap(1, *OLD)]), clock, []))
    assert pending_in(journal.path) == []


def test_an_on_delete_statefulset_is_refused(api: FakeAPI, journal: Journal,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    sts = deployment(1)
    sts["spec"] = {"replicas": 2, "updateStrategy": {"type": "OnDelete"},
                   "template": TEMPLATE}
    api.current = sts
    clock = FakeClock()
    with pytest.raises(InjectionFailed, match="OnDelete"):
        RolloutFault(Rollout(image="web:2", target=ControllerRef("StatefulSet", "web"))).inject(
            context(journal, ScriptedObserver(clock, [snap(1, *OLD)]), clock, []))


def _replicaset(name: str, revision: int, image: str) -> dict[str, Any]:
    template = copy.deepcopy(TEMPLATE)
    template["metadata"]["labels"]["pod-template-hash"] = name.split("-")[-1]
    template["spec"]["containers"][0]["image"] = image
    return {"metadata": {"name": name,
                         "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                         "ownerReferences": [{"uid": "uid-web", "controller": True}]},
            "spec": {"template": template}}


def _rollback_setup(api: FakeAPI) -> tuple[FakeClock, list[Snapshot]]:
    bad = copy.deepcopy(TEMPLATE)
    bad["spec"]["containers"][0]["image"] = "web:missing"
    api.current = deployment(2, bad, **STALLED)
    api.history = [_replicaset("web-old", 1, "web:1"), _replicaset("web-bad", 2, "web:missing")]
    api.after = [deployment(3, observedGeneration=2), deployment(3, **DONE)]
    clock = FakeClock()
    return clock, [snap(1, *OLD, pod("web-b1", "bad", ready=False)),
                   snap(2, *OLD, pod("web-b1", "bad", ready=False, terminating=True)),
                   snap(3, *OLD)]


def test_rollback_returns_to_the_previous_replicaset_and_times_whole(
        api: FakeAPI, journal: Journal) -> None:
    clock, snaps = _rollback_setup(api)
    fault = RollbackFault(Rollback())
    outcome = fault.inject(context(journal, ScriptedObserver(clock, snaps), clock, [], api))
    [(template, _)] = api.patches
    assert template == TEMPLATE, "the previous ReplicaSet's template without its hash label"
    d = outcome.details
    assert (d["from_revision"], d["to_revision"], d["to"]) == (2, 1, "web-old")
    assert d["whole"] is True and d["whole_seconds"] is not None
    assert d["completed"] is True and d["undo"] == "restore-template recorded"
    [action] = pending_in(journal.path)
    assert json.loads(action.params["template"])["spec"]["containers"][0]["image"] == \
        "web:missing", "on its own, a rollback's undo puts back what it found"


def test_a_rollback_after_a_rollout_of_the_same_run_leaves_the_restore_to_it(
        api: FakeAPI, journal: Journal) -> None:
    earlier = journal.record(UndoAction("restore-template", {
        "workload": "Deployment/web", "template": json.dumps(TEMPLATE)},
        target={"namespace": "ns"}))
    journal.record(UndoAction("restore-template", {"workload": "Deployment/web"},
                              target={"namespace": "elsewhere"}))
    clock, snaps = _rollback_setup(api)
    fault = RollbackFault(Rollback())
    outcome = fault.inject(context(journal, ScriptedObserver(clock, snaps), clock, []))
    assert outcome.undo == [] and len(pending_in(journal.path)) == 2
    assert outcome.details["undo"] == f"covered by the earlier fault's restore-template " \
                                      f"({earlier.id})"


def test_rollback_without_a_previous_revision_is_refused(api: FakeAPI,
                                                         journal: Journal) -> None:
    api.history = [_replicaset("web-old", 1, "web:1")]
    clock = FakeClock()
    with pytest.raises(InjectionFailed, match="no previous revision"):
        RollbackFault(Rollback()).inject(
            context(journal, ScriptedObserver(clock, [snap(1, *OLD)]), clock, []))
    assert pending_in(journal.path) == [] and api.patches == []


# --- the restore-template undo handler -------------------------------------------------------


def _restore(template: dict[str, Any] = TEMPLATE, workload: str = "Deployment/web",
             timeout: str = "5") -> UndoAction:
    return UndoAction("restore-template", {"workload": workload, "template": json.dumps(
        template), "timeout_s": timeout}, target={"namespace": "ns"})


@pytest.fixture
def handler_api(api: FakeAPI, monkeypatch: pytest.MonkeyPatch) -> FakeAPI:
    monkeypatch.setattr(undo, "kube_for", lambda action: SimpleNamespace())
    return api


def test_restore_puts_back_the_recorded_template_and_waits_for_its_rollout(
        handler_api: FakeAPI) -> None:
    bad = copy.deepcopy(TEMPLATE)
    bad["spec"]["containers"][0]["image"] = "web:missing"
    handler_api.current = deployment(2, bad, **STALLED)
    handler_api.after = [deployment(3, observedGeneration=2), deployment(3, **DONE)]
    assert undo.run_undo(_restore()) is None
    [(template, rv)] = handler_api.patches
    assert template == TEMPLATE and rv is None, "restored whatever changed it since"


def test_restore_of_an_unchanged_template_only_confirms(handler_api: FakeAPI) -> None:
    handler_api.current = deployment(1, **DONE)
    handler_api.after = [deployment(1, **DONE)]
    assert undo.run_undo(_restore()) is None
    assert handler_api.patches == []


def test_restore_is_pending_until_the_controller_reports_it_rolled_out(
        handler_api: FakeAPI) -> None:
    handler_api.after = [deployment(2, observedGeneration=2, **STALLED)]
    bad = copy.deepcopy(TEMPLATE)
    bad["spec"]["containers"][0]["image"] = "web:missing"
    handler_api.current = deployment(1, bad)
    with pytest.raises(RollbackFailed, match=r"template restored, but the controller does not "
                                             r"report it rolled out after 5s \(3/3 ready"):
        undo.run_undo(_restore())


def test_restore_of_a_deleted_controller_has_nothing_to_do(handler_api: FakeAPI) -> None:
    handler_api.current = None
    assert undo.run_undo(_restore()) == "Deployment ns/web no longer exists: nothing to restore"


@pytest.mark.parametrize(("action", "why"), [
    (_restore(workload="Job/web"), "is not Deployment/<name> or StatefulSet/<name>"),
    (UndoAction("restore-template", {"workload": "Deployment/web", "template": "{"},
                target={"namespace": "ns"}), "the recorded template is not JSON"),
    (UndoAction("restore-template", {"workload": "Deployment/web"},
                target={"namespace": "ns"}), "missing parameter 'template'"),
])
def test_restore_refuses_a_malformed_record(handler_api: FakeAPI, action: UndoAction,
                                            why: str) -> None:
    with pytest.raises(RollbackFailed, match=why):
        undo.run_undo(action)


def test_a_statefulsets_stuck_pods_are_forced_out_once_it_saw_the_revert(
        handler_api: FakeAPI) -> None:
    sts = {"metadata": {"name": "db", "generation": 2, "resourceVersion": "rv2"},
           "spec": {"replicas": 2, "template": TEMPLATE},
           "status": {"observedGeneration": 2, "readyReplicas": 1, "updatedReplicas": 1,
                      "updateRevision": "db-1", "currentRevision": "db-1"}}
    handler_api.current = sts
    done = copy.deepcopy(sts)
    done["status"].update(readyReplicas=2, updatedReplicas=2)
    handler_api.after = [sts, done]
    handler_api.forced = ["db-1"]
    assert undo.run_undo(_restore(workload="StatefulSet/db")) == \
        "forced out stuck pod(s) db-1"


def test_the_watch_thread_error_is_reported_not_lost(api: FakeAPI, journal: Journal,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("watch exploded")

    monkeypatch.setattr(kc, "watch_until", broken)
    clock = FakeClock()
    outcome = RolloutFault(Rollout(image="web:2", wait_s=3)).inject(
        context(journal, ScriptedObserver(clock, [snap(1, *OLD)]), clock, []))
    assert outcome.details["watch_error"] == "RuntimeError: watch exploded"
    assert outcome.details["unfinished"] is True


def test_a_controller_whose_pods_are_not_watched_reports_no_pod_figures(
        api: FakeAPI, journal: Journal) -> None:
    assert api.current is not None
    api.current["spec"]["template"]["metadata"]["labels"] = {"app": "backend"}
    api.after = [deployment(2, **DONE)]
    clock = FakeClock()
    outcome = RolloutFault(Rollout(image="web:2", target=ControllerRef("Deployment", "web"))
                           ).inject(context(journal, ScriptedObserver(clock, [snap(1, *OLD)]),
                                            clock, []))
    d = outcome.details
    assert d["pods_observed"] is False and d["completed"] is True
    assert d["max_unavailable_observed"] is None and d["old_ready_at_end"] is None
    assert "pods not watched" in str(d["summary"])


# --- the restore-template undo handler: namespace, generation, errors, forced pods -----------


def test_restore_reads_its_namespace_from_the_record_when_the_target_names_none(
        handler_api: FakeAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[tuple[str, str, str]] = []
    monkeypatch.setattr(kc, "read", lambda kube, ns, kind, name: read.append(
        (ns, kind, name)) or copy.deepcopy(handler_api.current))
    handler_api.current = deployment(1, **DONE)
    handler_api.after = [deployment(1, **DONE)]
    action = UndoAction("restore-template", {"workload": "Deployment/web", "namespace": "ns",
                                             "template": json.dumps(TEMPLATE)}, target={})
    assert undo.run_undo(action) is None
    assert read == [("ns", "Deployment", "web")]


def test_restore_waits_for_the_generation_it_wrote_not_an_older_one_in_flight(
        handler_api: FakeAPI) -> None:
    bad = copy.deepcopy(TEMPLATE)
    bad["spec"]["containers"][0]["image"] = "web:missing"
    handler_api.current = deployment(2, bad, **STALLED)  # the restore writes generation 3
    handler_api.after = [deployment(2, bad, **DONE), deployment(3, observedGeneration=2)]
    with pytest.raises(RollbackFailed) as info:
        undo.run_undo(_restore())
    assert str(info.value) == ("Deployment ns/web: template restored, but the controller does "
                               "not report it rolled out after 5s (0/3 ready, 0 updated, "
                               "0 available)")


def test_restore_of_an_object_reporting_no_generation_judges_its_first_version(
        handler_api: FakeAPI) -> None:
    unnumbered = deployment(1, **DONE)
    del unnumbered["metadata"]["generation"]
    handler_api.current = unnumbered
    handler_api.after = [unnumbered]
    assert undo.run_undo(_restore()) is None


def test_restore_with_the_api_server_failing_names_the_controller(
        handler_api: FakeAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(kube: Any, ns: str, kind: str, name: str) -> None:
        raise ClusterError("connection refused")

    monkeypatch.setattr(kc, "read", unreachable)
    with pytest.raises(RollbackFailed) as info:
        undo.run_undo(_restore())
    assert str(info.value) == "Deployment ns/web: connection refused"


def test_restore_names_every_stuck_pod_it_forced_out(handler_api: FakeAPI) -> None:
    sts = {"metadata": {"name": "db", "generation": 2, "resourceVersion": "rv2"},
           "spec": {"replicas": 2, "template": TEMPLATE},
           "status": {"observedGeneration": 2, "readyReplicas": 2, "updatedReplicas": 2,
                      "updateRevision": "db-1", "currentRevision": "db-1"}}
    handler_api.current = sts
    handler_api.after = [sts]
    handler_api.forced = ["db-1", "db-0"]
    assert undo.run_undo(_restore(workload="StatefulSet/db")) == \
        "forced out stuck pod(s) db-1, db-0"
