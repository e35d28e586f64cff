"""``nodePort: auto`` on the real cluster: two runs of one experiment in this session, on the
bundled replicated httpd whose manifest declares nodePort 30080 (auto ignores it). Each run
picks a free port among the 30080-30099 kind publishes, sets it on the Service, sends its load
there, passes, records the port in report.json, and frees the port's lock when its namespace is
gone. The second run starts while this test holds the first run's port as another run would:
it must pick another one.

No NodePort of its own: the runs pick theirs, and free them (Services deleted) before the
next test. About 1.5 minutes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from chaos.engine.locks import ClusterLocks
from chaos.engine.runner import RunEnv, run_experiment
from chaos.model.parse import load_experiment
from chaos.plan.claims import node_port_key

pytestmark = [pytest.mark.chaos]  # the default timeout: see tests/e2e/conftest.py

WORKLOAD = Path(__file__).parents[2] / "experiments" / "workloads" / "httpd-replicated.yaml"
PUBLISHED = tuple(range(30080, 30100))

EXPERIMENT = """\
apiVersion: kube-chaos/v1
kind: Experiment
metadata: {name: auto-port}
spec:
  workload:
    manifests: [workloads/httpd-replicated.yaml]
    selector: {app: httpd}
    service: httpd
    nodePort: auto
    replicas: 3
  load: {users: 3, spawnRate: 3, warmup: 2s, tail: 3s, maxDuration: 60s, wait: 20ms}
  steadyState: {maxErrorRate: 0.0, readyReplicas: 3, window: 1s}
  faults:
    - {type: pod-kill, count: 1, gracePeriod: 0}
  slas: {maxErrorRate: 0.3, maxOutage: 10s, maxRecovery: 60s}
  timeout: 120s
"""


def _report(result: Any) -> dict[str, Any]:
    assert result.report_path is not None, result.error
    data: dict[str, Any] = json.loads(Path(result.report_path).read_text())
    return data


def _free(env: RunEnv, port: int) -> bool:
    """The port's run lock is free (taken and given back at once)."""
    assert env.lock_dir is not None
    lock = ClusterLocks(env.lock_dir).try_key(node_port_key(port))
    if lock is None:
        return False
    lock.release()
    return True


def test_two_auto_runs_pick_free_published_ports_and_pass(chaos_env: RunEnv,
                                                          tmp_path: Path) -> None:
    assert chaos_env.node_ports == PUBLISHED, (
        "the session's cluster must be a kind cluster kube-chaos made or reused (or name its "
        f"ports with --chaos-node-ports): it offers {chaos_env.node_ports}")
    assert chaos_env.lock_dir is not None
    (tmp_path / "workloads").mkdir()
    shutil.copy(WORKLOAD, tmp_path / "workloads" / WORKLOAD.name)
    assert "nodePort: 30080" in WORKLOAD.read_text()  # declared, and ignored by auto
    (tmp_path / "auto-port.yaml").write_text(EXPERIMENT)
    exp = load_experiment(tmp_path / "auto-port.yaml")
    assert exp.workload.node_port == "auto"

    first = run_experiment(exp, chaos_env)
    assert first.verdict == "pass", first.error
    report = _report(first)
    port = report["cluster"]["node_port"]
    assert port in PUBLISHED, report["cluster"]
    assert report["verdict"] == "pass" and report["load"]["requests_total"] > 0
    assert _free(chaos_env, port)  # given back with the namespace

    # another run holding the first one's port (its lock): the second run picks another
    held = ClusterLocks(chaos_env.lock_dir).try_key(node_port_key(port))
    assert held is not None
    try:
        second = run_experiment(exp, chaos_env)
    finally:
        held.release()
    assert second.verdict == "pass", second.error
    again = _report(second)["cluster"]["node_port"]
    assert again in PUBLISHED and again != port, (port, again)
    assert _free(chaos_env, again)
    assert first.namespace != second.namespace
