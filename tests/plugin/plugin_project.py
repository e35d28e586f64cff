"""What the plugin tests build their pytester projects from: one small experiment and the
bundled workload it deploys. Each test file states only how its experiment differs."""

from __future__ import annotations

import shutil
from pathlib import Path

WORKLOADS = Path(__file__).parents[2] / "experiments" / "workloads"
WORKLOAD = "httpd-replicated.yaml"


def experiment(name: str = "kill-one", *, manifest: str = f"workloads/{WORKLOAD}",
               fault: str = "{type: pod-kill, count: 1}", slas: str = "{maxOutage: 1s}",
               max_duration: str = "30s", timeout: str = "60s", tags: str | None = None,
               expect: str | None = None) -> str:
    """An experiment against the bundled httpd: 3 replicas on NodePort 30080, 2 users."""
    metadata = f"{{name: {name}, tags: {tags}}}" if tags else f"{{name: {name}}}"
    text = f"""\
apiVersion: kube-chaos/v1
kind: Experiment
metadata: {metadata}
spec:
  workload:
    manifests: [{manifest}]
    selector: {{app: httpd}}
    service: httpd
    nodePort: 30080
    replicas: 3
  load: {{users: 2, warmup: 2s, tail: 2s, maxDuration: {max_duration}}}
  faults:
    - {fault}
  slas: {slas}
  timeout: {timeout}
"""
    return text + (f"  expect: {expect}\n" if expect else "")


def add_workload(folder: Path, name: str = WORKLOAD) -> Path:
    """Copy the bundled workload into ``folder`` (made if missing) as ``name``."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(WORKLOADS / WORKLOAD, folder / name))
