"""Figures of the API-server probe (pure): outage windows, leader changes, etcd member health.

An API outage is computed exactly as a service outage (``chaos.plan.timeline.outages``): a run
of consecutive failed (or slower than a second) probe requests, from the first one's start to
the start of the next served one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypedDict

from chaos.model.apiprobe import ApiProbeData, LeaseReading, MemberReading
from chaos.model.timeline import RequestRecord
from chaos.plan import timeline


class WindowDict(TypedDict):
    start_s: float  # relative to the first fault's start (negative: before it)
    end_s: float
    seconds: float
    failures: int


class LeaseChangeDict(TypedDict):
    lease: str
    at_s: float  # relative to the first fault's start
    holder_from: str | None  # node names (the holder identity without its random suffix)
    holder_to: str


class MemberDict(TypedDict):
    samples: int
    unhealthy_samples: int
    unhealthy_windows: list[WindowDict]
    longest_unhealthy_s: float


class ApiFiguresDict(TypedDict):
    server: str
    interval_s: float
    requests: int
    failed: int
    error_rate_during_fault: float | None
    longest_outage_s: float | None
    outage_windows: list[WindowDict]
    etcd_ready_longest_outage_s: float | None
    etcd_ready_outage_windows: list[WindowDict]
    lease_changes: list[LeaseChangeDict]
    reelection_s: dict[str, float | None]  # per lease: fault start -> first new holder seen
    holders_before: dict[str, str | None]
    holders_after: dict[str, str | None]
    etcd_members: dict[str, MemberDict]
    # the control-plane fault lifted (its nodes given back), relative to the fault's start, and
    # how long the API outage going on at that moment lasted beyond it (0: none was going on)
    lifted_at_s: float | None
    back_after_lift_s: float | None


def holder_node(identity: str | None) -> str | None:
    """kube-controller-manager and kube-scheduler hold their Lease as ``<node>_<uuid>``."""
    if not identity:
        return None
    return identity.split("_", 1)[0]


def windows(records: Sequence[RequestRecord], origin: float,
            start: float | None = None, end: float | None = None) -> list[WindowDict]:
    return [WindowDict(start_s=round(o.start - origin, 3), end_s=round(o.end - origin, 3),
                       seconds=round(o.seconds, 3), failures=o.failures)
            for o in timeline.outages(records, start, end)]


def longest_outage_s(records: Sequence[RequestRecord], start: float, end: float
                     ) -> float | None:
    """Longest API outage in [start, end]; None when no probe ran there (not measured)."""
    inside = timeline.in_window(records, start, end)
    if not inside:
        return None
    return round(timeline.longest_outage_s(inside), 3)


def lease_changes(readings: Iterable[LeaseReading], origin: float) -> list[LeaseChangeDict]:
    """Every change of holder, per lease, in time order; unreadable samples are skipped (the
    API being down says nothing about who leads)."""
    last: dict[str, str | None] = {}
    changes: list[LeaseChangeDict] = []
    for r in sorted(readings, key=lambda r: r.t):
        node = holder_node(r.holder)
        if node is None:
            continue
        if r.lease in last and last[r.lease] != node:
            changes.append(LeaseChangeDict(lease=r.lease, at_s=round(r.t - origin, 3),
                                           holder_from=last[r.lease], holder_to=node))
        last[r.lease] = node
    return changes


def holders_at(readings: Iterable[LeaseReading], t: float, after: bool
               ) -> dict[str, str | None]:
    """Each lease's last known holder before ``t`` (after=False) or the last one seen at all."""
    out: dict[str, str | None] = {}
    for r in sorted(readings, key=lambda r: r.t):
        if (after or r.t < t) and holder_node(r.holder) is not None:
            out[r.lease] = holder_node(r.holder)
        else:
            out.setdefault(r.lease, None)
    return out


def member_figures(readings: Iterable[MemberReading], origin: float) -> dict[str, MemberDict]:
    """Per member: unhealthy (or unreachable) runs of samples, from the first such sample to
    the next healthy one."""
    by_member: dict[str, list[MemberReading]] = {}
    for r in sorted(readings, key=lambda r: r.t):
        by_member.setdefault(r.member, []).append(r)
    out: dict[str, MemberDict] = {}
    for member, rows in sorted(by_member.items()):
        runs: list[WindowDict] = []
        start: float | None = None
        count = 0
        for r in rows:
            if r.healthy is not True:
                if start is None:
                    start, count = r.t, 0
                count += 1
            elif start is not None:
                runs.append(WindowDict(start_s=round(start - origin, 3),
                                       end_s=round(r.t - origin, 3),
                                       seconds=round(r.t - start, 3), failures=count))
                start = None
        if start is not None:
            last = rows[-1].t
            runs.append(WindowDict(start_s=round(start - origin, 3), end_s=round(last - origin, 3),
                                   seconds=round(last - start, 3), failures=count))
        out[member] = MemberDict(
            samples=len(rows), unhealthy_samples=sum(1 for r in rows if r.healthy is not True),
            unhealthy_windows=runs, longest_unhealthy_s=max((w["seconds"] for w in runs),
                                                            default=0.0))
    return out


def back_after_lift_s(records: Sequence[RequestRecord], lifted_at: float) -> float | None:
    """Seconds from ``lifted_at`` until the API outage going on then ended (the next served
    probe); 0.0 when none was going on; None when no probe ran after it."""
    if not timeline.in_window(records, lifted_at):
        return None
    for outage in timeline.outages(records):
        if outage.start <= lifted_at < outage.end:
            return round(outage.end - lifted_at, 3)
    return 0.0


def figures(data: ApiProbeData, fault_window: tuple[float, float] | None,
            lifted_at: float | None = None) -> ApiFiguresDict:
    """The report's ``api_server`` section. Times are relative to the first fault's start; with
    no fault, to the first probe."""
    first = data.requests[0].t if data.requests else 0.0
    origin = fault_window[0] if fault_window else first
    start, end = fault_window if fault_window else (first, float("inf"))
    leases = sorted({r.lease for r in data.leases})
    changes = lease_changes(data.leases, origin)
    reelection: dict[str, float | None] = {}
    for lease in leases:
        after = [c["at_s"] for c in changes if c["lease"] == lease and c["at_s"] >= 0]
        reelection[lease] = after[0] if after else None
    inside = timeline.in_window(data.requests, start, end)
    return ApiFiguresDict(
        server=data.server, interval_s=data.interval_s, requests=len(data.requests),
        failed=sum(1 for r in data.requests if not r.ok),
        error_rate_during_fault=(round(timeline.error_rate(inside, start, end) or 0.0, 4)
                                 if inside else None),
        longest_outage_s=longest_outage_s(data.requests, start, end),
        outage_windows=windows(data.requests, origin),
        etcd_ready_longest_outage_s=longest_outage_s(data.etcd_ready, start, end),
        etcd_ready_outage_windows=windows(data.etcd_ready, origin),
        lease_changes=changes, reelection_s=reelection,
        holders_before=holders_at(data.leases, origin, after=False),
        holders_after=holders_at(data.leases, origin, after=True),
        etcd_members=member_figures(data.members, origin),
        lifted_at_s=None if lifted_at is None else round(lifted_at - origin, 3),
        back_after_lift_s=None if lifted_at is None else back_after_lift_s(data.requests,
                                                                           lifted_at))
