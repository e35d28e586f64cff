"""An in-memory world for driving the fault classes through their real code: a scripted
Observer on a FakeClock, a FaultContext over a real journal, and undo handlers that record
what they were asked to put back (and can fail on cue). Used by tests/unit/test_faults_*.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest
from fake_node import FakeNode

from chaos.clock import FakeClock
from chaos.faults import undo
from chaos.faults.base import FaultContext
from chaos.journal.store import Journal, UndoAction, pending_in
from chaos.k8s.observe import PodState, Snapshot
from chaos.model.selector import Selector

SEL = Selector.of({"app": "web"})


def snap(version: int = 1, pods: Iterable[PodState] = (), endpoints: Iterable[str] = (),
         nodes: Mapping[str, bool] | None = None) -> Snapshot:
    return Snapshot(version, MappingProxyType({p.name: p for p in pods}), frozenset(endpoints),
                    MappingProxyType(dict(nodes or {})))


class Observer:
    """Hands out ``states`` one per ``wait_change`` (each after ``step`` seconds, or the
    timeout when shorter); the last state stays once the script is spent."""

    def __init__(self, clock: FakeClock, states: list[Snapshot] | None = None,
                 step: float = 1.0) -> None:
        self.clock = clock
        self.states = list(states or [snap()])
        self.step = step
        self.waits: list[tuple[int, float]] = []
        self.at: Callable[[float], Snapshot] | None = None  # state by clock time, when set

    def snapshot(self) -> Snapshot:
        if self.at is not None:
            return self.at(self.clock.monotonic())
        return self.states[0]

    def wait_change(self, version: int, timeout_s: float) -> Snapshot:
        self.waits.append((version, timeout_s))
        self.clock.advance(max(0.0, min(self.step, timeout_s)))
        if self.at is not None:
            return self.at(self.clock.monotonic())
        if len(self.states) > 1:
            self.states.pop(0)
        return self.states[0]


@dataclass
class World:
    ctx: FaultContext
    clock: FakeClock
    observer: Observer
    events: list[tuple[str, str, str]]
    undone: list[UndoAction] = field(default_factory=list)
    failing: dict[str, str] = field(default_factory=dict)  # undo kind -> reason it fails
    # undo kind -> what the handler does to the fake cluster (puts it back)
    effects: dict[str, Callable[[UndoAction], None]] = field(default_factory=dict)
    # what the journal held (kinds pending) at each named moment, for "journaled before acting"
    seen: dict[str, list[str]] = field(default_factory=dict)

    def pending_kinds(self) -> list[str]:
        return [a.kind for a in pending_in(self.ctx.journal.path)]

    def note(self, moment: str) -> None:
        self.seen[moment] = self.pending_kinds()

    def kinds(self, kind: str) -> list[tuple[str, str]]:
        return [(e[1], e[2]) for e in self.events if e[0] == kind]


def make_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, deadline: float = 600.0,
               cluster_name: str | None = "x", states: list[Snapshot] | None = None,
               step: float = 1.0, index: int = 0, seed: int = 7,
               handled: Iterable[str] = ()) -> World:
    """A context whose undo handlers of the kinds in ``handled`` only record (or fail)."""
    clock = FakeClock()
    observer = Observer(clock, states, step)
    events: list[tuple[str, str, str]] = []
    ctx = FaultContext(kube=SimpleNamespace(context="kind-x"),  # type: ignore[arg-type]
                       namespace="ns", journal=Journal(tmp_path / "run.jsonl"), seed=seed,
                       clock=clock, workload_selector=SEL, cluster_name=cluster_name,
                       kubeconfig="/k", emit=lambda k, n, d: events.append((k, n, d)),
                       observer=observer, deadline=deadline, index=index,
                       # a kind cluster's node access; tests give it the actions they expect
                       node=FakeNode() if cluster_name else None)
    world = World(ctx, clock, observer, events)

    def handler(action: UndoAction) -> str | None:
        world.undone.append(action)
        if action.kind in world.failing:
            raise RuntimeError(world.failing[action.kind])
        if action.kind in world.effects:
            world.effects[action.kind](action)
        return None

    for kind in handled:
        monkeypatch.setitem(undo.HANDLERS, kind, handler)
    return world


def pod(name: str, uid: str | None = None, node: str = "w1", ready: bool = True,
        restarts: int = 0) -> PodState:
    return PodState(name, uid or f"uid-{name}", node, ready, restarts)


def any_args(*_: Any, **__: Any) -> None:
    return None
