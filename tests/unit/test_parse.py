"""Every parse error names file, line and field, with an exact message."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import ExperimentInvalid
from chaos.model import (
    ContainerKill,
    Cordon,
    Drain,
    NodeLoss,
    NodeSelection,
    PodKill,
    ProbeBreak,
    Selector,
    parse_duration,
)
from chaos.model.parse import load_experiment, parse_experiment


def _write(exp_dir: Path, text: str) -> Path:
    path = exp_dir / "x.yaml"
    path.write_text(text)
    return path


def _error(exp_dir: Path, good: str, old: str, new: str) -> str:
    assert old in good, old
    path = _write(exp_dir, good.replace(old, new, 1))
    with pytest.raises(ExperimentInvalid) as info:
        load_experiment(path)
    return str(info.value).replace(str(path), "x.yaml")


def test_good_document(good: str, exp_dir: Path) -> None:
    exp = load_experiment(_write(exp_dir, good))
    assert exp.name == "pod-kill-replicated"
    assert exp.workload.manifests == (exp_dir / "workloads" / "httpd.yaml",)
    assert exp.workload.selector == {"app": "httpd"}
    assert exp.workload.node_port == 30080
    assert exp.load.warmup_s == 5.0 and exp.load.wait_ms == pytest.approx(50.0)
    assert exp.load.path == "/"
    assert exp.steady_state.ready_replicas == 3
    assert exp.faults == (PodKill(selector=Selector.of({"app": "httpd"}), grace_period_s=0),)
    assert exp.slas.max_outage_s == 1.0 and exp.slas.p95_latency_ms is None
    assert exp.timeout_s == 180.0 and exp.expect == "pass"
    assert exp.path == exp_dir / "x.yaml"


def test_defaults_when_sections_omitted(good: str, exp_dir: Path) -> None:
    text = good.split("  load:")[0] + "  faults: [{type: cordon}]\n  slas: {maxRecovery: 1m}\n"
    exp = parse_experiment(text, exp_dir / "x.yaml")
    assert exp.load.users == 10 and exp.steady_state.ready_replicas == 3
    assert exp.faults == (Cordon(nodes=NodeSelection(pods_of=Selector.of({"app": "httpd"}))),)
    assert exp.slas.max_recovery_s == 60.0
    assert exp.timeout_s == 300.0


def test_all_fault_types(good: str, exp_dir: Path) -> None:
    faults = """\
  faults:
    - {type: pod-kill, percent: 50, interval: 2s, repeat: 3, delay: 1s}
    - {type: container-kill, container: web, signal: SIGTERM, selector: {app: other}}
    - {type: cordon, nodes: [kind-worker, kind-worker2], count: 2, duration: 30s}
    - {type: drain, nodeSelector: {role: web}, timeout: 2m, gracePeriod: 10s}
    - {type: node-loss, mode: pause, duration: 90s}
    - {type: probe-break, probe: liveness, method: admin, duration: 20s}
"""
    long_run = good.replace("maxDuration: 90s", "maxDuration: 200s").replace(
        "180s", "240s\n  blastRadius: {maxNodes: 2}")
    start = long_run.index("  faults:")
    end = long_run.index("  slas:")
    exp = parse_experiment(long_run[:start] + faults + long_run[end:], exp_dir / "x.yaml")
    app = Selector.of({"app": "httpd"})
    assert exp.faults == (
        PodKill(selector=app, count=None, percent=50.0, interval_s=2.0, repeat=3, delay_s=1.0),
        ContainerKill(selector=Selector.of({"app": "other"}), container="web", signal="TERM"),
        Cordon(nodes=NodeSelection(nodes=("kind-worker", "kind-worker2")), count=2, duration_s=30),
        Drain(
            nodes=NodeSelection(node_selector=Selector.of({"role": "web"})),
            timeout_s=120.0,
            grace_period_s=10,
        ),
        NodeLoss(nodes=NodeSelection(pods_of=app), mode="pause", duration_s=90.0),
        ProbeBreak(selector=app, probe="liveness", method="admin", duration_s=20.0),
    )


def test_locustfile_and_path_resolved(good: str, exp_dir: Path) -> None:
    exp = parse_experiment(
        good.replace(
            "    wait: 50ms", "    wait: 50ms\n    locustfile: locustfile.py\n    path: /a?b=1"
        ),
        exp_dir / "x.yaml",
    )
    assert exp.load.locustfile == exp_dir / "locustfile.py"
    assert exp.load.path == "/a?b=1"


def test_path_none_resolves_against_cwd(
    good: str, exp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(exp_dir)
    assert parse_experiment(good).path is None
    with pytest.raises(ExperimentInvalid) as info:
        parse_experiment(good.replace("replicas: 3", "replicas: 0"))
    expected = "line 13: spec.workload.replicas: expected a positive integer, got 0"
    assert str(info.value) == expected


CASES = [
    # (old, new, expected message)
    (
        "    replicas: 3",
        "    replicas: many",
        "x.yaml:13: spec.workload.replicas: expected a positive integer, got 'many'",
    ),
    (
        "      count: 1",
        "      count: many",
        "x.yaml:25: spec.faults[0].count: expected a positive integer, got 'many'",
    ),
    (
        "      count: 1",
        "      count: true",
        "x.yaml:25: spec.faults[0].count: expected a positive integer, got true",
    ),
    (
        "    users: 10",
        "    userz: 10",
        "x.yaml:15: spec.load.userz: unknown field (did you mean 'users'?); allowed: "
        "dropAfter, headersFromEnv, inCluster, keepAlive, locustfile, maxDuration, "
        "maxGeneratorLag, maxInFlight, maxRequests, mode, path, rampUp, rate, spawnRate, steps, "
        "tail, timeout, tlsVerify, url, users, wait, warmup, workers",
    ),
    (
        "    - type: pod-kill",
        "    - type: pod-kil",
        "x.yaml:24: spec.faults[0].type: unknown fault type 'pod-kil' (did you mean 'pod-kill'?); "
        "known types: bandwidth, container-kill, control-plane-loss, cordon, dns, drain, latency, "
        "load-spike, node-loss, "
        "packet-loss, partition, pod-kill, probe-break, rollback, rollout",
    ),
    (
        "    - type: pod-kill",
        "    - type: meteor",
        "x.yaml:24: spec.faults[0].type: unknown fault type 'meteor'; "
        "known types: bandwidth, container-kill, control-plane-loss, cordon, dns, drain, latency, "
        "load-spike, node-loss, "
        "packet-loss, partition, pod-kill, probe-break, rollback, rollout",
    ),
    (
        "    - type: pod-kill\n",
        "    - delay: 1s\n",
        "x.yaml:24: spec.faults[0].type: required field missing; "
        "known types: bandwidth, container-kill, control-plane-loss, cordon, dns, drain, latency, "
        "load-spike, node-loss, "
        "packet-loss, partition, pod-kill, probe-break, rollback, rollout",
    ),
    (
        "      gracePeriod: 0",
        "      percent: 50",
        "x.yaml:26: spec.faults[0].percent: give either count or percent, not both",
    ),
    (
        "      gracePeriod: 0",
        "      gracePeriod: 1.5s",
        "x.yaml:26: spec.faults[0].gracePeriod: expected whole seconds (e.g. 0, 30 or 30s), "
        "got '1.5s'",
    ),
    (
        "    warmup: 5s",
        "    warmup: -5s",
        "x.yaml:17: spec.load.warmup: expected a non-negative duration such as 30s, 1m30s or "
        "500ms, got '-5s'",
    ),
    (
        "    tail: 10s",
        "    tail: -3",
        "x.yaml:18: spec.load.tail: expected a non-negative duration such as 30s, 1m30s or "
        "500ms, got -3",
    ),
    (
        "    maxOutage: 1s",
        "    maxOutage: soon",
        "x.yaml:29: spec.slas.maxOutage: expected a non-negative duration such as 30s, 1m30s or "
        "500ms, got 'soon'",
    ),
    (
        "    path: /",
        "    path: http://example.com/",
        "x.yaml:12: spec.workload.path: expected a URL path starting with '/' (load always targets "
        "http://127.0.0.1:<nodePort>), got 'http://example.com/'",
    ),
    (
        "    wait: 50ms",
        "    wait: 50ms\n    path: //evil.example/x",
        "x.yaml:22: spec.load.path: expected a URL path starting with '/' (load always targets "
        "http://127.0.0.1:<nodePort>), got '//evil.example/x'",
    ),
    (
        "    manifests: [workloads/httpd.yaml]",
        "    manifests: [workloads/missing.yaml]",
        "x.yaml:8: spec.workload.manifests[0]: file not found: {dir}/workloads/missing.yaml "
        "(paths are relative to the experiment file)",
    ),
    (
        "    replicas: 3",
        "    replicas: 3\n    images: [Bad Image]",
        "x.yaml:14: spec.workload.images[0]: not an image reference: 'Bad Image' (expected "
        "e.g. myteam/api:1.4 or registry.local:5000/api@sha256:...)",
    ),
    (
        "    replicas: 3",
        "    replicas: 3\n    images: myapp:1",
        "x.yaml:14: spec.workload.images: expected a list, got 'myapp:1'",
    ),
    (
        "    manifests: [workloads/httpd.yaml]",
        "    manifests: []",
        "x.yaml:8: spec.workload.manifests: expected a non-empty list",
    ),
    (
        "    service: httpd\n",
        "",
        "x.yaml:8: spec.workload.service: required field missing",
    ),
    (
        "    service: httpd",
        "    service:",
        "x.yaml:10: spec.workload.service: required field is null",
    ),
    (
        "    nodePort: 30080",
        "    nodePort: 80",
        "x.yaml:11: spec.workload.nodePort: expected a NodePort between 30000 and 32767, got 80",
    ),
    (
        "    selector: {app: httpd}",
        "    selector: {version: 1}",
        "x.yaml:9: spec.workload.selector.version: expected a label value string (quote numbers), "
        "got 1",
    ),
    (
        "    selector: {app: httpd}",
        "    selector: [app]",
        "x.yaml:9: spec.workload.selector: expected a mapping of label: value, got a list",
    ),
    (
        "  name: pod-kill-replicated",
        "  name: Pod_Kill",
        "x.yaml:4: metadata.name: expected a lowercase DNS label (a-z, 0-9, '-', at most 63 "
        "characters), got 'Pod_Kill'",
    ),
    (
        "apiVersion: kube-chaos/v1",
        "apiVersion: kube-chaos/v2",
        "x.yaml:1: apiVersion: expected 'kube-chaos/v1', got 'kube-chaos/v2'",
    ),
    (
        "kind: Experiment",
        "kind: Deployment",
        "x.yaml:2: kind: expected 'Experiment', got 'Deployment'",
    ),
    (
        "  steadyState: {maxErrorRate: 0.0, readyReplicas: 3, window: 3s}",
        "  steadyState: 5",
        "x.yaml:22: spec.steadyState: expected a mapping, got 5",
    ),
    (
        "  steadyState: {maxErrorRate: 0.0,",
        "  steadyState: {maxErrorRate: 1.5,",
        "x.yaml:22: spec.steadyState.maxErrorRate: expected a ratio between 0 and 1, got 1.5",
    ),
    (
        "  expect: pass",
        "  expect: passs",
        "x.yaml:32: spec.expect: expected one of 'pass', 'fail', got 'passs' "
        "(did you mean 'pass'?)",
    ),
    (
        "  timeout: 180s",
        "  timeout: 30s",
        "x.yaml:31: spec.timeout: 30s is shorter than spec.load.maxDuration (90s)",
    ),
    (
        "  timeout: 180s",
        "  timeout: 180s\n  timeout: 200s",
        "x.yaml:32: spec.timeout: duplicate field",
    ),
    (
        "    maxErrorRate: 0.05\n    maxOutage: 1s\n    maxRecovery: 30s\n",
        "    steadyStateRestored: false\n",
        "x.yaml:28: spec.slas: declare at least one SLA (an experiment without SLAs cannot fail)",
    ),
    (
        "    maxRecovery: 30s",
        "    expectedRestarts: 2\n    maxRestarts: 1",
        "x.yaml:31: spec.slas.maxRestarts: 1 is below expectedRestarts (2)",
    ),
    (
        "  faults:\n    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n",
        "  faults: []\n",
        "x.yaml:23: spec.faults: expected a non-empty list",
    ),
    (
        "    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n",
        "    - type: cordon\n      nodes: [a]\n      podsOf: {app: x}\n",
        "x.yaml:26: spec.faults[0].podsOf: give only one of nodes, nodeSelector, podsOf "
        "(found nodes, podsOf)",
    ),
    (
        "    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n",
        "    - type: drain\n      nodes: [a]\n      count: 2\n",
        "x.yaml:26: spec.faults[0].count: 2 exceeds the 1 node(s) listed in spec.faults[0].nodes",
    ),
    (
        "    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n",
        "    - type: cordon\n      percent: 50\n",
        "x.yaml:25: spec.faults[0].percent: unknown field; allowed: count, delay, duration, "
        "nodeSelector, nodes, podsOf, type",
    ),
    (
        "    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n",
        "    - type: node-loss\n      mode: halt\n",
        "x.yaml:25: spec.faults[0].mode: expected one of 'stop', 'pause', got 'halt'",
    ),
    (
        "    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n",
        "    - type: container-kill\n      signal: NINE\n",
        "x.yaml:25: spec.faults[0].signal: expected one of KILL, TERM, INT, HUP, QUIT, ABRT, USR1, "
        "USR2 (optionally SIG-prefixed), got 'NINE'",
    ),
    (
        "    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n",
        "    - type: probe-break\n      percent: 0\n",
        "x.yaml:25: spec.faults[0].percent: expected a percentage above 0 and at most 100, got 0",
    ),
    (
        "    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n",
        "    - pod-kill\n",
        "x.yaml:24: spec.faults[0]: expected a mapping with a 'type', got 'pod-kill'",
    ),
    (
        "    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n",
        "    - type: cordon\n      nodes: [a, a]\n",
        "x.yaml:25: spec.faults[0].nodes: node names must be unique",
    ),
    (
        "    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n",
        "    - type: probe-break\n      probe: startup\n      method: admin\n",
        "x.yaml:26: spec.faults[0].method: a startup probe break needs method: network (a "
        "startup probe only runs after a container restart, and the workload's admin state "
        "does not survive one)",
    ),
    (  # the line of the second key, not of its value
        "    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n",
        "    - type: pod-kill\n      count: 1\n      percent:\n        50\n",
        "x.yaml:26: spec.faults[0].percent: give either count or percent, not both",
    ),
    (
        "    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n",
        "    - type: pod-kill\n      gracePeriod: 1.5s\n",
        "x.yaml:25: spec.faults[0].gracePeriod: expected whole seconds (e.g. 0, 30 or 30s), got "
        "'1.5s'",
    ),
    (
        "    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n",
        "    - type: pod-kill\n      gracePeriod: soon\n",
        "x.yaml:25: spec.faults[0].gracePeriod: expected a non-negative duration such as 30s, "
        "1m30s or 500ms, got 'soon'",
    ),
    (
        "    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n",
        "    - type: container-kill\n      signal: ''\n",
        "x.yaml:25: spec.faults[0].signal: expected a non-empty string, got ''",
    ),
    (
        "    replicas: 3\n",
        "    replicas: 3\n    images: [web:1, '']\n",
        "x.yaml:14: spec.workload.images[1]: expected a non-empty string, got ''",
    ),
    (
        "  expect: pass",
        "  expect: maybe",
        "x.yaml:32: spec.expect: expected one of 'pass', 'fail', got 'maybe'",
    ),
    (
        "    wait: 50ms",
        "    wait: 50ms\n    keepAlive: 1",
        "x.yaml:22: spec.load.keepAlive: expected true or false, got 1",
    ),
    (
        "  expect: pass",
        "  expect: pass\n  bogus: 1",
        "x.yaml:33: spec.bogus: unknown field; allowed: abort, blastRadius, expect, faults, load, "
        "seed, slas, steadyState, timeout, workload",
    ),
    (
        "    users: 10",
        "    users: [10",
        "x.yaml:16: spec.load.users: invalid YAML: did not find expected ',' or ']'",
    ),
    (
        "    tail: 10s",
        "   tail: 10s",
        "x.yaml:18: spec: invalid YAML: did not find expected key",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), CASES)
def test_parse_error_message(exp_dir: Path, good: str, old: str, new: str, expected: str) -> None:
    assert _error(exp_dir, good, old, new) == expected.replace("{dir}", str(exp_dir))


def test_empty_and_unreadable(exp_dir: Path) -> None:
    with pytest.raises(ExperimentInvalid) as info:
        parse_experiment("", "e.yaml")
    assert str(info.value) == (
        "e.yaml:1: document: empty; expected apiVersion: kube-chaos/v1, kind: Experiment"
    )
    with pytest.raises(ExperimentInvalid) as info:
        load_experiment(exp_dir / "nope.yaml")
    assert str(info.value) == f"{exp_dir / 'nope.yaml'}: cannot read: No such file or directory"
    with pytest.raises(ExperimentInvalid) as info:
        parse_experiment("- a\n- b\n", "e.yaml")
    assert str(info.value) == "e.yaml:1: document: expected a mapping, got a list"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("1m30s", 90), ("500ms", 0.5), ("1h", 3600), (2, 2), (0.25, 0.25), ("1.5", 1.5)],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["-1s", -1, "soon", True, None, "1x", "", float("nan")])
def test_parse_duration_rejects(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_workload_images(good: str, exp_dir: Path) -> None:
    text = good.replace("    replicas: 3", "    replicas: 3\n    images: [myteam/api:1.4, "
                        "registry.local:5000/db@sha256:" + "a" * 64 + "]")
    exp = parse_experiment(text, exp_dir / "x.yaml")
    assert exp.workload.images == ("myteam/api:1.4", "registry.local:5000/db@sha256:" + "a" * 64)
    assert parse_experiment(good, exp_dir / "x.yaml").workload.images == ()


def test_a_node_fault_may_follow_the_pods_of_another_selector(exp_dir: Path, good: str) -> None:
    text = good.replace("    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n",
                        "    - type: cordon\n      podsOf: {app: db}\n")
    exp = load_experiment(_write(exp_dir, text))
    assert exp.faults == (Cordon(nodes=NodeSelection(pods_of=Selector.of({"app": "db"}))),)


EXISTING = "    existing: {namespace: shop, kind: StatefulSet, name: db}"


def test_existing_workload_instead_of_manifests(good: str, exp_dir: Path) -> None:
    text = good.replace("    manifests: [workloads/httpd.yaml]", EXISTING)
    exp = parse_experiment(text, exp_dir / "x.yaml")
    assert exp.workload.manifests == ()
    existing = exp.workload.existing
    assert existing is not None
    assert (existing.namespace, existing.kind, existing.name) == ("shop", "StatefulSet", "db")


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        ("    manifests: [workloads/httpd.yaml]\n" + EXISTING,
         "x.yaml:9: spec.workload.existing: give either manifests (deploy a workload) or "
         "existing (use one that is already running), not both"),
        ("    existing: {namespace: kube-system}",
         "x.yaml:8: spec.workload.existing.namespace: kube-system is a protected namespace: no "
         "experiment may target it"),
        ("    existing: {namespace: shop, kind: StatefulSet}",
         "x.yaml:8: spec.workload.existing.name: give kind and name together (the controller "
         "whose rollout must be complete before any fault), or neither"),
        ("    existing: {namespace: shop, kind: Job, name: x}",
         "x.yaml:8: spec.workload.existing.kind: expected one of 'Deployment', 'StatefulSet', "
         "'DaemonSet', got 'Job'"),
        (EXISTING + "\n    images: [shop:1]",
         "x.yaml:9: spec.workload.images: an existing workload already runs its images: "
         "kube-chaos loads images only for manifests it deploys"),
        ("",
         "x.yaml:8: spec.workload.manifests: required field missing (or give existing: "
         "{namespace: ..} for a workload that is already running)"),
    ],
)
def test_existing_workload_errors(good: str, exp_dir: Path, new: str, expected: str) -> None:
    text = good.replace("    manifests: [workloads/httpd.yaml]\n", new + "\n" if new else "")
    with pytest.raises(ExperimentInvalid) as err:
        parse_experiment(text, exp_dir / "x.yaml")
    assert str(err.value) == f"{exp_dir}/{expected}"


# --- the timeline: warm-up, each fault's delay and hold, the tail, against timeout and maxDuration


def _timeline(good: str, faults: str, load: str | None, timeout: str = "180s") -> str:
    """``good`` with its faults, its load section (None: no load section) and timeout replaced."""
    head, rest = good.split("  load:\n", 1)
    slas = rest[rest.index("  slas:"):].replace("  timeout: 180s", f"  timeout: {timeout}")
    return head + (f"  load: {load}\n" if load is not None else "") + \
        f"  faults:\n{faults}" + slas


def _timeline_error(exp_dir: Path, text: str) -> str:
    path = _write(exp_dir, text)
    with pytest.raises(ExperimentInvalid) as info:
        load_experiment(path)
    return str(info.value).replace(str(path), "x.yaml")


def test_a_timeline_filling_timeout_and_max_duration_exactly_is_accepted(
        good: str, exp_dir: Path) -> None:
    text = _timeline(good, "    - {type: node-loss, duration: 175s}\n",
                     "{warmup: 5s, tail: 0s, maxDuration: 180s}")
    exp = load_experiment(_write(exp_dir, text))
    assert (exp.load.warmup_s, exp.faults[0].hold_s(), exp.load.tail_s, exp.timeout_s,
            exp.load.max_duration_s) == (5.0, 175.0, 0.0, 180.0, 180.0)


@pytest.mark.parametrize(("fault", "field"), [
    ("{type: pod-kill, repeat: 3, interval: 100s}", "interval"),  # interval before repeat
    ("{type: pod-kill, delay: 200s, repeat: 2}", "repeat"),  # repeat before delay
])
def test_a_fault_past_timeout_is_named_by_its_first_timing_key(
        good: str, exp_dir: Path, fault: str, field: str) -> None:
    text = _timeline(good, f"    - {fault}\n", "{maxDuration: 180s}")
    assert _timeline_error(exp_dir, text) == (
        f"x.yaml:16: spec.faults[0].{field}: this fault would end 205s into the run (warm-up 5s, "
        "then each fault's delay and duration in turn), after spec.timeout (180s)")


def test_a_fault_past_timeout_by_its_default_duration_is_named_by_its_index(
        good: str, exp_dir: Path) -> None:
    text = _timeline(good, "    - {type: cordon}\n    - type: node-loss\n",
                     "{tail: 0s, maxDuration: 30s}", timeout="30s")
    assert _timeline_error(exp_dir, text) == (
        "x.yaml:17: spec.faults[1]: this fault would end 65s into the run (warm-up 5s, then each "
        "fault's delay and duration in turn), after spec.timeout (30s)")


LOAD_TOO_SHORT = ("the load stops after 90s, before warm-up (5s), the faults (80s) and the tail "
                  "(10s) are over (95s): the end of the run would have no requests to measure")


def test_load_ending_before_the_run_is_named_by_max_duration(good: str, exp_dir: Path) -> None:
    text = _timeline(good, "    - {type: node-loss, duration: 80s}\n",
                     "\n    users: 10\n    maxDuration: 90s")
    assert _timeline_error(exp_dir, text) == f"x.yaml:16: spec.load.maxDuration: {LOAD_TOO_SHORT}"


def test_load_ending_before_the_run_without_max_duration_names_the_load(
        good: str, exp_dir: Path) -> None:
    text = _timeline(good, "    - {type: node-loss, duration: 80s}\n", "\n    users: 10")
    assert _timeline_error(exp_dir, text) == f"x.yaml:15: spec.load.maxDuration: {LOAD_TOO_SHORT}"


def test_load_ending_before_the_run_without_a_load_section_names_the_spec(
        good: str, exp_dir: Path) -> None:
    text = _timeline(good, "    - {type: node-loss, duration: 80s}\n", None)
    assert _timeline_error(exp_dir, text) == f"x.yaml:7: spec.load.maxDuration: {LOAD_TOO_SHORT}"
