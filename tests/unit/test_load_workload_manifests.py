"""The target-workload manifests: names, labels, ports and the safety-relevant settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.cluster.workload_image import HTTPD_SOURCE

WORKLOADS = Path(__file__).resolve().parents[2] / "experiments" / "workloads"

VARIANTS = [
    # file, app label, replicas, nodePort, PDB spec (None = no PDB)
    ("httpd-replicated.yaml", "httpd", 3, 30080, {"maxUnavailable": 1}),
    ("httpd-single.yaml", "httpd-single", 1, 30081, None),
    ("httpd-pdb-strict.yaml", "httpd-strict", 3, 30082, {"maxUnavailable": 0}),
]


def load(name: str) -> dict[str, dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all((WORKLOADS / name).read_text()) if d]
    by_kind = {d["kind"]: d for d in docs}
    assert len(by_kind) == len(docs), "one object per kind"
    return by_kind


@pytest.mark.parametrize(("fname", "app", "replicas", "node_port", "pdb"), VARIANTS)
def test_manifest(
    fname: str, app: str, replicas: int, node_port: int, pdb: dict[str, int] | None
) -> None:
    objs = load(fname)
    assert set(objs) == {"Deployment", "Service"} | ({"PodDisruptionBudget"} if pdb else set())
    for obj in objs.values():
        assert "namespace" not in obj["metadata"], "the harness sets the namespace"
        assert obj["metadata"]["name"] == app
        assert obj["metadata"]["labels"]["app"] == app

    dep = objs["Deployment"]["spec"]
    assert dep["replicas"] == replicas
    assert dep["selector"]["matchLabels"] == {"app": app}
    pod = dep["template"]["spec"]
    assert dep["template"]["metadata"]["labels"]["app"] == app
    assert pod["terminationGracePeriodSeconds"] == 15
    (c,) = pod["containers"]
    assert (c["image"], c["imagePullPolicy"]) == ("kube-chaos/httpd:dev", "Never")
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["readinessProbe"]["periodSeconds"] == 1
    assert c["readinessProbe"]["failureThreshold"] == 1
    live = c["livenessProbe"]
    assert (live["httpGet"]["path"], live["periodSeconds"], live["failureThreshold"]) == (
        "/healthz",
        2,
        3,
    )
    assert c["startupProbe"]["httpGet"]["path"] == "/startupz"
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert c["resources"]["requests"] == {"cpu": "10m", "memory": "16Mi"}

    (spread,) = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert (spread["maxSkew"], spread["whenUnsatisfiable"]) == (1, "ScheduleAnyway")
    assert spread["labelSelector"]["matchLabels"] == {"app": app}
    (term,) = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert term["matchExpressions"] == [
        {"key": "node-role.kubernetes.io/control-plane", "operator": "DoesNotExist"}
    ]
    tolerations = {t["key"]: t for t in pod["tolerations"]}
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        assert tolerations[key]["tolerationSeconds"] == 10
        assert tolerations[key]["effect"] == "NoExecute"

    svc = objs["Service"]["spec"]
    assert svc["type"] == "NodePort"
    assert svc["selector"] == {"app": app}
    (port,) = svc["ports"]
    assert (port["port"], port["nodePort"]) == (80, node_port)
    assert port["targetPort"] in (8080, "http")
    assert c["ports"][0]["containerPort"] == 8080

    if pdb:
        spec = objs["PodDisruptionBudget"]["spec"]
        assert spec["selector"]["matchLabels"] == {"app": app}
        assert {k: v for k, v in spec.items() if k != "selector"} == pdb


def test_node_ports_are_distinct_and_published_by_kind() -> None:
    ports = [v[3] for v in VARIANTS]
    assert len(set(ports)) == len(ports)
    assert all(30080 <= p <= 30099 for p in ports)


def test_dockerfile_pulls_no_base_image() -> None:
    lines = [
        ln.strip()
        for ln in (HTTPD_SOURCE / "Dockerfile").read_text().splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    assert [ln for ln in lines if ln.upper().startswith("FROM")] == ["FROM scratch"]
    assert "COPY httpd /httpd" in lines


def test_the_workload_sources_ship_in_the_package() -> None:
    """The image is built from package data, so it must be listed there (an installed wheel
    has no experiments/ folder)."""
    import tomllib

    data = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    listed = data["tool"]["setuptools"]["package-data"]["chaos"]
    for name in ("main.go", "go.mod", "Dockerfile"):
        assert (HTTPD_SOURCE / name).is_file()
        assert f"workloads/httpd/{name}" in listed
