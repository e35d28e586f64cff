"""One wait: every deadline is a ``chaos.clock.Deadline`` on an injectable clock, every wait
for one object is ``chaos.k8s.wait.wait_for``, and faults read time from their context's clock.

The source checks fail on a hand ``monotonic() + ...`` deadline outside ``chaos/clock.py`` and
on a fault module reading the ``time`` module; the helpers are driven by a FakeClock.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from chaos.clock import Deadline, FakeClock, SystemClock
from chaos.cluster.locust_image import MODULES
from chaos.errors import ClusterError
from chaos.faults.base import FaultContext
from chaos.faults.load import LoadSpikeFault
from chaos.k8s import controllers as kc
from chaos.k8s import wait as kwait
from chaos.k8s import workload as kw
from chaos.k8s.observe import Snapshot
from chaos.model.abort import Breach
from chaos.model.experiment import Selector
from chaos.model.faults import LoadSpike
from chaos.plan.manifests import WorkloadRef

CHAOS = Path(__file__).resolve().parents[2] / "chaos"
# run inside locust processes and the in-cluster worker image, which ship only these files:
# chaos.clock is not there, so they keep a deadline of their own
LOCUST_SIDE = frozenset(CHAOS / "load" / m for m in MODULES)


# -- the source checks ---------------------------------------------------------------------------


def _is_monotonic_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Attribute) and func.attr == "monotonic") or \
        (isinstance(func, ast.Name) and func.id == "monotonic")


def hand_deadlines(source: str) -> list[str]:
    """``monotonic() + x`` (or ``x + monotonic()``), on any clock: a deadline by hand."""
    return [f"line {line}" for line in sorted(
        n.lineno for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add)
        and (_is_monotonic_call(n.left) or _is_monotonic_call(n.right)))]


def time_module_uses(source: str) -> list[str]:
    """Reads of the ``time`` module: a fault's clock is its context's, which a test drives."""
    found = []
    for n in ast.walk(ast.parse(source)):
        if isinstance(n, ast.Import) and any(a.name == "time" for a in n.names):
            found.append(f"line {n.lineno}: import time")
        elif isinstance(n, ast.ImportFrom) and n.module == "time":
            found.append(f"line {n.lineno}: from time import ...")
        elif isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) \
                and n.value.id == "time":
            found.append(f"line {n.lineno}: time.{n.attr}")
    return sorted(found, key=lambda f: int(f.split(":")[0].split()[1]))


def _package_sources() -> list[Path]:
    return sorted(p for p in CHAOS.rglob("*.py") if p != CHAOS / "clock.py"
                  and p not in LOCUST_SIDE)


@pytest.mark.source_rules
@pytest.mark.parametrize("path", _package_sources(), ids=lambda p: str(p.relative_to(CHAOS)))
def test_no_hand_deadline_outside_the_clock(path: Path) -> None:
    assert hand_deadlines(path.read_text()) == [], \
        f"{path}: use chaos.clock.Deadline (remaining/expired/sleep/wait/until)"


@pytest.mark.source_rules
@pytest.mark.parametrize("path", sorted((CHAOS / "faults").glob("*.py")), ids=lambda p: p.name)
def test_faults_read_time_from_their_context(path: Path) -> None:
    assert time_module_uses(path.read_text()) == [], f"{path}: use ctx.clock"


def test_the_checks_catch_a_hand_deadline_and_a_time_read() -> None:
    source = ("import time\n"
              "from time import monotonic\n"
              "deadline = time.monotonic() + 5\n"
              "end = 5 + self.clock.monotonic()\n"
              "also = monotonic() + 1\n"
              "fine = deadline - time.monotonic()\n"
              "at = time.time()\n")
    assert hand_deadlines(source) == ["line 3", "line 4", "line 5"]
    assert time_module_uses(source) == [
        "line 1: import time", "line 2: from time import ...", "line 3: time.monotonic",
        "line 6: time.monotonic", "line 7: time.time"]
    assert hand_deadlines("left = deadline.remaining()\n") == []
    assert time_module_uses("at = ctx.clock.wall()\n") == []


@pytest.mark.source_rules
def test_only_the_self_contained_locust_modules_are_exempt() -> None:
    """The exemption holds only while those files import nothing of chaos (they cannot)."""
    assert LOCUST_SIDE and all(p.exists() for p in LOCUST_SIDE)
    for path in LOCUST_SIDE:
        for n in ast.walk(ast.parse(path.read_text())):
            if isinstance(n, ast.ImportFrom):
                assert not (n.module or "").startswith("chaos"), f"{path}: line {n.lineno}"
            if isinstance(n, ast.Import):
                assert not any(a.name.startswith("chaos") for a in n.names), path


# -- Deadline on a fake clock --------------------------------------------------------------------


def test_deadline_remaining_expired_end_and_within() -> None:
    clock = FakeClock(monotonic=100.0)
    d = Deadline(clock, 10)
    assert d.end == 110.0 and d.remaining() == 10 and not d.expired() and d.clock is clock
    inner = d.within(30)  # never past the outer one
    assert inner.end == 110.0
    clock.advance(4)
    assert d.within(2).end == 106.0
    clock.advance(6)
    assert d.expired() and d.remaining() == 0
    assert d.within(5).expired()


def test_a_spent_budget_is_expired_at_once() -> None:
    """``now + (-3)`` was in the past: waits on it return at once, they do not raise."""
    clock = FakeClock()
    d = Deadline(clock, -3)
    assert d.expired() and d.remaining() == 0 and d.seconds == 0
    assert d.sleep(1) is False and clock.sleeps == [0.0]
    assert d.until(lambda: False, 1.0) is False


def test_bounded_sleep_never_passes_the_end() -> None:
    clock = FakeClock()
    d = Deadline(clock, 2.5)
    assert d.sleep(1) is True and d.sleep(1) is True
    assert d.sleep(1) is False  # cut to the half second left
    assert clock.sleeps == [1, 1, 0.5] and clock.monotonic() == 2.5
    assert d.sleep(-1) is False and clock.sleeps[-1] == 0


def test_bounded_event_wait() -> None:
    clock = FakeClock()
    d = Deadline(clock, 3)
    event = threading.Event()
    assert d.wait(event, 1) is False and clock.monotonic() == 1
    assert d.wait(event) is False and clock.monotonic() == 3  # all that remained
    assert d.wait(event, 10) is False and clock.monotonic() == 3
    event.set()
    assert d.wait(event) is True


def test_until_polls_on_its_interval_and_calls_once_more_at_the_end() -> None:
    clock = FakeClock()
    calls: list[float] = []

    def ready_at(t: float) -> Any:
        def check() -> bool:
            calls.append(clock.monotonic())
            return clock.monotonic() >= t
        return check

    assert Deadline(clock, 10).until(ready_at(2.0), 0.5) is True
    assert calls == [0.0, 0.5, 1.0, 1.5, 2.0]
    calls.clear()
    start = clock.monotonic()
    assert Deadline(clock, 2.2).until(ready_at(1e9), 1.0) is False
    assert [round(c - start, 6) for c in calls] == [0.0, 1.0, 2.0, 2.2]  # last one at the end
    calls.clear()
    assert Deadline(clock, 5).until(ready_at(0), 1.0) is True and len(calls) == 1  # no sleep
    with pytest.raises(ValueError, match="positive interval"):
        Deadline(clock, 5).until(ready_at(0), 0)


def test_until_on_the_system_clock() -> None:
    seen = iter([False, False, True])
    assert Deadline(SystemClock(), 5).until(lambda: next(seen), 0.01) is True


# -- wait_for: one object, watched until a predicate holds ---------------------------------------


class FakeWatch:
    """Replays scripted watch requests: each a list of events, or an exception to raise. Every
    request's arguments are kept; a FakeClock advances ``step`` seconds per event."""

    script: list[list[dict[str, Any]] | BaseException] = []
    requests: list[dict[str, Any]] = []
    clock: FakeClock | None = None
    step = 0.0

    def stream(self, fn: Any, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        FakeWatch.requests.append({"fn": fn, "args": args, **kwargs})
        if not FakeWatch.script:
            if FakeWatch.clock is not None:  # an empty watch lasts its timeout
                FakeWatch.clock.advance(kwargs["timeout_seconds"])
            return
        item = FakeWatch.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        for event in item:
            if FakeWatch.clock is not None:
                FakeWatch.clock.advance(FakeWatch.step)
            yield event

    def stop(self) -> None:
        pass


@pytest.fixture()
def fake_watch(monkeypatch: pytest.MonkeyPatch) -> type[FakeWatch]:
    monkeypatch.setattr(kwait.watch, "Watch", FakeWatch)
    FakeWatch.script, FakeWatch.requests, FakeWatch.clock, FakeWatch.step = [], [], None, 0.0
    return FakeWatch


def _kube() -> Any:
    apps = SimpleNamespace(list_namespaced_deployment="deployments",
                           list_namespaced_stateful_set="statefulsets",
                           list_namespaced_daemon_set="daemonsets")
    pods = SimpleNamespace(items=[])
    return SimpleNamespace(apps=apps, core=SimpleNamespace(list_namespaced_pod=lambda ns: pods))


def _dep(ready: int, generation: int = 1) -> dict[str, Any]:
    return {"metadata": {"name": "web", "generation": generation},
            "spec": {"replicas": 2},
            "status": {"observedGeneration": generation, "readyReplicas": ready,
                       "updatedReplicas": ready, "availableReplicas": ready, "replicas": 2}}


def _ready(obj: dict[str, Any]) -> bool:
    return bool(obj["status"]["readyReplicas"] == 2)


def test_wait_for_returns_the_first_version_that_holds(fake_watch: type[FakeWatch]) -> None:
    fake_watch.script = [[{"type": "ADDED", "object": _dep(0)},
                          {"type": "MODIFIED", "object": _dep(1)},
                          {"type": "MODIFIED", "object": _dep(2)},
                          {"type": "MODIFIED", "object": _dep(0)}]]
    got = kwait.wait_for(_kube(), "ns", "Deployment", "web", _ready, Deadline(FakeClock(), 30))
    assert got == _dep(2)
    (req,) = fake_watch.requests
    assert req["fn"] == "deployments" and req["args"] == ("ns",)
    assert req["field_selector"] == "metadata.name=web" and req["deserialize"] is False
    assert req["timeout_seconds"] == 5 and req["_request_timeout"] == 10


def test_wait_for_gives_none_when_deleted_stopped_or_out_of_time(
        fake_watch: type[FakeWatch]) -> None:
    fake_watch.script = [[{"type": "ADDED", "object": _dep(0)},
                          {"type": "DELETED", "object": _dep(0)}]]
    assert kwait.wait_for(_kube(), "ns", "StatefulSet", "web", _ready,
                          Deadline(FakeClock(), 30)) is None
    assert fake_watch.requests[-1]["fn"] == "statefulsets"

    fake_watch.script = [[{"type": "ADDED", "object": _dep(2)}]]
    assert kwait.wait_for(_kube(), "ns", "Deployment", "web", _ready, Deadline(FakeClock(), 30),
                          stop=lambda: True) is None
    assert fake_watch.script, "a stopped wait opens no watch"

    clock = FakeClock()
    fake_watch.clock, fake_watch.step = clock, 4.0
    fake_watch.script = [[{"type": "ADDED", "object": _dep(0)},
                          {"type": "MODIFIED", "object": _dep(1)},
                          {"type": "MODIFIED", "object": _dep(2)}]]
    assert kwait.wait_for(_kube(), "ns", "Deployment", "web", _ready,
                          Deadline(clock, 6)) is None  # the second version came at 8 s
    assert clock.monotonic() == 8.0


def test_wait_for_reopens_a_dropped_watch_within_the_deadline(
        fake_watch: type[FakeWatch]) -> None:
    clock = FakeClock()
    fake_watch.clock = clock
    fake_watch.script = [ApiException(status=500, reason="boom"), OSError("reset"),
                         [{"type": "ADDED", "object": _dep(2)}]]
    errors: list[str] = []
    got = kwait.wait_for(_kube(), "ns", "Deployment", "web", _ready, Deadline(clock, 30),
                         on_error=lambda exc: errors.append(type(exc).__name__))
    assert got == _dep(2) and errors == ["ApiException", "OSError"]
    assert clock.sleeps == [1.0, 1.0]  # RETRY_S between watches

    # out of time: the watch chunks shrink to what remains, then it gives up
    clock = FakeClock()
    fake_watch.clock, fake_watch.requests = clock, []
    assert kwait.wait_for(_kube(), "ns", "Deployment", "web", _ready, Deadline(clock, 12.5),
                          chunk_s=10) is None
    assert [r["timeout_seconds"] for r in fake_watch.requests] == [10, 2, 1]


def test_wait_for_refuses_a_kind_it_cannot_watch() -> None:
    with pytest.raises(ClusterError, match="cannot wait for a Pod"):
        kwait.wait_for(_kube(), "ns", "Pod", "web", _ready, Deadline(FakeClock(), 1))
    with pytest.raises(ClusterError, match="not a Deployment or StatefulSet: DaemonSet"):
        kc.watch_until(_kube(), "ns", "DaemonSet", "web", _ready, 1)


def test_watch_until_is_wait_for_on_its_timeout(fake_watch: type[FakeWatch]) -> None:
    fake_watch.script = [[{"type": "ADDED", "object": _dep(1)},
                          {"type": "MODIFIED", "object": _dep(2)}]]
    assert kc.watch_until(_kube(), "ns", "Deployment", "web", _ready, 30) == _dep(2)


def test_wait_rollout_returns_when_done_and_names_the_last_state_when_not(
        fake_watch: type[FakeWatch]) -> None:
    ref = WorkloadRef("Deployment", "web")
    fake_watch.script = [[{"type": "ADDED", "object": _dep(1)},
                          {"type": "MODIFIED", "object": _dep(2)}]]
    kw.wait_rollout(_kube(), "ns", ref, 30)
    assert fake_watch.requests[-1]["timeout_seconds"] == 10  # its own chunk, as before

    with pytest.raises(kw.DeployFailed, match=r"not ready within 0s: not observed yet$"):
        kw.wait_rollout(_kube(), "ns", ref, 0)

    fake_watch.script = [ApiException(status=500, reason="boom")]
    with pytest.raises(kw.DeployFailed, match=r"within 0s: watch failed: \(500\)"):
        kw.wait_rollout(_kube(), "ns", ref, 0.2)  # the retry sleep is cut to the deadline


# -- faults on their context's clock ------------------------------------------------------------


class _Observer:
    """Version n's snapshot has n ready nodes; every wait_change moves one version on and
    takes ``step`` seconds of the fake clock."""

    def __init__(self, clock: FakeClock, step: float) -> None:
        self.clock, self.step, self.version = clock, step, 0

    def snapshot(self) -> Snapshot:
        nodes = {f"n{i}": True for i in range(self.version)}
        return Snapshot(version=self.version, pods={}, endpoints=frozenset(), nodes=nodes)

    def wait_change(self, version: int, timeout_s: float) -> Snapshot:
        self.clock.advance(min(self.step, timeout_s))
        self.version += 1
        return self.snapshot()


def _ctx(clock: FakeClock, run_s: float, step: float = 1.0) -> FaultContext:
    return FaultContext(kube=SimpleNamespace(context="kind-x"),  # type: ignore[arg-type]
                        namespace="ns", journal=None, seed=1,  # type: ignore[arg-type]
                        clock=clock, workload_selector=Selector.of({"app": "web"}),
                        cluster_name=None, kubeconfig="", emit=lambda *e: None,
                        observer=_Observer(clock, step),
                        deadline=Deadline(clock, run_s).end)


def test_a_fault_budget_never_passes_the_run_deadline() -> None:
    clock = FakeClock()
    ctx = _ctx(clock, 60)
    assert ctx.budget(10).end == 10 and ctx.budget(600).end == 60
    clock.advance(70)
    assert ctx.budget(10).expired()


def test_await_state_waits_on_the_observer_until_its_budget_ends() -> None:
    clock = FakeClock()
    ctx = _ctx(clock, 60, step=2.0)
    assert ctx.await_state(lambda s: len(s.nodes) >= 3, 30) is True
    assert clock.monotonic() == 6.0
    assert ctx.await_state(lambda s: len(s.nodes) >= 100, 5) is False
    assert clock.monotonic() == 11.0  # 2 + 2 + 1: the last wait cut to the budget
    ctx.abort.trigger(Breach("g", "http", 503, "2xx", "HTTP 503", 1.0))
    assert ctx.await_state(lambda s: False, 30) is False and clock.monotonic() == 11.0


def test_a_fault_times_its_outcome_on_the_context_clock() -> None:
    clock = FakeClock(wall=1_000.0)
    outcome = LoadSpikeFault(LoadSpike(rate=80, duration_s=30)).inject(_ctx(clock, 300))
    assert outcome.started_at == 1_000.0 and outcome.ended_at == 1_030.0
