from __future__ import annotations

from chaos.plan.drain import PodInfo, decide, plan_drain


def pod(name: str, **kw: object) -> PodInfo:
    base: dict[str, object] = {"namespace": "t", "node": "w1", "owner_kind": "ReplicaSet"}
    base.update(kw)
    return PodInfo(name=name, **base)  # type: ignore[arg-type]


PODS = [
    pod("web-1"),
    pod("kindnet-x", owner_kind="DaemonSet", namespace="kube-system"),
    pod("kube-apiserver-w1", owner_kind="Node", is_mirror=True, namespace="kube-system"),
    pod("job-1", owner_kind="Job", phase="Succeeded"),
    pod("bare"),
    pod("cache", has_local_storage=True),
    pod("web-2", node="w2"),
]
PODS[4] = pod("bare", owner_kind=None)


def test_default_plan() -> None:
    plan = plan_drain(PODS, "w1")
    assert [p.name for p in plan.evict] == ["cache", "web-1"]
    assert {d.pod.name: d.reason for d in plan.skipped} == {
        "kindnet-x": "managed by a DaemonSet: would be recreated on the node",
        "kube-apiserver-w1": "mirror (static) pod: managed by the kubelet",
        "job-1": "finished pod (phase Succeeded)",
    }
    assert [(d.pod.name, d.reason) for d in plan.refused] == [
        ("bare", "not managed by a controller: would not come back")
    ]
    assert "web-2" not in {d.pod.name for d in plan.decisions}


def test_force_and_local_data() -> None:
    plan = plan_drain(PODS, "w1", force=True, delete_local_data=False)
    assert [p.name for p in plan.evict] == ["bare", "web-1"]
    assert [(d.pod.name, d.reason) for d in plan.refused] == [
        ("cache", "uses local storage (emptyDir): its data would be lost")
    ]
    assert decide(pod("f", phase="Failed", owner_kind=None)).action == "skip"
