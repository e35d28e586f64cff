"""Undo runs when the run is cut short: pytest-timeout expiry, Ctrl-C (SIGINT) and SIGTERM (a
cancelled CI job).

A cordon held for minutes is started in a separate pytest process against the real
cluster; we cut it short and check that no node is left cordoned and that the undo
journal has nothing pending.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaos.engine.runner import RunEnv
from chaos.journal.store import pending_in

pytestmark = pytest.mark.chaos
WORKLOAD = Path(__file__).parents[2] / "experiments" / "workloads" / "httpd-replicated.yaml"

LONG_CORDON = """\
apiVersion: kube-chaos/v1
kind: Experiment
metadata: {{name: long-cordon}}
spec:
  workload:
    manifests: [{workload}]
    selector: {{app: httpd}}
    service: httpd
    nodePort: 30080
    replicas: 3
  load: {{users: 2, spawnRate: 2, warmup: 2s, tail: 1s, maxDuration: 300s, wait: 100ms}}
  steadyState: {{maxErrorRate: 0.0, readyReplicas: 3, window: 1s}}
  faults:
    - {{type: cordon, count: 1, duration: 240s}}
  slas: {{maxErrorRate: 0.01}}
  timeout: 300s
"""


def _cordoned(env: RunEnv) -> list[str]:
    return [n.metadata.name for n in env.kube.core.list_node().items if n.spec.unschedulable]


def _start(env: RunEnv, tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], Path]:
    exp = tmp_path / "long-cordon.yaml"
    exp.write_text(LONG_CORDON.format(workload=WORKLOAD))
    state = tmp_path / "state"
    cmd = [sys.executable, "-m", "pytest", str(exp), "-p", "no:cacheprovider", "-p", "no:locust",
           f"--chaos-kubeconfig={env.kubeconfig}", f"--chaos-context={env.kube.context}",
           f"--chaos-reports={tmp_path / 'reports'}", f"--rootdir={tmp_path}",
           f"--chaos-allow-path={WORKLOAD.parent}", *extra]  # the workload is the repo's
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**_env(), "KUBE_CHAOS_STATE": str(state)},
                            preexec_fn=_default_sigint)
    return proc, state / "journal"


def _default_sigint() -> None:
    """A shell without job control starts `cmd &` with SIGINT ignored, every child inherits
    that, and Python then never installs its KeyboardInterrupt handler: the run under test
    would shrug off Ctrl-C however it handles it. Give it the disposition a terminal gives."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _communicate(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """The run's output; a run that does not end in time is stopped, never left holding its
    fault over the tests after it."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: the run undoes its fault on the way out
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        pytest.fail(f"the run did not end within {timeout:.0f}s:\n{out.decode()[-3000:]}")
    return out.decode()


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def _wait_for_cordon(env: RunEnv, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _cordoned(env):
            return
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            pytest.fail(f"the experiment ended before cordoning:\n{out[-3000:]}")
        time.sleep(0.5)
    proc.kill()
    pytest.fail("no node was cordoned within 90 s")


def _assert_nothing_left(env: RunEnv, journal_dir: Path) -> None:
    assert _cordoned(env) == []
    journals = list(journal_dir.glob("*.jsonl"))
    assert journals, "the run journaled its undo"
    assert [a for j in journals for a in pending_in(j)] == []


def test_pytest_timeout_expiry_runs_the_undo(chaos_env: RunEnv, tmp_path: Path) -> None:
    assert _cordoned(chaos_env) == []
    proc, journal = _start(chaos_env, tmp_path, "--timeout=45")
    _wait_for_cordon(chaos_env, proc)
    out = _communicate(proc, 120)
    assert proc.returncode == 1, out[-3000:]
    assert "Timeout" in out
    _assert_nothing_left(chaos_env, journal)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_runs_the_undo(chaos_env: RunEnv, tmp_path: Path,
                                    sig: signal.Signals) -> None:
    assert _cordoned(chaos_env) == []
    proc, journal = _start(chaos_env, tmp_path)
    _wait_for_cordon(chaos_env, proc)
    time.sleep(2)
    proc.send_signal(sig)
    out = _communicate(proc, 120)
    assert proc.returncode == 2, out[-3000:]  # pytest's "interrupted"
    _assert_nothing_left(chaos_env, journal)


def test_a_sigkilled_run_leaves_its_namespace_to_rollback(chaos_env: RunEnv,
                                                          tmp_path: Path) -> None:
    """SIGKILL runs no `finally`: the namespace (holding nodePort 30080) and the cordon stay,
    and `kube-chaos rollback` removes both from the journal."""
    assert _cordoned(chaos_env) == []
    proc, journal_dir = _start(chaos_env, tmp_path)
    _wait_for_cordon(chaos_env, proc)
    proc.kill()
    proc.communicate(timeout=30)
    [journal] = list(journal_dir.glob("*.jsonl"))
    kinds = sorted(a.kind for a in pending_in(journal))
    assert kinds == ["delete-namespace", "uncordon"], kinds
    [ns] = [a.params["namespace"] for a in pending_in(journal) if a.kind == "delete-namespace"]
    core = chaos_env.kube.core
    assert core.read_namespace(ns).metadata.deletion_timestamp is None
    assert _node_port_holders(chaos_env, 30080) == [f"{ns}/httpd"]

    done = subprocess.run([sys.executable, "-m", "chaos.cli", "rollback", "--journal",
                           str(journal)], capture_output=True, text=True, timeout=240,
                          check=False, env={**_env(), "KUBE_CHAOS_STATE": str(journal_dir.parent)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert _cordoned(chaos_env) == []
    assert _node_port_holders(chaos_env, 30080) == []
    assert pending_in(journal) == []


def _node_port_holders(env: RunEnv, port: int) -> list[str]:
    return [f"{s.metadata.namespace}/{s.metadata.name}"
            for s in env.kube.core.list_service_for_all_namespaces().items
            for p in s.spec.ports or () if p.node_port == port]
