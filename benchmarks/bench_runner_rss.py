"""Peak RSS of the runner itself over one real experiment under open-loop load.

Writes an experiment into a temporary directory (the ``httpd-open`` workload with 2 replicas
on the given NodePort, open loop at ``--rate`` for ``--tail`` seconds after one pod kill), runs
it in this process through ``kube-chaos run`` against an existing cluster, and prints this
process's peak RSS (VmHWM: the pytest session, the kubernetes client, the figures and the
report; locust runs in its own process) with the request count from report.json.

    flock /tmp/kube-chaos-cluster.lock python benchmarks/bench_runner_rss.py \\
        --kubeconfig ~/.cache/kube-chaos/clusters/kube-chaos/kubeconfig \\
        --context kind-kube-chaos --node-port 30096 --rate 300 --tail 60
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path

from chaos.cli import main as kube_chaos

ROOT = Path(__file__).resolve().parents[1]
WORKLOAD = ROOT / "experiments" / "workloads" / "httpd-open.yaml"

EXPERIMENT = """\
apiVersion: kube-chaos/v1
kind: Experiment
metadata:
  name: runner-rss
  description: Peak RSS of the runner (benchmarks/bench_runner_rss.py).
spec:
  workload:
    manifests: [workloads/httpd-open.yaml]
    selector: {{app: httpd-open}}
    service: httpd-open
    nodePort: {port}
    replicas: 2
  load: {{mode: open, rate: {rate}/s, timeout: 1s, warmup: 20s, tail: {tail}s,
         maxDuration: {max_s}s}}
  steadyState: {{maxErrorRate: 0.02, readyReplicas: 2, window: 3s}}
  faults:
    - {{type: pod-kill, count: 1, gracePeriod: 0}}
  slas:
    maxErrorRate: 0.5
  timeout: {timeout}s
"""


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--context", required=True)
    ap.add_argument("--node-port", type=int, required=True)
    ap.add_argument("--rate", type=int, default=300)
    ap.add_argument("--tail", type=int, default=60)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kc-rss-"))
    (work / "workloads").mkdir()
    manifest = WORKLOAD.read_text().replace("nodePort: 30088", f"nodePort: {args.node_port}")
    manifest = re.sub(r"(?m)^  replicas: 1$", "  replicas: 2", manifest, count=1)
    (work / "workloads" / "httpd-open.yaml").write_text(manifest)
    max_s = 20 + args.tail + 60
    (work / "runner-rss.yaml").write_text(EXPERIMENT.format(
        port=args.node_port, rate=args.rate, tail=args.tail, max_s=max_s, timeout=max_s + 90))
    before = peak_rss_mb()
    code = kube_chaos(["run", "--kubeconfig", args.kubeconfig, "--context", args.context,
                       "--reports", str(work / "reports"), str(work / "runner-rss.yaml")])
    report = json.loads(next((work / "reports").rglob("report.json")).read_text())
    load = report["load"]
    print(f"exit {code}; verdict {report['verdict']}; requests {load['requests_total']} "
          f"(in flight at stop {load.get('requests_in_flight_at_stop')}); runner peak RSS "
          f"{peak_rss_mb():.0f} MB (at start {before:.0f} MB); reports under {work}")


if __name__ == "__main__":
    main()
