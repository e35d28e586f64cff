"""A folder of experiments run by a pytest session of its own, as a user runs one: the YAML
the side-by-side e2e tests write, and the session they start on this session's kind cluster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def suite_experiment(name: str, *, manifest: str, port: str, load: str, fault: str,
                     slas: str, timeout: str) -> str:
    """One experiment on the 3-replica httpd of ``workloads/<manifest>``."""
    return f"""\
apiVersion: kube-chaos/v1
kind: Experiment
metadata: {{name: {name}}}
spec:
  workload:
    manifests: [workloads/{manifest}]
    selector: {{app: httpd}}
    service: httpd
    nodePort: {port}
    replicas: 3
  load: {{{load}}}
  steadyState: {{maxErrorRate: 0.0, readyReplicas: 3, window: 1s}}
  faults:
    - {fault}
  slas: {{{slas}}}
  timeout: {timeout}
"""


def run_suite(folder: Path, cluster_name: str, reports: Path, parallel: int
              ) -> subprocess.CompletedProcess[str]:
    """`pytest -m chaos <folder> --chaos-parallel N` on the named kind cluster, kept."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-m", "chaos", str(folder),
         "--rootdir", str(folder), "-v", "--chaos-parallel", str(parallel),
         "--chaos-cluster-name", cluster_name, "--chaos-keep-cluster",
         "--chaos-reports", str(reports)],
        capture_output=True, text=True, timeout=540, cwd=folder, check=False)
