"""The permissions an experiment needs, and the Role/ClusterRole that grants exactly them."""

from __future__ import annotations

from pathlib import Path

import yaml

from chaos.model.parse import parse_experiment
from chaos.plan.permissions import Permission, needed, rbac_manifest


def test_an_existing_workload_needs_only_namespaced_rights_plus_node_reads(
        good: str, exp_dir: Path) -> None:
    text = good.replace("    manifests: [workloads/httpd.yaml]",
                        "    existing: {namespace: shop, kind: Deployment, name: web}")
    exp = parse_experiment(text, exp_dir / "x.yaml")
    perms = needed(exp, "shop")
    assert Permission("delete", "", "pods", "shop") in perms  # the pod kill
    assert Permission("get", "apps", "deployments", "shop") in perms
    assert Permission("get", "", "configmaps", "kube-system") in perms  # `kube-chaos halt`
    assert not any(p.verb in ("create", "delete") and p.resource == "namespaces" for p in perms)
    cluster_wide = {str(p) for p in perms if p.namespace is None}
    assert cluster_wide == {"get namespaces cluster-wide", "get nodes cluster-wide",
                            "list nodes cluster-wide", "watch nodes cluster-wide"}


def test_a_drain_needs_evictions_and_node_patches(good: str, exp_dir: Path) -> None:
    text = good.replace("    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n",
                        "    - {type: drain}\n")
    perms = needed(parse_experiment(text, exp_dir / "x.yaml"), "ns", ["Deployment", "Service"])
    for p in (Permission("create", "", "pods/eviction", None), Permission("patch", "", "nodes",
              None), Permission("create", "apps", "deployments", "ns"),
              Permission("create", "", "namespaces", None)):
        assert p in perms, p
    assert Permission("delete", "", "pods", "ns") not in perms


def test_rbac_manifest_is_a_role_per_namespace_and_one_cluster_role() -> None:
    perms = [Permission("delete", "", "pods", "shop"), Permission("get", "", "pods", "shop"),
             Permission("list", "", "nodes", None)]
    docs = list(yaml.safe_load_all(rbac_manifest("runner", perms)))
    assert [d["kind"] for d in docs] == ["ClusterRole", "Role"]
    assert docs[0]["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]
    assert docs[1]["metadata"] == {"name": "runner", "namespace": "shop"}
    assert docs[1]["rules"] == [{"apiGroups": [""], "resources": ["pods"],
                                 "verbs": ["delete", "get"]}]


# Every permission, pinned: the list is what `kube-chaos plan --rbac` grants, so a permission
# gained or lost by accident is a change a reviewer must see (least privilege both ways).
MADE_HERE = [
    "create namespaces cluster-wide",
    "delete namespaces cluster-wide",
    "get namespaces cluster-wide",
    "get nodes cluster-wide",
    "list nodes cluster-wide",
    "watch nodes cluster-wide",
    "get configmaps in namespace kube-system",
    "create events in namespace ns",
    "get events in namespace ns",
    "list events in namespace ns",
    "watch events in namespace ns",
    "delete pods in namespace ns",
    "get pods in namespace ns",
    "list pods in namespace ns",
    "watch pods in namespace ns",
    "create services in namespace ns",
    "delete services in namespace ns",
    "get services in namespace ns",
    "list services in namespace ns",
    "create widgets in namespace ns",
    "get apps/daemonsets in namespace ns",
    "list apps/daemonsets in namespace ns",
    "watch apps/daemonsets in namespace ns",
    "create apps/deployments in namespace ns",
    "get apps/deployments in namespace ns",
    "list apps/deployments in namespace ns",
    "watch apps/deployments in namespace ns",
    "get apps/statefulsets in namespace ns",
    "list apps/statefulsets in namespace ns",
    "watch apps/statefulsets in namespace ns",
    "get discovery.k8s.io/endpointslices in namespace ns",
    "list discovery.k8s.io/endpointslices in namespace ns",
    "watch discovery.k8s.io/endpointslices in namespace ns",
]
ON_AN_EXISTING_STATEFULSET = [
    "get namespaces cluster-wide",
    "get nodes cluster-wide",
    "list nodes cluster-wide",
    "watch nodes cluster-wide",
    "get configmaps in namespace kube-system",
    "create events in namespace shop",
    "get events in namespace shop",
    "list events in namespace shop",
    "watch events in namespace shop",
    "delete pods in namespace shop",
    "get pods in namespace shop",
    "list pods in namespace shop",
    "watch pods in namespace shop",
    "get services in namespace shop",
    "get apps/statefulsets in namespace shop",
    "list apps/statefulsets in namespace shop",
    "watch apps/statefulsets in namespace shop",
    "get discovery.k8s.io/endpointslices in namespace shop",
    "list discovery.k8s.io/endpointslices in namespace shop",
    "watch discovery.k8s.io/endpointslices in namespace shop",
    "list policy/poddisruptionbudgets in namespace shop",
]


def test_a_run_that_deploys_needs_exactly_these(good: str, exp_dir: Path) -> None:
    """A pod kill of a workload it deploys (a Deployment, a Service and a kind it does not
    know, named twice): its namespace made and deleted, what it creates, the controllers and
    everything the observer and the checks read."""
    exp = parse_experiment(good, exp_dir / "x.yaml")
    perms = needed(exp, "ns", ["Deployment", "Service", "Widget", "Deployment"])
    assert [str(p) for p in perms] == MADE_HERE


def test_a_run_on_an_existing_workload_needs_exactly_these(good: str, exp_dir: Path) -> None:
    """The same kill on a StatefulSet already running: no namespace made or deleted, nothing
    created, only its own controller kind read, and the PDBs the plan shows."""
    text = good.replace("    manifests: [workloads/httpd.yaml]",
                        "    existing: {namespace: shop, kind: StatefulSet, name: web}")
    perms = needed(parse_experiment(text, exp_dir / "x.yaml"), "shop")
    assert [str(p) for p in perms] == ON_AN_EXISTING_STATEFULSET


def test_cluster_wide_permissions_sort_first_whatever_the_namespace_is_called() -> None:
    assert Permission("list", "", "nodes", None).key() == ("", "", "nodes", "list")
    perms = [Permission("get", "", "pods", "1st-team"), Permission("list", "", "nodes", None)]
    assert rbac_manifest("runner", perms) == (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n"
        "  name: runner\nrules:\n"
        '  - apiGroups: [""]\n    resources: ["nodes"]\n    verbs: [list]\n'
        "---\n"
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n"
        "  name: runner\n  namespace: 1st-team\nrules:\n"
        '  - apiGroups: [""]\n    resources: ["pods"]\n    verbs: [get]\n')
