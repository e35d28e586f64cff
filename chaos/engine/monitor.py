"""The guard monitor: every abort guard evaluated on its own ticker while faults are active.

Each guard reads through an edge (the live load's records, an HTTP GET, the Prometheus HTTP
API, the Kubernetes API) and hands the reading to the pure judges in ``chaos.plan.guards``; the
first breach triggers the run's ``AbortSignal``, which wakes every fault's wait so its own undo
runs at once. One ticker per guard: a slow or hanging check delays only itself, never the halt
guard. The built-in halt guard reads the cluster's kill switch every quarter second, so a
``kube-chaos halt`` reaches a run within a second and its faults are undone within two.
"""

from __future__ import annotations

import contextlib
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from chaos.abort import AbortSignal
from chaos.clock import Clock, Ticker
from chaos.errors import GuardUnusable
from chaos.model.abort import (
    AbortSpec,
    ErrorRateGuard,
    Guard,
    GuardStats,
    HaltGuard,
    HaltMarker,
    HttpGuard,
    KubernetesGuard,
    OutageGuard,
    PrometheusGuard,
)
from chaos.model.timeline import DEFAULT_OUTAGE_BOUND_S, RequestRecord
from chaos.plan import guards as pg

HALT_INTERVAL_S = 0.25
HALT_TIMEOUT_S = 1.0
MAX_BODY = 1 << 20  # a Prometheus answer larger than 1 MiB is not a guard's query
LOOKBACK_S = 30.0  # load records read before the monitor started (an outage may precede it)


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int | None  # None: no HTTP answer at all (refused, timed out)
    body: bytes = b""
    error: str | None = None


HttpGet = Callable[[str, float], HttpAnswer]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A guard judges the URL it was given: a redirect is its answer, never followed (it could
    lead to a host nobody allowed)."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def http_get(url: str, timeout_s: float) -> HttpAnswer:
    """GET ``url`` directly (no proxy, no redirects), at most ``timeout_s`` per socket step."""
    request = urllib.request.Request(url, headers={"User-Agent": "kube-chaos-guard",
                                                   "Accept": "application/json, */*"})
    try:
        with _OPENER.open(request, timeout=timeout_s) as resp:
            return HttpAnswer(int(resp.status), resp.read(MAX_BODY))
    except urllib.error.HTTPError as exc:
        body = b""
        with contextlib.suppress(OSError):
            body = exc.read(MAX_BODY)
        return HttpAnswer(int(exc.code), body)
    except urllib.error.URLError as exc:
        return HttpAnswer(None, error=str(exc.reason))
    except (TimeoutError, OSError, ValueError) as exc:
        return HttpAnswer(None, error=str(exc) or type(exc).__name__)


def prometheus_query_url(base: str, query: str) -> str:
    return base.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": query})


class LoadView(Protocol):
    @property
    def running(self) -> bool: ...

    def records_since(self, t: float) -> list[RequestRecord]: ...


class ClusterReads(Protocol):
    """What guards read from the cluster (chaos.engine.runner.KubeCluster implements it)."""

    def halt_marker(self, timeout_s: float) -> HaltMarker | None: ...

    def conditions(self, kind: str, name: str, namespace: str | None,
                   timeout_s: float) -> dict[str, str] | None: ...


@dataclass
class GuardCheck:
    """One guard, how to read it, and what it read so far."""

    guard: Guard
    read: Callable[[], pg.Reading]
    interval_s: float
    streak: pg.Streak = field(default_factory=pg.Streak)
    evaluations: int = 0
    errors: int = 0
    last: pg.Reading | None = None
    last_start: float | None = None
    max_gap_s: float | None = None

    def stats(self) -> GuardStats:
        last = self.last
        return GuardStats(self.guard.name, self.guard.type, self.evaluations,
                          None if self.max_gap_s is None else round(self.max_gap_s, 3),
                          last.status if last else None, last.value if last else None,
                          self.errors)


def build_checks(spec: AbortSpec, namespace: str, load: LoadView | None, cluster: ClusterReads,
                 get: HttpGet, clock: Clock, wait_s: float = 0.0, *,
                 outage_bound_s: float = DEFAULT_OUTAGE_BOUND_S) -> list[GuardCheck]:
    """The halt guard first, then the experiment's guards, each with its reader (an outage
    guard counts requests unserved as the experiment's ``slas.outageBound`` says)."""
    since = clock.wall() - LOOKBACK_S
    checks = [GuardCheck(HaltGuard(name="halt"), lambda: pg.halt_reading(
        cluster.halt_marker(HALT_TIMEOUT_S)), HALT_INTERVAL_S)]
    for guard in spec.guards:
        checks.append(GuardCheck(guard, _reader(guard, namespace, load, cluster, get, clock,
                                                since, wait_s, outage_bound_s),
                                 spec.interval_s))
    return checks


def _reader(guard: Guard, namespace: str, load: LoadView | None, cluster: ClusterReads,
            get: HttpGet, clock: Clock, since: float, wait_s: float,
            outage_bound_s: float = DEFAULT_OUTAGE_BOUND_S) -> Callable[[], pg.Reading]:
    if isinstance(guard, OutageGuard | ErrorRateGuard):
        if load is None:
            raise GuardUnusable(f"guard {guard.name}: no live load to read")
        if isinstance(guard, OutageGuard):
            return lambda: pg.outage_reading(guard, load.records_since(since), clock.wall(),
                                             load.running, wait_s, outage_bound_s)
        return lambda: pg.error_rate_reading(
            guard, load.records_since(clock.wall() - guard.window_s - 1), clock.wall(),
            load.running)
    if isinstance(guard, HttpGuard):
        def read_http() -> pg.Reading:
            answer = get(guard.url, guard.timeout_s)
            return pg.http_reading(guard, answer.status, answer.error)
        return read_http
    if isinstance(guard, PrometheusGuard):
        url = prometheus_query_url(guard.url, guard.query)

        def read_prometheus() -> pg.Reading:
            answer = get(url, guard.timeout_s)
            if answer.status is None:
                return pg.Reading("error", detail=f"Prometheus at {guard.url}: {answer.error}")
            return pg.prometheus_reading(guard, answer.body)
        return read_prometheus
    if isinstance(guard, KubernetesGuard):
        ns = guard.namespace or namespace
        if guard.kind == "Node":
            ns_or_none: str | None = None
        else:
            ns_or_none = ns
        timeout = 1.0
        return lambda: pg.condition_reading(guard, ns_or_none, cluster.conditions(
            guard.kind, guard.object_name, ns_or_none, timeout))
    raise GuardUnusable(f"guard {guard.name}: unknown type {guard.type!r}")


class GuardMonitor:
    """Runs the checks until stopped; the first breach triggers ``signal``."""

    def __init__(self, checks: Sequence[GuardCheck], signal: AbortSignal, clock: Clock,
                 log: Callable[[str], None] = lambda _m: None) -> None:
        self.checks = list(checks)
        self.signal = signal
        self.clock = clock
        self.log = log
        self._tickers: list[Ticker] = []
        self._lock = threading.Lock()
        self._stopped = False

    def evaluate(self, check: GuardCheck) -> None:
        """One evaluation of one guard: read, judge, and trigger the abort on a breach."""
        if self.signal.is_set():
            return
        start = self.clock.monotonic()
        try:
            reading = check.read()
        except Exception as exc:  # any failure to read is an unreadable guard, never a crash
            reading = pg.Reading("error", detail=f"{type(exc).__name__}: {exc}")
        reading = pg.redacted(check.guard, reading)  # the one door to reports and logs
        with self._lock:
            if check.last_start is not None:
                gap = start - check.last_start
                check.max_gap_s = gap if check.max_gap_s is None else max(check.max_gap_s, gap)
            check.last_start = start
            check.evaluations += 1
            check.errors += reading.status == "error"
            check.last = reading
            check.streak, breach = pg.judge(check.guard, check.streak, reading,
                                            self.clock.wall())
        if breach is not None and self.signal.trigger(breach):
            self.log(f"abort: {breach.describe()}")

    def start(self) -> None:
        """Evaluate every guard once, here, before any fault (a breach aborts at once, a guard
        of the experiment that cannot be read at all is GuardUnusable), each then ticking on
        its own schedule from that first evaluation, so a slow one delays no other."""
        try:
            for check in self.checks:
                started = self.clock.monotonic()
                self.evaluate(check)
                last = check.last
                if last is not None and last.status == "error" \
                        and check.guard.on_error == "abort":
                    raise GuardUnusable(
                        f"guard {check.guard.name} ({check.guard.type}) cannot be evaluated "
                        f"before any fault: {last.detail}; no fault was injected")
                first = max(0.0, check.interval_s - (self.clock.monotonic() - started))
                self._tickers.append(self.clock.every(
                    check.interval_s, lambda c=check: self.evaluate(c),  # type: ignore[misc]
                    name=f"kube-chaos-guard-{check.guard.name}", first_s=first))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every ticker (idempotent); a check blocked in I/O ends by its own timeout."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        for ticker in self._tickers:
            ticker.stop(join_s=0.2)

    def stats(self) -> list[GuardStats]:
        with self._lock:
            return [c.stats() for c in self.checks]
