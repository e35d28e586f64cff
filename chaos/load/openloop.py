"""kube-chaos open-loop locustfile: arrivals on a schedule, independent of the responses.

locust has no open-loop mode (``constant_throughput`` paces each user after its *own*
response, so a hanging service slows the load down and its wait is never measured). Here one
scheduler walks a fixed arrival schedule (``arrivals.py``, loaded by path) and hands each
arrival to an idle sender: long-lived greenlets, grown on demand up to
``KUBE_CHAOS_MAX_IN_FLIGHT``, each sending one request at a time over a shared keep-alive
connection pool (geventhttpclient's ``HTTPClient``, the client under locust's FastHttpUser,
used directly: no cookie jar, no redirects, no retries of its own). Each request's event
carries its intended start in its context, so the capture module records the intended start,
the actual start, and the latency from the *intended* start. An arrival that finds no idle
sender within ``KUBE_CHAOS_DROP_AFTER_S`` of its intended start (all are busy, or the process
is too busy to send it in time) is recorded as a failed request, ``dropped``: never silently
skipped.

Why not a greenlet per arrival on locust's FastHttpSession (the first version): that cost 370-
450 µs of CPU per arrival against 250 for plain locust's closed loop, so the generator's own
lateness, not the service, set the latency near its limit (docs/measurements.md).

Runs inside the locust subprocess (never import it from the harness).

Environment (set by chaos.load.runner): KUBE_CHAOS_SEGMENTS (JSON list of
[rate_from, rate_to, seconds|null]), KUBE_CHAOS_RUN_S (schedule length), KUBE_CHAOS_WORKER /
KUBE_CHAOS_WORKERS (this process's share), KUBE_CHAOS_MAX_IN_FLIGHT, KUBE_CHAOS_DROP_AFTER_S,
KUBE_CHAOS_MAX_REQUESTS, and the default locustfile's KUBE_CHAOS_PATH, KUBE_CHAOS_TIMEOUT_S,
KUBE_CHAOS_KEEPALIVE, KUBE_CHAOS_HEADERS, KUBE_CHAOS_TLS_VERIFY.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import Event
from gevent.hub import Waiter
from gevent.pool import Group
from geventhttpclient import HTTPClient
from locust import User, task
from locust.contrib.fasthttp import insecure_ssl_context_factory
from locust.exception import StopUser

_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("kube_chaos_arrivals",
                                               os.path.join(_here, "arrivals.py"))
assert _spec is not None and _spec.loader is not None
arrivals: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(arrivals)

# the names kube_chaos_capture.py reads from the request event's context
CTX_INTENDED = "kube_chaos_intended"
CTX_DROPPED = "kube_chaos_dropped"

SEGMENTS = [(float(a), float(b), None if c is None else float(c))
            for a, b, c in json.loads(os.environ.get("KUBE_CHAOS_SEGMENTS") or "[[10, 10, null]]")]
RUN_S = float(os.environ.get("KUBE_CHAOS_RUN_S", "60"))
WORKER = int(os.environ.get("KUBE_CHAOS_WORKER", "0"))
WORKERS = int(os.environ.get("KUBE_CHAOS_WORKERS", "1"))
MAX_IN_FLIGHT = int(os.environ.get("KUBE_CHAOS_MAX_IN_FLIGHT", "1000"))
DROP_AFTER_S = float(os.environ.get("KUBE_CHAOS_DROP_AFTER_S", "0.5"))
_MAX = os.environ.get("KUBE_CHAOS_MAX_REQUESTS", "")
# this worker's share of the request budget (arrivals WORKER, WORKER + WORKERS, ...)
LIMIT = -(-(int(_MAX) - WORKER) // WORKERS) if _MAX else None
PATH = os.environ.get("KUBE_CHAOS_PATH", "/")
TIMEOUT_S = float(os.environ.get("KUBE_CHAOS_TIMEOUT_S", "5"))
HEADERS: dict[str, str] = json.loads(os.environ.get("KUBE_CHAOS_HEADERS") or "{}")
if os.environ.get("KUBE_CHAOS_KEEPALIVE", "1") == "0":
    HEADERS["Connection"] = "close"
VERIFY = os.environ.get("KUBE_CHAOS_TLS_VERIFY", "1") != "0"


class Dropped(Exception):
    """The arrival could not be sent within the drop bound of its intended start."""


class Unfinished(Exception):  # its name is the capture's error text
    """The arrival was sent, but the load stopped before its answer came (the harness counts
    it apart: chaos.model.timeline.UNFINISHED)."""


class BadStatus(Exception):  # its name is the capture's error text
    """The service answered with a status that is not a success (>= 400)."""


class OpenLoopUser(User):
    """One per locust process: it runs the schedule with its own senders (see the module's
    docstring); locust spawns it, stops it, and collects its request events like any user's."""

    @task
    def run_schedule(self) -> None:
        senders = Senders(self.environment.events.request.fire, self.host)
        try:
            senders.run()
        except gevent.GreenletExit:  # the load stops: every sender still waiting records so
            senders.kill()
            raise
        raise StopUser()


class Senders:
    """The scheduler and its senders. An idle sender waits on a Waiter of its own; the
    scheduler hands it an arrival with one hub callback, so an arrival costs no greenlet and no
    queue. The newest idle sender goes first (its connection is the warmest)."""

    def __init__(self, fire: Callable[..., None], host: str | None) -> None:
        if not host:
            raise ValueError("open-loop load needs a host (locust --host)")
        self.fire = fire
        self.hub = gevent.get_hub()
        # the locust --host was checked against the allowed hosts before locust started, and
        # kube_chaos_capture refuses any HTTPClient made for another host
        self.http = HTTPClient.from_url(
            host, concurrency=MAX_IN_FLIGHT, connection_timeout=TIMEOUT_S,
            network_timeout=TIMEOUT_S, insecure=not VERIFY, headers=HEADERS,
            # locust's own factory: geventhttpclient's `insecure` alone skips only the
            # hostname check, and a self-signed certificate would still be refused
            ssl_context_factory=None if VERIFY else insecure_ssl_context_factory)
        self.idle: list[Waiter[float | None]] = []
        self.group = Group()
        self.freed = Event()  # set when a sender turns idle while the scheduler waits for one
        self.waiting = False

    def run(self) -> None:
        t0_wall, t0_mono = time.time(), time.monotonic()
        for offset in arrivals.offsets(SEGMENTS, worker=WORKER, workers=WORKERS,
                                       until_s=RUN_S, limit=LIMIT):
            due = t0_mono + offset
            delay = due - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            self._hand_over(t0_wall + offset, due)
        self._wait_for_answers(TIMEOUT_S + 1.0)  # each busy sender has its own timeout
        self.kill()

    def _hand_over(self, intended: float, due: float) -> None:
        late = time.monotonic() - due
        if late > DROP_AFTER_S:
            # "late," opens the text on purpose: chaos.model.timeline.LATE_DROP reads it
            self._drop(intended, late, f"late, due {late * 1000:.0f} ms ago (bound "
                                       f"{DROP_AFTER_S * 1000:.0f} ms): generator overloaded")
            return
        if not self.idle and len(self.group) < MAX_IN_FLIGHT:
            self.group.spawn(self._sender, intended)
            return
        if not self.idle:  # every sender busy: wait for one, up to the bound
            self.waiting = True
            self.freed.clear()
            self.freed.wait(DROP_AFTER_S - late)
            self.waiting = False
            late = time.monotonic() - due
            if not self.idle or late > DROP_AFTER_S:
                self._drop(intended, late, f"no free sender within {DROP_AFTER_S * 1000:.0f} "
                                           f"ms ({MAX_IN_FLIGHT} in flight)")
                return
        self.hub.loop.run_callback(self.idle.pop().switch, intended)

    def _wait_for_answers(self, within_s: float) -> None:
        """Until every sender is idle again (a join would also wait for the idle ones)."""
        # a hand deadline on purpose: this module runs inside locust (also in the worker image,
        # chaos.cluster.locust_image.MODULES) where chaos.clock is not shipped
        deadline = time.monotonic() + within_s
        while len(self.idle) < len(self.group) and time.monotonic() < deadline:
            self.waiting = True
            self.freed.clear()
            self.freed.wait(deadline - time.monotonic())
        self.waiting = False

    def _sender(self, intended: float | None) -> None:
        while intended is not None:
            self._send(intended)
            waiter: Waiter[float | None] = Waiter()
            self.idle.append(waiter)
            if self.waiting:
                self.freed.set()
            intended = waiter.get()

    def kill(self) -> None:
        """Stop every sender: idle ones end, busy ones record their arrival as Unfinished."""
        self.group.kill(block=True, timeout=2.0)

    def _send(self, intended: float) -> None:
        # One bound on the whole request: geventhttpclient's connect and read timeouts apply
        # one after the other (a connect that crawls through SYN retries, then a slow answer,
        # could take twice the timeout). The timer can fire late on a busy machine: an answer
        # that came after the timeout anyway is a failure too (the bound is the definition of
        # served, as in vegeta).
        late = TimeoutError(f"no answer within {TIMEOUT_S:g} s")
        start_wall, start = time.time(), time.monotonic()
        response: Any = None
        length = 0
        error: BaseException | None = None
        timer = gevent.Timeout.start_new(TIMEOUT_S, late)
        try:
            response = self.http.get(PATH)
            length = len(response.read())
            if time.monotonic() - start > TIMEOUT_S:
                error = late
            elif response.status_code >= 400:
                error = BadStatus(f"HTTP {response.status_code}")
        except gevent.GreenletExit:  # killed at stop with no answer yet: say so, never skip it
            # (only get() and read() yield to the hub, so the answer is not complete)
            waited = time.monotonic() - start
            self.fire(request_type="GET", name=PATH, response_time=waited * 1000.0,
                      response_length=0, response=None,
                      exception=Unfinished(f"load stopped {waited * 1000:.0f} ms after "
                                           "sending, before the answer"),
                      start_time=start_wall, url=PATH, context={CTX_INTENDED: intended})
            raise
        except Exception as exc:  # every way a request can fail is a record
            error = exc
        finally:
            timer.close()
        self.fire(request_type="GET", name=PATH,
                  response_time=(time.monotonic() - start) * 1000.0, response_length=length,
                  response=response, exception=error, start_time=start_wall, url=PATH,
                  context={CTX_INTENDED: intended})

    def _drop(self, intended: float, waited_s: float, why: str) -> None:
        self.fire(request_type="GET", name=PATH, response_time=waited_s * 1000.0,
                  response_length=0, response=None, exception=Dropped(why), start_time=None,
                  url=PATH, context={CTX_INTENDED: intended, CTX_DROPPED: True})
