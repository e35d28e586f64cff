"""A network fault's peer, read once from the API server when the fault starts.

Addresses are resolved at inject time and not followed afterwards: a peer pod replaced during
the fault comes back with a new IP that the fault's rules do not name (a partition then leaks
through the replacement). The fault reports the addresses it used, and that choice keeps the
rules fixed, as a firewall change would be, instead of re-writing them behind the load's back.
"""

from __future__ import annotations

from typing import Any

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from chaos.errors import InjectionFailed
from chaos.k8s.client import Kube
from chaos.model.experiment import Peer, Selector


def pod_ips(kube: Kube, namespace: str, selector: Selector) -> list[str]:
    """IPs of the pods matching ``selector`` that have one (pending pods have none yet)."""
    try:
        items: list[Any] = kube.core.list_namespaced_pod(
            namespace, label_selector=selector.to_label_selector()).items
    except (ApiException, HTTPError) as exc:
        raise InjectionFailed(f"cannot list peer pods {selector.to_label_selector()} in "
                              f"{namespace}: {exc}") from exc
    ips: list[str] = []
    for p in items:
        status = p.status
        found = [a.ip for a in (status.pod_ips or []) if a.ip] if status else []
        if not found and status is not None and status.pod_ip:
            found = [status.pod_ip]
        ips += found
    return ips


def service_addresses(kube: Kube, namespace: str, name: str) -> list[str]:
    """The Service's cluster IPs, and the IPs of the pods its selector matches: traffic through
    the cluster IP shows that address inside a client's netns (kube-proxy translates it on the
    node), while connections its pods open show their own IPs."""
    try:
        svc: Any = kube.core.read_namespaced_service(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            raise InjectionFailed(f"peer Service {namespace}/{name} does not exist") from exc
        raise InjectionFailed(f"cannot read peer Service {namespace}/{name}: {exc.reason}") \
            from exc
    except HTTPError as exc:
        raise InjectionFailed(f"cannot read peer Service {namespace}/{name}: {exc}") from exc
    spec = svc.spec
    if spec.type == "ExternalName":
        raise InjectionFailed(f"peer Service {namespace}/{name} is an ExternalName: it has no "
                              f"addresses to cut")
    ips = [ip for ip in (spec.cluster_ips or [spec.cluster_ip]) if ip and ip != "None"]
    if spec.selector:
        ips += pod_ips(kube, namespace, Selector.of(spec.selector))
    return ips


def resolve(kube: Kube, namespace: str, peer: Peer) -> list[str]:
    """Every address ``peer`` stands for now, unnormalised (``netrules.Addresses.of`` next)."""
    if peer.selector is not None:
        return pod_ips(kube, namespace, peer.selector)
    if peer.service is not None:
        return service_addresses(kube, namespace, peer.service)
    return list(peer.cidrs)
