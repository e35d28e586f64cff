"""The node agent's namespace and pods, as plain manifests (no I/O: chaos.node.agent creates
them through chaos.k8s.agentpods).

One pod per node a run acts on, pinned there by ``nodeName`` (no scheduler, every taint
tolerated: a NotReady or cordoned node keeps its agent), sharing the node's PID and network
namespaces and privileged, so that ``nsenter -t 1 -a`` lands in the node's own namespaces and
acts with the node's tools. Its namespace is labelled for the privileged Pod Security level;
nothing about it is reachable from the network (the runner execs into it through the API
server). The pod's name says which node and which session it serves, so two sessions on one
cluster never share (or delete) each other's agent.
"""

from __future__ import annotations

import hashlib
from typing import Any

NAMESPACE = "kube-chaos-agent"
APP_LABEL = "kube-chaos.io/node-agent"
NODE_LABEL = "kube-chaos.io/agent-node"
SESSION_LABEL = "kube-chaos.io/agent-session"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "kube-chaos"
PSA = "pod-security.kubernetes.io/enforce"
PROGRAM = "/opt/kube-chaos/agent_main.py"
PYTHON = "/usr/bin/python3"  # absolute: an imported root filesystem has no PATH of its own
CONTAINER = "agent"
# what `nsenter -t 1 -a` runs as: the node's PID 1, in all its namespaces
HOST_PREFIX = ("nsenter", "-t", "1", "-a", "--")
# what the node's commands are looked up in, once nsenter is in the node's mount namespace
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def label_value(text: str) -> str:
    """``text`` as a label value (at most 63 characters of [A-Za-z0-9._-], alphanumeric at
    both ends), shortened with a digest when it would not fit as it is."""
    clean = "".join(c if c.isalnum() or c in "._-" else "-" for c in text).strip("._-")
    if clean == text and len(text) <= 63:
        return text
    return f"{clean[:50].strip('._-')}-{_short(text)}".strip("-")


def pod_name(node: str, session: str) -> str:
    """A DNS-1123 name (at most 63 characters) for the agent of ``session`` on ``node``."""
    base = "".join(c if c.isalnum() else "-" for c in node.lower()).strip("-")[:30].strip("-")
    return f"agent-{base}-{_short(f'{node}/{session}')}"


def namespace_manifest() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": NAMESPACE, "labels": {PSA: "privileged", MANAGED_BY: MANAGER}},
    }


def pod_manifest(node: str, session: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": pod_name(node, session), "namespace": NAMESPACE,
            "labels": {APP_LABEL: "true", NODE_LABEL: label_value(node),
                       SESSION_LABEL: label_value(session), MANAGED_BY: MANAGER},
            "annotations": {"kube-chaos.io/node": node, "kube-chaos.io/session": session},
        },
        "spec": {
            "nodeName": node,
            "hostPID": True,
            "hostNetwork": True,
            "dnsPolicy": "ClusterFirstWithHostNet",
            "restartPolicy": "Always",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 2,
            "tolerations": [{"operator": "Exists"}],
            "containers": [{
                "name": CONTAINER, "image": image, "imagePullPolicy": "IfNotPresent",
                "command": [PYTHON, PROGRAM, "serve"],
                "env": [{"name": "PYTHONUNBUFFERED", "value": "1"},
                        {"name": "PATH", "value": PATH}],
                "securityContext": {"privileged": True, "runAsUser": 0},
                "resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                              "limits": {"memory": "128Mi"}},
            }],
        },
    }


def exec_argv(argv: tuple[str, ...] | list[str], stdin_b64: str | None) -> list[str]:
    """What runs in the agent's container for a command on the node: ``nsenter`` itself, or,
    with a standard input, the agent program handing it over (base64 in an argument)."""
    if stdin_b64 is None:
        return [*HOST_PREFIX, *argv]
    return [PYTHON, PROGRAM, "exec", "--stdin-b64", stdin_b64, "--", *argv]


def arm_argv(key: str, argv: tuple[str, ...] | list[str], stdin_b64: str | None) -> list[str]:
    """Register an undo with the agent's dead man's switch."""
    extra = ["--stdin-b64", stdin_b64] if stdin_b64 is not None else []
    return [PYTHON, PROGRAM, "arm", key, *extra, "--", *argv]


def disarm_argv(key: str) -> list[str]:
    return [PYTHON, PROGRAM, "disarm", key]


def renew_argv(lease_s: float) -> list[str]:
    return [PYTHON, PROGRAM, "renew", f"{lease_s:g}"]
