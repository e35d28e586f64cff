"""A run SIGKILLed in the middle of a rollout leaves the replaced template in the journal;
`kube-chaos rollback` restores it and confirms the controller rolled it out again (for a
StatefulSet, forcing out the pod stuck on the broken revision)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_crash_rollback import rollback
from test_faults_helpers import (
    Cluster,
    cluster_from_env,
    ensure_workload_image,
    namespace,
    pods,
    wait_for,
)

from chaos.engine.runner import RunEnv
from chaos.journal.store import pending_in
from chaos.k8s import controllers as kc

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(300)]

# The victim: a rollout to a missing image, run as an experiment process would, with its own
# journal; it waits (up to 300 s) for a rollout that can never finish.
VICTIM = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[6])
    from test_faults_helpers import Cluster, make_ctx
    from chaos.faults.rollout import RolloutFault
    from chaos.journal.store import Journal
    from chaos.k8s.client import connect
    from chaos.model.experiment import Rollout

    kubeconfig, context, name, ns, journal, _, app = sys.argv[1:8]
    cluster = Cluster(kubeconfig, context, name, connect(kubeconfig, context))
    ctx = make_ctx(cluster, ns, Journal(Path(journal)), {"app": app}, budget_s=600)
    print("injecting", flush=True)
    RolloutFault(Rollout(image="kube-chaos/httpd:missing", wait_s=300)).inject(ctx)
    print("fault finished: the test should have killed us first", flush=True)
""")

CASES = {
    "deployment": ("httpd-rollout.yaml", "Deployment", "httpd-rollout"),
    "statefulset": ("httpd-statefulset.yaml", "StatefulSet", "httpd-sts"),
}


@pytest.fixture(scope="module")
def cluster(chaos_env: RunEnv) -> Iterator[Cluster]:
    c = cluster_from_env(chaos_env)
    ensure_workload_image(c)
    yield c


def _image(cluster: Cluster, ns: str, kind: str, name: str) -> str:
    obj = kc.read(cluster.kube, ns, kind, name)
    assert obj is not None
    return str(kc.template_of(obj)["spec"]["containers"][0]["image"])


def _broken_pod(cluster: Cluster, ns: str, app: str) -> bool:
    """A pod of the broken release exists and waits on its image."""
    for p in pods(cluster, ns, f"app={app}"):
        for status in p.status.container_statuses or ():
            if status.state.waiting and status.state.waiting.reason == "ErrImageNeverPull":
                return True
    return False


@pytest.mark.parametrize("case", list(CASES))
def test_rollout_killed_mid_fault_is_restored_by_rollback(cluster: Cluster, tmp_path: Path,
                                                          case: str) -> None:
    manifest, kind, name = CASES[case]
    app = name
    with namespace(cluster, f"kc-crash-rollout-{case[:3]}", manifest) as ns:
        original = kc.template_of(kc.read(cluster.kube, ns, kind, name) or {})
        journal = tmp_path / "rollout.jsonl"
        script = tmp_path / "victim.py"
        script.write_text(VICTIM)
        victim = subprocess.Popen(
            [sys.executable, str(script), cluster.kubeconfig, cluster.context, cluster.name, ns,
             str(journal), str(Path(__file__).parent), app],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        def in_place() -> bool:
            if victim.poll() is not None:
                raise AssertionError(f"the victim exited early ({victim.returncode})")
            return bool(pending_in(journal)) and _broken_pod(cluster, ns, app)

        try:
            wait_for("rollout journaled and the broken pod waiting on its image", in_place, 120,
                     step_s=0.5)
        finally:
            victim.send_signal(signal.SIGKILL)
            out, _ = victim.communicate(timeout=30)
            print(out)
        assert victim.returncode == -signal.SIGKILL
        assert _image(cluster, ns, kind, name) == "kube-chaos/httpd:missing", \
            "the crash must leave the broken template in place"
        [action] = pending_in(journal)
        assert action.kind == "restore-template"
        assert action.params["workload"] == f"{kind}/{name}"

        started = time.monotonic()
        proc = rollback(journal)
        took = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr
        assert "restore-template(" in proc.stdout and "undone" in proc.stdout
        assert "<" in proc.stdout and "chars>" in proc.stdout, "the template is not printed"
        if kind == "StatefulSet":
            assert "forced out stuck pod(s) httpd-sts-1" in proc.stdout
        restored: Any = kc.read(cluster.kube, ns, kind, name)
        assert kc.template_of(restored) == original, "exactly what was there"
        wait_for("the broken pod gone", lambda: not _broken_pod(cluster, ns, app), 30)
        assert pending_in(journal) == []
        print(f"rollback of the {kind} took {took:.1f}s")

        again = rollback(journal)
        assert again.returncode == 0 and again.stdout.startswith("0 pending")
