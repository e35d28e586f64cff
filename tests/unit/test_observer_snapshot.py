"""The Observer's snapshot and wait_change, fed by its watch handlers (no cluster: the handlers
take the objects a watch delivers, built here as plain namespaces)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace as NS
from typing import Any

from chaos.k8s.observe import Observer
from chaos.model.selector import Selector


def _pod(name: str, uid: str, ready: bool, restarts: int = 0, node: str = "w1") -> Any:
    return NS(metadata=NS(uid=uid, name=name), spec=NS(node_name=node),
              status=NS(phase="Running",
                        conditions=[NS(type="Ready", status="True" if ready else "False")],
                        container_statuses=[NS(name="web", restart_count=restarts)]))


def _node(name: str, ready: bool) -> Any:
    return NS(metadata=NS(name=name), spec=NS(unschedulable=False),
              status=NS(conditions=[NS(type="Ready", status="True" if ready else "False")]))


def _observer() -> Observer:
    return Observer(kube=None, namespace="ns", selector=Selector.of({"app": "web"}),  # type: ignore[arg-type]
                    service="web")


def test_snapshot_follows_pods_nodes_and_endpoints() -> None:
    obs = _observer()
    obs._on_pod("ADDED", _pod("web-a", "u1", ready=False))
    obs._on_pod("MODIFIED", _pod("web-a", "u1", ready=True))
    obs._on_pod("MODIFIED", _pod("web-a", "u1", ready=True, restarts=2))
    obs._on_node("ADDED", _node("w1", True))
    obs._on_node("MODIFIED", _node("w1", False))
    obs._on_slice("ADDED", NS(metadata=NS(name="web-x"), endpoints=[
        NS(conditions=NS(ready=True), target_ref=NS(name="web-a"))]))
    snap = obs.snapshot()
    assert snap.ready_pods == {"web-a"}
    assert snap.pods["web-a"].restarts == 2 and snap.pods["web-a"].node == "w1"
    assert snap.nodes == {"w1": False}
    assert snap.endpoints == {"web-a"}
    kinds = [e.kind for e in obs.events()]
    assert kinds == ["pod-added", "pod-ready", "restart", "restart", "node-notready",
                     "endpoint-added"]
    assert snap.version == len(kinds)


def test_wait_change_returns_on_the_next_change_and_times_out_without_one() -> None:
    obs = _observer()
    version = obs.snapshot().version
    started = time.monotonic()
    assert obs.wait_change(version, 0.2).version == version
    assert time.monotonic() - started >= 0.2
    timer = threading.Timer(0.1, obs._on_pod, ("ADDED", _pod("web-b", "u2", ready=True)))
    timer.start()
    snap = obs.wait_change(version, 5.0)
    timer.join()
    assert snap.version > version and "web-b" in snap.ready_pods


def test_snapshot_carries_labels_and_a_deletion_as_a_change() -> None:
    obs = _observer()
    pod = _pod("web-a", "u1", ready=True)
    pod.metadata.labels = {"app": "web", "pod-template-hash": "abc"}
    pod.metadata.deletion_timestamp = None
    obs._on_pod("ADDED", pod)
    before = obs.snapshot()
    assert before.pods["web-a"].labels == {"app": "web", "pod-template-hash": "abc"}
    assert before.pods["web-a"].terminating is False
    pod.metadata.deletion_timestamp = "2026-01-01T00:00:00Z"
    obs._on_pod("MODIFIED", pod)  # still Ready: only the deletion changed
    after = obs.snapshot()
    assert after.version > before.version, "a waiter must wake on a deletion"
    assert after.pods["web-a"].terminating is True and after.pods["web-a"].ready is True
    obs._on_pod("MODIFIED", pod)
    assert obs.snapshot().version == after.version, "no change, no new version"
