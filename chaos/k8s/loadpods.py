"""The in-cluster load's locust worker pods: created from a plain dict spec, read back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from chaos.errors import ClusterError
from chaos.k8s.client import Kube

LABEL = "kube-chaos.io/load-worker"
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"


def pod_manifest(name: str, image: str, index: int, args: Sequence[str],
                 env: Mapping[str, str]) -> dict[str, Any]:
    """A bare pod (no controller: a worker that dies is not replaced mid-run, and its loss is
    visible as a missing final batch), unprivileged, without an API token. It prefers a
    control-plane node, tolerating its taint: the worker-node faults (drain, which refuses
    bare pods; node loss; cordon) then leave the load generators alone, as they leave the
    master on this machine alone."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {LABEL: str(index),
                                              "app.kubernetes.io/managed-by": "kube-chaos"}},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 5,
            "enableServiceLinks": False,
            "tolerations": [{"key": CONTROL_PLANE, "operator": "Exists",
                             "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "preference": {"matchExpressions": [
                    {"key": CONTROL_PLANE, "operator": "Exists"}]}}]}},
            "containers": [{
                "name": "locust", "image": image, "imagePullPolicy": "Never",
                "args": list(args),
                "env": [{"name": k, "value": v} for k, v in sorted(env.items())],
                "securityContext": {"runAsNonRoot": True, "runAsUser": 65534,
                                    "allowPrivilegeEscalation": False,
                                    "capabilities": {"drop": ["ALL"]}},
            }],
        },
    }


def create_pod(kube: Kube, namespace: str, manifest: dict[str, Any]) -> None:
    try:
        # the client takes a plain dict body as it is (typed as its model class)
        kube.core.create_namespaced_pod(namespace, cast(Any, manifest))
    except (ApiException, HTTPError) as exc:
        raise ClusterError(f"cannot create load worker pod {manifest['metadata']['name']} in "
                           f"{namespace}: {exc}") from exc

