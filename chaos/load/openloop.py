"""kube-chaos open-loop locustfile: arrivals on a schedule, independent of the responses.

locust has no open-loop mode (``constant_throughput`` paces each user after its *own*
response, so a hanging service slows the load down and its wait is never measured). Here one
scheduler greenlet per locust process walks a fixed arrival schedule (``arrivals.py``, loaded by
path) and hands each arrival to a bounded pool of sender greenlets. Each request's event
carries its intended start in its context, so the capture module records the intended start,
the actual start, and the latency from the *intended* start. An arrival that finds no free
sender within ``KUBE_CHAOS_DROP_AFTER_S`` of its intended start (the pool is full, or the
process is too busy to send it in time) is recorded as a failed request, ``dropped``: never
silently skipped.

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
from typing import Any

import gevent
from gevent.pool import Pool
from locust import FastHttpUser, task
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


class OpenLoopUser(FastHttpUser):
    """One per locust process: the scheduler. Its senders share one connection pool sized like
    the sender pool, so a free sender always finds a connection."""

    concurrency = MAX_IN_FLIGHT
    network_timeout = TIMEOUT_S
    connection_timeout = TIMEOUT_S
    max_retries = 0  # a retry would hide the failure it retries
    insecure = not VERIFY

    @task
    def run_schedule(self) -> None:
        pool = Pool(MAX_IN_FLIGHT)
        try:
            self._schedule(pool)
        except gevent.GreenletExit:  # the load stops: every sender still waiting records so
            pool.kill(block=True, timeout=2.0)
            raise
        raise StopUser()

    def _schedule(self, pool: Pool) -> None:
        t0_wall, t0_mono = time.time(), time.monotonic()
        for offset in arrivals.offsets(SEGMENTS, worker=WORKER, workers=WORKERS,
                                       until_s=RUN_S, limit=LIMIT):
            due = t0_mono + offset
            delay = due - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            intended = t0_wall + offset
            late = time.monotonic() - due
            full = pool.free_count() == 0
            if full and late < DROP_AFTER_S:
                pool.wait_available(timeout=DROP_AFTER_S - late)
            late = time.monotonic() - due
            if late <= DROP_AFTER_S and pool.free_count() > 0:
                pool.spawn(self._send, intended)
            elif full:
                self._drop(intended, late, f"no free sender within {DROP_AFTER_S * 1000:.0f} ms "
                                           f"({MAX_IN_FLIGHT} in flight)")
            else:
                self._drop(intended, late, f"due {late * 1000:.0f} ms ago (bound "
                                           f"{DROP_AFTER_S * 1000:.0f} ms): generator overloaded")
        pool.join(timeout=TIMEOUT_S + 1.0)
        pool.kill(block=True, timeout=2.0)  # none should be left: each has its own timeout

    def _send(self, intended: float) -> None:
        # One bound on the whole request: geventhttpclient's connect and read timeouts apply
        # one after the other (a connect that crawls through SYN retries, then a slow answer,
        # could take twice the timeout). A socket timeout is one of the failures locust's
        # session catches and reports, so the arrival is recorded like any failed request.
        # The timer can fire late on a busy machine: an answer that came after the timeout
        # anyway is a failure too (the bound is the definition of served, as in vegeta).
        late = TimeoutError(f"no answer within {TIMEOUT_S:g} s")
        start = time.monotonic()
        answered = False
        try:
            with gevent.Timeout(TIMEOUT_S, late), self.client.get(
                    PATH, name=PATH, headers=HEADERS, context={CTX_INTENDED: intended},
                    catch_response=True) as response:
                answered = True
                if time.monotonic() - start > TIMEOUT_S:
                    response.failure(late)
        except gevent.GreenletExit:  # killed at stop with no answer yet: say so, never skip it
            if not answered:
                waited = time.monotonic() - start
                self.environment.events.request.fire(
                    request_type="GET", name=PATH, response_time=waited * 1000.0,
                    response_length=0, response=None,
                    exception=Unfinished(f"load stopped {waited * 1000:.0f} ms after sending, "
                                         "before the answer"),
                    start_time=time.time() - waited, url=PATH,
                    context={CTX_INTENDED: intended})
            raise
        except TimeoutError:  # fired outside the session's own error handling: record it
            waited = time.monotonic() - start
            self.environment.events.request.fire(
                request_type="GET", name=PATH, response_time=waited * 1000.0,
                response_length=0, response=None, exception=late,
                start_time=time.time() - waited, url=PATH, context={CTX_INTENDED: intended})

    def _drop(self, intended: float, waited_s: float, why: str) -> None:
        self.environment.events.request.fire(
            request_type="GET", name=PATH, response_time=waited_s * 1000.0,
            response_length=0, response=None, exception=Dropped(why), start_time=None,
            url=PATH, context={CTX_INTENDED: intended, CTX_DROPPED: True})
