"""Workload manifests read at collection: facts, cluster-scoped objects, cross-checks that pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import ExperimentInvalid
from chaos.model import ObjectRef
from chaos.model.manifests import load_manifest_documents, read_manifest
from chaos.model.parse import load_experiment

WORKLOADS = Path(__file__).resolve().parents[2] / "experiments" / "workloads"
# the HA ones too: like every bundled experiment, they parse without --chaos-allow-path
EXPERIMENTS = sorted(WORKLOADS.parent.glob("*.yaml")) + sorted(WORKLOADS.parent.glob("ha/*.yaml"))

RBAC = """\
apiVersion: v1
kind: List
items:
  - apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    metadata: {name: kc-reader}
    rules: []
  - apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRoleBinding
    metadata: {name: kc-reader}
    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kc-reader}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: reader}
"""


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.name for p in EXPERIMENTS])
def test_bundled_experiments_pass_every_cross_check(path: Path) -> None:
    exp = load_experiment(path)
    assert exp.workload.cluster_scoped == "refuse" and exp.workload.cluster_objects == ()


def test_the_ha_experiments_workload_is_the_bundled_one() -> None:
    """experiments/ha keeps its own copy (a file outside an experiment's folder needs
    --chaos-allow-path): the copy must not drift from the original."""
    copy = WORKLOADS.parent / "ha" / "workloads" / "httpd-replicated.yaml"
    assert copy.read_bytes() == (WORKLOADS / "httpd-replicated.yaml").read_bytes()


def test_facts_of_the_bundled_manifest() -> None:
    deployment, service, pdb = read_manifest(WORKLOADS / "httpd-replicated.yaml")
    assert deployment.ref == ObjectRef("apps/v1", "Deployment", "httpd")
    assert deployment.template is not None
    assert deployment.template.pods == 3
    assert deployment.template.containers == ("httpd",)
    assert deployment.template.probes == {"readiness", "liveness", "startup"}
    assert service.service is not None and service.service.node_ports == (30080,)
    assert pdb.template is None and not pdb.cluster_scoped


def test_documents_for_the_api_are_plain_dicts() -> None:
    docs = load_manifest_documents(WORKLOADS / "httpd-replicated.yaml")
    assert [d["kind"] for d in docs] == ["Deployment", "Service", "PodDisruptionBudget"]
    assert docs[1]["spec"]["ports"][0]["nodePort"] == 30080


def test_allowed_cluster_scoped_objects_are_recorded_for_deletion(
    good: str, exp_dir: Path
) -> None:
    (exp_dir / "workloads" / "rbac.yaml").write_text(RBAC)
    text = good.replace("[workloads/httpd.yaml]", "[workloads/httpd.yaml, workloads/rbac.yaml]")
    path = exp_dir / "x.yaml"
    path.write_text(text)
    with pytest.raises(ExperimentInvalid) as info:
        load_experiment(path)
    assert str(info.value).startswith(
        f"{exp_dir / 'workloads' / 'rbac.yaml'}:5: items[0].kind: ClusterRole 'kc-reader' is "
        "cluster-scoped")
    path.write_text(text.replace("    replicas: 3", "    replicas: 3\n    clusterScoped: allow"))
    workload = load_experiment(path).workload
    assert workload.cluster_scoped == "allow"
    assert workload.cluster_objects == (
        ObjectRef("rbac.authorization.k8s.io/v1", "ClusterRole", "kc-reader"),
        ObjectRef("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "kc-reader"),
    )


def test_an_autoscaled_workload_has_no_fixed_pod_count(good: str, exp_dir: Path) -> None:
    manifest = (WORKLOADS / "httpd-replicated.yaml").read_text() + (
        "---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: httpd}\n"
        "spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: httpd}, "
        "maxReplicas: 5}\n")
    (exp_dir / "workloads" / "httpd.yaml").write_text(manifest)
    path = exp_dir / "x.yaml"
    path.write_text(good.replace("replicas: 3", "replicas: 2").replace("readyReplicas: 3",
                                                                       "readyReplicas: 2"))
    assert load_experiment(path).workload.replicas == 2  # the HPA decides, not spec.replicas
    (deployment, *_rest) = read_manifest(exp_dir / "workloads" / "httpd.yaml")
    assert deployment.template is not None and deployment.template.pods is None


def test_pod_faults_on_other_pods_are_counted_against_those_pods(
    good: str, exp_dir: Path
) -> None:
    (exp_dir / "workloads" / "httpd.yaml").write_text(
        (WORKLOADS / "httpd-replicated.yaml").read_text() + "---\napiVersion: v1\nkind: Pod\n"
        "metadata: {name: probe, labels: {app: prober}}\nspec: {containers: [{name: curl}]}\n")
    path = exp_dir / "x.yaml"
    path.write_text(good.replace("      count: 1", "      count: 2\n      selector: {app: prober}"))
    with pytest.raises(ExperimentInvalid) as info:
        load_experiment(path)
    assert str(info.value) == (
        f"{path}:25: spec.faults[0].count: 2 is more than the 1 pod(s) the manifests run "
        "matching 'app=prober'")


def test_documents_for_the_api_refuse_cluster_scoped_objects_unless_allowed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rbac.yaml"
    path.write_text(RBAC)
    with pytest.raises(ExperimentInvalid) as info:
        load_manifest_documents(path)
    assert str(info.value).startswith(f"{path}:5: items[0].kind: ClusterRole 'kc-reader' is "
                                      "cluster-scoped")
    kinds = [d["kind"] for d in load_manifest_documents(path, allow_cluster_scoped=True)]
    assert kinds == ["List", "ServiceAccount"]


def test_documents_for_the_api_refusal_in_full(tmp_path: Path) -> None:
    path = tmp_path / "ns.yaml"
    path.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n")
    with pytest.raises(ExperimentInvalid) as info:
        load_manifest_documents(path)
    assert str(info.value) == (
        f"{path}:2: kind: Namespace 'team' is cluster-scoped: deleting the test's namespace "
        "would leave it behind. The caller did not allow cluster-scoped objects.")


def test_documents_for_the_api_skip_empty_documents_and_read_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("---\n---\n{}\n---\napiVersion: v1\nkind: ConfigMap\n"
                    "metadata: {name: c}\n")
    assert load_manifest_documents(path) == [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}]


def test_documents_for_the_api_name_the_file_of_a_yaml_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kind: ConfigMap\nmetadata: [\n")
    with pytest.raises(ExperimentInvalid) as info:
        load_manifest_documents(path)
    assert str(info.value).startswith(f"{path}:3: ")
