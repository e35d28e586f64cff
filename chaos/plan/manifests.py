"""What a workload's manifest documents declare: the controllers to wait for, the images they run.

Pure functions over the parsed documents (plain dicts, as the YAML reader returns them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chaos.errors import InjectionFailed

# Controllers whose rollout the harness waits for before it measures anything.
ROLLOUT_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
_POD_TEMPLATE_KINDS = (*ROLLOUT_KINDS, "ReplicaSet", "Job")


@dataclass(frozen=True, slots=True)
class WorkloadRef:
    kind: str  # one of ROLLOUT_KINDS
    name: str

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.name}"


def _pod_spec(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    kind = doc.get("kind")
    spec = doc.get("spec") or {}
    if kind == "Pod":
        return spec if isinstance(spec, Mapping) else {}
    if kind == "CronJob":
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        return ((job.get("template") or {}).get("spec")) or {}
    if kind in _POD_TEMPLATE_KINDS and isinstance(spec, Mapping):
        return ((spec.get("template") or {}).get("spec")) or {}
    return {}


def rollout_targets(docs: Iterable[Mapping[str, Any]]) -> list[WorkloadRef]:
    """Every Deployment, StatefulSet and DaemonSet the documents create, in document order."""
    return [WorkloadRef(str(d["kind"]), str((d.get("metadata") or {}).get("name")))
            for d in docs if d.get("kind") in ROLLOUT_KINDS]


def referenced_images(docs: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """Images of every container and init container the documents would start, first use
    first, each once."""
    seen: dict[str, None] = {}
    for doc in docs:
        spec = _pod_spec(doc)
        for section in ("initContainers", "containers"):
            for container in spec.get(section) or ():
                image = container.get("image") if isinstance(container, Mapping) else None
                if isinstance(image, str) and image:
                    seen.setdefault(image)
    return tuple(seen)


def with_node_port(docs: Sequence[dict[str, Any]], service: str,
                   port: int | None) -> list[dict[str, Any]]:
    """The documents with Service ``service``'s first port set to NodePort ``port`` (None: left
    to the cluster to allocate), for ``nodePort: auto``. Its other ports lose any nodePort they
    declare, so two runs of one manifest never ask for the same one. ``docs`` is not changed."""
    for index, doc in enumerate(docs):
        meta = doc.get("metadata")
        if doc.get("kind") != "Service" or not isinstance(meta, Mapping) \
                or meta.get("name") != service:
            continue
        spec = doc.get("spec")
        ports = spec.get("ports") if isinstance(spec, dict) else None
        if not isinstance(spec, dict) or not isinstance(ports, list) or not ports \
                or not all(isinstance(p, dict) for p in ports):
            raise InjectionFailed(f"Service {service} declares no ports: nodePort: auto has "
                                  "none to set")
        changed = [{k: v for k, v in p.items() if k != "nodePort"} for p in ports]
        if port is not None:
            changed[0]["nodePort"] = port
        return [*docs[:index], {**doc, "spec": {**spec, "ports": changed}}, *docs[index + 1:]]
    raise InjectionFailed(f"the workload manifests define no Service {service}: nodePort: auto "
                          "has no Service to set the port it picked on")
