"""The node agent's namespace and pods through the API (their manifests: chaos.plan.agent)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from chaos.clock import SYSTEM_CLOCK, Clock, Deadline
from chaos.errors import ClusterError
from chaos.k8s.client import Kube
from chaos.plan import agent as plan

# a container that waits for one of these will not start by itself
_STUCK = ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName",
          "CreateContainerConfigError", "CreateContainerError", "RunContainerError",
          "CrashLoopBackOff")


class AgentRefused(ClusterError):
    """The cluster refused the agent's namespace or pod (admission, RBAC, quota)."""


@dataclass(frozen=True, slots=True)
class AgentPod:
    name: str
    node: str
    phase: str
    ready: bool
    waiting: str  # the container's waiting reason and message, "" when none
    deleting: bool

    @property
    def usable(self) -> bool:
        return self.phase == "Running" and self.ready and not self.deleting


def _message(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        import json

        try:
            body = json.loads(exc.body or "")
        except (TypeError, ValueError):
            body = None
        if isinstance(body, dict) and body.get("message"):
            return f"{exc.status} {body['message']}"
        return f"{exc.status} {exc.reason}"
    return str(exc) or type(exc).__name__


def ensure_namespace(kube: Kube) -> None:
    """The agent's namespace, labelled for privileged Pod Security; created when absent (one
    that is there is taken as it is: its label is named when a pod is refused)."""
    try:
        kube.core.read_namespace(plan.NAMESPACE)
        return
    except ApiException as exc:
        if exc.status != 404:
            raise ClusterError(f"namespace {plan.NAMESPACE}: {_message(exc)}") from exc
    except HTTPError as exc:
        raise ClusterError(f"namespace {plan.NAMESPACE}: {_message(exc)}") from exc
    try:
        kube.core.create_namespace(cast(Any, plan.namespace_manifest()))
    except ApiException as exc:
        if exc.status == 409:
            return
        raise AgentRefused(f"cannot create the agent's namespace {plan.NAMESPACE}: "
                           f"{_message(exc)}") from exc
    except HTTPError as exc:
        raise ClusterError(f"namespace {plan.NAMESPACE}: {_message(exc)}") from exc


def create_pod(kube: Kube, manifest: dict[str, Any]) -> None:
    """Create the agent pod; one already there under that name is taken as it is."""
    name = manifest["metadata"]["name"]
    try:
        kube.core.create_namespaced_pod(plan.NAMESPACE, cast(Any, manifest))
    except ApiException as exc:
        if exc.status == 409:
            return
        raise AgentRefused(f"cannot create node agent pod {plan.NAMESPACE}/{name} (privileged, "
                           f"hostPID, hostNetwork): {_message(exc)}; the namespace must allow "
                           f"privileged pods ({plan.PSA}=privileged, and no other admission "
                           f"policy refusing them)") from exc
    except HTTPError as exc:
        raise ClusterError(f"node agent pod {name}: {_message(exc)}") from exc


def _view(pod: Any) -> AgentPod:
    statuses = (pod.status.container_statuses if pod.status else None) or []
    waiting = ""
    for st in statuses:
        w = st.state.waiting if st.state else None
        if w is not None and w.reason:
            waiting = f"{w.reason}: {w.message}" if w.message else w.reason
    return AgentPod(
        name=pod.metadata.name,
        node=(pod.spec.node_name if pod.spec else None) or "",
        phase=(pod.status.phase if pod.status else None) or "Unknown",
        ready=bool(statuses) and all(st.ready for st in statuses),
        waiting=waiting,
        deleting=pod.metadata.deletion_timestamp is not None,
    )


def read_pod(kube: Kube, name: str) -> AgentPod | None:
    try:
        return _view(kube.core.read_namespaced_pod(name, plan.NAMESPACE))
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise ClusterError(f"node agent pod {name}: {_message(exc)}") from exc
    except HTTPError as exc:
        raise ClusterError(f"node agent pod {name}: {_message(exc)}") from exc


def agents_on(kube: Kube, node: str) -> list[AgentPod]:
    """Every usable agent pod on ``node`` (any session's), by name."""
    try:
        pods = kube.core.list_namespaced_pod(
            plan.NAMESPACE, label_selector=f"{plan.APP_LABEL}=true",
            field_selector=f"spec.nodeName={node}").items
    except ApiException as exc:
        if exc.status == 404:
            return []
        raise ClusterError(f"node agent pods on {node}: {_message(exc)}") from exc
    except HTTPError as exc:
        raise ClusterError(f"node agent pods on {node}: {_message(exc)}") from exc
    return sorted((v for v in map(_view, pods) if v.usable), key=lambda v: v.name)


def wait_usable(kube: Kube, name: str, timeout_s: float, clock: Clock = SYSTEM_CLOCK) -> AgentPod:
    """Wait until the agent pod runs and is ready; ClusterError naming what it waits for
    when it is stuck (its image cannot be had, say) or ``timeout_s`` runs out."""
    deadline = Deadline(clock, timeout_s)
    last: AgentPod | None = None
    while True:
        last = read_pod(kube, name)
        if last is not None and last.usable:
            return last
        if last is not None and last.waiting.split(":")[0] in _STUCK:
            raise ClusterError(f"node agent pod {plan.NAMESPACE}/{name} on {last.node} cannot "
                               f"start: {last.waiting}")
        if deadline.expired():
            what = "gone" if last is None else f"{last.phase}, {last.waiting or 'not ready'}"
            raise ClusterError(f"node agent pod {plan.NAMESPACE}/{name} not running after "
                               f"{timeout_s:g}s ({what})")
        deadline.sleep(0.5)


def delete_pod(kube: Kube, name: str) -> None:
    try:
        kube.core.delete_namespaced_pod(name, plan.NAMESPACE, grace_period_seconds=1)
    except ApiException as exc:
        if exc.status != 404:
            raise ClusterError(f"delete node agent pod {name}: {_message(exc)}") from exc
    except HTTPError as exc:
        raise ClusterError(f"delete node agent pod {name}: {_message(exc)}") from exc


def node_state(kube: Kube, node: str) -> tuple[bool, str]:
    """(whether the Node object exists, its InternalIP); ClusterError when it cannot be read."""
    try:
        obj = kube.core.read_node(node)
    except ApiException as exc:
        if exc.status == 404:
            return False, ""
        raise ClusterError(f"node {node}: {_message(exc)}") from exc
    except HTTPError as exc:
        raise ClusterError(f"node {node}: {_message(exc)}") from exc
    addresses = (obj.status.addresses if obj.status else None) or []
    return True, next((a.address for a in addresses if a.type == "InternalIP"), "")
