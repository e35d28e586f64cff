"""Rollout and rollback faults and the expectStalled SLA: what parses, and every error with its
file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import ExperimentInvalid
from chaos.model import ControllerRef, Experiment, Rollback, Rollout
from chaos.model.parse import parse_experiment

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: web, image: "kube-chaos/httpd:dev"}
        - {name: proxy, image: "proxy:1"}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
        - {name: db, image: "kube-chaos/httpd:dev"}
"""

EXPERIMENT = """\
apiVersion: kube-chaos/v1
kind: Experiment
metadata: {name: rollout}
spec:
  workload:
    manifests: [workloads/web.yaml]
    selector: {app: web}
    service: web
    nodePort: 30083
    replicas: 3
  load: {warmup: 2s, tail: 2s, maxDuration: 60s}
  faults:
    - type: rollout
      image: kube-chaos/httpd:missing
  slas:
    maxOutage: 1s
    expectStalled: true
  timeout: 90s
"""
FAULT = "    - type: rollout\n      image: kube-chaos/httpd:missing\n"


@pytest.fixture
def exp_dir(tmp_path: Path) -> Path:
    (tmp_path / "workloads").mkdir()
    (tmp_path / "workloads" / "web.yaml").write_text(MANIFEST)
    return tmp_path


def _parse(exp_dir: Path, faults: str, slas: str = "") -> Experiment:
    text = EXPERIMENT.replace(FAULT, faults)
    if slas:
        text = text.replace("    expectStalled: true\n", slas)
    return parse_experiment(text, exp_dir / "x.yaml")


def _error(exp_dir: Path, faults: str, slas: str = "") -> str:
    with pytest.raises(ExperimentInvalid) as info:
        _parse(exp_dir, faults, slas)
    return str(info.value).replace(f"{exp_dir}/", "")


def test_rollout_with_every_field(exp_dir: Path) -> None:
    exp = _parse(exp_dir, """\
    - type: rollout
      target: deploy/web
      container: proxy
      image: proxy:2
      env: {MODE: fast, PORT: "8080"}
      args: ["--addr=:8080", ""]
      wait: 45s
      delay: 1s
""")
    assert exp.faults == (Rollout(target=ControllerRef("Deployment", "web"),
                                  container="proxy", image="proxy:2",
                                  env=(("MODE", "fast"), ("PORT", "8080")),
                                  args=("--addr=:8080", ""), wait_s=45.0, delay_s=1.0),)
    assert exp.slas.expect_stalled is True


def test_defaults_and_a_rollback(exp_dir: Path) -> None:
    exp = _parse(exp_dir, FAULT + "    - {type: rollback, target: StatefulSet/db, wait: 30s}\n"
                 "    - {type: rollout, args: []}\n")
    assert exp.faults == (
        Rollout(image="kube-chaos/httpd:missing"),
        Rollback(target=ControllerRef("StatefulSet", "db"), wait_s=30.0),
        Rollout(args=()),
    )
    assert str(ControllerRef("StatefulSet", "db")) == "StatefulSet/db"


@pytest.mark.parametrize(("faults", "expected"), [
    ("    - {type: rollout}\n",
     "x.yaml:13: spec.faults[0].image: a rollout needs something to change: give image, env "
     "or args"),
    ("    - {type: rollout, image: 'Bad Image'}\n",
     "x.yaml:13: spec.faults[0].image: not an image reference: 'Bad Image' (expected e.g. "
     "myteam/api:1.4 or registry.local:5000/api@sha256:...)"),
    ("    - {type: rollout, image: x, target: web}\n",
     "x.yaml:13: spec.faults[0].target: expected Deployment/<name> or StatefulSet/<name>, got "
     "'web'"),
    ("    - {type: rollout, image: x, target: Job/web}\n",
     "x.yaml:13: spec.faults[0].target: expected Deployment/<name> or StatefulSet/<name>, got "
     "'Job/web'"),
    ("    - {type: rollout, image: x, target: Deployment/Web}\n",
     "x.yaml:13: spec.faults[0].target: expected a Kubernetes object name (lowercase DNS "
     "subdomain) after Deployment/, got 'Web'"),
    ("    - {type: rollout, image: x, target: Deployment/api}\n",
     "x.yaml:13: spec.faults[0].target: no Deployment/api in the workload manifests; they "
     "define: Deployment/web, StatefulSet/db"),
    ("    - {type: rollback, target: StatefulSet/web}\n",
     "x.yaml:13: spec.faults[0].target: no StatefulSet/web in the workload manifests; they "
     "define: Deployment/web, StatefulSet/db"),
    ("    - {type: rollout, image: x, container: proxi}\n",
     "x.yaml:13: spec.faults[0].container: no container 'proxi' in Deployment/web (did you "
     "mean 'proxy'?); it has: web, proxy"),
    ("    - {type: rollout, image: x, target: sts/db, container: web}\n",
     "x.yaml:13: spec.faults[0].container: no container 'web' in StatefulSet/db; it has: db"),
    ("    - {type: rollout, env: {}}\n",
     "x.yaml:13: spec.faults[0].env: expected at least one variable"),
    ("    - {type: rollout, env: [A]}\n",
     "x.yaml:13: spec.faults[0].env: expected a mapping of NAME: value, got a list"),
    ("    - {type: rollout, env: {PORT: 8080}}\n",
     "x.yaml:13: spec.faults[0].env.PORT: expected a string (quote numbers and booleans: the "
     "container gets text), got 8080"),
    ("    - {type: rollout, env: {1A: x}}\n",
     "x.yaml:13: spec.faults[0].env: expected an environment variable name (letters, digits, "
     "'_', '-', '.'; not starting with a digit), got '1A'"),
    ("    - {type: rollout, args: --fail}\n",
     "x.yaml:13: spec.faults[0].args: expected a list, got '--fail'"),
    ("    - {type: rollout, args: [--x, 3]}\n",
     "x.yaml:13: spec.faults[0].args[1]: expected a string (quote numbers and booleans: the "
     "container gets text), got 3"),
    ("    - {type: rollout, image: x, wait: 0s}\n",
     "x.yaml:13: spec.faults[0].wait: expected a duration above zero, got '0s'"),
    ("    - {type: rollback, image: x}\n",
     "x.yaml:13: spec.faults[0].image: unknown field; allowed: delay, target, type, wait"),
])
def test_rollout_errors(exp_dir: Path, faults: str, expected: str) -> None:
    assert _error(exp_dir, faults) == expected


def test_an_unnamed_target_must_be_the_one_running_the_workloads_pods(exp_dir: Path) -> None:
    other = MANIFEST.replace("{app: web}", "{app: api}")
    (exp_dir / "workloads" / "web.yaml").write_text(other)
    text = EXPERIMENT.replace("selector: {app: web}", "selector: {app: db}").replace(
        "replicas: 3\n  load", "replicas: 2\n  load")
    exp = parse_experiment(text, exp_dir / "x.yaml")  # the StatefulSet runs app=db
    assert exp.faults == (Rollout(image="kube-chaos/httpd:missing"),)
    both = MANIFEST.replace("{app: db}", "{app: web}")
    (exp_dir / "workloads" / "web.yaml").write_text(both)
    text = EXPERIMENT.replace("replicas: 3\n  load", "replicas: 5\n  load")
    with pytest.raises(ExperimentInvalid) as info:
        parse_experiment(text, exp_dir / "x.yaml")
    assert str(info.value).endswith(
        "x.yaml:13: spec.faults[0].target: 2 of the Deployments/StatefulSets (Deployment/web, "
        "StatefulSet/db) run pods matching the workload's selector 'app=web': name one with "
        "target")


def test_expect_stalled_needs_a_rollout(exp_dir: Path) -> None:
    assert _error(exp_dir, "    - {type: rollback}\n") == (
        "x.yaml:16: spec.slas.expectStalled: says whether a rollout stalled, but no fault is a "
        "rollout")
    assert _error(exp_dir, FAULT, "    expectStalled: maybe\n") == (
        "x.yaml:17: spec.slas.expectStalled: expected true or false, got 'maybe'")
    exp = _parse(exp_dir, FAULT, "    expectStalled: false\n")
    assert exp.slas.expect_stalled is False


def test_an_existing_workload_is_checked_at_run_time(exp_dir: Path) -> None:
    text = EXPERIMENT.replace("    manifests: [workloads/web.yaml]",
                              "    existing: {namespace: shop}")
    exp = parse_experiment(text.replace(FAULT, "    - {type: rollout, image: x, target: "
                                               "Deployment/api, container: nope}\n"),
                           exp_dir / "x.yaml")
    assert exp.faults[0] == Rollout(image="x", target=ControllerRef("Deployment", "api"),
                                    container="nope")
