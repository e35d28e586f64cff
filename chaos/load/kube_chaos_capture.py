"""Per-request capture, loaded INSIDE the locust subprocess next to any locustfile.

The harness runs ``locust -f <user locustfile>,<this file>``: locust imports every file of a
comma-separated ``-f`` list and merges their User classes, so this module (which defines no
User) adds its listeners to whatever locustfile the experiment uses.  It must stay
self-contained (stdlib + locust only) and must never be imported by the harness process:
importing locust monkey-patches the process with gevent.

Environment (set by chaos.load.runner):
  KUBE_CHAOS_CAPTURE        capture file path (required; without it this module does nothing)
  KUBE_CHAOS_MAX_REQUESTS   quit the run once this many requests completed (optional)
  KUBE_CHAOS_ALLOWED_HOSTS  comma-separated hosts absolute request URLs may name
"""

from __future__ import annotations

import atexit
import os
import time
from typing import Any
from urllib.parse import urlsplit

import gevent
from locust import events
from locust.clients import HttpSession
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment

FLUSH_INTERVAL_S = 0.2
FLUSH_RECORDS = 2000
ERROR_MAX_CHARS = 160
HEADER = "# kube-chaos capture v2: t\tsent\tlatency_s\tok\tstatus\terror\n"
# Open-loop arrivals carry these in the request event's context (see openloop.py).
CTX_INTENDED = "kube_chaos_intended"
CTX_DROPPED = "kube_chaos_dropped"

_ALLOWED = frozenset(
    h.strip().lower()
    for h in os.environ.get("KUBE_CHAOS_ALLOWED_HOSTS", "127.0.0.1,localhost,::1").split(",")
    if h.strip()
)


def _short_error(exc: BaseException | str) -> str:
    text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    text = text.replace("\t", " ").replace("\r", " ").replace("\n", " ")
    return text[:ERROR_MAX_CHARS]


class Capture:
    """Buffers one line per request and appends them to the capture file in batches."""

    def __init__(self, path: str, max_requests: int | None) -> None:
        self.path = path
        self.max_requests = max_requests
        self.count = 0
        self._buf: list[str] = []
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as locust
        self._file.write(HEADER)
        # how this process's wall clock stands to the machine's monotonic clock: load
        # processes compare it to state (and, across machines, correct) their clock offsets
        self._file.write(f"# clock wall_minus_monotonic={time.time() - time.monotonic():.6f}\n")
        self._file.flush()
        self._env: Environment | None = None
        self._quitting = False

    def on_request(
        self,
        response_time: float,
        exception: BaseException | str | None = None,
        response: Any = None,
        start_time: float | None = None,
        context: Any = None,
        **_: Any,
    ) -> None:
        latency = (response_time or 0.0) / 1000.0
        t = start_time if start_time is not None else time.time() - latency
        status = getattr(response, "status_code", 0) or 0
        ctx = context if isinstance(context, dict) else {}
        intended = ctx.get(CTX_INTENDED)
        if intended is None:
            sent = ""  # closed loop: t is when the user sent it
        elif ctx.get(CTX_DROPPED):
            sent, latency, t = "-", latency, intended  # never sent: latency = time waited
        else:  # open loop: latency from the intended start, the wait for a slot included
            sent, latency, t = f"{t:.6f}", t + latency - intended, intended
        ok, error = ("1", "") if exception is None else ("0", _short_error(exception))
        line = f"{t:.6f}\t{sent}\t{latency:.6f}\t{ok}\t{status}\t{error}\n"
        self._buf.append(line)
        self.count += 1
        if len(self._buf) >= FLUSH_RECORDS:
            self.flush()
        if self.max_requests is not None and self.count >= self.max_requests:
            self._quit()

    def _quit(self) -> None:
        if self._quitting or self._env is None or self._env.runner is None:
            return
        self._quitting = True
        self.flush()
        # Not from this greenlet: quit() kills every user greenlet, including the caller.
        gevent.spawn(self._env.runner.quit)

    def flush(self) -> None:
        if self._buf and not self._file.closed:
            self._file.write("".join(self._buf))
            self._buf.clear()
            self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self.flush()
            self._file.close()

    def flusher(self) -> None:
        while not self._file.closed:
            gevent.sleep(FLUSH_INTERVAL_S)
            self.flush()

    def on_init(self, environment: Environment, **_: Any) -> None:
        self._env = environment
        gevent.spawn(self.flusher)


def _refusal(url: str | bytes) -> str | None:
    text = url.decode() if isinstance(url, bytes) else url
    parts = urlsplit(text)
    if parts.netloc and (parts.hostname or "").lower() not in _ALLOWED:
        return f"kube-chaos: refusing load traffic to {parts.hostname!r} (not an allowed host)"
    return None


def _check_url(url: str | bytes) -> None:
    problem = _refusal(url)
    if problem:
        raise ValueError(problem)


def _guard(cls: Any) -> None:
    """Refuse absolute URLs to hosts nobody allowed in locustfiles (the --host is checked
    upstream)."""
    original = cls.request
    if getattr(original, "_kube_chaos_guarded", False):
        return

    def request(self: Any, method: Any, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        _check_url(url)
        if cls is FastHttpSession:
            # geventhttpclient follows redirects inside one call we cannot see into: do not
            # follow them (the 3xx is recorded as it is) rather than risk leaving the hosts
            kwargs["allow_redirects"] = False
        return original(self, method, url, *args, **kwargs)

    request._kube_chaos_guarded = True  # type: ignore[attr-defined]
    cls.request = request


def _guard_send() -> None:
    """requests sends every hop of a redirect through Session.send: check each one there, so a
    302 from an allowed host cannot take the load anywhere else. A refused hop raises a
    RequestException, which locust records as a failed request naming the reason."""
    from requests.exceptions import RequestException

    class HostRefused(RequestException):
        pass

    original = HttpSession.send
    if getattr(original, "_kube_chaos_guarded", False):
        return

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        problem = _refusal(request.url)
        if problem:
            raise HostRefused(problem)
        return original(self, request, **kwargs)

    send._kube_chaos_guarded = True  # type: ignore[attr-defined]
    HttpSession.send = send  # type: ignore[method-assign]


def _install() -> Capture | None:
    _guard(HttpSession)
    _guard(FastHttpSession)
    _guard_send()
    path = os.environ.get("KUBE_CHAOS_CAPTURE")
    if not path:
        return None
    raw_max = os.environ.get("KUBE_CHAOS_MAX_REQUESTS", "")
    capture = Capture(path, int(raw_max) if raw_max else None)
    # EventHook.add_listener is unannotated in locust.
    events.init.add_listener(capture.on_init)  # type: ignore[no-untyped-call]
    events.request.add_listener(capture.on_request)  # type: ignore[no-untyped-call]
    events.test_stop.add_listener(lambda **_: capture.flush())  # type: ignore[no-untyped-call]
    events.quitting.add_listener(lambda **_: capture.flush())  # type: ignore[no-untyped-call]
    atexit.register(capture.close)
    return capture


CAPTURE = _install()
