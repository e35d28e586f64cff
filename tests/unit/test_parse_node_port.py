"""``spec.workload.nodePort``: a fixed port or ``auto``, and what each asks of the manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from chaos.errors import ExperimentInvalid
from chaos.model.parse import load_experiment
from chaos.model.schema import SCHEMA_PATH

VALIDATOR = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: httpd}
spec:
  replicas: 3
  selector: {matchLabels: {app: httpd}}
  template:
    metadata: {labels: {app: httpd}}
    spec: {containers: [{name: web, image: kube-chaos/httpd:dev}]}
"""


def _service(type_: str = "NodePort", node_port: str = "") -> str:
    return f"""\
---
apiVersion: v1
kind: Service
metadata: {{name: httpd}}
spec:
  type: {type_}
  selector: {{app: httpd}}
  ports: [{{port: 80, targetPort: 8080{node_port}}}]
"""


def _load(exp_dir: Path, good: str, port: str, manifests: str,
          extra: tuple[str, str] | None = None) -> Any:
    (exp_dir / "workloads" / "httpd.yaml").write_text(manifests)
    text = good.replace("    nodePort: 30080", f"    nodePort: {port}", 1)
    if extra is not None:
        text = text.replace(*extra, 1)
    path = exp_dir / "x.yaml"
    path.write_text(text)
    return load_experiment(path), yaml.safe_load(text)


def _error(exp_dir: Path, good: str, port: str, manifests: str,
           extra: tuple[str, str] | None = None) -> str:
    with pytest.raises(ExperimentInvalid) as info:
        _load(exp_dir, good, port, manifests, extra)
    return str(info.value).replace(str(exp_dir / "x.yaml"), "x.yaml").replace(
        str(exp_dir / "workloads" / "httpd.yaml"), "httpd.yaml")


@pytest.mark.parametrize("declared", ["", ", nodePort: 30080", ", nodePort: 31999"])
def test_auto_ignores_whatever_nodeport_the_service_declares(good: str, exp_dir: Path,
                                                             declared: str) -> None:
    exp, data = _load(exp_dir, good, "auto", DEPLOYMENT + _service(node_port=declared))
    assert exp.workload.node_port == "auto"
    VALIDATOR.validate(data)


def test_a_fixed_port_must_still_be_the_services_own(good: str, exp_dir: Path) -> None:
    exp, _ = _load(exp_dir, good, "30080", DEPLOYMENT + _service(node_port=", nodePort: 30080"))
    assert exp.workload.node_port == 30080
    assert _error(exp_dir, good, "30081",
                  DEPLOYMENT + _service(node_port=", nodePort: 30080")).startswith(
        "x.yaml:11: spec.workload.nodePort: Service 'httpd' (httpd.yaml")


@pytest.mark.parametrize(("port", "message"), [
    ("automatic", "expected a NodePort between 30000 and 32767, or auto, got 'automatic' "
                  "(did you mean 'auto'?)"),
    ("Auto", "expected a NodePort between 30000 and 32767, or auto, got 'Auto' "
             "(did you mean 'auto'?)"),
    ("'30080'", "expected a NodePort between 30000 and 32767, or auto, got '30080'"),
    ("29999", "expected a NodePort between 30000 and 32767, got 29999"),
    ("32768", "expected a NodePort between 30000 and 32767, got 32768"),
    ("true", "expected a NodePort between 30000 and 32767, got true"),
    ("[auto]", "expected a NodePort between 30000 and 32767, or auto, got a list"),
])
def test_bad_values_are_refused_by_parser_and_schema(good: str, exp_dir: Path, port: str,
                                                     message: str) -> None:
    manifests = DEPLOYMENT + _service(node_port=", nodePort: 30080")
    assert _error(exp_dir, good, port, manifests) == (
        f"x.yaml:11: spec.workload.nodePort: {message}")
    text = good.replace("    nodePort: 30080", f"    nodePort: {port}", 1)
    assert not VALIDATOR.is_valid(yaml.safe_load(text))


def test_auto_needs_a_nodeport_or_loadbalancer_service(good: str, exp_dir: Path) -> None:
    _load(exp_dir, good, "auto", DEPLOYMENT + _service("LoadBalancer"))
    assert _error(exp_dir, good, "auto", DEPLOYMENT + _service("ClusterIP")) == (
        "x.yaml:10: spec.workload.service: Service 'httpd' (httpd.yaml:12) is of type "
        "ClusterIP; the load reaches it on 127.0.0.1:<the port it picks>, so it needs type: "
        "NodePort")


def test_auto_needs_the_service_in_the_manifests(good: str, exp_dir: Path) -> None:
    # a fixed port without any Service in the manifests: something else creates it
    _load(exp_dir, good, "30080", DEPLOYMENT)
    assert _error(exp_dir, good, "auto", DEPLOYMENT) == (
        "x.yaml:11: spec.workload.nodePort: auto sets the port each run picks on Service "
        "'httpd' before it is created, but the workload manifests define no Service: give its "
        "fixed nodePort (or spec.load.url)")
    other = _service().replace("name: httpd}", "name: other}")
    assert "no Service 'httpd' in the workload manifests" in _error(
        exp_dir, good, "auto", DEPLOYMENT + other)


def test_auto_on_an_existing_workload_is_refused(good: str, exp_dir: Path) -> None:
    assert _error(exp_dir, good, "auto", DEPLOYMENT, extra=(
        "    manifests: [workloads/httpd.yaml]", "    existing: {namespace: shop}")) == (
        "x.yaml:11: spec.workload.nodePort: auto sets the port each run picks on Service "
        "'httpd' before it is created, but an existing workload's Service is never changed: "
        "give its fixed nodePort (or spec.load.url)")


OMIT = ("    nodePort: 30080\n", "")


def test_omitted_nodeport_is_the_services_own_or_auto_when_it_declares_none(
        good: str, exp_dir: Path) -> None:
    exp, data = _load(exp_dir, good, "30080",
                      DEPLOYMENT + _service(node_port=", nodePort: 30085"), extra=OMIT)
    assert exp.workload.node_port == 30085
    VALIDATOR.validate(data)
    exp, data = _load(exp_dir, good, "30080", DEPLOYMENT + _service(), extra=OMIT)
    assert exp.workload.node_port == "auto"
    VALIDATOR.validate(data)


def test_omitted_nodeport_is_refused_when_the_manifests_cannot_say(good: str,
                                                                   exp_dir: Path) -> None:
    assert _error(exp_dir, good, "30080", DEPLOYMENT, extra=OMIT) == (
        "x.yaml:8: spec.workload.nodePort: required field missing: the load reaches the "
        "workload on 127.0.0.1:<nodePort>, and the manifests define no Service 'httpd' to "
        "take it from (or give spec.load.url)")
    two = DEPLOYMENT + _service().replace(
        "ports: [{port: 80, targetPort: 8080}]",
        "ports: [{name: a, port: 80, targetPort: 8080, nodePort: 30085}, "
        "{name: b, port: 81, targetPort: 8081, nodePort: 30086}]")
    assert _error(exp_dir, good, "30080", two, extra=OMIT) == (
        "x.yaml:8: spec.workload.nodePort: required field missing: Service 'httpd' declares "
        "nodePorts 30085, 30086; name the one the load uses")
    # a ClusterIP Service declares no nodePort: auto, then refused for its type as before
    assert "is of type ClusterIP" in _error(exp_dir, good, "30080",
                                            DEPLOYMENT + _service("ClusterIP"), extra=OMIT)
