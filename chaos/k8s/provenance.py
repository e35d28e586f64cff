"""What actually ran: the image each workload container resolved to, and each node's versions.

Read from pod and node status (imageID is the digest the kubelet's runtime resolved, so two
runs of the same tag on different builds differ here even when the manifests do not).
"""

from __future__ import annotations

from typing import Any

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from chaos.errors import ClusterError
from chaos.k8s.client import Kube


def container_images(kube: Kube, namespace: str, label_selector: str
                     ) -> list[dict[str, str | None]]:
    """One row per container (init containers too) of the selected pods, sorted by pod."""
    try:
        pods: Any = kube.core.list_namespaced_pod(namespace, label_selector=label_selector,
                                                  _request_timeout=10)
    except (ApiException, HTTPError) as exc:
        raise ClusterError(f"cannot list pods in {namespace}: {exc}") from exc
    rows: list[dict[str, str | None]] = []
    for pod in sorted(pods.items, key=lambda p: p.metadata.name):
        statuses = [*(pod.status.init_container_statuses or []),
                    *(pod.status.container_statuses or [])]
        for st in statuses:
            rows.append({"pod": pod.metadata.name, "node": pod.spec.node_name,
                         "container": st.name, "image": st.image,
                         "image_id": st.image_id or None})
    return rows


def node_versions(kube: Kube) -> list[dict[str, str | None]]:
    """kubelet, container runtime and OS image of every node (status.nodeInfo)."""
    try:
        nodes: Any = kube.core.list_node(_request_timeout=10)
    except (ApiException, HTTPError) as exc:
        raise ClusterError(f"cannot list nodes: {exc}") from exc
    out: list[dict[str, str | None]] = []
    for node in sorted(nodes.items, key=lambda n: n.metadata.name):
        info = node.status.node_info
        out.append({"name": node.metadata.name,
                    "kubelet": info.kubelet_version if info else None,
                    "container_runtime": info.container_runtime_version if info else None,
                    "os_image": info.os_image if info else None})
    return out
