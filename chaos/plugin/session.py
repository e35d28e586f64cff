"""Per-session state, set up in pytest_configure: seed and run id (shared with xdist workers),
SIGTERM as an interrupt, live build progress past pytest's capture; the kind cluster a session
made is deleted at its end."""

from __future__ import annotations

import contextlib
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from chaos.errors import ChaosError
from chaos.plugin.options import option, repeat_count

if TYPE_CHECKING:
    from chaos.engine.runner import RunEnv


@dataclass
class ChaosState:
    """Per-session plugin state, kept in config.stash."""

    env: RunEnv | None = None
    created_cluster: str | None = None
    seed: int = 0
    run_id: str = ""
    repeat: int = 1  # --chaos-repeat


STATE = pytest.StashKey[ChaosState]()
CREATED_CLUSTER = "chaos_created_cluster"  # xdist workeroutput: a cluster a worker made
SINK = pytest.StashKey[Callable[[str], None]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "chaos: a chaos experiment: needs a Kubernetes cluster (kind is provisioned "
                   "unless --chaos-kubeconfig is given)")
    seed_opt = option(config, "chaos_seed")
    try:
        seed = int(seed_opt) if seed_opt not in (None, "") else random.SystemRandom().randrange(
            1, 2**31)
    except ValueError as exc:
        raise pytest.UsageError(f"--chaos-seed must be an integer, got {seed_opt!r}") from exc
    run_id = time.strftime("%Y%m%d-%H%M%S") + f"-{seed}"
    if hasattr(config, "workerinput"):  # xdist worker: share the controller's seed and run id
        run_id = config.workerinput.get("chaos_run_id", run_id)
        seed = int(config.workerinput.get("chaos_seed", seed))
    config.stash[STATE] = ChaosState(seed=seed, run_id=run_id, repeat=repeat_count(config))
    _undo_on_sigterm(config)
    if not hasattr(config, "workerinput"):
        _live_progress(config)



def _live_progress(config: pytest.Config) -> None:
    """Build and cluster progress (chaos.cluster.progress) reaches the terminal while pytest
    captures a test's output: written through the terminal reporter with capture suspended,
    the way pytest's live logging does, from the heartbeat thread too (hence the lock)."""
    from chaos.cluster import progress

    lock = threading.Lock()

    def write(line: str) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        capman = config.pluginmanager.get_plugin("capturemanager")
        with lock:
            if reporter is None:
                import sys

                print(line, file=sys.stderr, flush=True)
                return
            ctx = capman.global_and_fixture_disabled() if capman is not None \
                else contextlib.nullcontext()
            with ctx:
                reporter.ensure_newline()
                reporter.write_line(line)
                reporter.flush()

    previous = progress.set_sink(write)
    config.stash[SINK] = write

    def restore() -> None:
        progress.set_sink(previous)

    config.add_cleanup(restore)


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt("SIGTERM")


def _undo_on_sigterm(config: pytest.Config) -> None:
    """A cancelled CI job gets SIGTERM, whose default action ends Python without running any
    `finally`: turn it into an interrupt, so faults are undone exactly as on Ctrl-C. Only when
    nobody else handles SIGTERM, and only in the main thread (where signals are delivered)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return
    signal.signal(signal.SIGTERM, _sigterm)

    def restore() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    config.add_cleanup(restore)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:  # pragma: no cover - xdist hook
    state = node.config.stash[STATE]
    node.workerinput["chaos_run_id"] = state.run_id
    node.workerinput["chaos_seed"] = state.seed


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:  # pragma: no cover - xdist hook
    """A worker that created the cluster hands it to the controller, to delete at its end."""
    created = getattr(node, "workeroutput", {}).get(CREATED_CLUSTER)
    state = node.config.stash.get(STATE, None)
    if created and state is not None:
        state.created_cluster = created


def pytest_report_header(config: pytest.Config) -> str:
    state = config.stash[STATE]
    return f"kube-chaos: seed {state.seed}, run {state.run_id}"



def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(STATE, None)
    _close_node_runtime(session.config, state)
    if state is None or state.created_cluster is None:
        return
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        # an xdist worker: others may still run on it; the controller deletes it after them
        workeroutput[CREATED_CLUSTER] = state.created_cluster
        return
    if option(session.config, "chaos_keep_cluster"):
        return
    from chaos.cluster import kind
    from chaos.cluster.config import ClusterConfig

    with contextlib.suppress(ChaosError):
        kind.down(ClusterConfig(name=state.created_cluster))


def _close_node_runtime(config: pytest.Config, state: ChaosState | None) -> None:
    """The node agents a session started are its own: deleted at its end (each journaled, so
    one that cannot be is left to `kube-chaos rollback`)."""
    close = getattr(state.env.node, "close", None) if state and state.env else None
    if close is None:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    for problem in close():
        if reporter is not None:
            reporter.write_line(f"kube-chaos: node agent left behind: {problem}", yellow=True)
