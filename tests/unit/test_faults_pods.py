"""pod-kill and container-kill against a fake API and a fake node runtime: which pods are
deleted or signalled, with which grace period and signal, round by round, and what is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fault_world import SEL, World, make_world

from chaos.errors import InjectionFailed
from chaos.faults import pods as fpods
from chaos.faults import targets
from chaos.k8s import pods as kpods
from chaos.k8s.pods import PodView
from chaos.model.experiment import ContainerKill, PodKill
from chaos.node import tasks
from chaos.plan.select import choose


class Pods:
    """A ReplicaSet of three that replaces each deleted pod with a fresh name."""

    def __init__(self) -> None:
        self.live = ["web-a", "web-b", "web-c"]
        self.made = 0
        self.deleted: list[tuple[str, str, int | None, float]] = []
        self.killed: list[tuple[str, str, str]] = []
        self.clock: Any = None
        self.fail_delete = False
        self.kube: Any = None
        self.replace = True  # the ReplicaSet replaces each deleted pod

    def running(self, kube: Any, ns: str, selector: Any) -> list[PodView]:
        assert (kube, ns, selector) == (self.kube, "ns", SEL)
        return [PodView(n, f"uid-{n}", f"node-{n[-1]}", "Running", True, "10.0.0.1",
                        ("app", "sidecar"), container_ids={"app": f"cid-{n}-app"},
                        restart_counts={"app": 2} if n == "web-a" else {})
                for n in self.live]

    def delete(self, kube: Any, ns: str, name: str, grace: int | None) -> None:
        assert kube is self.kube
        if self.fail_delete:
            raise InjectionFailed(f"cannot delete pod {ns}/{name}: Forbidden")
        self.deleted.append((ns, name, grace, self.clock.monotonic()))
        if self.replace:
            self.live.remove(name)
            self.made += 1
            self.live.append(f"web-new{self.made}")

    def kill(self, node: str, cid: str, signal: str) -> None:
        self.killed.append((node, cid, signal))


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[World, Pods]:
    w = make_world(tmp_path, monkeypatch)
    fake = Pods()
    fake.clock = w.clock
    fake.kube = w.ctx.kube
    monkeypatch.setattr(kpods, "running_pods", fake.running)
    monkeypatch.setattr(kpods, "delete_pod", fake.delete)
    def kill(rt: Any, node: str, cid: str, signal: str) -> None:
        assert rt is w.ctx.node and rt is not None, rt  # the context's node runtime
        fake.kill(node, cid, signal)

    monkeypatch.setattr(tasks, "kill_container", kill)
    return w, fake


def test_pod_kill_deletes_the_chosen_pod_with_its_grace_period(
        world: tuple[World, Pods]) -> None:
    w, fake = world
    spec = PodKill(selector=SEL, count=2, grace_period_s=0)
    chosen = targets.pod_targets(w.ctx.scope(), spec)
    outcome = fpods.PodKillFault(spec).inject(w.ctx)
    assert [(ns, n, g) for ns, n, g, _ in fake.deleted] == [("ns", n, 0) for n in chosen]
    assert outcome.type == "pod-kill" and outcome.targets == list(chosen)
    assert outcome.started_at == 1_700_000_000.0  # the run's clock, read at the start
    assert outcome.details == {"grace_period_s": 0, "rounds": 1, "interval_s": None}
    assert w.events == [*(("fault-start", n, "pod-kill grace=0") for n in chosen),
                        ("fault-end", ",".join(chosen), "pod-kill")]
    assert outcome.ended_at is not None and w.clock.monotonic() == 0.0
    assert w.pending_kinds() == []  # nothing to undo: the controller puts the pods back
    assert fpods.PodKillFault(spec).undo(w.ctx) == []


def test_pod_kill_without_a_grace_period_uses_the_pods_own(world: tuple[World, Pods]) -> None:
    w, fake = world
    fpods.PodKillFault(PodKill(selector=SEL)).inject(w.ctx)
    assert [g for _, _, g, _ in fake.deleted] == [None]
    assert w.events[0][2] == "pod-kill grace=default"


def test_pod_kill_rounds_choose_afresh_after_each_interval(world: tuple[World, Pods]) -> None:
    w, fake = world
    spec = PodKill(selector=SEL, repeat=3, interval_s=10.0, grace_period_s=5)
    outcome = fpods.PodKillFault(spec).inject(w.ctx)
    assert [at for *_, at in fake.deleted] == [0.0, 10.0, 20.0]
    assert len(outcome.targets) == 3 and outcome.targets == [n for _, n, _, _ in fake.deleted]
    assert outcome.details == {"grace_period_s": 5, "rounds": 3, "interval_s": 10.0}
    assert w.events[-1] == ("fault-end", ",".join(outcome.targets), "pod-kill")


def test_pod_kill_rounds_without_an_interval_follow_at_once(world: tuple[World, Pods]) -> None:
    w, fake = world
    fpods.PodKillFault(PodKill(selector=SEL, repeat=2)).inject(w.ctx)
    assert [at for *_, at in fake.deleted] == [0.0, 0.0]


def test_a_round_that_would_start_after_the_deadline_is_refused(
        world: tuple[World, Pods]) -> None:
    w, fake = world
    w.ctx.deadline = 14.0
    with pytest.raises(InjectionFailed, match="pod-kill: round 3 would start after the deadline"):
        fpods.PodKillFault(PodKill(selector=SEL, repeat=3, interval_s=7.5)).inject(w.ctx)
    assert len(fake.deleted) == 2
    assert w.clock.monotonic() == 7.5


def test_a_round_that_fits_the_deadline_exactly_still_runs(world: tuple[World, Pods]) -> None:
    w, fake = world
    w.ctx.deadline = 15.0
    fpods.PodKillFault(PodKill(selector=SEL, repeat=3, interval_s=7.5)).inject(w.ctx)
    assert [at for *_, at in fake.deleted] == [0.0, 7.5, 15.0]


def test_an_aborted_run_kills_nothing_more(world: tuple[World, Pods]) -> None:
    w, fake = world
    w.ctx.abort.event.set()
    outcome = fpods.PodKillFault(PodKill(selector=SEL, repeat=3)).inject(w.ctx)
    assert fake.deleted == [] and outcome.targets == []
    assert w.events == [("fault-end", "", "pod-kill")]


def test_a_failed_delete_is_the_faults_error(world: tuple[World, Pods]) -> None:
    w, fake = world
    fake.fail_delete = True
    with pytest.raises(InjectionFailed, match=r"cannot delete pod ns/web-.: Forbidden"):
        fpods.PodKillFault(PodKill(selector=SEL)).inject(w.ctx)


# --- container-kill ---------------------------------------------------------------------------


def test_container_kill_signals_the_first_container_on_its_node(
        world: tuple[World, Pods]) -> None:
    w, fake = world
    spec = ContainerKill(selector=SEL, count=3)
    outcome = fpods.ContainerKillFault(spec).inject(w.ctx)
    assert fake.killed == [("node-a", "cid-web-a-app", "KILL"), ("node-b", "cid-web-b-app", "KILL"),
                           ("node-c", "cid-web-c-app", "KILL")]
    assert outcome.type == "container-kill"
    assert outcome.started_at == 1_700_000_000.0  # the run's clock, read at the start
    assert outcome.targets == ["web-a/app", "web-b/app", "web-c/app"]
    assert outcome.details == {"restart_count_before": {"web-a": 2, "web-b": 0, "web-c": 0},
                               "pod_uid": {"web-a": "uid-web-a", "web-b": "uid-web-b",
                                           "web-c": "uid-web-c"}}
    assert w.events[0] == ("fault-start", "web-a", "container-kill app SIGKILL")
    assert w.events[-1] == ("fault-end", "web-a/app,web-b/app,web-c/app", "container-kill")
    assert outcome.ended_at is not None
    assert fpods.ContainerKillFault(spec).undo(w.ctx) == [] and w.pending_kinds() == []


def test_container_kill_with_a_named_container_and_signal(world: tuple[World, Pods]) -> None:
    w, fake = world
    spec = ContainerKill(selector=SEL, count=1, container="app", signal="TERM")
    outcome = fpods.ContainerKillFault(spec).inject(w.ctx)
    [(_, cid, sig)] = fake.killed
    assert sig == "TERM" and cid.endswith("-app")
    assert w.events[0][2] == "container-kill app SIGTERM"
    assert outcome.targets[0].endswith("/app")


def test_a_container_without_a_runtime_id_is_refused_by_name(world: tuple[World, Pods]) -> None:
    w, fake = world
    spec = ContainerKill(selector=SEL, count=1, container="sidecar")
    with pytest.raises(InjectionFailed, match=r"container-kill: web-. has no running container "
                                              r"'sidecar' \(containers: app, sidecar\)"):
        fpods.ContainerKillFault(spec).inject(w.ctx)
    assert fake.killed == [] and w.events == []


def test_container_kill_needs_the_node_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               world: tuple[World, Pods]) -> None:
    w, fake = world
    w.ctx.node = None  # no node access (not a kind cluster)
    with pytest.raises(InjectionFailed) as info:
        fpods.ContainerKillFault(ContainerKill(selector=SEL)).inject(w.ctx)
    assert str(info.value) == (
        "container-kill needs access to the node's container runtime; it is supported on kind "
        "clusters (the node containers must be reachable with docker exec)")
    w.ctx.cluster_name = ""
    with pytest.raises(InjectionFailed):
        fpods.ContainerKillFault(ContainerKill(selector=SEL)).inject(w.ctx)
    assert fake.killed == []


def test_each_round_chooses_with_its_own_salt(world: tuple[World, Pods]) -> None:
    w, fake = world
    fake.replace = False  # the same three pods every round: only the salt tells rounds apart
    spec = PodKill(selector=SEL, repeat=3, interval_s=1.0)
    pool = ["web-a", "web-b", "web-c"]
    expected = [choose(pool, seed=w.ctx.seed, salt=spec.salt(0, r), count=1)[0]
                for r in range(3)]
    assert len(set(expected)) > 1, "a seed whose rounds differ"
    fpods.PodKillFault(spec).inject(w.ctx)
    assert [n for _, n, _, _ in fake.deleted] == expected


def test_an_abort_between_rounds_still_reports_what_was_killed(
        world: tuple[World, Pods]) -> None:
    w, fake = world
    w.clock.every(5.0, w.ctx.abort.event.set, "guard")
    outcome = fpods.PodKillFault(PodKill(selector=SEL, repeat=3, interval_s=10.0)).inject(w.ctx)
    assert len(fake.deleted) == 1 and w.clock.monotonic() == 5.0
    assert outcome.details == {"grace_period_s": None, "rounds": 3, "interval_s": 10.0}
    assert outcome.ended_at is not None
    assert w.events[-1] == ("fault-end", outcome.targets[0], "pod-kill")
