"""What a workload manifest says when it leaves something out (the API server's defaults), and
the whole message when a name is not a name."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import ExperimentInvalid, excerpt
from chaos.model import ObjectRef, Selector
from chaos.model.manifests import ManifestObject, PodTemplate, ServiceFacts, read_manifest


def _read(tmp_path: Path, text: str) -> tuple[ManifestObject, ...]:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return read_manifest(path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ExperimentInvalid) as info:
        _read(tmp_path, text)
    return str(info.value).replace(str(tmp_path), "D")


def test_a_service_without_type_or_selector_is_a_cluster_ip_selecting_nothing_known(
        tmp_path: Path) -> None:
    (svc,) = _read(tmp_path, "apiVersion: v1\nkind: Service\nmetadata: {name: db}\n"
                             "spec: {ports: [{port: 5432}]}\n")
    assert svc.service == ServiceFacts(type="ClusterIP", selector=None, node_ports=())


def test_a_deployment_without_replicas_runs_one_pod(tmp_path: Path) -> None:
    (dep,) = _read(tmp_path, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
                             "spec:\n  template:\n    metadata: {labels: {app: web}}\n"
                             "    spec: {containers: [{name: httpd, image: httpd}]}\n")
    assert dep.template == PodTemplate(Selector.of({"app": "web"}), ("httpd",),
                                       frozenset(), 1)


def test_a_bare_pod_lists_its_containers_and_probes(tmp_path: Path) -> None:
    (pod,) = _read(tmp_path, "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {a: b}}\n"
                             "spec:\n  containers:\n    - name: c\n      readinessProbe: {}\n")
    assert pod.template == PodTemplate(Selector.of({"a": "b"}), ("c",),
                                       frozenset({"readiness"}), 1)


def test_a_null_namespace_is_no_namespace(tmp_path: Path) -> None:
    (obj,) = _read(tmp_path, "apiVersion: v1\nkind: ConfigMap\n"
                             "metadata: {name: c, namespace: null}\n")
    assert obj.ref == ObjectRef("v1", "ConfigMap", "c")


@pytest.mark.parametrize(("name", "got"), [("{first: a}", "a mapping"), ("null", "null"),
                                            ("[a]", "a list")])
def test_a_name_that_is_not_one_is_named_for_what_it_is(tmp_path: Path, name: str,
                                                        got: str) -> None:
    assert _error(tmp_path, f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n") == (
        f"D/m.yaml:4: metadata.name: expected the ConfigMap's name, got {got}")


def test_a_kind_is_named_whole_up_to_80_characters(tmp_path: Path) -> None:
    at_limit, over = "K" * 80, "K" * 81
    assert _error(tmp_path, f"apiVersion: v1\nkind: {at_limit}\nmetadata: {{}}\n") == (
        f"D/m.yaml:3: metadata.name: expected the {at_limit}'s name, got nothing")
    assert _error(tmp_path, f"apiVersion: v1\nkind: {over}\nmetadata: {{}}\n") == (
        f"D/m.yaml:3: metadata.name: expected the {excerpt(over)}'s name, got nothing")


def test_a_daemon_set_leaves_its_pod_count_to_the_cluster(tmp_path: Path) -> None:
    (ds,) = _read(tmp_path, "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\n"
                            "spec:\n  replicas: 3\n  template:\n    metadata: {labels: {a: b}}\n"
                            "    spec: {containers: [{name: c}]}\n")
    assert ds.template == PodTemplate(Selector.of({"a": "b"}), ("c",), frozenset(), None)


@pytest.mark.parametrize(("prefix", "head", "indent"), [
    ("", "", ""),
    ("items[0].", "apiVersion: v1\nkind: List\nitems:\n  -\n", "    "),
])
def test_bad_replicas_are_named_with_file_line_and_field(tmp_path: Path, prefix: str, head: str,
                                                         indent: str) -> None:
    body = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: -1\n"
    text = head + "".join(indent + line + "\n" for line in body.splitlines())
    line = len(head.splitlines()) + 5
    assert _error(tmp_path, text) == (
        f"D/m.yaml:{line}: {prefix}spec.replicas: expected a non-negative integer, got -1")


@pytest.mark.parametrize(("replicas", "pods"), [("null", 1), ("0", 0), ("4", 4)])
def test_replicas_as_written_or_one_when_null(tmp_path: Path, replicas: str, pods: int) -> None:
    (dep,) = _read(tmp_path, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
                             f"spec:\n  replicas: {replicas}\n")
    assert dep.template is not None and dep.template.pods == pods


def test_replicas_that_are_a_list_are_named_as_one(tmp_path: Path) -> None:
    assert _error(tmp_path, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
                            "spec:\n  replicas: [1]\n") == (
        "D/m.yaml:5: spec.replicas: expected a non-negative integer, got a list")
