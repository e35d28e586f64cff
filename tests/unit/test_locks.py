"""The cluster and key locks concurrent runs share (chaos.engine.locks): held across
processes through files, so these tests hold them from a second process too."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest

from chaos.engine.locks import ClusterLocks, LockTimeout, Pace, folder_for
from chaos.plan.claims import node_port_key


def _hold_then_signal(folder: str, exclusive: bool, held: multiprocessing.synchronize.Event,
                      release: multiprocessing.synchronize.Event) -> None:
    with ClusterLocks(Path(folder)).cluster(exclusive=exclusive):
        held.set()
        release.wait(30)


@pytest.fixture
def other_process(tmp_path: Path):  # type: ignore[no-untyped-def]
    ctx = multiprocessing.get_context("spawn")
    started = []

    def hold(exclusive: bool):  # type: ignore[no-untyped-def]
        held, release = ctx.Event(), ctx.Event()
        proc = ctx.Process(target=_hold_then_signal,
                           args=(str(tmp_path), exclusive, held, release))
        proc.start()
        started.append((proc, release))
        assert held.wait(30), "the other process never got its lock"
        return release

    yield hold
    for proc, release in started:
        release.set()
        proc.join(30)


def test_an_exclusive_hold_keeps_every_other_run_out(tmp_path: Path, other_process) -> None:  # type: ignore[no-untyped-def]
    release = other_process(True)
    locks = ClusterLocks(tmp_path)
    with pytest.raises(LockTimeout, match=r"could not be held shared within 0\.3s"), \
            locks.cluster(exclusive=False, timeout_s=0.3):
        pass
    with pytest.raises(LockTimeout, match="alone"), locks.cluster(exclusive=True, timeout_s=0.3):
        pass
    release.set()
    with locks.cluster(exclusive=False, timeout_s=20):
        pass


def test_shared_holds_go_together_and_keep_an_exclusive_one_waiting(
        tmp_path: Path, other_process) -> None:  # type: ignore[no-untyped-def]
    release = other_process(False)
    locks = ClusterLocks(tmp_path)
    with locks.cluster(exclusive=False, timeout_s=5):
        pass
    with pytest.raises(LockTimeout), locks.cluster(exclusive=True, timeout_s=0.3):
        pass
    release.set()
    with locks.cluster(exclusive=True, timeout_s=20):
        pass


def test_a_held_key_is_refused_to_a_second_holder_until_released(tmp_path: Path) -> None:
    locks = ClusterLocks(tmp_path)
    first = locks.try_key(node_port_key(30080))
    assert first is not None
    assert locks.try_key(node_port_key(30080)) is None
    assert locks.try_key(node_port_key(30081)) is not None  # another port is free
    with pytest.raises(LockTimeout, match="nodePort-30080 was held by another run"), \
            locks.keys([node_port_key(30080)], timeout_s=0.2):
        pass
    first.release()
    with locks.keys([node_port_key(30080), "ClusterRole/reader"], timeout_s=1):
        assert locks.try_key("ClusterRole/reader") is None
    assert locks.try_key("ClusterRole/reader") is not None


def test_each_cluster_has_its_own_folder_whatever_its_name(tmp_path: Path) -> None:
    a, b = folder_for(tmp_path, "kind-kube-chaos"), folder_for(tmp_path, "kind/kube:chaos")
    assert a != b and a.parent == b.parent == tmp_path
    assert a.name.startswith("kind-kube-chaos-") and "/" not in b.name[:-11]
    assert folder_for(tmp_path, "kind-kube-chaos") == a


# --- a session's pace: how many of its runs go at once --------------------------------------


def test_a_pace_starts_at_the_degree_and_halves_down_to_one(tmp_path: Path) -> None:
    pace = Pace(tmp_path, "20261206-1-7", 5)
    assert pace.degree() == 5
    assert [pace.back_off() for _ in range(4)] == [(5, 2), (2, 1), (1, 1), (1, 1)]
    # another process of the session (a second xdist worker) reads the same pace
    assert Pace(tmp_path, "20261206-1-7", 5).degree() == 1
    assert Pace(tmp_path, "another-session", 5).degree() == 5


def test_slots_hold_as_many_runs_as_the_pace_and_the_next_waits(tmp_path: Path) -> None:
    pace = Pace(tmp_path, "s", 2, poll_s=0.05)
    said: list[str] = []
    got: list[int] = []
    with pace.slot(said.append) as a, pace.slot(said.append) as b:
        assert {a, b} == {0, 1}
        third = threading.Thread(target=lambda: got.extend(_take(pace, said)))
        third.start()
        third.join(1.2)
        assert third.is_alive() and not got  # both slots are held: it waits
    third.join(10)
    assert got == [0] and any("waited 1s for one of 2 run slots" in s for s in said)


def _take(pace: Pace, said: list[str]) -> list[int]:
    with pace.slot(said.append) as i:
        return [i]


def test_after_a_back_off_only_the_remaining_slots_are_handed_out(tmp_path: Path) -> None:
    pace = Pace(tmp_path, "s", 4, poll_s=0.05)
    with pace.slot(print) as first:
        assert first == 0
        pace.back_off()  # 4 -> 2: slot 1 is the only other one now
        with pace.slot(print) as second:
            assert second == 1
            pace.back_off()  # 2 -> 1: slot 0 is held, so a third waits
            waiter = threading.Thread(target=lambda: _take(pace, []))
            waiter.start()
            waiter.join(0.5)
            assert waiter.is_alive()
    waiter.join(10)
    assert not waiter.is_alive()
