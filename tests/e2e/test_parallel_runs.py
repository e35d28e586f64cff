"""Experiments side by side on the real cluster (issue 20): a pytest session of its own runs four
small experiments with `--chaos-parallel 3` on this session's kind cluster, as a user runs a
folder of experiments. Read back from their reports, the timeline shows:

- the cordon (a node fault: it needs the cluster to itself) overlapping no other run;
- the two that name the same fixed NodePort (30097) one after the other, never together;
- the shared ones overlapping (the session did run experiments at once).

Every run must pass: side by side, each still held its SLAs. NodePort 30097 is this test's
own; the others pick theirs (`nodePort: auto`). About 2.5 minutes. The negative control (the
same timeline check failing without the locks) is tests/plugin/test_parallel.py's.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from suite_runs import run_suite, suite_experiment

from chaos.engine.runner import RunEnv

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]

WORKLOAD = Path(__file__).parents[2] / "experiments" / "workloads" / "httpd-replicated.yaml"
PORT = 30097


def _experiment(name: str, port: str, fault: str) -> str:
    return suite_experiment(
        name, manifest=f"httpd-{port}.yaml", port=port,
        load="users: 2, spawnRate: 2, warmup: 2s, tail: 3s, maxDuration: 90s, wait: 50ms",
        fault=fault, slas="maxErrorRate: 0.3, maxOutage: 10s, maxRecovery: 60s",
        timeout="150s")


def _window(report: dict[str, Any]) -> tuple[float, float]:
    return (datetime.fromisoformat(report["started_at"]).timestamp(),
            datetime.fromisoformat(report["ended_at"]).timestamp())


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_a_node_fault_runs_alone_and_one_port_is_taken_in_turn(chaos_env: RunEnv,
                                                                 tmp_path: Path) -> None:
    assert chaos_env.cluster_name, "needs the session's kind cluster"
    folder = tmp_path / "suite"
    (folder / "workloads").mkdir(parents=True)
    text = WORKLOAD.read_text()
    assert "nodePort: 30080" in text
    (folder / "workloads" / "httpd-auto.yaml").write_text(text)
    (folder / "workloads" / f"httpd-{PORT}.yaml").write_text(
        text.replace("nodePort: 30080", f"nodePort: {PORT}"))
    kill = "{type: pod-kill, count: 1, gracePeriod: 0}"
    runs = {
        "shared-auto": _experiment("shared-auto", "auto", kill),
        "same-port-1": _experiment("same-port-1", str(PORT), kill),
        "same-port-2": _experiment("same-port-2", str(PORT), kill),
        "cordon-alone": _experiment("cordon-alone", "auto",
                                    "{type: cordon, count: 1, duration: 5s}"),
    }
    for name, body in runs.items():
        (folder / f"{name}.yaml").write_text(body)
    reports = tmp_path / "reports"
    proc = run_suite(folder, chaos_env.cluster_name, reports, parallel=3)
    print(proc.stdout[-3000:])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "4 passed" in proc.stdout
    found = {p.parent.name: json.loads(p.read_text()) for p in reports.glob("*/*/report.json")}
    assert set(found) == set(runs), sorted(found)
    assert all(r["verdict"] == "pass" for r in found.values())
    w = {name: _window(r) for name, r in found.items()}
    t0 = min(start for start, _ in w.values())
    for name, (start, end) in sorted(w.items(), key=lambda kv: kv[1]):
        print(f"{name:14} {start - t0:7.1f}s .. {end - t0:7.1f}s")
    alone = w.pop("cordon-alone")
    for name, other in w.items():
        assert not _overlap(alone, other), f"cordon-alone overlapped {name}: {alone} {other}"
    assert not _overlap(w["same-port-1"], w["same-port-2"]), "one NodePort, two runs at once"
    assert found["same-port-1"]["cluster"]["node_port"] == PORT
    assert found["shared-auto"]["cluster"]["node_port"] != PORT
    assert _overlap(w["shared-auto"], w["same-port-1"]) or \
        _overlap(w["shared-auto"], w["same-port-2"]), "nothing ran side by side"
