"""Rollout rules without a cluster: strategies resolved as the controllers resolve them, stalls,
the surge and unavailability counted from pod states, template changes, previous revisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from chaos.plan import revisions as rv
from chaos.plan import rollout as ro

# --- strategy ------------------------------------------------------------------------------


def _deploy(replicas: int | None = 4, strategy: dict[str, Any] | None = None,
            **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"strategy": strategy} if strategy is not None else {}
    if replicas is not None:
        body["replicas"] = replicas
    return {"spec": {**body, **spec}}


@pytest.mark.parametrize(("surge", "unavailable", "replicas", "want"), [
    (None, None, 4, (1, 1)),  # the API's 25 % / 25 %
    (None, None, 10, (3, 2)),  # surge rounds up, unavailability down
    (1, 0, 3, (1, 0)),
    ("0%", "0%", 3, (0, 1)),  # both zero: the controller allows one unavailable
    (0, "100%", 3, (0, 3)),
    ("50%", "34%", 3, (2, 1)),
])
def test_deployment_bounds_resolve_like_the_controller(surge: Any, unavailable: Any,
                                                       replicas: int,
                                                       want: tuple[int, int]) -> None:
    ru = {k: v for k, v in (("maxSurge", surge), ("maxUnavailable", unavailable))
          if v is not None}
    s = ro.strategy("Deployment", _deploy(replicas, {"type": "RollingUpdate",
                                                     "rollingUpdate": ru}))
    assert (s.max_surge, s.max_unavailable) == want
    assert s.type == "RollingUpdate" and s.replicas == replicas


def test_deployment_defaults_and_recreate() -> None:
    s = ro.strategy("Deployment", _deploy(None))
    assert (s.replicas, s.max_surge, s.max_unavailable) == (1, 1, 0)
    assert s.progress_deadline_s == 600 and s.declared == {"maxSurge": "25%",
                                                          "maxUnavailable": "25%"}
    r = ro.strategy("Deployment", _deploy(3, {"type": "Recreate"},
                                          progressDeadlineSeconds=20, minReadySeconds=2))
    assert (r.type, r.max_surge, r.max_unavailable) == ("Recreate", 0, 3)
    assert (r.progress_deadline_s, r.min_ready_s) == (20, 2)


def test_statefulset_updates_one_pod_at_a_time_unless_told_otherwise() -> None:
    s = ro.strategy("StatefulSet", {"spec": {"replicas": 3}})
    assert (s.type, s.max_surge, s.max_unavailable, s.progress_deadline_s) == \
        ("RollingUpdate", 0, 1, None)
    wide = ro.strategy("StatefulSet", {"spec": {"replicas": 4, "updateStrategy": {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "50%", "partition": 1}}}})
    assert wide.max_unavailable == 2 and wide.declared["partition"] == 1
    assert ro.strategy("StatefulSet", {"spec": {"updateStrategy": {"type": "OnDelete"}}}
                       ).type == "OnDelete"


@pytest.mark.parametrize("bad", ["25", "x%", -1, True, 1.5])
def test_malformed_bounds_are_refused(bad: Any) -> None:
    with pytest.raises(ValueError):
        ro.strategy("Deployment", _deploy(3, {"rollingUpdate": {"maxSurge": bad}}))


def test_daemonsets_have_no_rollout_strategy_here() -> None:
    with pytest.raises(ValueError, match="DaemonSet"):
        ro.strategy("DaemonSet", {})


def test_deployment_strategy_defaults_in_full() -> None:
    """No strategy, no minReadySeconds: every field the API would default, and its dict."""
    s = ro.strategy("Deployment", _deploy(4))
    assert s == ro.Strategy("Deployment", "RollingUpdate", 4, 1, 1,
                            {"maxSurge": "25%", "maxUnavailable": "25%"}, 600, 0)
    assert s.as_dict() == {"type": "RollingUpdate", "replicas": 4, "max_surge": 1,
                           "max_unavailable": 1,
                           "declared": {"maxSurge": "25%", "maxUnavailable": "25%"},
                           "progress_deadline_s": 600, "min_ready_s": 0}


def test_deployment_strategy_keeps_the_declared_bounds_and_min_ready() -> None:
    s = ro.strategy("Deployment", _deploy(4, {"rollingUpdate": {"maxSurge": 2,
                                                                "maxUnavailable": "50%"}},
                                          minReadySeconds=5, progressDeadlineSeconds=0))
    assert s == ro.Strategy("Deployment", "RollingUpdate", 4, 2, 2,
                            {"maxSurge": 2, "maxUnavailable": "50%"}, 0, 5)


def test_statefulset_strategy_defaults_in_full() -> None:
    s = ro.strategy("StatefulSet", {"spec": {"replicas": 3, "minReadySeconds": 3}})
    assert s == ro.Strategy("StatefulSet", "RollingUpdate", 3, 0, 1,
                            {"maxUnavailable": 1, "partition": 0}, None, 3)
    assert s.as_dict() == {"type": "RollingUpdate", "replicas": 3, "max_surge": 0,
                           "max_unavailable": 1,
                           "declared": {"maxUnavailable": 1, "partition": 0},
                           "progress_deadline_s": None, "min_ready_s": 3}


def test_statefulset_max_unavailable_percent_rounds_down() -> None:
    s = ro.strategy("StatefulSet", {"spec": {"replicas": 3, "updateStrategy": {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "50%", "partition": 2}}}})
    assert s == ro.Strategy("StatefulSet", "RollingUpdate", 3, 0, 1,
                            {"maxUnavailable": "50%", "partition": 2}, None, 0)


# --- progress ------------------------------------------------------------------------------


def _status(generation: int = 2, observed: int = 2, **status: Any) -> dict[str, Any]:
    return {"metadata": {"generation": generation,
                         "annotations": {"deployment.kubernetes.io/revision": "2"}},
            "spec": {"replicas": 3}, "status": {"observedGeneration": observed, **status}}


STALLED = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
           "lastUpdateTime": "2026-11-02T10:00:20Z", "message": "ReplicaSet web-2 has timed out"}


def test_complete_deployment() -> None:
    p = ro.progress("Deployment", _status(replicas=3, readyReplicas=3, updatedReplicas=3,
                                          availableReplicas=3))
    assert p.done and p.observed and p.stalled_at is None and p.revision == "2"


def test_stall_is_read_from_the_progress_deadline_condition() -> None:
    p = ro.progress("Deployment", _status(replicas=4, readyReplicas=3, updatedReplicas=1,
                                          availableReplicas=3, conditions=[STALLED]))
    assert not p.done and p.stalled_at == "2026-11-02T10:00:20Z"
    assert "timed out" in p.stall_message


def test_a_stall_of_an_older_generation_is_not_this_rollouts() -> None:
    p = ro.progress("Deployment", _status(generation=3, observed=2, conditions=[STALLED]))
    assert p.stalled_at is None and not p.observed and not p.done


def test_progressing_true_is_no_stall() -> None:
    going = {**STALLED, "status": "True", "reason": "ReplicaSetUpdated"}
    assert ro.progress("Deployment", _status(conditions=[going])).stalled_at is None


def test_statefulset_progress_uses_its_update_revision() -> None:
    obj = {"metadata": {"generation": 2}, "spec": {"replicas": 2},
           "status": {"observedGeneration": 2, "readyReplicas": 2, "updatedReplicas": 2,
                      "updateRevision": "db-7", "currentRevision": "db-7"}}
    p = ro.progress("StatefulSet", obj)
    assert p.done and p.revision == "db-7" and p.stalled_at is None


def test_progress_of_a_running_deployment_in_full() -> None:
    obj = _status(replicas=3, readyReplicas=2, updatedReplicas=1, availableReplicas=2)
    del obj["metadata"]["annotations"]
    assert ro.progress("Deployment", obj) == ro.Progress(
        True, False, None, "", "2/3 ready, 1 updated, 2 available", "")


def test_a_stall_without_update_time_uses_the_transition_time() -> None:
    cond = {k: v for k, v in STALLED.items() if k not in ("lastUpdateTime", "message")}
    cond["lastTransitionTime"] = "2026-11-02T10:00:25Z"
    p = ro.progress("Deployment", _status(conditions=[cond]))
    assert (p.stalled_at, p.stall_message) == ("2026-11-02T10:00:25Z", "")


def test_a_stall_without_any_time_is_stalled_at_the_empty_string() -> None:
    cond = {k: v for k, v in STALLED.items() if k != "lastUpdateTime"}
    p = ro.progress("Deployment", _status(conditions=[cond]))
    assert (p.stalled_at, p.stall_message) == ("", "ReplicaSet web-2 has timed out")


def test_statefulset_without_an_update_revision_has_none() -> None:
    obj = {"metadata": {"generation": 1}, "spec": {"replicas": 1},
           "status": {"observedGeneration": 1, "readyReplicas": 1, "updatedReplicas": 1}}
    assert ro.progress("StatefulSet", obj) == ro.Progress(True, True, None, "",
                                                          "1/1 ready, 1 updated", "")


# --- pods: surge and unavailability --------------------------------------------------------


@dataclass(frozen=True)
class Pod:
    rev: str
    ready: bool = True
    terminating: bool = False
    app: str = "web"
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels.update({"app": self.app, "pod-template-hash": self.rev})


def test_counts_skip_other_controllers_and_terminating_pods() -> None:
    pods = [Pod("old"), Pod("old", terminating=True), Pod("new", ready=False),
            Pod("new"), Pod("old", app="other")]
    c = ro.count_pods(pods, {"app": "web"})
    assert (c.total, c.active, c.ready) == (4, 3, 2)
    assert c.ready_by_revision == {"old": 1, "new": 1}


def test_peaks_of_a_surge_one_rollout() -> None:
    peaks = ro.Peaks(replicas=3, old=frozenset({"old"}))
    steps = [
        [Pod("old")] * 3,
        [Pod("old")] * 3 + [Pod("new", ready=False)],  # surge 1
        [Pod("old")] * 2 + [Pod("old", terminating=True), Pod("new")],
        [Pod("old")] * 2 + [Pod("old", terminating=True), Pod("new"), Pod("new", ready=False)],
        [Pod("new")] * 3,
    ]
    for pods in steps:
        peaks.add(ro.count_pods(pods, {"app": "web"}))
    assert peaks.as_dict() == {"max_surge_observed": 1, "max_unavailable_observed": 0,
                               "max_pods_observed": 5, "min_ready_observed": 3,
                               "min_old_ready_observed": 0}
    assert peaks.samples == 5


def test_peaks_of_a_recreate_show_every_pod_unavailable() -> None:
    peaks = ro.Peaks(replicas=2, old=frozenset({"old"}))
    for pods in ([Pod("old")] * 2, [Pod("old", terminating=True)] * 2,
                 [Pod("new", ready=False)] * 2):
        peaks.add(ro.count_pods(pods, {"app": "web"}))
    assert (peaks.max_surge, peaks.max_unavailable, peaks.min_old_ready) == (0, 2, 0)


def test_statefulset_pods_carry_their_revision_in_another_label() -> None:
    assert ro.revision_of({"controller-revision-hash": "db-6c"}) == "db-6c"
    assert ro.revision_of({"app": "x"}) == ""


# --- template changes ----------------------------------------------------------------------


TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [
        {"name": "web", "image": "web:1", "args": ["--addr=:8080"],
         "env": [{"name": "MODE", "value": "a"},
                 {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]},
        {"name": "proxy", "image": "proxy:1"}]},
}


def test_change_image_env_args_of_the_first_container() -> None:
    change = rv.TemplateChange(image="web:2", env=(("MODE", "b"), ("POD", "x"), ("NEW", "1")),
                               args=("--fail-readiness",))
    new, name = rv.apply_change(TEMPLATE, change)
    web = new["spec"]["containers"][0]
    assert name == "web" and web["image"] == "web:2" and web["args"] == ["--fail-readiness"]
    assert web["env"] == [{"name": "MODE", "value": "b"}, {"name": "POD", "value": "x"},
                          {"name": "NEW", "value": "1"}]
    assert new["spec"]["containers"][1] == TEMPLATE["spec"]["containers"][1]
    assert TEMPLATE["spec"]["containers"][0]["image"] == "web:1", "input left alone"
    assert change.describe() == ("image=web:2, env MODE=b, env POD=x, env NEW=1, "
                                 "args=['--fail-readiness']")


def test_change_a_named_container_and_refuse_an_unknown_one() -> None:
    new, name = rv.apply_change(TEMPLATE, rv.TemplateChange(container="proxy", image="p:2"))
    assert name == "proxy" and new["spec"]["containers"][1]["image"] == "p:2"
    with pytest.raises(rv.RevisionError, match=r"no container 'db'.*web, proxy"):
        rv.apply_change(TEMPLATE, rv.TemplateChange(container="db", image="x"))
    with pytest.raises(rv.RevisionError, match="no containers"):
        rv.apply_change({"spec": {}}, rv.TemplateChange(image="x"))


def test_empty_args_clear_them() -> None:
    new, _ = rv.apply_change(TEMPLATE, rv.TemplateChange(args=()))
    assert new["spec"]["containers"][0]["args"] == []


# --- previous revisions --------------------------------------------------------------------


def _rs(name: str, revision: int | None, image: str, owner: str = "uid-d") -> dict[str, Any]:
    ann = {} if revision is None else {"deployment.kubernetes.io/revision": str(revision)}
    return {"metadata": {"name": name, "annotations": ann,
                         "ownerReferences": [{"uid": owner, "controller": True}]},
            "spec": {"template": {"metadata": {"labels": {"app": "web",
                                                          "pod-template-hash": name[-3:]}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}}}


DEPLOY = {"metadata": {"name": "web", "uid": "uid-d"}}


def test_previous_replicaset_is_the_second_highest_revision_without_its_hash() -> None:
    sets = [_rs("web-aaa", 1, "web:1"), _rs("web-ccc", 3, "web:3"), _rs("web-bbb", 2, "web:2"),
            _rs("other-ddd", 9, "x", owner="uid-x"), _rs("web-eee", None, "web:?")]
    prev = rv.previous_replicaset(DEPLOY, sets)
    assert (prev.name, prev.revision, prev.current, prev.current_revision, prev.pod_revision) \
        == ("web-bbb", 2, "web-ccc", 3, "bbb")
    assert prev.template["metadata"]["labels"] == {"app": "web"}
    assert prev.template["spec"]["containers"][0]["image"] == "web:2"
    assert sets[2]["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == "bbb"


def test_no_previous_replicaset() -> None:
    with pytest.raises(rv.RevisionError, match="no previous revision"):
        rv.previous_replicaset(DEPLOY, [_rs("web-aaa", 1, "web:1")])


def _cr(name: str, revision: int, image: str, owner: str = "uid-s") -> dict[str, Any]:
    return {"metadata": {"name": name, "ownerReferences": [{"uid": owner, "controller": True}]},
            "revision": revision,
            "data": {"spec": {"template": {"$patch": "replace",
                                           "spec": {"containers": [{"name": "db",
                                                                    "image": image}]}}}}}


STS = {"metadata": {"name": "db", "uid": "uid-s"}, "status": {"updateRevision": "db-3"}}


def test_previous_controller_revision_is_the_one_before_the_update_revision() -> None:
    revs = [_cr("db-1", 1, "db:1"), _cr("db-2", 2, "db:2"), _cr("db-3", 3, "db:3"),
            _cr("db-4", 4, "db:4"), _cr("x-9", 2, "x", owner="uid-x")]
    prev = rv.previous_controller_revision(STS, revs)
    assert (prev.name, prev.revision, prev.current, prev.pod_revision) == \
        ("db-2", 2, "db-3", "db-2")
    assert prev.template == {"spec": {"containers": [{"name": "db", "image": "db:2"}]}}


def test_statefulset_without_a_previous_revision() -> None:
    with pytest.raises(rv.RevisionError, match="no revision before db-3"):
        rv.previous_controller_revision(STS, [_cr("db-3", 3, "db:3")])
    with pytest.raises(rv.RevisionError, match="not among"):
        rv.previous_controller_revision(STS, [_cr("db-1", 1, "db:1")])


def _pod(name: str, rev: str, ready: bool, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"controller-revision-hash": rev}}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-02T10:00:00Z"
    return {"metadata": meta, "status": {"conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}}


def test_stuck_pods_are_unready_pods_of_another_revision() -> None:
    pods = [_pod("db-0", "db-3", True), _pod("db-1", "db-4", True),
            _pod("db-2", "db-4", False), _pod("db-3", "db-4", False, deleting=True),
            _pod("db-4", "db-3", False)]
    assert rv.stuck_pods(STS, pods) == ["db-2"]


def test_a_deleting_pod_does_not_hide_the_stuck_pods_after_it() -> None:
    pods = [_pod("db-0", "db-2", False, deleting=True), _pod("db-1", "db-2", False)]
    assert rv.stuck_pods(STS, pods) == ["db-1"]


def test_change_nothing_is_described_as_nothing() -> None:
    assert rv.TemplateChange().describe() == "nothing"


def test_a_new_env_variable_keeps_the_ones_already_set() -> None:
    new, _ = rv.apply_change(TEMPLATE, rv.TemplateChange(env=(("NEW", "1"),)))
    assert new["spec"]["containers"][0]["env"] == [
        {"name": "MODE", "value": "a"},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NEW", "value": "1"}]


def test_a_template_without_containers_is_refused_in_full() -> None:
    with pytest.raises(rv.RevisionError) as info:
        rv.apply_change({"spec": {"containers": []}}, rv.TemplateChange(image="x"))
    assert str(info.value) == "the pod template has no containers"


def test_replicasets_without_a_revision_do_not_count_and_revision_zero_does() -> None:
    with pytest.raises(rv.RevisionError) as info:
        rv.previous_replicaset(DEPLOY, [_rs("web-aaa", 1, "web:1"), _rs("web-bbb", None, "x")])
    assert str(info.value) == \
        "Deployment web has no previous revision (1 ReplicaSet(s) with a revision)"
    prev = rv.previous_replicaset(DEPLOY, [_rs("web-zzz", 0, "web:0"), _rs("web-aaa", 1, "w")])
    assert (prev.name, prev.revision, prev.current, prev.current_revision) == \
        ("web-zzz", 0, "web-aaa", 1)


def test_a_nameless_deployment_is_named_empty_in_the_error() -> None:
    with pytest.raises(rv.RevisionError) as info:
        rv.previous_replicaset({}, [])
    assert str(info.value) == "Deployment  has no previous revision (0 ReplicaSet(s) with a " \
        "revision)"


def test_previous_replicaset_without_a_hash_label_has_no_pod_revision() -> None:
    plain = _rs("web-bbb", 1, "web:1")
    del plain["spec"]["template"]["metadata"]["labels"]["pod-template-hash"]
    bare = _rs("web-ccc", 1, "web:1")
    del bare["spec"]["template"]["metadata"]
    for old in (plain, bare):
        prev = rv.previous_replicaset(DEPLOY, [old, _rs("web-ddd", 2, "web:2")])
        assert (prev.name, prev.pod_revision) == (old["metadata"]["name"], "")


def test_statefulset_without_an_update_revision_is_refused_in_full() -> None:
    with pytest.raises(rv.RevisionError) as info:
        rv.previous_controller_revision({"metadata": {"name": "db", "uid": "uid-s"}},
                                        [_cr("db-1", 1, "db:1")])
    assert str(info.value) == \
        "StatefulSet db: its update revision (none) is not among its ControllerRevisions"
    with pytest.raises(rv.RevisionError) as info:
        rv.previous_controller_revision(STS, [_cr("db-1", 1, "db:1")])
    assert str(info.value) == \
        "StatefulSet db: its update revision db-3 is not among its ControllerRevisions"


def test_controller_revisions_without_a_number_count_as_revision_zero() -> None:
    current = _cr("db-3", 3, "db:3")
    del current["revision"]
    with pytest.raises(rv.RevisionError) as info:
        rv.previous_controller_revision(STS, [current])
    assert str(info.value) == "StatefulSet db has no revision before db-3 (revision 0)"
    unnumbered = _cr("db-0", 0, "db:0")
    del unnumbered["revision"]
    prev = rv.previous_controller_revision(STS, [unnumbered, _cr("db-1", 1, "db:1"),
                                                 _cr("db-3", 3, "db:3")])
    assert (prev.name, prev.revision, prev.current_revision) == ("db-1", 1, 3)
    prev = rv.previous_controller_revision(
        {**STS, "status": {"updateRevision": "db-1"}}, [unnumbered, _cr("db-1", 1, "db:1")])
    assert (prev.name, prev.revision, prev.current, prev.current_revision) == \
        ("db-0", 0, "db-1", 1)


def test_previous_controller_revision_template_is_a_copy_and_may_lack_the_patch_key() -> None:
    old = _cr("db-2", 2, "db:2")
    del old["data"]["spec"]["template"]["$patch"]
    prev = rv.previous_controller_revision(STS, [old, _cr("db-3", 3, "db:3")])
    assert prev.template == {"spec": {"containers": [{"name": "db", "image": "db:2"}]}}
    prev.template["spec"]["containers"][0]["image"] = "changed"
    assert old["data"]["spec"]["template"]["spec"]["containers"][0]["image"] == "db:2"


def test_a_controller_revision_without_a_template_is_refused_in_full() -> None:
    empty = _cr("db-2", 2, "db:2")
    empty["data"] = {"spec": {"template": {"$patch": "replace"}}}
    with pytest.raises(rv.RevisionError) as info:
        rv.previous_controller_revision(STS, [empty, _cr("db-3", 3, "db:3")])
    assert str(info.value) == "ControllerRevision db-2 holds no pod template"


def test_peaks_keep_the_lowest_readiness_seen_not_the_last() -> None:
    peaks = ro.Peaks(replicas=3, old=frozenset({"old"}))
    for pods in ([Pod("old")] * 3,
                 [Pod("old")] * 2 + [Pod("old", ready=False), Pod("new", ready=False)],
                 [Pod("old")] * 2 + [Pod("new")],
                 [Pod("new")] * 3):
        peaks.add(ro.count_pods(pods, {"app": "web"}))
    assert (peaks.min_ready, peaks.min_old_ready) == (2, 0)
    first_two = ro.Peaks(replicas=3, old=frozenset({"old"}))
    for pods in ([Pod("old")] * 2 + [Pod("new")], [Pod("old")] * 3):
        first_two.add(ro.count_pods(pods, {"app": "web"}))
    assert (first_two.min_ready, first_two.min_old_ready) == (3, 2)  # new pods are not old


def test_counting_goes_on_past_a_pod_of_another_controller() -> None:
    pods = [Pod("old", app="other"), Pod("old"), Pod("new")]
    c = ro.count_pods(pods, {"app": "web"})
    assert (c.total, c.active, c.ready, dict(c.ready_by_revision)) == (
        2, 2, 2, {"old": 1, "new": 1})


@pytest.mark.parametrize(("value", "message"), [
    (True, "not an int or percentage: True"),
    (-1, "negative: -1"),
    ("5x%", "not an int or percentage: '5x%'"),
])
def test_bound_refusals_in_full(value: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        ro.scaled(value, 4, round_up=True, default="25%")
    assert str(info.value) == message


def test_a_surge_percentage_rounds_up_over_hundredths() -> None:
    assert ro.scaled("25%", 404, round_up=True, default="25%") == 101
    assert ro.scaled("25%", 405, round_up=True, default="25%") == 102  # 101.25 up
    assert ro.scaled("25%", 405, round_up=False, default="25%") == 101
