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


OBJECT_ERRORS = [
    ("just some text\n",
     "D/m.yaml:1: document: expected a Kubernetes object (a mapping), got text (14 characters), "
     "not YAML: is this file a Kubernetes manifest?"),
    ("- a\n", "D/m.yaml:1: document: expected a Kubernetes object (a mapping), got a list"),
    ("apiVersion: v1\nkind: List\nitems: [text]\n",
     "D/m.yaml:3: items[0].: expected a Kubernetes object (a mapping), got 'text'"),
    ("kind: Pod\nmetadata: {name: p}\n",
     "D/m.yaml:1: apiVersion: expected the object's API version (e.g. apps/v1), got nothing"),
    ("kind: Pod\napiVersion: 3\nmetadata: {name: p}\n",
     "D/m.yaml:2: apiVersion: expected the object's API version (e.g. apps/v1), got 3"),
    ("apiVersion: v1\nkind: 42\nmetadata: {name: p}\n",
     "D/m.yaml:2: kind: expected the object's kind (e.g. Deployment), got 42"),
    ("apiVersion: v1\nkind: ClusterRole\nmetadata:\n  labels: {}\n  name: 5\n",
     "D/m.yaml:5: metadata.name: a cluster-scoped ClusterRole needs a fixed name so it can be "
     "deleted after the run (generateName cannot be tracked)"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {}\n  name: 5\n",
     "D/m.yaml:5: metadata.name: expected the ConfigMap's name, got 5"),
    ("apiVersion: v1\nmetadata: {name: p}\n",
     "D/m.yaml:1: kind: expected the object's kind (e.g. Deployment), got nothing"),
    ("apiVersion: v1\nkind: Pod\n",
     "D/m.yaml:1: metadata: expected a mapping with the object's name, got nothing"),
    ("apiVersion: v1\nkind: Pod\nmetadata: p\n",
     "D/m.yaml:3: metadata: expected a mapping with the object's name, got 'p'"),
    ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {generateName: r-}\n",
     "D/m.yaml:3: metadata.name: a cluster-scoped ClusterRole needs a fixed name so it can be "
     "deleted after the run (generateName cannot be tracked)"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: prod}\n",
     "D/m.yaml:3: metadata.namespace: Pod 'p' sets namespace 'prod', but kube-chaos deploys "
     "every object into the test's own fresh namespace: remove metadata.namespace"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {generateName: p-, namespace: prod}\n",
     "D/m.yaml:3: metadata.namespace: Pod sets namespace 'prod', but kube-chaos deploys "
     "every object into the test's own fresh namespace: remove metadata.namespace"),
]


@pytest.mark.parametrize(("text", "expected"), OBJECT_ERRORS)
def test_what_is_not_a_kubernetes_object_is_refused_whole(tmp_path: Path, text: str,
                                                          expected: str) -> None:
    assert _error(tmp_path, text) == expected


def test_objects_of_a_list_know_their_place_and_lines(tmp_path: Path) -> None:
    objs = _read(tmp_path, "apiVersion: v1\nkind: List\nitems:\n"
                           "  - apiVersion: v1\n    kind: ConfigMap\n    metadata:\n"
                           "      generateName: c-\n"
                           "  - apiVersion: autoscaling/v2\n    kind: HorizontalPodAutoscaler\n"
                           "    metadata: {name: h}\n"
                           "    spec: {scaleTargetRef: {kind: Deployment, name: web}}\n"
                           "  - apiVersion: autoscaling/v2\n    kind: HorizontalPodAutoscaler\n"
                           "    metadata: {name: g}\n"
                           "    spec: {scaleTargetRef: {kind: Deployment}}\n")
    path = tmp_path / "m.yaml"
    assert objs == (
        ManifestObject(ObjectRef("v1", "ConfigMap", ""), path, 5, "items[0].", 7),
        ManifestObject(ObjectRef("autoscaling/v2", "HorizontalPodAutoscaler", "h"), path, 9,
                       "items[1].", 10, scale_target=("Deployment", "web")),
        ManifestObject(ObjectRef("autoscaling/v2", "HorizontalPodAutoscaler", "g"), path, 13,
                       "items[2].", 14),
    )


def test_only_a_list_kind_is_read_as_a_list_of_objects(tmp_path: Path) -> None:
    (obj,) = _read(tmp_path, "apiVersion: example.com/v1\nkind: Basket\nmetadata: {name: b}\n"
                             "items: [{a: 1}]\n")
    assert obj.ref == ObjectRef("example.com/v1", "Basket", "b")


def test_each_object_records_its_kind_and_name_lines(tmp_path: Path) -> None:
    objs = _read(tmp_path, "apiVersion: v1\nkind: Service\nmetadata:\n  labels: {}\n  name: s\n"
                           "spec: {type: NodePort, selector: {a: b}, ports: [{nodePort: 30001}]}\n"
                           "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
    path = tmp_path / "m.yaml"
    assert objs == (
        ManifestObject(ObjectRef("v1", "Service", "s"), path, 2, "", 5,
                       service=ServiceFacts("NodePort", Selector.of({"a": "b"}), (30001,))),
        ManifestObject(ObjectRef("v1", "ConfigMap", "c"), path, 9, "", 11),
    )
