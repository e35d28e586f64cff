"""Abort guards as pure decisions: readings in, verdicts out.

``chaos.engine.monitor`` reads (the live load's records, an HTTP status, a Prometheus response
body, an object's conditions, the halt marker) and hands each reading here; nothing in this
module does I/O. Every function answers with a ``Reading``: ok, failed (counts towards a guard's
``failures``), error (nothing could be read) or no-data; ``judge`` turns a guard's streak of
readings into a breach.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from chaos.errors import ChaosError
from chaos.model.abort import (
    ERROR_LIMIT,
    LOCAL_HOSTS,
    Breach,
    ErrorRateGuard,
    Guard,
    HaltMarker,
    HttpGuard,
    KubernetesGuard,
    OutageGuard,
    PrometheusGuard,
)
from chaos.model.credentials import redact_text, redact_url
from chaos.model.timeline import RequestRecord
from chaos.plan.timeline import STALL_S, served

Status = Literal["ok", "failed", "error", "no-data"]


@dataclass(frozen=True, slots=True)
class Reading:
    """One evaluation of one guard. ``value`` is what was read (None: nothing)."""

    status: Status
    value: float | str | None = None
    threshold: float | str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Streak:
    """Consecutive failed and unreadable evaluations of one guard so far."""

    failed: int = 0
    errors: int = 0


def redacted(guard: Guard, reading: Reading) -> Reading:
    """``reading`` as reports, logs and the audit trail may show it: the credentials of the
    guard's URL (user info, token parameters), wherever its text quotes them, masked."""
    url = guard.url if isinstance(guard, HttpGuard | PrometheusGuard) else ""
    if not url:
        return reading

    def clean(v: float | str | None) -> float | str | None:
        return redact_text(v, [url]) if isinstance(v, str) else v

    return Reading(reading.status, clean(reading.value), clean(reading.threshold),
                   redact_text(reading.detail, [url]))


def judge(guard: Guard, streak: Streak, reading: Reading, now: float
          ) -> tuple[Streak, Breach | None]:
    """The guard's next streak, and a breach when this reading makes one."""
    if reading.status == "failed":
        streak = Streak(failed=streak.failed + 1)
        needed = guard.failures if isinstance(guard, HttpGuard) else 1
        if streak.failed >= needed:
            detail = reading.detail
            if needed > 1:
                detail += f" ({streak.failed} checks in a row)"
            return streak, Breach(guard.name, guard.type, reading.value, reading.threshold,
                                  detail, now)
        return streak, None
    if reading.status == "error":
        streak = Streak(failed=streak.failed, errors=streak.errors + 1)
        if guard.on_error == "abort" and streak.errors >= ERROR_LIMIT:
            return streak, Breach(guard.name, guard.type, None, reading.threshold,
                                  f"could not be evaluated {streak.errors} times in a row "
                                  f"(onError: abort): {reading.detail}", now)
        return streak, None
    return Streak(), None  # ok and no-data end both streaks


# -- the live load ------------------------------------------------------------------------------


def live_seconds(guards: Iterable[Guard], steady_window_s: float) -> float:
    """Seconds of recent records the live readers need: an outage guard must see the last
    served request before an outage longer than its ``max_s`` (plus the monitor's lookback), an
    error-rate guard its window, the steady-state check its window."""
    need = [steady_window_s]
    for g in guards:
        if isinstance(g, OutageGuard):
            need.append(2 * g.max_s + 60.0)
        elif isinstance(g, ErrorRateGuard):
            need.append(g.window_s + 5.0)
    return max(need)


def live_outage(records: Sequence[RequestRecord], now: float, wait_s: float = 0.0,
                stall_s: float = STALL_S) -> tuple[float, float | None]:
    """(seconds, start) of the outage going on at ``now``; (0.0, None) when there is none.

    Records arrive when a request *completes*, so a hanging request is invisible until it
    times out. Two kinds of evidence therefore open an outage: unserved requests (failed, or
    slower than ``stall_s``) started after the last served one; and silence: when nothing at
    all completed since ``last_end``, every client started its next request by
    ``last_end + wait_s`` (its pause between requests) and is still waiting for it, so once
    that is more than ``stall_s`` ago the request is unserved whatever it finally returns.
    The outage runs from the earlier of the two to ``now``, which is where
    ``chaos.plan.timeline.outages`` will put its start afterwards.
    """
    if not records:
        return 0.0, None
    last_served = max((r.t for r in records if served(r, stall_s)), default=None)
    unserved = [r.t for r in records
                if not served(r, stall_s) and (last_served is None or r.t > last_served)]
    starts = [min(unserved)] if unserved else []
    hanging_since = max(r.end for r in records) + wait_s
    if now - hanging_since > stall_s:
        starts.append(hanging_since)
    if not starts:
        return 0.0, None
    start = min(starts)
    return max(0.0, now - start), start


def outage_reading(guard: OutageGuard, records: Sequence[RequestRecord], now: float,
                   load_running: bool, wait_s: float = 0.0, stall_s: float = STALL_S
                   ) -> Reading:
    if not load_running:
        return Reading("error", threshold=guard.max_s,
                       detail="the load generator is not running: no live outage to measure")
    seconds, start = live_outage(records, now, wait_s, stall_s)
    if seconds > guard.max_s:
        return Reading("failed", round(seconds, 3), guard.max_s,
                       f"outage of {seconds:.2f}s going on (since {start:.3f}) exceeds "
                       f"{guard.max_s:g}s")
    return Reading("ok", round(seconds, 3), guard.max_s)


def error_rate_reading(guard: ErrorRateGuard, records: Iterable[RequestRecord], now: float,
                       load_running: bool) -> Reading:
    if not load_running:
        return Reading("error", threshold=guard.max,
                       detail="the load generator is not running: no live error rate")
    window = [r for r in records if now - guard.window_s <= r.t <= now]
    if len(window) < guard.min_requests:
        return Reading("no-data", threshold=guard.max,
                       detail=f"{len(window)} request(s) in the last {guard.window_s:g}s, "
                              f"fewer than minRequests {guard.min_requests}")
    failed = sum(1 for r in window if not r.ok)
    rate = failed / len(window)
    if rate > guard.max:
        return Reading("failed", round(rate, 4), guard.max,
                       f"error rate {rate:.3f} ({failed}/{len(window)}) over the last "
                       f"{guard.window_s:g}s exceeds {guard.max:g}")
    return Reading("ok", round(rate, 4), guard.max)


# -- HTTP ---------------------------------------------------------------------------------------


def http_reading(guard: HttpGuard, status: int | None, error: str | None) -> Reading:
    """``status`` of the response, or ``error`` (timeout, refused) when there was none."""
    expected = "one of " + ", ".join(map(str, guard.status)) if guard.status else "2xx"
    if status is None:
        return Reading("failed", error or "no response", expected,
                       f"GET {guard.url}: {error or 'no response'}")
    good = status in guard.status if guard.status else 200 <= status < 300
    if not good:
        return Reading("failed", status, expected,
                       f"GET {guard.url}: HTTP {status}, expected {expected}")
    return Reading("ok", status, expected)


# -- Prometheus ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    labels: Mapping[str, str]
    value: float

    def series(self) -> str:
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return "{" + inner + "}"


class PromResponseError(ChaosError, ValueError):
    """A body that is not a successful Prometheus instant-query answer."""


def prometheus_samples(body: str | bytes) -> list[Sample]:
    """The samples of an ``/api/v1/query`` response body (vector or scalar); NaN samples are
    dropped (a ratio over no traffic is not a value)."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PromResponseError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise PromResponseError("not a JSON object")
    if doc.get("status") != "success":
        raise PromResponseError(f"{doc.get('errorType', 'error')}: "
                                f"{doc.get('error', 'status is not success')}")
    data = doc.get("data")
    if not isinstance(data, dict):
        raise PromResponseError("no data")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        pairs: list[tuple[object, object]] = [({}, result)]
    elif kind == "vector" and isinstance(result, list):
        pairs = [(r.get("metric", {}), r.get("value")) for r in result if isinstance(r, dict)]
    else:
        raise PromResponseError(f"resultType {kind!r}: the query must give an instant vector "
                                "or a scalar")
    samples = []
    for labels, pair in pairs:
        if not isinstance(pair, list) or len(pair) != 2 or not isinstance(labels, dict):
            raise PromResponseError(f"malformed sample {pair!r}")
        try:
            value = float(str(pair[1]))
        except ValueError:
            raise PromResponseError(f"sample value {pair[1]!r} is not a number") from None
        if not math.isnan(value):
            samples.append(Sample({str(k): str(v) for k, v in labels.items()}, value))
    return samples


def _bounds(guard: PrometheusGuard) -> str:
    parts = []
    if guard.min is not None:
        parts.append(f">= {guard.min:g}")
    if guard.max is not None:
        parts.append(f"<= {guard.max:g}")
    return " and ".join(parts)


def prometheus_reading(guard: PrometheusGuard, body: str | bytes) -> Reading:
    bounds = _bounds(guard)
    try:
        samples = prometheus_samples(body)
    except PromResponseError as exc:
        return Reading("error", threshold=bounds, detail=f"{guard.query}: {exc}")
    if not samples:
        status: Status = "failed" if guard.no_data == "abort" else "no-data"
        return Reading(status, "no data", bounds,
                       f"{guard.query} returned no sample (noData: {guard.no_data})")
    for s in samples:
        low = guard.min is not None and s.value < guard.min
        high = guard.max is not None and s.value > guard.max
        if low or high:
            return Reading("failed", s.value, bounds,
                           f"{guard.query} = {s.value:g} for {s.series()}, must be {bounds}")
    worst = min(samples, key=lambda s: s.value) if guard.min is not None else max(
        samples, key=lambda s: s.value)
    return Reading("ok", worst.value, bounds)


# -- Kubernetes conditions ----------------------------------------------------------------------


def condition_reading(guard: KubernetesGuard, namespace: str | None,
                      conditions: Mapping[str, str] | None) -> Reading:
    """``conditions``: type -> status of the object, None when the object does not exist."""
    where = f"{guard.kind}/{guard.object_name}" + (f" in {namespace}" if namespace else "")
    if conditions is None:
        return Reading("failed", "absent", guard.status, f"{where} does not exist")
    status = conditions.get(guard.condition)
    if status is None:
        return Reading("failed", "absent", guard.status,
                       f"{where} has no {guard.condition} condition")
    if status != guard.status:
        return Reading("failed", status, guard.status,
                       f"{where} condition {guard.condition} is {status}, must be "
                       f"{guard.status}")
    return Reading("ok", status, guard.status)


# -- the kill switch ----------------------------------------------------------------------------


def halt_reading(marker: HaltMarker | None) -> Reading:
    if marker is None:
        return Reading("ok", "absent", "absent")
    return Reading("failed", marker.by, "absent", marker.describe())


# -- which hosts guards may reach ---------------------------------------------------------------


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def host_allowed(url: str, allowed: Iterable[str]) -> bool:
    """127.0.0.1, localhost and ::1 always; other hosts only when allow-listed by name (an IP
    literal also matches its canonical spelling)."""
    host = host_of(url)
    names = {h.strip().lower().strip("[]") for h in (*LOCAL_HOSTS, *allowed) if h.strip()}
    if host in names:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    for name in names:
        try:
            if ipaddress.ip_address(name) == ip:
                return True
        except ValueError:
            continue
    return False


def disallowed(urls: Iterable[tuple[str, str]], allowed: Iterable[str]) -> list[str]:
    """One line per guard whose URL's host is not allowed."""
    allowed = tuple(allowed)
    return [f"guard {name}: {redact_url(url)} (host {host_of(url) or '?'})" for name, url in urls
            if not host_allowed(url, allowed)]
