"""Controllers to wait for and images to provide, read from manifest documents."""

from __future__ import annotations

from typing import Any

from chaos.plan import rollout
from chaos.plan.manifests import WorkloadRef, referenced_images, rollout_targets


def _template(*images: str, init: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"template": {"spec": {"containers": [{"name": f"c{i}", "image": im}
                                                 for i, im in enumerate(images)],
                                  "initContainers": [{"name": "i", "image": im}
                                                     for im in init]}}}


DOCS: list[dict[str, Any]] = [
    {"kind": "Service", "metadata": {"name": "web"}},
    {"kind": "Deployment", "metadata": {"name": "web"}, "spec": _template("web:1", "proxy:2")},
    {"kind": "StatefulSet", "metadata": {"name": "db"},
     "spec": _template("db:3", init=("migrate:3",))},
    {"kind": "DaemonSet", "metadata": {"name": "agent"}, "spec": _template("web:1")},
    {"kind": "Pod", "metadata": {"name": "bare"}, "spec": {"containers": [{"image": "tool:9"}]}},
    {"kind": "CronJob", "metadata": {"name": "nightly"},
     "spec": {"jobTemplate": {"spec": _template("batch:1")}}},
    {"kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"image": "not-an-image"}},
]


def test_rollout_targets_are_every_controller_kind_in_order() -> None:
    assert rollout_targets(DOCS) == [WorkloadRef("Deployment", "web"),
                                     WorkloadRef("StatefulSet", "db"),
                                     WorkloadRef("DaemonSet", "agent")]
    assert str(WorkloadRef("StatefulSet", "db")) == "statefulset/db"


def test_referenced_images_first_use_first_each_once() -> None:
    assert referenced_images(DOCS) == ("web:1", "proxy:2", "migrate:3", "db:3", "tool:9",
                                       "batch:1")


def test_referenced_images_tolerates_odd_documents() -> None:
    odd: list[dict[str, Any]] = [{"kind": "Deployment", "spec": None},
                                 {"kind": "Pod", "spec": {"containers": ["x", {"image": 3}]}}]
    assert referenced_images(odd) == ()


def _dep(want: int, ready: int, updated: int, available: int, total: int | None = None,
         gen: int = 2, observed: int = 2) -> dict[str, Any]:
    return {"metadata": {"generation": gen}, "spec": {"replicas": want},
            "status": {"observedGeneration": observed, "readyReplicas": ready,
                       "updatedReplicas": updated, "availableReplicas": available,
                       "replicas": want if total is None else total}}


def test_deployment_rollout_rules() -> None:
    assert rollout.status("Deployment", _dep(3, 3, 3, 3)).done
    assert not rollout.status("Deployment", _dep(3, 2, 3, 2)).done
    assert not rollout.status("Deployment", _dep(3, 3, 3, 3, total=4)).done  # old pod left
    assert not rollout.status("Deployment", _dep(3, 3, 3, 3, gen=3)).done  # not observed yet
    assert rollout.status("Deployment", _dep(3, 2, 3, 2)).summary == \
        "2/3 ready, 3 updated, 2 available"


def _sts(want: int, ready: int, updated: int, current: str = "r1", update: str = "r1",
         strategy: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": {"generation": 1},
            "spec": {"replicas": want, "updateStrategy": strategy or {"type": "RollingUpdate"}},
            "status": {"observedGeneration": 1, "readyReplicas": ready,
                       "updatedReplicas": updated, "currentRevision": current,
                       "updateRevision": update}}


def test_statefulset_rollout_rules() -> None:
    assert rollout.status("StatefulSet", _sts(2, 2, 2)).done
    assert not rollout.status("StatefulSet", _sts(2, 1, 2)).done
    assert not rollout.status("StatefulSet", _sts(2, 2, 2, current="r1", update="r2")).done
    partitioned = {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}
    assert rollout.status("StatefulSet", _sts(3, 3, 2, "r1", "r2", partitioned)).done
    assert not rollout.status("StatefulSet", _sts(3, 3, 1, "r1", "r2", partitioned)).done
    assert rollout.status("StatefulSet", _sts(2, 2, 0, strategy={"type": "OnDelete"})).done


def test_daemonset_rollout_rules() -> None:
    def ds(desired: int, updated: int, available: int, ready: int) -> dict[str, Any]:
        return {"metadata": {"generation": 1},
                "status": {"observedGeneration": 1, "desiredNumberScheduled": desired,
                           "updatedNumberScheduled": updated, "numberAvailable": available,
                           "numberReady": ready}}

    assert rollout.status("DaemonSet", ds(2, 2, 2, 2)).done
    assert not rollout.status("DaemonSet", ds(2, 1, 2, 2)).done
    assert not rollout.status("DaemonSet", ds(2, 2, 1, 1)).done
