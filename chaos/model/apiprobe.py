"""What the API-server probe records next to the load (times are epoch seconds).

Requests reuse ``RequestRecord`` (so an API outage is measured exactly as a service outage is);
lease and etcd-member readings are samples, one a second.
"""

from __future__ import annotations

from dataclasses import dataclass

from chaos.model.timeline import RequestRecord


@dataclass(frozen=True, slots=True)
class LeaseReading:
    """The holder of a kube-system leader-election Lease; ``holder`` None: unreadable."""

    t: float
    lease: str
    holder: str | None


@dataclass(frozen=True, slots=True)
class MemberReading:
    """One etcd member's own health endpoint, read inside its node; ``healthy`` None: the
    member could not be asked (its node lost, paused, or Docker slow)."""

    t: float
    member: str  # the control-plane node it runs on
    healthy: bool | None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ApiProbeData:
    requests: tuple[RequestRecord, ...] = ()  # a light read every interval, via the kubeconfig
    etcd_ready: tuple[RequestRecord, ...] = ()  # /readyz/etcd via the same address, each second
    leases: tuple[LeaseReading, ...] = ()
    members: tuple[MemberReading, ...] = ()
    interval_s: float = 0.1
    server: str = ""  # the address probed (the load balancer on an HA cluster)
