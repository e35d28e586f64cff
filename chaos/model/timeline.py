"""What an experiment observes: requests, cluster events, buckets and SLA outcomes.

All ``t`` values are wall-clock seconds since the epoch so locust's records (another process)
and Kubernetes watch events share one time axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# How soon a request must be answered (successfully) to count as served, in seconds: slower
# ones are unserved for the longest-outage figure (``maxOutage``) whatever the client's own
# timeout. Declared per experiment as ``slas.outageBound``.
DEFAULT_OUTAGE_BOUND_S = 1.0

EventKind = Literal[
    "pod-ready",
    "pod-unready",
    "pod-added",
    "pod-deleted",
    "endpoint-added",
    "endpoint-removed",
    "restart",
    "node-ready",
    "node-notready",
    "event",
    "fault-start",
    "fault-end",
]


# the error text the open-loop locustfile gives an arrival still in flight at stop
UNFINISHED = "Unfinished:"
# ... and an arrival it dropped because it was itself too late to send it (not the service:
# every sender may be idle); its "no free sender" drops wait on the service instead
LATE_DROP = "Dropped: late,"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One HTTP request; ``t`` is when it started.

    Closed-loop records (``scheduled`` False) start when a user got round to sending them.
    Open-loop records are arrivals on a schedule: ``t`` is the *intended* start, ``sent`` the
    actual one (None: never sent, the arrival was dropped), and ``latency_s`` runs from the
    intended start, so the wait for a free connection or greenlet is part of it (the wait
    coordinated omission hides).
    """

    t: float
    latency_s: float
    ok: bool
    status: int
    error: str | None = None
    scheduled: bool = False
    sent: float | None = None

    @property
    def end(self) -> float:
        return self.t + self.latency_s

    @property
    def dropped(self) -> bool:
        """An open-loop arrival that could not be sent on time (always a failure)."""
        return self.scheduled and self.sent is None

    @property
    def late_drop(self) -> bool:
        """A dropped arrival that the generator itself reached too late (chaos.plan.generator:
        the load machine fell behind, whatever the service did)."""
        return self.dropped and (self.error or "").startswith(LATE_DROP)

    @property
    def unfinished(self) -> bool:
        """An open-loop arrival sent but still unanswered when the load stopped: neither served
        nor failed, so figures count it apart (``requests_in_flight_at_stop``)."""
        return self.scheduled and not self.ok and (self.error or "").startswith(UNFINISHED)


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    t: float
    kind: str
    name: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Bucket:
    """Requests that started in ``[start, start + width)``."""

    start: float
    width: float
    requests: int
    failures: int
    p95_s: float | None

    @property
    def error_rate(self) -> float | None:
        return self.failures / self.requests if self.requests else None


SLAOp = Literal["<=", ">=", "=="]
SLAUnit = Literal["s", "ms", "ratio", "count", "bool"]


@dataclass(frozen=True, slots=True)
class SLAResult:
    """One declared SLA's outcome. ``observed`` is None when it could not be measured (fails)."""

    name: str
    threshold: float
    observed: float | None
    passed: bool
    unit: str
    op: str = "<="
    # maxOutage only: the outage bound its figure was measured with (seconds): requests not
    # answered successfully within it counted as unserved
    bound_s: float | None = None
