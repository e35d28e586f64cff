"""The cluster and key locks concurrent runs share (chaos.engine.locks): held across
processes through files, so these tests hold them from a second process too."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from chaos.engine.locks import ClusterLocks, LockTimeout, folder_for
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
