"""Breaking and restoring a pod's probes, and reading what Kubernetes did about it.

Two ways in:

* ``admin_call`` talks to our workload's admin endpoints through the API server's pod proxy,
  so it works from the host without any port-forward.
* ``chaos.node.netns.block_probe`` / ``delete_table`` put an nftables table (named by
  ``table_name`` here) into the pod's network namespace on its node that drops TCP to the probe
  port from the node's own addresses. On kind (kindnet, ptp veths) the kubelet's probes leave
  the node from the host side of the pod's veth (the node's address in the pod CIDR, e.g.
  10.244.1.1), while load that enters through a NodePort on another node arrives SNATed to that
  node's InternalIP. Load that enters through a NodePort on the *same* node is masqueraded to
  the same address as the kubelet, so it is dropped too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from chaos.errors import ClusterError, InjectionFailed, RollbackFailed
from chaos.k8s.client import Kube
from chaos.plan import netrules

ProbeName = Literal["readiness", "liveness", "startup"]


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    probe: str
    handler: str  # httpGet | tcpSocket | exec | grpc
    port: int | None  # resolved container port (named ports looked up)
    path: str | None
    initial_delay_s: int
    period_s: int
    timeout_s: int
    failure_threshold: int
    success_threshold: int

    def as_dict(self) -> dict[str, object]:
        return {"handler": self.handler, "port": self.port, "path": self.path,
                "initialDelaySeconds": self.initial_delay_s, "periodSeconds": self.period_s,
                "timeoutSeconds": self.timeout_s, "failureThreshold": self.failure_threshold,
                "successThreshold": self.success_threshold}


def _resolve_port(container: Any, port: Any) -> int | None:
    if port is None:
        return None
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for p in container.ports or []:
        if p.name == port:
            return int(p.container_port)
    return None


def probe_settings(pod: Any, probe: str, container: str | None = None) -> ProbeSettings | None:
    """The probe's settings from the pod spec, with Kubernetes' defaults filled in."""
    containers = pod.spec.containers or []
    chosen = next((c for c in containers if c.name == container), None) if container else (
        containers[0] if containers else None)
    if chosen is None:
        return None
    spec = getattr(chosen, f"{probe}_probe", None)
    if spec is None:
        return None
    handler, port, path = "exec", None, None
    if spec.http_get is not None:
        handler, port, path = "httpGet", _resolve_port(chosen, spec.http_get.port), \
            spec.http_get.path
    elif spec.tcp_socket is not None:
        handler, port = "tcpSocket", _resolve_port(chosen, spec.tcp_socket.port)
    elif getattr(spec, "grpc", None) is not None:
        handler, port = "grpc", int(spec.grpc.port)
    return ProbeSettings(
        probe=probe, handler=handler, port=port, path=path,
        initial_delay_s=spec.initial_delay_seconds or 0,
        period_s=spec.period_seconds or 10,
        timeout_s=spec.timeout_seconds or 1,
        failure_threshold=spec.failure_threshold or 3,
        success_threshold=spec.success_threshold or 1,
    )


def read_pod(kube: Kube, namespace: str, name: str) -> Any | None:
    try:
        return kube.core.read_namespaced_pod(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise ClusterError(f"cannot read pod {namespace}/{name}: {exc.reason}") from exc
    except HTTPError as exc:
        raise ClusterError(f"cannot read pod {namespace}/{name}: {exc}") from exc


def restart_count(pod: Any, container: str | None = None) -> int:
    statuses = pod.status.container_statuses or []
    for s in statuses:
        if container is None or s.name == container:
            return int(s.restart_count or 0)
    return 0


# --- admin endpoints through the pod proxy ----------------------------------------------------

def admin_call(kube: Kube, namespace: str, pod: str, port: int, verb: Literal["fail", "clear"],
               probe: str, seconds: float = 0, *, missing_ok: bool = False) -> dict[str, Any]:
    """POST /admin/<verb>?probe=...: the workload's cooperative probe switch.

    ``missing_ok``: a pod that is gone needs no clearing (used by undo).
    """
    query = [("probe", probe)] + ([("seconds", f"{seconds:g}")] if verb == "fail" else [])
    return _proxy(kube, "POST", namespace, pod, port, f"admin/{verb}", query,
                  missing_ok=missing_ok, err=RollbackFailed if verb == "clear" else InjectionFailed)


def admin_state(kube: Kube, namespace: str, pod: str, port: int) -> dict[str, Any]:
    return _proxy(kube, "GET", namespace, pod, port, "admin/state", [], missing_ok=False,
                  err=ClusterError)


def _proxy(kube: Kube, method: str, namespace: str, pod: str, port: int, path: str,
           query: list[tuple[str, str]], *, missing_ok: bool,
           err: type[Exception]) -> dict[str, Any]:
    api = kube.api
    params = api.param_serialize(
        method=method,
        resource_path="/api/v1/namespaces/{namespace}/pods/{name}/proxy/" + path,
        path_params={"namespace": namespace, "name": f"{pod}:{port}"},
        query_params=query,
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    what = f"{method} {path} on pod {namespace}/{pod}:{port}"
    try:
        resp: Any = api.call_api(*params, _request_timeout=15)
        resp.read()
        status, data = resp.status, resp.data
    except ApiException as exc:
        status, data = exc.status or 0, (exc.body or "").encode() if isinstance(
            exc.body, str) else (exc.body or b"")
    except (HTTPError, OSError) as exc:
        raise err(f"{what}: {exc}") from exc
    text = data.decode(errors="replace") if isinstance(data, bytes) else str(data)
    if status == 404 and missing_ok:
        return {}
    if status == 503 and missing_ok and "no endpoints" not in text and "not found" in text:
        return {}
    if not 200 <= status < 300:
        if missing_ok and status in (502, 503):
            # the pod exists but nothing listens (container restarting): a fresh process has
            # no broken probe, so there is nothing to clear
            return {}
        raise err(f"{what}: HTTP {status}: {text.strip()[:300]}")
    try:
        body = json.loads(text)
    except ValueError:
        return {"raw": text}
    return body if isinstance(body, dict) else {"raw": body}


# --- network block inside the pod's netns (chaos.node.netns.block_probe does the work) -------

TABLE_PREFIX = "kube_chaos_probe_"


def table_name(pod: str) -> str:
    """nftables identifiers: letters, digits, underscore; keep it short and unique per pod."""
    return netrules.table_name("probe", pod)


# --- endpoints ---------------------------------------------------------------------------------

def ready_endpoint_pods(kube: Kube, namespace: str) -> set[str]:
    """Pods that are ready endpoints of any EndpointSlice in the namespace."""
    try:
        slices: list[Any] = kube.discovery.list_namespaced_endpoint_slice(namespace).items
    except (ApiException, HTTPError) as exc:
        raise ClusterError(f"cannot list EndpointSlices in {namespace}: {exc}") from exc
    found: set[str] = set()
    for s in slices:
        for ep in s.endpoints or []:
            ready = ep.conditions.ready if ep.conditions else None
            if ready and ep.target_ref is not None and ep.target_ref.kind == "Pod":
                found.add(ep.target_ref.name)
    return found


def event_times(kube: Kube, namespace: str, pod: str, reason: str, since: float) -> list[float]:
    """Wall times (epoch s) of the pod's events with ``reason`` at or after ``since``.

    Uses the event's most precise stamp (eventTime, else lastTimestamp, whole seconds).
    """
    try:
        listing: Any = kube.core.list_namespaced_event(
            namespace, field_selector=f"involvedObject.name={pod},reason={reason}")
    except (ApiException, HTTPError):
        return []
    found = []
    for ev in listing.items:
        stamp = ev.event_time or ev.last_timestamp or ev.first_timestamp
        if stamp is not None and stamp.timestamp() >= since - 1.0:
            found.append(stamp.timestamp())
    return sorted(found)
