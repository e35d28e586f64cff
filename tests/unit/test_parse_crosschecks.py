"""What the experiment says against what its manifests create, each refusal with its whole
message: every name listed, every port declared, every template shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import ExperimentInvalid
from chaos.model.parse import parse_experiment

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: httpd}
spec:
  replicas: 3
  selector: {matchLabels: {app: httpd}}
  template:
    metadata: {labels: {app: httpd}}
    spec:
      containers:
        - {name: httpd, image: httpd}
        - {name: sidecar, image: busybox}
"""
SERVICE = """\
---
apiVersion: v1
kind: Service
metadata: {name: httpd}
spec:
  type: NodePort
  selector: {app: httpd}
  ports: [{port: 80, nodePort: 30080}]
"""
SECOND = """\
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: httpd2}
spec:
  replicas: 0
  template:
    metadata: {labels: {app: httpd, track: canary}}
    spec:
      containers: [{name: httpd, image: httpd}]
"""


def _error(exp_dir: Path, good: str, manifests: str, old: str = "", new: str = "") -> str:
    (exp_dir / "workloads" / "httpd.yaml").write_text(manifests)
    assert old in good, old
    with pytest.raises(ExperimentInvalid) as info:
        parse_experiment(good.replace(old, new, 1), exp_dir / "x.yaml")
    return str(info.value).replace(str(exp_dir), "D")


def _fault(good: str, fault: str) -> str:
    start, end = good.index("  faults:"), good.index("  slas:")
    return good[:start] + f"  faults:\n    - {fault}\n" + good[end:]


def test_a_missing_container_lists_every_container_the_pods_have(good: str,
                                                                 exp_dir: Path) -> None:
    text = _fault(good, "{type: container-kill, container: zzz}")
    assert _error(exp_dir, text, DEPLOYMENT + SERVICE) == (
        "D/x.yaml:24: spec.faults[0].container: no container 'zzz' in the pods matching "
        "'app=httpd'; they have: httpd, sidecar")


def test_a_missing_probe_lists_every_template_it_looked_in(good: str, exp_dir: Path) -> None:
    text = _fault(good, "{type: probe-break, probe: liveness, duration: 5s}")
    assert _error(exp_dir, text, DEPLOYMENT + SECOND + SERVICE) == (
        "D/x.yaml:24: spec.faults[0].probe: no container of the pods matching 'app=httpd' "
        "defines a livenessProbe (Deployment/httpd at D/workloads/httpd.yaml:2, "
        "Deployment/httpd2 at D/workloads/httpd.yaml:15): there is nothing to break")


def test_replicas_against_every_matching_template(good: str, exp_dir: Path) -> None:
    assert _error(exp_dir, good, DEPLOYMENT + SECOND.replace("replicas: 0", "replicas: 1")
                  + SERVICE) == (
        "D/x.yaml:13: spec.workload.replicas: 3, but the manifests run 4 pod(s) matching "
        "'app=httpd' (Deployment/httpd: 3, Deployment/httpd2: 1)")


def test_an_unknown_service_lists_every_service_defined(good: str, exp_dir: Path) -> None:
    db = SERVICE.replace("{name: httpd}", "{name: db}")
    assert _error(exp_dir, good, DEPLOYMENT + SERVICE + db, "service: httpd",
                  "service: zzz") == (
        "D/x.yaml:10: spec.workload.service: no Service 'zzz' in the workload manifests; "
        "they define: db, httpd")


def test_a_cluster_ip_service_is_told_the_port_the_load_uses(good: str, exp_dir: Path) -> None:
    cluster_ip = SERVICE.replace("type: NodePort", "type: ClusterIP")
    assert _error(exp_dir, good, DEPLOYMENT + cluster_ip) == (
        "D/x.yaml:10: spec.workload.service: Service 'httpd' (D/workloads/httpd.yaml:15) is of "
        "type ClusterIP; the load reaches it on 127.0.0.1:30080, so it needs type: NodePort")


@pytest.mark.parametrize(("ports", "declared"), [
    ("[{port: 80, nodePort: 30081}, {port: 81, nodePort: 30082}]",
     "declares nodePort 30081, 30082"),
    ("[{port: 80}]", "declares no nodePort, so the cluster would pick one at random"),
])
def test_a_node_port_the_service_does_not_declare_is_named(good: str, exp_dir: Path,
                                                           ports: str, declared: str) -> None:
    other = SERVICE.replace("[{port: 80, nodePort: 30080}]", ports)
    assert _error(exp_dir, good, DEPLOYMENT + other) == (
        f"D/x.yaml:11: spec.workload.nodePort: Service 'httpd' (D/workloads/httpd.yaml:15) "
        f"{declared}, not 30080")


def test_a_service_selecting_no_pod_is_refused(good: str, exp_dir: Path) -> None:
    stray = SERVICE.replace("selector: {app: httpd}", "selector: {app: x}")
    assert _error(exp_dir, good, DEPLOYMENT + stray) == (
        "D/x.yaml:10: spec.workload.service: Service 'httpd' (D/workloads/httpd.yaml:15) selects "
        "'app=x', which matches no pod the workload manifests create: it would have no "
        "endpoints")


def test_an_unnamed_rollout_needs_a_controller_running_the_workloads_pods(
        good: str, exp_dir: Path) -> None:
    manifests = ("apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: httpd}}\n"
                 "spec: {containers: [{name: httpd, image: httpd}]}\n---\n"
                 + DEPLOYMENT.replace("{name: httpd}", "{name: other}")
                 .replace("app: httpd", "app: other"))
    text = _fault(good, "{type: rollout, image: 'httpd:2'}").replace("replicas: 3", "replicas: 1")
    text = text.replace("readyReplicas: 3", "readyReplicas: 1")
    assert _error(exp_dir, text, manifests) == (
        "D/x.yaml:24: spec.faults[0].target: none of the Deployments/StatefulSets "
        "(Deployment/other) run pods matching the workload's selector 'app=httpd': name one "
        "with target")


def test_a_pod_fault_on_pods_the_manifests_do_not_label_is_left_to_the_run(
        good: str, exp_dir: Path) -> None:
    # the fixture's Deployment has no pod template: nothing to count the other pods against
    text = _fault(good, "{type: pod-kill, selector: {app: other}, count: 2}")
    exp = parse_experiment(text, exp_dir / "x.yaml")
    assert [(f.type, getattr(f, "count", None)) for f in exp.faults] == [("pod-kill", 2)]


def test_an_object_defined_twice_names_both_places(good: str, exp_dir: Path) -> None:
    assert _error(exp_dir, good, DEPLOYMENT + SERVICE + SERVICE) == (
        "D/workloads/httpd.yaml:24: metadata.name: Service/httpd is defined twice (first at "
        "D/workloads/httpd.yaml:15); the second create would fail with AlreadyExists")


NAMESPACE = "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n"


def test_a_cluster_scoped_object_is_told_how_to_allow_it(good: str, exp_dir: Path) -> None:
    refused = ("D/workloads/httpd.yaml:23: kind: Namespace 'team' is cluster-scoped: deleting "
               "the test's namespace would leave it behind. To create it and have it deleted "
               "after the run, set spec.workload.clusterScoped: allow in ")
    assert _error(exp_dir, good, DEPLOYMENT + SERVICE + NAMESPACE) == refused + "D/x.yaml"
    (exp_dir / "workloads" / "httpd.yaml").write_text(DEPLOYMENT + SERVICE + NAMESPACE)
    text = good.replace("workloads/httpd.yaml", str(exp_dir / "workloads" / "httpd.yaml"))
    with pytest.raises(ExperimentInvalid) as info:
        parse_experiment(text, allow_paths=[exp_dir])
    assert str(info.value).replace(str(exp_dir), "D") == refused + "the experiment"


def test_without_node_port_or_a_service_to_read_it_from_the_field_is_required(
        good: str, exp_dir: Path) -> None:
    assert _error(exp_dir, good, DEPLOYMENT, "    nodePort: 30080\n", "") == (
        "D/x.yaml:8: spec.workload.nodePort: required field missing: the load reaches the "
        "workload on 127.0.0.1:<nodePort>, and the manifests define no Service 'httpd' to take "
        "it from (or give spec.load.url)")
