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
