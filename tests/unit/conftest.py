"""Shared fixtures for the pure unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

GOOD = """\
apiVersion: kube-chaos/v1
kind: Experiment
metadata:
  name: pod-kill-replicated
  description: one pod of three dies under load
spec:
  workload:
    manifests: [workloads/httpd.yaml]
    selector: {app: httpd}
    service: httpd
    nodePort: 30080
    path: /
    replicas: 3
  load:
    users: 10
    spawnRate: 10
    warmup: 5s
    tail: 10s
    maxDuration: 90s
    maxRequests: 200000
    wait: 50ms
  steadyState: {maxErrorRate: 0.0, readyReplicas: 3, window: 3s}
  faults:
    - type: pod-kill
      count: 1
      gracePeriod: 0
  slas:
    maxErrorRate: 0.05
    maxOutage: 1s
    maxRecovery: 30s
  timeout: 180s
  expect: pass
"""


@pytest.fixture
def good() -> str:
    """A valid experiment document; tests replace single lines to break it."""
    return GOOD


@pytest.fixture
def exp_dir(tmp_path: Path) -> Path:
    (tmp_path / "workloads").mkdir()
    (tmp_path / "workloads" / "httpd.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: httpd}\n"
    )
    (tmp_path / "locustfile.py").write_text("# locust\n")
    return tmp_path


DEAD_PID = 2**22 + 12345  # above Linux's largest pid_max: no process can have it


@pytest.fixture
def dead_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Journal records written from now on look like a crashed run's: their pid is gone."""
    import socket

    from chaos.journal import store as journal

    monkeypatch.setattr(journal, "this_writer",
                        lambda: journal.Writer(DEAD_PID, socket.gethostname(), 1))


# The hostile-input corpus is data for test_corpus.py; pytest must not collect it as experiments.
collect_ignore = ["corpus"]
