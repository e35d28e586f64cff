"""Workload manifests read at collection time: what they create, told without a cluster.

Every manifest goes through the bounded reader (``chaos.model.yamlsafe``), and each object must
be one kube-chaos can deploy into the test's fresh namespace: it has apiVersion, kind and a name,
it sets no namespace of its own. What the experiment is checked against (pod labels, replicas,
containers, probes, Services and their nodePorts, cluster-scoped objects) is kept as frozen facts
with the file and line of each object, so a contradiction is reported before anything is deployed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from chaos.errors import EXCERPT_CHARS, ExperimentInvalid, excerpt
from chaos.model.experiment import ObjectRef, Selector
from chaos.model.yamlsafe import STR_TAG, compose_documents, read_text, to_python

# Built-in kinds that live outside any namespace (Kubernetes 1.31, `kubectl api-resources
# --namespaced=false`), plus the cluster-scoped kinds of widely used add-ons. Kinds not listed
# (custom resources included) are taken to be namespaced.
CLUSTER_SCOPED_KINDS = frozenset({
    "APIService",
    "CertificateSigningRequest",
    "ClusterRole",
    "ClusterRoleBinding",
    "ClusterTrustBundle",
    "ComponentStatus",
    "CSIDriver",
    "CSINode",
    "CustomResourceDefinition",
    "DeviceClass",
    "FlowSchema",
    "IngressClass",
    "IPAddress",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "ResourceSlice",
    "RuntimeClass",
    "SelfSubjectAccessReview",
    "SelfSubjectReview",
    "SelfSubjectRulesReview",
    "ServiceCIDR",
    "StorageClass",
    "StorageVersion",
    "StorageVersionMigration",
    "SubjectAccessReview",
    "TokenReview",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
    "VolumeAttributesClass",
    # add-ons
    "ClusterIssuer",  # cert-manager
    "ClusterPolicy",  # Kyverno
    "ClusterSecretStore",  # External Secrets
})
PROBES = {"readinessProbe": "readiness", "livenessProbe": "liveness", "startupProbe": "startup"}
# kind -> path from the object to its pod template, and whether spec.replicas counts its pods
_TEMPLATES: dict[str, tuple[tuple[str, ...], bool]] = {
    "Deployment": (("spec", "template"), True),
    "ReplicaSet": (("spec", "template"), True),
    "ReplicationController": (("spec", "template"), True),
    "StatefulSet": (("spec", "template"), True),
    "DaemonSet": (("spec", "template"), False),
    "Job": (("spec", "template"), False),
    "CronJob": (("spec", "jobTemplate", "spec", "template"), False),
}


@dataclass(frozen=True, slots=True)
class PodTemplate:
    labels: Selector
    containers: tuple[str, ...]
    probes: frozenset[str]  # "readiness", "liveness", "startup": set on at least one container
    pods: int | None  # pods it runs; None when the cluster decides (DaemonSet, Job, an HPA)


@dataclass(frozen=True, slots=True)
class ServiceFacts:
    type: str
    selector: Selector | None
    node_ports: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ManifestObject:
    ref: ObjectRef
    path: Path
    line: int  # of its ``kind``
    prefix: str = ""  # its place in the document: "" or "items[2]." in a List
    name_line: int = 0  # of its metadata.name
    template: PodTemplate | None = None
    service: ServiceFacts | None = None
    scale_target: tuple[str, str] | None = None  # an HPA's (kind, name)

    @property
    def cluster_scoped(self) -> bool:
        return self.ref.kind in CLUSTER_SCOPED_KINDS

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def read_manifest(path: Path) -> tuple[ManifestObject, ...]:
    """The objects one manifest file creates, in order; ``ExperimentInvalid`` names file:line."""
    shown = str(path)
    found: list[ManifestObject] = []
    for doc in compose_documents(read_text(path, shown), shown):
        if not _empty(doc):
            found.extend(_objects(doc, path, ""))
    return _apply_autoscalers(found)


def load_manifest_documents(
    path: Path, *, allow_cluster_scoped: bool = False
) -> list[dict[str, Any]]:
    """The manifest's objects as plain dicts for the API, checked as ``read_manifest`` does.

    Cluster-scoped objects are refused unless allowed: whoever allows them must also delete them.
    """
    shown = str(path)
    docs: list[dict[str, Any]] = []
    for doc in compose_documents(read_text(path, shown), shown):
        if _empty(doc):
            continue
        for obj in _objects(doc, path, ""):
            if obj.cluster_scoped and not allow_cluster_scoped:
                raise cluster_scoped_refused(
                    obj, "The caller did not allow cluster-scoped objects.")
        docs.append(to_python(doc, shown))
    return docs


def cluster_scoped_refused(obj: ManifestObject, how_to_allow: str) -> ExperimentInvalid:
    return ExperimentInvalid(
        f"{obj.ref.kind} {excerpt(obj.ref.name)} is cluster-scoped: deleting the test's namespace "
        f"would leave it behind. {how_to_allow}",
        path=str(obj.path), line=obj.line, field=f"{obj.prefix}kind")


def matching(objects: Iterable[ManifestObject], selector: Selector) -> list[ManifestObject]:
    """Objects whose pods carry every label of ``selector``."""
    return [o for o in objects if o.template is not None and selector.matches(o.template.labels)]


def pod_count(objects: Iterable[ManifestObject]) -> int | None:
    """Pods these objects run together, or None when any of them leaves it to the cluster."""
    total = 0
    for o in objects:
        if o.template is None or o.template.pods is None:
            return None
        total += o.template.pods
    return total


# --------------------------------------------------------------------------- reading


_scalars = SafeConstructor()


def _value(node: Node) -> object:
    try:
        return _scalars.construct_object(node)
    finally:
        _scalars.constructed_objects.clear()


def _empty(node: Node) -> bool:
    if isinstance(node, ScalarNode):
        return _value(node) is None
    return isinstance(node, MappingNode) and not node.value


def _get(node: Node | None, key: str) -> Node | None:
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if k.value == key:
                return cast(Node, v)
    return None


def _text(node: Node | None) -> str | None:
    if isinstance(node, ScalarNode) and node.tag == STR_TAG and node.value.strip():
        return str(node.value)
    return None


def _error(path: Path, node: Node, field: str, reason: str) -> ExperimentInvalid:
    return ExperimentInvalid(reason, path=str(path), line=node.start_mark.line + 1, field=field)


def _got(node: Node | None) -> str:
    if node is None:
        return "nothing"
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    value = _value(node)
    return "null" if value is None else excerpt(value)


def _plain(word: str) -> str:
    """A kind as errors name it: as it is when short and printable, else an excerpt."""
    return word if len(word) <= EXCERPT_CHARS and word.isprintable() else excerpt(word)


def _objects(node: Node, path: Path, prefix: str) -> Iterator[ManifestObject]:
    where = prefix.removesuffix(".") or "document"  # items[0]. prefixes field names
    if not isinstance(node, MappingNode):
        # a whole document that is one scalar is most likely not YAML at all (a key, a token,
        # an .env file pointed at by mistake): its content is not quoted, even in part
        got = (f"text ({len(str(node.value)):,} characters), not YAML: is this file a "
               "Kubernetes manifest?" if isinstance(node, ScalarNode) and not prefix
               else _got(node))
        raise _error(path, node, where, f"expected a Kubernetes object (a mapping), got {got}")
    kind_node = _get(node, "kind")
    kind = _text(kind_node)
    items = _get(node, "items")
    if kind is not None and kind.endswith("List") and isinstance(items, SequenceNode):
        for i, item in enumerate(items.value):
            yield from _objects(item, path, f"{prefix}items[{i}].")
        return
    api_version = _text(_get(node, "apiVersion"))
    if api_version is None:
        raise _error(path, _get(node, "apiVersion") or node, f"{prefix}apiVersion",
                     f"expected the object's API version (e.g. apps/v1), got "
                     f"{_got(_get(node, 'apiVersion'))}")
    if kind is None or kind_node is None:
        raise _error(path, kind_node or node, f"{prefix}kind",
                     f"expected the object's kind (e.g. Deployment), got {_got(kind_node)}")
    meta = _get(node, "metadata")
    if not isinstance(meta, MappingNode):
        raise _error(path, meta or node, f"{prefix}metadata",
                     f"expected a mapping with the object's name, got {_got(meta)}")
    name = _text(_get(meta, "name"))
    if name is None and kind in CLUSTER_SCOPED_KINDS:
        raise _error(path, _get(meta, "name") or meta, f"{prefix}metadata.name",
                     f"a cluster-scoped {kind} needs a fixed name so it can be deleted after "
                     "the run (generateName cannot be tracked)")
    if name is None and _text(_get(meta, "generateName")) is None:
        raise _error(path, _get(meta, "name") or meta, f"{prefix}metadata.name",
                     f"expected the {_plain(kind)}'s name, got {_got(_get(meta, 'name'))}")
    namespace = _get(meta, "namespace")
    if namespace is not None and _value_or_none(namespace) is not None:
        shown = f"{_plain(kind)} {excerpt(name)}" if name else _plain(kind)
        raise _error(path, namespace, f"{prefix}metadata.namespace",
                     f"{shown} sets namespace {_got(namespace)}, but kube-chaos deploys every "
                     "object into the test's own fresh namespace: remove metadata.namespace")
    ref = ObjectRef(api_version, kind, name or "")
    line = kind_node.start_mark.line + 1
    at = (prefix, (_get(meta, "name") or meta).start_mark.line + 1)
    if kind == "Service":
        yield ManifestObject(ref, path, line, *at, service=_service(node))
    elif kind == "HorizontalPodAutoscaler":
        target = _get(_get(node, "spec"), "scaleTargetRef")
        target_kind, target_name = _text(_get(target, "kind")), _text(_get(target, "name"))
        scale = (target_kind, target_name) if target_kind and target_name else None
        yield ManifestObject(ref, path, line, *at, scale_target=scale)
    else:
        yield ManifestObject(ref, path, line, *at, template=_template(node, kind, path, prefix))


def _value_or_none(node: Node) -> object:
    return _value(node) if isinstance(node, ScalarNode) else node


def _labels(node: Node | None) -> Selector:
    labels: dict[str, str] = {}
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(v, ScalarNode):
                labels[str(k.value)] = str(v.value)
    return Selector.of(labels)


def _template(node: MappingNode, kind: str, path: Path, prefix: str) -> PodTemplate | None:
    pods: int | None = 1
    if kind == "Pod":
        meta, spec = _get(node, "metadata"), _get(node, "spec")
    elif kind in _TEMPLATES:
        steps, counted = _TEMPLATES[kind]
        template: Node | None = node
        for step in steps:
            template = _get(template, step)
        meta, spec = _get(template, "metadata"), _get(template, "spec")
        pods = _replicas(node, path, prefix) if counted else None
    else:
        return None
    containers: list[str] = []
    probes: set[str] = set()
    listed = _get(spec, "containers")
    for container in listed.value if isinstance(listed, SequenceNode) else []:
        name = _text(_get(container, "name"))
        if name is not None:
            containers.append(name)
        probes.update(p for key, p in PROBES.items() if _present(_get(container, key)))
    return PodTemplate(_labels(_get(meta, "labels")), tuple(containers), frozenset(probes), pods)


def _present(node: Node | None) -> bool:
    return node is not None and not (isinstance(node, ScalarNode) and _value(node) is None)


def _replicas(node: MappingNode, path: Path, prefix: str) -> int:
    replicas = _get(_get(node, "spec"), "replicas")
    if replicas is None or not _present(replicas):
        return 1  # the API server's default
    value = _value(replicas) if isinstance(replicas, ScalarNode) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _error(path, replicas, f"{prefix}spec.replicas",
                     f"expected a non-negative integer, got {_got(replicas)}")
    return value


def _service(node: MappingNode) -> ServiceFacts:
    spec = _get(node, "spec")
    selector = _get(spec, "selector")
    ports: list[int] = []
    listed = _get(spec, "ports")
    for port in listed.value if isinstance(listed, SequenceNode) else []:
        node_port = _get(port, "nodePort")
        value = _value(node_port) if isinstance(node_port, ScalarNode) else None
        if isinstance(value, int) and not isinstance(value, bool):
            ports.append(value)
    return ServiceFacts(
        type=_text(_get(spec, "type")) or "ClusterIP",
        selector=_labels(selector) if isinstance(selector, MappingNode) else None,
        node_ports=tuple(ports),
    )


def _apply_autoscalers(found: list[ManifestObject]) -> tuple[ManifestObject, ...]:
    """An object an HPA scales runs as many pods as the HPA decides."""
    scaled = {o.scale_target for o in found if o.scale_target is not None}
    return tuple(
        replace(o, template=replace(o.template, pods=None))
        if o.template is not None and (o.ref.kind, o.ref.name) in scaled
        else o
        for o in found
    )
