"""What pytest makes of a real run's verdict: YAML experiments run on the cluster by a separate
pytest process, judged by its exit code, its output and its JUnit XML.

- a passing run passes, and the session exits 0;
- a breached SLA fails, naming the SLA and the figure observed;
- a negative control whose breakage is not seen fails, saying the harness did not detect it;
- a run whose fault hold the experiment's timeout cut short is `error` (expect: pass and
  expect: fail alike), naming what was held of what was declared, and its report.json states
  the hold as planned and as granted.

NodePorts 30095 (the replicated workload) and 30096 (the single replica), no other test's. The
four failing items share one session to save cluster time (about 3 minutes in all).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chaos.engine.runner import RunEnv

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]

WORKLOADS = Path(__file__).parents[2] / "experiments" / "workloads"
REPLICATED_PORT, SINGLE_PORT = 30095, 30096

EXPERIMENT = """\
apiVersion: kube-chaos/v1
kind: Experiment
metadata: {{name: {name}}}
spec:
  workload:
    manifests: [workloads/{manifest}.yaml]
    selector: {{app: {app}}}
    service: {app}
    nodePort: {port}
    replicas: {replicas}
  load: {{users: 5, spawnRate: 5, warmup: 3s, tail: 3s, maxDuration: {max_duration}, wait: 20ms}}
  steadyState: {{maxErrorRate: 0.0, readyReplicas: {replicas}, window: 1s}}
  faults:
    - {fault}
  slas: {slas}
  timeout: {timeout}
  expect: {expect}
"""

POD_KILL = "{type: pod-kill, count: 1, gracePeriod: 0}"
GENEROUS = "{maxErrorRate: 0.3, maxOutage: 10s, maxRecovery: 60s}"
# 3 s of warm-up + 30 s held + 3 s of tail is the least timeout the experiment may declare: the
# deploy and the steady state are charged to it too, so the hold cannot get its 30 s
PROBE_BREAK = "{type: probe-break, probe: readiness, count: 1, duration: 30s, method: admin}"


def _experiment(name: str, *, single: bool = False, fault: str = POD_KILL,
                slas: str = GENEROUS, expect: str = "pass", cut: bool = False) -> str:
    return EXPERIMENT.format(
        name=name, manifest="httpd-single" if single else "httpd-replicated",
        app="httpd-single" if single else "httpd",
        port=SINGLE_PORT if single else REPLICATED_PORT, replicas=1 if single else 3,
        fault=fault, slas=slas, expect=expect,
        max_duration="36s" if cut else "60s", timeout="36s" if cut else "90s")


FILES = {
    "a_pass.yaml": _experiment("verdict-pass"),
    "b_breach.yaml": _experiment("verdict-breach", single=True,
                                 slas="{maxOutage: 0.5s, maxErrorRate: 0.0}"),
    "c_undetected.yaml": _experiment("verdict-undetected", expect="fail"),
    "d_cut_pass.yaml": _experiment("verdict-cut-pass", fault=PROBE_BREAK, cut=True,
                                   slas="{maxErrorRate: 0.01, maxOutage: 1s}"),
    "d_cut_fail.yaml": _experiment("verdict-cut-fail", fault=PROBE_BREAK, cut=True,
                                   slas="{maxErrorRate: 0.01, maxOutage: 1s}", expect="fail"),
}


@dataclass(frozen=True)
class Session:
    """One pytest run of experiment files: exit code, output, and per item (by name) its
    outcome and failure text from the JUnit XML."""

    ret: int
    out: str
    items: dict[str, tuple[str, str]]
    reports: Path

    def report(self, name: str) -> dict[str, Any]:
        found = sorted(self.reports.glob(f"*/{name}*/report.json"))
        assert len(found) == 1, (name, found, self.out[-3000:])
        data: dict[str, Any] = json.loads(found[0].read_text())
        return data


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("verdicts")
    (root / "workloads").mkdir()
    for manifest, old, new in (("httpd-replicated.yaml", 30080, REPLICATED_PORT),
                               ("httpd-single.yaml", 30081, SINGLE_PORT)):
        text = (WORKLOADS / manifest).read_text()
        assert text.count(f"nodePort: {old}") == 1, manifest  # the port this file changes
        (root / "workloads" / manifest).write_text(text.replace(f"nodePort: {old}",
                                                                f"nodePort: {new}"))
    for name, text in FILES.items():
        (root / name).write_text(text)
    return root


def _run(env: RunEnv, root: Path, label: str, files: list[str], timeout: float) -> Session:
    """A pytest process over ``files`` against this session's cluster; one that does not end in
    time is sent SIGTERM (it undoes its fault on the way out) before the test fails."""
    out_dir = root / label
    cmd = [sys.executable, "-m", "pytest", *files, "-p", "no:cacheprovider", "-p", "no:locust",
           "-rA", "--timeout=150", f"--rootdir={root}", f"--junitxml={out_dir / 'junit.xml'}",
           f"--chaos-kubeconfig={env.kubeconfig}", f"--chaos-context={env.kube.context}",
           f"--chaos-reports={out_dir / 'reports'}"]
    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "KUBE_CHAOS_STATE": str(out_dir / "state")})
    try:
        raw, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            raw, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raw, _ = proc.communicate()
        pytest.fail(f"{label}: the run did not end within {timeout:.0f}s:\n"
                    f"{raw.decode()[-3000:]}")
    out = raw.decode()
    return Session(ret=proc.returncode, out=out, items=_junit(out_dir / "junit.xml", out),
                   reports=out_dir / "reports")


def _junit(path: Path, out: str) -> dict[str, tuple[str, str]]:
    assert path.exists(), out[-3000:]
    items: dict[str, tuple[str, str]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, text = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome, text = tag, (node.text or node.get("message") or "")
                break
        items[case.get("name", "")] = (outcome, text)
    return items


@pytest.fixture(scope="module")
def failing(chaos_env: RunEnv, project: Path) -> Session:
    """b, c and both d items in one session: each fails, so the session exits 1."""
    return _run(chaos_env, project, "failing",
                ["b_breach.yaml", "c_undetected.yaml", "d_cut_pass.yaml", "d_cut_fail.yaml"],
                timeout=330)


def test_a_passing_run_passes_and_the_session_exits_0(chaos_env: RunEnv,
                                                      project: Path) -> None:
    run = _run(chaos_env, project, "passing", ["a_pass.yaml"], timeout=200)
    assert run.ret == 0, run.out[-3000:]
    assert run.items == {"verdict-pass": ("passed", "")}, run.out[-3000:]
    report = run.report("verdict-pass")
    assert report["verdict"] == "pass" and report["slas"]
    assert all(s["passed"] for s in report["slas"])


def test_the_session_with_failing_items_exits_1_and_fails_each(failing: Session) -> None:
    assert failing.ret == 1, failing.out[-3000:]
    assert {name: outcome for name, (outcome, _) in failing.items.items()} == {
        "verdict-breach": "failure", "verdict-undetected": "failure",
        "verdict-cut-pass": "failure", "verdict-cut-fail": "failure"}, failing.out[-3000:]


def test_a_breached_sla_fails_naming_the_sla_and_its_figure(failing: Session) -> None:
    outcome, text = failing.items["verdict-breach"]
    assert outcome == "failure", failing.out[-3000:]
    assert "verdict-breach: " in text and "violated" in text, text
    # a single replica killed: nothing serves until the replacement is Ready (2 s to start)
    found = re.search(r"maxOutage: observed (\d+(?:\.\d+)?)s exceeds threshold 0\.5s", text)
    assert found is not None and float(found.group(1)) > 0.5, text
    assert found.group(0) in failing.out
    report = failing.report("verdict-breach")
    assert report["verdict"] == "fail"
    outage = next(s for s in report["slas"] if s["name"] == "maxOutage")
    assert not outage["passed"] and outage["observed"] == pytest.approx(
        float(found.group(1)), abs=0.001)


def test_an_undetected_negative_control_fails_saying_so(failing: Session) -> None:
    """expect: fail on a pod kill the replicated workload rides out: every SLA held."""
    outcome, text = failing.items["verdict-undetected"]
    assert outcome == "failure", failing.out[-3000:]
    assert "negative control held every SLA" in text, text
    assert "the harness did not detect the failure" in text, text
    assert "did not detect" in failing.out
    report = failing.report("verdict-undetected")
    assert report["verdict"] == "fail" and report["slas"]
    assert all(s["passed"] for s in report["slas"])


@pytest.mark.parametrize("expect", ["pass", "fail"])
def test_a_hold_cut_by_the_timeout_is_an_error_never_judged(failing: Session,
                                                            expect: str) -> None:
    name = f"verdict-cut-{expect}"
    outcome, text = failing.items[name]
    assert outcome == "failure", failing.out[-3000:]
    assert ("experiment errored: the run did not happen as declared, so no SLA was judged: "
            in text), text
    held = re.search(r"probe-break held (\d+\.\d)s of 30s", text)
    assert held is not None and float(held.group(1)) < 30, text
    assert "(the experiment's timeout is 36s" in text, text
    assert "violated" not in text and "did not detect" not in text, text
    assert held.group(0) in failing.out and "no SLA was judged" in failing.out
    report = failing.report(name)
    assert report["verdict"] == "error" and report["slas"] == []
    assert report["experiment"]["expect"] == expect
    assert "no SLA was judged" in report["experiment"]["error"]
    holds = report["fault"]["faults"][0]["holds"]
    assert len(holds) == 1 and holds[0]["planned_s"] == 30.0, holds
    assert holds[0]["granted_s"] < 30.0 and not holds[0]["aborted"], holds
