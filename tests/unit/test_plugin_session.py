"""The session's own state (chaos.plugin.session): the chaos marker, the seed and run id (an
xdist worker takes the controller's), the repeat count, SIGTERM as an interrupt, live progress
through the terminal past pytest's capture, and the kind cluster a session made deleted at its
end unless kept."""

from __future__ import annotations

import contextlib
import io
import random
import signal
import sys
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from chaos.cluster import progress
from chaos.plugin import session
from chaos.plugin.session import SINK, STATE, ChaosState

MARKER = ("chaos: a chaos experiment: needs a Kubernetes cluster (kind is provisioned unless "
          "--chaos-kubeconfig is given)")


class Plugins:
    def __init__(self, **plugins: Any) -> None:
        self.plugins = plugins

    def get_plugin(self, name: str) -> Any:
        return self.plugins.get(name)


class Config:
    """What the session hooks read and write of a pytest config."""

    def __init__(self, opts: dict[str, Any] | None = None, **attrs: Any) -> None:
        self.opts = opts or {}
        self.stash = pytest.Stash()
        self.lines: list[tuple[str, str]] = []
        self.cleanups: list[Callable[[], None]] = []
        self.pluginmanager = Plugins()
        self.__dict__.update(attrs)

    def getoption(self, name: str) -> object:
        return self.opts.get(name)

    def getini(self, name: str) -> object:
        return ""

    def addinivalue_line(self, name: str, line: str) -> None:
        self.lines.append((name, line))

    def add_cleanup(self, func: Callable[[], None]) -> None:
        self.cleanups.append(func)

    def cleanup(self) -> None:
        while self.cleanups:
            self.cleanups.pop()()


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Config]]:
    """pytest_configure on a fake config at 2026-12-07 00:15:00, each config cleaned up after."""
    made: list[Config] = []
    monkeypatch.setattr(time, "strftime",
                        lambda fmt: {"%Y%m%d-%H%M%S": "20261207-001500"}[fmt])
    previous = progress.set_sink(None)

    def configure(opts: dict[str, Any] | None = None, **attrs: Any) -> Config:
        config = Config(opts, **attrs)
        made.append(config)
        session.pytest_configure(config)  # type: ignore[arg-type]
        return config

    yield configure
    for config in made:
        config.cleanup()
    progress.set_sink(previous)


def test_a_seeded_session_registers_the_marker_and_names_its_run(
        configured: Callable[..., Config]) -> None:
    config = configured({"chaos_seed": "42", "chaos_repeat": "3"})
    assert config.lines == [("markers", MARKER)]
    assert config.stash[STATE] == ChaosState(seed=42, run_id="20261207-001500-42", repeat=3)


def test_the_header_names_the_seed_and_the_run(configured: Callable[..., Config]) -> None:
    config = configured({"chaos_seed": "42"})
    assert session.pytest_report_header(config) == (  # type: ignore[arg-type]
        "kube-chaos: seed 42, run 20261207-001500-42")


@pytest.mark.parametrize("given", [None, ""])
def test_an_unseeded_session_draws_a_seed_from_1_to_2_to_the_31(
        configured: Callable[..., Config], monkeypatch: pytest.MonkeyPatch,
        given: str | None) -> None:
    drawn: list[tuple[int, int]] = []
    monkeypatch.setattr(random.SystemRandom, "randrange",
                        lambda self, a, b: drawn.append((a, b)) or 99)
    config = configured({"chaos_seed": given})
    assert drawn == [(1, 2**31)]
    assert config.stash[STATE] == ChaosState(seed=99, run_id="20261207-001500-99", repeat=1)


def test_a_seed_that_is_not_an_integer_is_a_usage_error(
        configured: Callable[..., Config]) -> None:
    with pytest.raises(pytest.UsageError) as info:
        configured({"chaos_seed": "abc"})
    assert str(info.value) == "--chaos-seed must be an integer, got 'abc'"


def test_an_xdist_worker_takes_the_controllers_seed_and_run_id(
        configured: Callable[..., Config]) -> None:
    config = configured({"chaos_seed": "42"},
                        workerinput={"chaos_run_id": "20261206-235900-7", "chaos_seed": "7"})
    assert config.stash[STATE] == ChaosState(seed=7, run_id="20261206-235900-7", repeat=1)
    assert SINK not in config.stash  # its progress goes back to the controller, not a terminal


def test_an_xdist_worker_the_controller_told_nothing_keeps_its_own(
        configured: Callable[..., Config]) -> None:
    config = configured({"chaos_seed": "42"}, workerinput={})
    assert config.stash[STATE] == ChaosState(seed=42, run_id="20261207-001500-42", repeat=1)


# --- SIGTERM ---------------------------------------------------------------------------------


@pytest.fixture
def default_sigterm() -> Iterator[None]:
    """SIGTERM at its default action for the test (the outer session has its own handler)."""
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_sigterm_becomes_an_interrupt_until_the_session_ends(
        configured: Callable[..., Config], default_sigterm: None) -> None:
    config = configured({"chaos_seed": "1"})
    assert signal.getsignal(signal.SIGTERM) is session._sigterm
    with pytest.raises(KeyboardInterrupt) as info:
        session._sigterm(signal.SIGTERM, None)
    assert str(info.value) == "SIGTERM"
    config.cleanup()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_sigterm_handler_someone_else_installed_is_left_alone(
        configured: Callable[..., Config], default_sigterm: None) -> None:
    def theirs(signum: int, frame: Any) -> None:
        pass

    signal.signal(signal.SIGTERM, theirs)
    config = configured({"chaos_seed": "1"})
    assert signal.getsignal(signal.SIGTERM) is theirs
    config.cleanup()
    assert signal.getsignal(signal.SIGTERM) is theirs


# --- live progress ---------------------------------------------------------------------------


class Reporter:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def ensure_newline(self) -> None:
        self.events.append("newline")

    def write_line(self, line: str) -> None:
        self.events.append(f"line {line}")

    def flush(self) -> None:
        self.events.append("flush")


class Capture:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    @contextlib.contextmanager
    def global_and_fixture_disabled(self) -> Iterator[None]:
        self.events.append("capture off")
        yield
        self.events.append("capture on")


def test_progress_reaches_the_terminal_with_capture_suspended(
        configured: Callable[..., Config]) -> None:
    events: list[str] = []
    plugins = Plugins(terminalreporter=Reporter(events), capturemanager=Capture(events))
    host_sink: list[str] = []
    progress.set_sink(host_sink.append)  # a sink installed before the session
    config = configured({"chaos_seed": "1"}, pluginmanager=plugins)
    progress.Progress().say("building kind node image")
    assert [e.split("] ")[-1] for e in events] == [
        "capture off", "newline", "building kind node image", "flush", "capture on"]
    assert events[2].startswith("line [kube-chaos ")
    config.stash[SINK]("direct")
    assert events[-4:] == ["newline", "line direct", "flush", "capture on"]
    config.cleanup()
    assert progress.set_sink(None) == host_sink.append  # the sink before the session is back
    assert host_sink == []


def test_progress_without_capture_still_reaches_the_terminal(
        configured: Callable[..., Config]) -> None:
    events: list[str] = []
    config = configured({"chaos_seed": "1"}, pluginmanager=Plugins(
        terminalreporter=Reporter(events)))
    config.stash[SINK]("loading image")
    assert events == ["newline", "line loading image", "flush"]


class Stderr(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


def test_progress_without_a_terminal_goes_to_stderr_at_once(
        configured: Callable[..., Config], monkeypatch: pytest.MonkeyPatch) -> None:
    config = configured({"chaos_seed": "1"})
    stderr = Stderr()
    monkeypatch.setattr(sys, "stderr", stderr)
    config.stash[SINK]("loading image")
    assert stderr.getvalue() == "loading image\n"
    assert stderr.flushed == ["loading image\n"]  # flushed with the line, not later


# --- the end of the session ------------------------------------------------------------------


@pytest.fixture
def downs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from chaos.cluster import kind

    deleted: list[str] = []
    monkeypatch.setattr(kind, "down", lambda cfg: deleted.append(cfg.name))
    return deleted


def _ended(created: str | None, opts: dict[str, Any] | None = None, **attrs: Any) -> Config:
    config = Config(opts, **attrs)
    config.stash[STATE] = ChaosState(created_cluster=created)
    session.pytest_sessionfinish(SimpleNamespace(config=config))  # type: ignore[arg-type]
    return config


def test_the_cluster_a_session_made_is_deleted_at_its_end(downs: list[str]) -> None:
    _ended("kc", {"chaos_keep_cluster": False})
    assert downs == ["kc"]


def test_a_kept_or_reused_cluster_stays(downs: list[str]) -> None:
    _ended("kc", {"chaos_keep_cluster": True})
    _ended(None)
    assert downs == []
    session.pytest_sessionfinish(SimpleNamespace(config=Config()))  # type: ignore[arg-type]
    assert downs == []  # a session the plugin never configured


def test_an_xdist_worker_hands_its_cluster_to_the_controller(downs: list[str]) -> None:
    output: dict[str, object] = {}
    _ended("kc", workeroutput=output)
    assert output == {"chaos_created_cluster": "kc"}
    assert downs == []


def test_a_cluster_that_will_not_go_away_does_not_fail_the_session(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from chaos.cluster import kind
    from chaos.errors import ClusterError

    def down(cfg: Any) -> None:
        raise ClusterError(f"kind delete cluster {cfg.name}: exit 1")

    monkeypatch.setattr(kind, "down", down)
    _ended("kc")  # no exception
