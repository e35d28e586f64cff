"""Every field of an experiment read into exactly the value it names: a document that sets
every optional field to something other than its default, and one that sets none."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import ExperimentInvalid
from chaos.model import (
    Experiment,
    LoadProfile,
    PodKill,
    Selector,
    SLASpec,
    SteadyState,
    WorkloadSpec,
)
from chaos.model.parse import load_experiment

WORKLOAD = """\
---
# an empty document and an object without pods come first: neither ends the scan
---
apiVersion: v1
kind: ConfigMap
metadata: {name: first}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  template:
    metadata: {labels: {app: web, tier: front}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: solo}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: solo}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
"""

FULL = """\
apiVersion: kube-chaos/v1
kind: Experiment
metadata:
  name: full
  description: every field set
  tags: [a, b]
spec:
  workload:
    manifests: [web.yaml]
    selector: {app: web}
    service: web-svc
    nodePort: 30123
    path: /health?deep=1
    replicas: 4
    namespaceScoped: false
    images: [web:2]
  load:
    users: 7
    spawnRate: 2.5
    warmup: 2s
    tail: 3s
    maxDuration: 40s
    maxRequests: 900
    locustfile: lf.py
    path: /api
    wait: 20ms
    keepAlive: false
  steadyState: {maxErrorRate: 0.02, readyReplicas: 2, window: 4s}
  faults:
    - {type: pod-kill, selector: {app: web, tier: front}}
  slas:
    maxErrorRate: 0.05
    maxOutage: 1500ms
    p95Latency: 250ms
    p99Latency: 1s
    maxRecovery: 30s
    expectedRestarts: 1
    maxRestarts: 1
    steadyStateRestored: true
  timeout: 120s
  expect: fail
  seed: 7
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "web.yaml").write_text(WORKLOAD)
    (tmp_path / "lf.py").write_text("# locust\n")
    return tmp_path


def test_every_field_is_read(project: Path) -> None:
    path = project / "full.yaml"
    path.write_text(FULL)
    web = Selector.of({"app": "web"})
    workload = WorkloadSpec(
        manifests=(project / "web.yaml",), selector=web, service="web-svc", node_port=30123,
        replicas=4, url_path="/health?deep=1", namespace_scoped=False, images=("web:2",))
    assert load_experiment(path) == Experiment(
        name="full", description="every field set", path=path, tags=("a", "b"),
        workload=workload,
        load=LoadProfile(users=7, spawn_rate=2.5, warmup_s=2.0, tail_s=3.0, max_duration_s=40.0,
                         max_requests=900, locustfile=project / "lf.py", path="/api",
                         wait_ms=20.0, keep_alive=False),
        steady_state=SteadyState(max_error_rate=0.02, ready_replicas=2, window_s=4.0),
        faults=(PodKill(selector=Selector.of({"app": "web", "tier": "front"})),),
        slas=SLASpec(max_error_rate=0.05, max_outage_s=1.5, p95_latency_ms=250.0,
                     p99_latency_ms=1000.0, max_recovery_s=30.0, expected_restarts=1,
                     max_restarts=1, steady_state_restored=True),
        timeout_s=120.0, expect="fail", seed=7)


MINIMAL = """\
apiVersion: kube-chaos/v1
kind: Experiment
metadata: {name: minimal}
spec:
  workload:
    manifests: [web.yaml]
    selector: {app: solo}
    service: web
    nodePort: 30080
    replicas: 2
  faults: [{type: pod-kill}]
  slas: {maxRecovery: 10s}
"""


def test_every_default(project: Path) -> None:
    path = project / "minimal.yaml"
    path.write_text(MINIMAL)
    exp = load_experiment(path)
    assert exp.description == "" and exp.tags == () and exp.seed is None
    assert exp.workload.url_path == "/" and exp.workload.namespace_scoped is True
    assert exp.workload.images == ()
    assert exp.load == LoadProfile()
    assert exp.steady_state == SteadyState(max_error_rate=0.0, ready_replicas=2, window_s=3.0)
    assert exp.slas == SLASpec(max_recovery_s=10.0)
    assert (exp.timeout_s, exp.expect) == (300.0, "pass")
    path.write_text(MINIMAL.replace("    replicas: 2\n", "    replicas: 2\n    path: /x\n")
                    .replace("  slas:", "  timeout: 90s\n  slas:")
                    .replace("  faults:", "  load: {users: 3}\n  steadyState: {window: 1s}\n"
                                          "  faults:"))
    exp = load_experiment(path)
    assert exp.load == LoadProfile(users=3, path="/x")  # the workload's path by default
    assert exp.steady_state == SteadyState(ready_replicas=2, window_s=1.0)
    assert exp.timeout_s == 90.0  # exactly the load's maxDuration is enough
    path.write_text(MINIMAL.replace("  faults:", "  steadyState: {maxErrorRate: 0.1}\n  faults:"))
    assert load_experiment(path).steady_state == SteadyState(max_error_rate=0.1,
                                                             ready_replicas=2, window_s=3.0)


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"name: \xff\n")
    with pytest.raises(ExperimentInvalid) as info:
        load_experiment(path)
    assert str(info.value) == (f"{path}:1: name: not UTF-8: byte 0xFF at column 7 cannot be "
                               "decoded (save the file as UTF-8)")


def test_top_level_fields_are_named_without_a_dot(project: Path) -> None:
    path = project / "x.yaml"
    path.write_text(MINIMAL + "bogus: 1\n")
    with pytest.raises(ExperimentInvalid) as info:
        load_experiment(path)
    assert str(info.value) == f"{path}:13: bogus: unknown field; allowed: apiVersion, kind, " \
        "metadata, spec"


@pytest.mark.parametrize("selector", ["{app: nope}", "{app: solo, x: y}"])
def test_the_selector_must_match_a_pod_template(project: Path, selector: str) -> None:
    path = project / "minimal.yaml"
    path.write_text(MINIMAL.replace("{app: solo}", selector))
    with pytest.raises(ExperimentInvalid) as info:
        load_experiment(path)
    wanted = Selector.of(dict(p.split(": ") for p in selector.strip("{}").split(", ")))
    assert str(info.value) == (
        f"{path}:7: spec.workload.selector: {wanted.to_label_selector()!r} matches no pod the "
        "workload manifests create (their pod labels: app=web,tier=front; app=solo)")


def test_a_drain_that_must_get_through_is_an_sla_of_its_own(project: Path) -> None:
    path = project / "x.yaml"
    path.write_text(MINIMAL.replace("  slas: {maxRecovery: 10s}", "  slas: {expectBlocked: false}")
                    .replace("[{type: pod-kill}]", "[{type: drain}]"))
    assert load_experiment(path).slas == SLASpec(expect_blocked=False)


def test_yaml_that_cannot_be_read_at_all_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: \x07\n")
    with pytest.raises(ExperimentInvalid) as info:
        load_experiment(path)
    assert str(info.value) == (f"{path}:1: a: control character U+0007 at column 4 is not "
                               "allowed in YAML")
