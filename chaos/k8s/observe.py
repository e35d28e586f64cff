"""Watch the cluster during an experiment and turn changes into ClusterEvents.

Four watches run in background threads — the workload's pods, the Service's
EndpointSlices, the namespace's Events, and Nodes — and each change is
stamped with the wall-clock time it was received (the timeline's axis, shared
with locust's per-request records). Watches, not polling: a transition is
seen within one network round trip, which gives recovery figures a
resolution far better than 100 ms.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from kubernetes import watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from chaos.clock import SYSTEM_CLOCK, Deadline
from chaos.k8s.client import Kube
from chaos.k8s.health import node_ready
from chaos.model.experiment import Selector
from chaos.model.timeline import ClusterEvent

WATCH_TIMEOUT_S = 5  # server-side; the loop re-watches from the last resourceVersion
# the initial list comes a page at a time: the client turns a whole list into model objects at
# once, about 50 KB a pod, and the process keeps that peak (benchmarks/bench_scale.py)
LIST_PAGE = 1000
_NO_LABELS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PodState:
    name: str
    uid: str
    node: str
    ready: bool
    restarts: int  # of the pod's first container, as `kubectl get pods` shows it
    # deletion requested: a controller no longer counts it (a rollout's surge and availability
    # are over the others), though it may still serve until its containers stop
    terminating: bool = False
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the watches have seen, taken under the Observer's lock. ``version`` grows with
    every change, so a reader can wait for the next one (``Observer.wait_change``)."""

    version: int
    pods: Mapping[str, PodState]  # by pod name: the workload's pods that exist now
    endpoints: frozenset[str]  # pods that are ready endpoints of the Service
    nodes: Mapping[str, bool]  # node name -> Ready

    @property
    def ready_pods(self) -> frozenset[str]:
        return frozenset(n for n, p in self.pods.items() if p.ready)


class ObserverView(Protocol):
    """What faults may use of the Observer: read its state and wait for it to change. They
    never watch or poll what it already watches (pods, endpoints, nodes)."""

    def snapshot(self) -> Snapshot: ...

    def wait_change(self, version: int, timeout_s: float) -> Snapshot: ...


class Observer:
    def __init__(self, kube: Kube, namespace: str, selector: Selector, service: str | None) -> None:
        self.kube = kube
        self.namespace = namespace
        self.selector = selector
        self.service = service
        self._events: list[ClusterEvent] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # current state, updated by the watches; read it through snapshot()
        self._ready_pods: set[str] = set()
        self._pods: dict[str, dict[str, Any]] = {}  # uid -> {name, ready, restarts, node}
        self._endpoints: dict[str, set[str]] = {}  # slice -> ready pod names
        self._nodes: dict[str, bool] = {}
        self.errors: list[str] = []
        self._synced: dict[str, threading.Event] = {}
        self._version = 0

    # -- public API ---------------------------------------------------------------------------

    def start(self, sync_timeout_s: float = 30.0) -> None:
        """Start every watch and wait until each has listed its initial state."""
        watches: list[tuple[str, Callable[[], None]]] = [
            ("pods", self._watch_pods),
            ("nodes", self._watch_nodes),
            ("events", self._watch_events),
        ]
        watches.append(("endpoints", self._watch_endpoints))
        for name, fn in watches:
            self._synced[name] = threading.Event()
            t = threading.Thread(target=self._loop, args=(name, fn), daemon=True,
                                 name=f"kube-chaos-watch-{name}")
            t.start()
            self._threads.append(t)
        deadline = Deadline(SYSTEM_CLOCK, sync_timeout_s)
        for _name, ev in self._synced.items():
            deadline.wait(ev)

    def stop(self, join_s: float = 0.5) -> None:
        """Stop watching. A thread blocked in a watch read ends by itself when the read times
        out (daemon threads, at most WATCH_TIMEOUT_S later); we do not wait for that, and
        nothing it might still receive is read after this call returns."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        deadline = Deadline(SYSTEM_CLOCK, join_s)
        for t in self._threads:
            t.join(timeout=deadline.remaining())

    def emit(self, kind: str, name: str, detail: str = "") -> None:
        with self._cond:
            self._add(kind, name, detail)

    def snapshot(self) -> Snapshot:
        with self._cond:
            return self._snapshot()

    def wait_change(self, version: int, timeout_s: float) -> Snapshot:
        """The state once it differs from ``version`` (or when time runs out or we stop)."""
        deadline = Deadline(SYSTEM_CLOCK, timeout_s)
        with self._cond:
            while self._version == version and not self._stop.is_set():
                if deadline.expired():
                    break
                self._cond.wait(deadline.remaining())
            return self._snapshot()

    def _snapshot(self) -> Snapshot:
        pods = {}
        for uid, p in self._pods.items():
            first = next(iter(p["restarts"].values()), 0)
            pods[p["name"]] = PodState(name=p["name"], uid=uid, node=p.get("node", ""),
                                       ready=p["ready"], restarts=first,
                                       terminating=p.get("terminating", False),
                                       labels=p.get("labels", _NO_LABELS))
        endpoints = frozenset().union(*self._endpoints.values()) if self._endpoints else frozenset()
        return Snapshot(version=self._version, pods=MappingProxyType(pods),
                        endpoints=endpoints, nodes=MappingProxyType(dict(self._nodes)))

    def events(self) -> list[ClusterEvent]:
        with self._cond:
            return sorted(self._events, key=lambda e: e.t)

    def events_unlocked(self) -> list[ClusterEvent]:
        """The events so far, for predicates run by wait_for (which holds the lock)."""
        return sorted(self._events, key=lambda e: e.t)

    def wait_for(self, predicate: Callable[[Observer], bool], timeout_s: float) -> bool:
        """Block until `predicate(self)` holds (re-checked on every event) or time runs out."""
        deadline = Deadline(SYSTEM_CLOCK, timeout_s)
        with self._cond:
            while not predicate(self):
                if deadline.expired() or self._stop.is_set():
                    return predicate(self)
                self._cond.wait(min(deadline.remaining(), 1.0))
            return True

    # -- watch loops --------------------------------------------------------------------------

    def _loop(self, name: str, fn: Callable[[], None]) -> None:
        while not self._stop.is_set():
            try:
                fn()
            except (ApiException, HTTPError, OSError, ValueError) as exc:
                # a dropped watch (API server restarting, node loss) is re-opened
                self.errors.append(f"{name}: {exc}")
                self._synced[name].set()
                self._stop.wait(1.0)

    def _stream(self, name: str, list_fn: Callable[..., Any], *args: Any,
                handle: Callable[[str, Any], None], **kwargs: Any) -> None:
        token = None
        while True:  # every page is of the first page's snapshot (one resourceVersion)
            page = list_fn(*args, limit=LIST_PAGE, _continue=token, **kwargs)
            for obj in page.items:
                handle("ADDED", obj)
            rv, token = page.metadata.resource_version, page.metadata._continue
            del page
            if not token:
                break
        self._synced[name].set()
        while not self._stop.is_set():
            w = watch.Watch()
            try:
                for ev in w.stream(list_fn, *args, resource_version=rv,
                                   timeout_seconds=WATCH_TIMEOUT_S,
                                   _request_timeout=WATCH_TIMEOUT_S + 5, **kwargs):
                    obj = ev["object"]
                    if ev["type"] == "ERROR":
                        raise ValueError(f"watch error: {obj}")
                    rv = obj.metadata.resource_version
                    handle(ev["type"], obj)
                    if self._stop.is_set():
                        break
            finally:
                w.stop()

    def _watch_pods(self) -> None:
        self._stream("pods", self.kube.core.list_namespaced_pod, self.namespace,
                     label_selector=self.selector.to_label_selector(), handle=self._on_pod)

    def _watch_nodes(self) -> None:
        self._stream("nodes", self.kube.core.list_node, handle=self._on_node)

    def _watch_events(self) -> None:
        # only events that happen from now on; the initial list is history
        started = time.time()

        def on_event(kind: str, ev: Any) -> None:
            when = ev.last_timestamp or ev.event_time or ev.first_timestamp
            if kind == "DELETED" or (when is not None and when.timestamp() < started - 1):
                return
            obj = ev.involved_object
            self.emit("event", obj.name or "", f"{ev.reason}: {ev.message}")

        self._stream("events", self.kube.core.list_namespaced_event, self.namespace,
                     handle=on_event)

    def _watch_endpoints(self) -> None:
        # the Service's slices; every slice in the namespace when no Service is named
        labels = f"kubernetes.io/service-name={self.service}" if self.service else None
        self._stream("endpoints", self.kube.discovery.list_namespaced_endpoint_slice,
                     self.namespace, label_selector=labels, handle=self._on_slice)

    # -- handlers: state changes -> events ----------------------------------------------------

    def _on_pod(self, kind: str, pod: Any) -> None:
        uid, name = pod.metadata.uid, pod.metadata.name
        with self._cond:
            known = self._pods.get(uid)
            if kind == "DELETED":
                if known is not None:
                    self._pods.pop(uid)
                    self._ready_pods.discard(name)
                    self._add("pod-deleted", name, pod.spec.node_name or "")
                return
            ready = (pod.status.phase == "Running" and any(
                c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []))
            restarts = {c.name: c.restart_count for c in pod.status.container_statuses or []}
            if known is None:
                known = {"name": name, "ready": False, "restarts": dict(restarts),
                         "node": pod.spec.node_name or ""}
                self._pods[uid] = known
                self._add("pod-added", name, pod.spec.node_name or "")
            if pod.spec.node_name and known.get("node") != pod.spec.node_name:
                known["node"] = pod.spec.node_name  # bound after it was first seen
                self._version += 1
            meta = pod.metadata
            terminating = getattr(meta, "deletion_timestamp", None) is not None
            labels = MappingProxyType(dict(getattr(meta, "labels", None) or {}))
            if known.get("terminating", False) != terminating or \
                    known.get("labels", _NO_LABELS) != labels:
                known["terminating"], known["labels"] = terminating, labels
                self._version += 1  # a state change without a timeline event of its own
                self._cond.notify_all()
            for container, count in restarts.items():
                before = known["restarts"].get(container, count)
                for _ in range(max(0, count - before)):
                    self._add("restart", name, f"{container} restartCount={count}")
            known["restarts"] = dict(restarts)
            if ready != known["ready"]:
                known["ready"] = ready
                if ready:
                    self._ready_pods.add(name)
                else:
                    self._ready_pods.discard(name)
                self._add("pod-ready" if ready else "pod-unready", name,
                          pod.spec.node_name or "")

    def _on_node(self, kind: str, node: Any) -> None:
        name = node.metadata.name
        with self._cond:
            if kind == "DELETED":
                self._nodes.pop(name, None)
                return
            ready = node_ready(node)
            before = self._nodes.get(name)
            self._nodes[name] = ready
            if before is not None and before != ready:
                self._add("node-ready" if ready else "node-notready", name,
                          "unschedulable" if node.spec.unschedulable else "")

    def _on_slice(self, kind: str, eps: Any) -> None:
        key = eps.metadata.name
        names: set[str] = set()
        if kind != "DELETED":
            for ep in eps.endpoints or []:
                ready = ep.conditions is None or ep.conditions.ready is not False
                if ready and ep.target_ref is not None:
                    names.add(ep.target_ref.name)
        with self._cond:
            before = set().union(*self._endpoints.values()) if self._endpoints else set()
            if kind == "DELETED":
                self._endpoints.pop(key, None)
            else:
                self._endpoints[key] = names
            after = set().union(*self._endpoints.values()) if self._endpoints else set()
            for gone in sorted(before - after):
                self._add("endpoint-removed", gone, f"{len(after)} ready endpoints")
            for new in sorted(after - before):
                self._add("endpoint-added", new, f"{len(after)} ready endpoints")

    def _add(self, kind: str, name: str, detail: str) -> None:
        """Append with the lock held (callers hold self._cond)."""
        self._events.append(ClusterEvent(time.time(), kind, name, detail))
        self._version += 1
        self._cond.notify_all()


def quiet_stop(observer: Observer | None) -> None:
    if observer is not None:
        with contextlib.suppress(Exception):
            observer.stop()
