"""Abort guards (``spec.abort``) and the cluster-wide halt marker: what may stop a run early.

A guard is evaluated at least once a second while faults are active; the first breach undoes
every fault at once and the verdict is ``aborted``. Immutable and free of I/O; the parser builds
these, ``chaos.plan.guards`` judges readings against them, ``chaos.monitor`` does the reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

OnError = Literal["abort", "ignore"]

# consecutive evaluations that could not read anything (Prometheus down, API error) before a
# guard with onError: abort breaches: a guard that cannot see is no guard, but one blip is not
# a reason to stop a game day
ERROR_LIMIT = 3
DEFAULT_INTERVAL_S = 1.0
MAX_INTERVAL_S = 1.0  # "at least once a second"
MIN_INTERVAL_S = 0.1
# always allowed for HTTP and Prometheus guards; anything else needs --chaos-allow-host
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True, slots=True)
class Guard:
    """What every guard has: a name for the report, what to do when it cannot read."""

    type: ClassVar[str] = ""
    name: str
    on_error: OnError = "abort"


@dataclass(frozen=True, slots=True)
class OutageGuard(Guard):
    """The live load's current outage (consecutive unserved requests, and requests hanging
    for longer than the stall threshold) must stay at or below ``max_s``."""

    type: ClassVar[str] = "outage"
    max_s: float = 0.0


@dataclass(frozen=True, slots=True)
class ErrorRateGuard(Guard):
    """Failed / all requests started in the last ``window_s`` must stay at or below ``max``
    (judged once the window holds ``min_requests``)."""

    type: ClassVar[str] = "error-rate"
    max: float = 0.0
    window_s: float = 5.0
    min_requests: int = 5


@dataclass(frozen=True, slots=True)
class HttpGuard(Guard):
    """GET ``url`` (no proxy, no redirects); a status outside ``status`` (default: any 2xx), a
    timeout or a refused connection is a failed check; ``failures`` in a row breach."""

    type: ClassVar[str] = "http"
    url: str = ""
    timeout_s: float = 1.0
    status: tuple[int, ...] = ()
    failures: int = 1


@dataclass(frozen=True, slots=True)
class PrometheusGuard(Guard):
    """An instant PromQL query against ``url``'s HTTP API; every sample must lie within
    [min, max]. An empty result breaches only with ``no_data: abort``."""

    type: ClassVar[str] = "prometheus"
    url: str = ""
    query: str = ""
    min: float | None = None
    max: float | None = None
    timeout_s: float = 1.0
    no_data: Literal["ignore", "abort"] = "ignore"


# kind -> (namespaced?) for the kubernetes guard; chaos.k8s reads each through its typed API
CONDITION_KINDS: dict[str, bool] = {
    "Pod": True,
    "Node": False,
    "Deployment": True,
    "StatefulSet": True,
    "DaemonSet": True,
    "ReplicaSet": True,
    "Job": True,
}
CONDITION_STATUSES = ("True", "False", "Unknown")


@dataclass(frozen=True, slots=True)
class KubernetesGuard(Guard):
    """The condition ``condition`` of one object must have ``status``; a different status, a
    missing condition or a missing object breaches."""

    type: ClassVar[str] = "kubernetes"
    kind: str = ""
    object_name: str = ""
    namespace: str | None = None  # None: the run's namespace (namespaced kinds only)
    condition: str = ""
    status: str = "True"


@dataclass(frozen=True, slots=True)
class HaltGuard(Guard):
    """Built into every run: the cluster's halt marker (``kube-chaos halt``) must be absent.
    Cannot-read is ignored: a control-plane fault must not abort itself through it."""

    type: ClassVar[str] = "halt"
    on_error: OnError = "ignore"


GUARD_TYPES: dict[str, type[Guard]] = {
    g.type: g for g in (OutageGuard, ErrorRateGuard, HttpGuard, PrometheusGuard, KubernetesGuard)
}


@dataclass(frozen=True, slots=True)
class AbortSpec:
    """``spec.abort``: every guard is evaluated every ``interval_s`` while faults are active."""

    guards: tuple[Guard, ...] = ()
    interval_s: float = DEFAULT_INTERVAL_S

    def urls(self) -> list[tuple[str, str]]:
        """(guard name, URL) of every guard that makes HTTP requests."""
        return [(g.name, g.url) for g in self.guards if isinstance(g, HttpGuard | PrometheusGuard)]


@dataclass(frozen=True, slots=True)
class Breach:
    """Why a run was aborted: the guard, what it read, its threshold, and when (epoch s)."""

    guard: str  # the guard's name (its type unless the experiment named it)
    type: str  # outage, error-rate, http, prometheus, kubernetes, halt
    value: float | str | None  # what it read; None when nothing could be read
    threshold: float | str | None
    detail: str
    at: float  # wall time the breach was seen

    def describe(self) -> str:
        shown = "-" if self.value is None else _fmt(self.value)
        limit = "" if self.threshold is None else f" (threshold {_fmt(self.threshold)})"
        return f"guard {self.guard} ({self.type}) breached: {shown}{limit}: {self.detail}"


def _fmt(value: float | str) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


@dataclass(frozen=True, slots=True)
class GuardStats:
    """How one guard was evaluated during a run, for the report: that it really ran at least
    once a second (``max_gap_s``) and what it read last."""

    name: str
    type: str
    evaluations: int
    max_gap_s: float | None  # longest time between the starts of two evaluations
    last_status: str | None
    last_value: float | str | None
    errors: int = 0  # evaluations that could not read anything


@dataclass(frozen=True, slots=True)
class HaltMarker:
    """The cluster-wide kill switch: while it exists, runs abort and new runs refuse to start."""

    by: str  # user@host (pid) that ran `kube-chaos halt`
    at: float  # epoch seconds, on the halting machine's clock
    reason: str = ""

    def describe(self) -> str:
        from datetime import UTC, datetime

        when = datetime.fromtimestamp(self.at, UTC).isoformat(timespec="seconds")
        why = f": {self.reason}" if self.reason else ""
        return f"halted by {self.by} at {when}{why}"
