"""Prebuilt components: the build lock that lets CI build them in the background beside the
tests that use them, and the prebuild command's outcomes."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from chaos import cli
from chaos.cluster import prebuild
from chaos.cluster.cache import build_lock
from chaos.cluster.progress import Progress
from chaos.cluster.versions import PINS


def _hold(root: str, started: multiprocessing.synchronize.Event, seconds: float) -> None:
    with build_lock(Path(root), "thing"):
        started.set()
        time.sleep(seconds)


def test_a_second_process_waits_for_the_first_and_says_so(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    started = ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(tmp_path), started, 0.6))
    holder.start()
    assert started.wait(10)
    said: list[str] = []
    t = time.monotonic()
    with build_lock(tmp_path, "thing", lambda: said.append("waiting")):
        waited = time.monotonic() - t
    holder.join(10)
    assert said == ["waiting"] and waited > 0.3


def test_an_uncontended_lock_says_nothing_and_other_steps_do_not_wait(tmp_path: Path) -> None:
    said: list[str] = []
    with build_lock(tmp_path, "a", lambda: said.append("a")), \
            build_lock(tmp_path, "b", lambda: said.append("b")):
        pass
    assert said == []


def test_one_failing_component_does_not_stop_the_others(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []

    def fail(pins: object, root: Path, progress: Progress) -> None:
        raise RuntimeError("go build failed\nlong log")

    monkeypatch.setattr(prebuild, "COMPONENTS", {
        "one": ("first", fail),
        "two": ("second", lambda pins, root, progress: built.append("two")),
    })
    outcome = prebuild.prebuild([], PINS, tmp_path, Progress(quiet=True))
    assert outcome == {"one": "go build failed", "two": "ok"} and built == ["two"]


def test_an_unknown_component_is_named_with_the_known_ones(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["cluster", "prebuild", "prometheus", "grafana"]) == 2
    err = capsys.readouterr().err
    assert "grafana" in err and "prometheus" in err and "haproxy-rootfs" in err
