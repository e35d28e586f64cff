"""The API-server probe: a light read every 100 ms through the kubeconfig's server (the load
balancer on an HA cluster), next to the workload's load; once a second the leader-election
Leases of kube-controller-manager and kube-scheduler and /readyz/etcd; every two seconds each
etcd member's own /health, read inside its control-plane node.

Its own client with retries off and a 1 s timeout: a retried or slow request would hide the
outage it is there to measure. Threads, so a hung request delays only its own series.
"""

from __future__ import annotations

import copy
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Protocol

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from chaos.k8s import nodes as knodes
from chaos.k8s.client import Kube
from chaos.model.apiprobe import ApiProbeData, LeaseReading, MemberReading
from chaos.model.timeline import RequestRecord

LEASES = ("kube-controller-manager", "kube-scheduler")
ETCD_HEALTH = "http://127.0.0.1:2381/health"  # kubeadm's etcd --listen-metrics-urls


class NodeExec(Protocol):
    """What the probe needs of the run's node runtime (chaos.node.runtime.NodeRuntime): a
    command run on a node."""

    def exec(self, node: str, *argv: str, stdin: str | None = None,
             timeout: float = 30) -> subprocess.CompletedProcess[str]: ...


def _prober(kube: Kube) -> client.ApiClient:
    cfg = copy.copy(kube.api.configuration)
    cfg.retries = False
    return client.ApiClient(cfg)


def _timed(call: Callable[[], object], wall: Callable[[], float]) -> RequestRecord:
    start, mono = wall(), time.monotonic()
    try:
        call()
    except ApiException as exc:
        return RequestRecord(start, time.monotonic() - mono, False, exc.status or 0,
                             f"{exc.status} {exc.reason}")
    except (HTTPError, OSError, ValueError) as exc:
        return RequestRecord(start, time.monotonic() - mono, False, 0, type(exc).__name__)
    return RequestRecord(start, time.monotonic() - mono, True, 200)


class ApiProbe:
    """Start, stop, then read ``data()``; never raises from its threads."""

    def __init__(self, kube: Kube, members: list[str], interval_s: float = 0.1,
                 timeout_s: float = 1.0, wall: Callable[[], float] = time.time,
                 node: NodeExec | None = None) -> None:
        """``members``: the control-plane nodes whose etcd is read through ``node`` (none
        without a node runtime)."""
        self.api = _prober(kube)
        self.coordination = client.CoordinationV1Api(self.api)
        self.node = node
        self.members = list(members) if node is not None else []
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.wall = wall
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._requests: list[RequestRecord] = []
        self._etcd: list[RequestRecord] = []
        self._leases: list[LeaseReading] = []
        self._members: list[MemberReading] = []
        self._threads: list[threading.Thread] = []

    # -- the three series ----------------------------------------------------------------------

    def _get(self, path: str) -> None:
        """GET ``path``; raises ApiException on an error status (the body is not parsed)."""
        params = self.api.param_serialize(method="GET", resource_path=path,
                                          auth_settings=["BearerToken"])
        resp = self.api.call_api(*params, _request_timeout=self.timeout_s)
        resp.read()
        if not 200 <= resp.status < 300:
            raise ApiException(status=resp.status, reason=resp.reason)

    def _read_once(self) -> RequestRecord:
        # a namespace read is a quorum read of etcd: it fails when etcd has no quorum
        return _timed(lambda: self._get("/api/v1/namespaces/kube-system"), self.wall)

    def _requests_loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            rec = self._read_once()
            with self._lock:
                self._requests.append(rec)
            next_at = max(next_at + self.interval_s, time.monotonic())
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _lease(self, name: str) -> LeaseReading:
        t = self.wall()
        try:
            lease = self.coordination.read_namespaced_lease(name, "kube-system",
                                                            _request_timeout=self.timeout_s)
            holder = lease.spec.holder_identity if lease.spec else None
        except (ApiException, HTTPError, OSError, ValueError):
            holder = None
        return LeaseReading(t, name, holder)

    def _etcd_ready(self) -> RequestRecord:
        return _timed(lambda: self._get("/readyz/etcd"), self.wall)

    def _leases_loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            readings = [self._lease(name) for name in LEASES]
            ready = self._etcd_ready()
            with self._lock:
                self._leases += readings
                self._etcd.append(ready)
            self._stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))

    def _member(self, node: str) -> MemberReading:
        t = self.wall()
        assert self.node is not None  # no members without one
        proc = self.node.exec(node, "curl", "-s", "-m", "1", ETCD_HEALTH, timeout=3)
        out = (proc.stdout or proc.stderr).strip()
        if proc.returncode != 0:
            return MemberReading(t, node, None, out[:200] or f"exit {proc.returncode}")
        return MemberReading(t, node, '"health":"true"' in out, out[:200])

    def _members_loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            readings = [self._member(node) for node in self.members]
            with self._lock:
                self._members += readings
            self._stop.wait(max(0.0, 2.0 - (time.monotonic() - started)))

    # -- control ----------------------------------------------------------------------------

    def start(self) -> None:
        loops = [self._requests_loop, self._leases_loop]
        if self.members:
            loops.append(self._members_loop)
        for loop in loops:
            t = threading.Thread(target=loop, name=f"kube-chaos-api-probe-{loop.__name__}",
                                 daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        """Stop every series (idempotent); a request in flight ends by its own timeout."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout_s + 3.5)

    def data(self) -> ApiProbeData:
        with self._lock:
            return ApiProbeData(
                requests=tuple(self._requests), etcd_ready=tuple(self._etcd),
                leases=tuple(self._leases), members=tuple(self._members),
                interval_s=self.interval_s, server=str(self.api.configuration.host))


def control_plane_nodes(kube: Kube) -> list[str]:
    return sorted(n.name for n in knodes.list_nodes(kube) if n.control_plane)
