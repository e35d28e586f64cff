"""Per-request capture, loaded INSIDE the locust subprocess next to any locustfile.

The harness runs ``locust -f <user locustfile>,<this file>``: locust imports every file of a
comma-separated ``-f`` list and merges their User classes, so this module (which defines no
User) adds its listeners to whatever locustfile the experiment uses.  It must stay
self-contained (stdlib + locust only) and must never be imported by the harness process:
importing locust monkey-patches the process with gevent.

Environment (set by chaos.load.runner):
  KUBE_CHAOS_CAPTURE        capture file path (without it or KUBE_CHAOS_STREAM, no capture)
  KUBE_CHAOS_STREAM         "1": a worker in a pod: send the records to the master in batches
                            (locust custom messages) instead of writing a file
  KUBE_CHAOS_COLLECT        on the master: the directory where each streaming worker's records
                            are written (requests-p<index>.tsv, on the master's clock) and
                            the measured clock offsets (clock-offsets.json)
  KUBE_CHAOS_MAX_REQUESTS   quit the run once this many requests completed (optional)
  KUBE_CHAOS_ALLOWED_HOSTS  comma-separated hosts absolute request URLs may name

Clock offsets of streaming workers are measured by the master NTP-style over the same
connection: it sends t0 (its clock), the worker answers with t1 (received) and t2 (answered) on
its clock, the master notes t3; offset = ((t1 - t0) + (t2 - t3)) / 2 is the worker's clock
minus the master's, within +- half the round trip (t3 - t0) - (t2 - t1). The sample with the
smallest round trip among the first few, taken before any record is written, corrects every
record of that worker; later samples are kept to state the drift.
"""

from __future__ import annotations

import atexit
import json
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

    def __init__(self, path: str | None, max_requests: int | None) -> None:
        self.path = path
        self.max_requests = max_requests
        self.count = 0
        self._buf: list[str] = []
        self._env: Environment | None = None
        self._quitting = False
        self._stream: Stream | None = None
        if path is None:  # streaming to the master: no file here
            self._stream = Stream(self)
            return
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as locust
        self._file.write(HEADER)
        # how this process's wall clock stands to the machine's monotonic clock: load
        # processes compare it to state (and, across machines, correct) their clock offsets
        self._file.write(f"# clock wall_minus_monotonic={time.time() - time.monotonic():.6f}\n")
        self._file.flush()

    @property
    def closed(self) -> bool:
        return self._stream.closed if self._stream is not None else self._file.closed

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
        if self._stream is not None:
            self._stream.final()
        # Not from this greenlet: quit() kills every user greenlet, including the caller.
        gevent.spawn(self._env.runner.quit)

    def flush(self) -> None:
        if self._stream is not None:
            self._stream.send()
        elif self._buf and not self._file.closed:
            self._file.write("".join(self._buf))
            self._buf.clear()
            self._file.flush()

    def take(self) -> list[str]:
        """The buffered lines, handed over (the stream sends them)."""
        lines, self._buf = self._buf, []
        return lines

    def close(self) -> None:
        if self._stream is not None:
            return  # what was not sent by now has no way to the master any more
        if not self._file.closed:
            self.flush()
            self._file.close()

    def flusher(self) -> None:
        while not self.closed:
            gevent.sleep(FLUSH_INTERVAL_S)
            self.flush()

    def on_init(self, environment: Environment, **_: Any) -> None:
        self._env = environment
        if self._stream is not None:
            self._stream.attach(environment)
        gevent.spawn(self.flusher)


# -- streaming from workers in pods to the master on the harness's host -------------------------

MSG_RECORDS = "kube_chaos_records"  # worker -> master: {"lines", "n", "final", "total"}
MSG_PING = "kube_chaos_ping"  # master -> worker: {"t0"}
MSG_PONG = "kube_chaos_pong"  # worker -> master: {"t0", "t1", "t2"}
MSG_FLUSH = "kube_chaos_flush"  # master -> worker: stop, send everything, mark it final
PING_FIRST = 5  # quick samples right after a worker connects, PING_GAP_S apart
PING_GAP_S = 0.05
PING_EVERY_S = 1.0  # then one a second, to state the drift
OFFSET_WAIT_S = 2.0  # records wait this long at most for the first samples
OFFSETS_FILE = "clock-offsets.json"


class Stream:
    """Worker side: batches of capture lines to the master, and answers to its pings."""

    def __init__(self, capture: Capture) -> None:
        self.capture = capture
        self.closed = False
        self._env: Environment | None = None
        self._sent = 0

    def attach(self, environment: Environment) -> None:
        self._env = environment
        runner: Any = environment.runner
        runner.register_message(MSG_PING, self._on_ping)
        runner.register_message(MSG_FLUSH, self._on_flush)
        environment.events.test_stop.add_listener(  # type: ignore[no-untyped-call]
            lambda **_: self.send())

    def _on_ping(self, environment: Environment, msg: Any, **_: Any) -> None:
        t1 = time.time()
        runner: Any = environment.runner
        runner.send_message(MSG_PONG, {"t0": msg.data["t0"], "t1": t1, "t2": time.time()})

    def _on_flush(self, environment: Environment, msg: Any, **_: Any) -> None:
        runner: Any = environment.runner
        runner.stop()  # users first: nothing completes after the final batch
        self.final()

    def send(self, final: bool = False) -> None:
        if self.closed or self._env is None or self._env.runner is None:
            return
        lines = self.capture.take()
        if not lines and not final:
            return
        self._sent += len(lines)
        runner: Any = self._env.runner
        runner.send_message(MSG_RECORDS, {"lines": "".join(lines), "n": len(lines),
                                          "final": final, "total": self._sent})

    def final(self) -> None:
        if not self.closed:
            self.send(final=True)
            self.closed = True


class Peer:
    """Master side: one streaming worker's clock samples and capture file."""

    def __init__(self, client_id: str, index: int, directory: str) -> None:
        self.client_id = client_id
        self.index = index
        self.path = os.path.join(directory, f"requests-p{index}.tsv")
        self.samples: list[tuple[float, float]] = []  # (offset, round trip), in order
        self.offset: tuple[float, float] | None = None  # the sample that corrects records
        self.pending: list[str] = []
        self.connected = time.monotonic()
        self.received = 0
        self.total: int | None = None  # from the final batch: how many the worker sent
        self._file: Any = None

    def sample(self, t0: float, t1: float, t2: float, t3: float) -> None:
        self.samples.append((((t1 - t0) + (t2 - t3)) / 2.0, (t3 - t0) - (t2 - t1)))

    def ready(self, force: bool = False) -> bool:
        """Fix the offset once enough samples came (or waited long enough): the one with the
        smallest round trip, the tightest bound."""
        if self.offset is None and self.samples and (
                force or len(self.samples) >= PING_FIRST
                or time.monotonic() - self.connected > OFFSET_WAIT_S):
            self.offset = min(self.samples, key=lambda s: s[1])
        return self.offset is not None

    def add(self, lines: str, n: int, final: bool, total: int) -> None:
        self.received += n
        if lines:
            self.pending.append(lines)
        if final:
            self.total = total
        self.write(force=final)

    def write(self, force: bool = False) -> None:
        if not self.pending or not (self.ready(force) or force):
            return
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
            self._file.write(HEADER)
            self._file.write(f"# worker {self.client_id}\n")
            if self.offset is None:
                self._file.write("# clock offset unmeasured: records on the worker's clock\n")
            else:
                self._file.write(f"# clock offset_s={self.offset[0]:.6f} "
                                 f"error_bound_s={self.offset[1] / 2:.6f}\n")
        shift = self.offset[0] if self.offset is not None else 0.0
        self._file.write("".join(shifted(chunk, shift) for chunk in self.pending))
        self.pending.clear()
        self._file.flush()

    def summary(self) -> dict[str, Any]:
        off = self.offset
        return {"index": self.index, "worker": self.client_id,
                "offset_s": None if off is None else off[0],
                "error_bound_s": None if off is None else off[1] / 2,
                "samples": len(self.samples),
                "offset_last_s": self.samples[-1][0] if self.samples else None,
                "records": self.received, "sent": self.total, "final": self.total is not None}


def shifted(chunk: str, offset_s: float) -> str:
    """Capture lines from a worker's clock onto the master's: t and sent minus the offset."""
    if not offset_s:
        return chunk
    out = []
    for line in chunk.splitlines(keepends=True):
        t, sent, rest = line.split("\t", 2)
        if sent not in ("", "-"):
            sent = f"{float(sent) - offset_s:.6f}"
        out.append(f"{float(t) - offset_s:.6f}\t{sent}\t{rest}")
    return "".join(out)


class Collector:
    """Master side: receives the streaming workers' records and measures their clocks."""

    def __init__(self, directory: str, final_wait_s: float) -> None:
        self.directory = directory
        self.final_wait_s = final_wait_s
        self.peers: dict[str, Peer] = {}
        self._env: Environment | None = None

    def on_init(self, environment: Environment, **_: Any) -> None:
        self._env = environment
        runner: Any = environment.runner
        runner.register_message(MSG_RECORDS, self._on_records)
        runner.register_message(MSG_PONG, self._on_pong)
        events.worker_connect.add_listener(self._on_connect)  # type: ignore[no-untyped-call]
        events.test_stop.add_listener(self._on_stop)  # type: ignore[no-untyped-call]
        events.quitting.add_listener(lambda **_: self.write_summary())  # type: ignore[no-untyped-call]

    def peer(self, client_id: str) -> Peer:
        if client_id not in self.peers:
            runner: Any = self._env.runner if self._env else None
            index = runner.get_worker_index(client_id) if runner is not None else len(self.peers)
            self.peers[client_id] = Peer(client_id, index, self.directory)
        return self.peers[client_id]

    def _on_connect(self, client_id: str, **_: Any) -> None:
        self.peer(client_id)
        gevent.spawn(self._pinger, client_id)

    def _pinger(self, client_id: str) -> None:
        sent = 0
        while True:
            peer = self.peers.get(client_id)
            if peer is None or peer.total is not None or self._env is None:
                return
            runner: Any = self._env.runner
            runner.send_message(MSG_PING, {"t0": time.time()}, client_id=client_id)
            sent += 1
            gevent.sleep(PING_GAP_S if sent < PING_FIRST else PING_EVERY_S)

    def _on_pong(self, environment: Environment, msg: Any, **_: Any) -> None:
        t3 = time.time()
        peer = self.peer(msg.node_id)
        peer.sample(msg.data["t0"], msg.data["t1"], msg.data["t2"], t3)
        peer.write()

    def _on_records(self, environment: Environment, msg: Any, **_: Any) -> None:
        data = msg.data
        self.peer(msg.node_id).add(data["lines"], int(data["n"]), bool(data["final"]),
                                   int(data["total"]))

    def _on_stop(self, **_: Any) -> None:
        """Before the master lets its workers go: ask each for its last records, and wait
        (bounded) until every one said its batch was the final one."""
        runner: Any = self._env.runner if self._env else None
        if runner is None:
            return
        for client_id, peer in self.peers.items():
            if peer.total is None:
                runner.send_message(MSG_FLUSH, None, client_id=client_id)
        # a hand deadline on purpose: this module runs inside locust (also in the worker image,
        # chaos.cluster.locust_image.MODULES) where chaos.clock is not shipped
        deadline = time.monotonic() + self.final_wait_s
        while time.monotonic() < deadline and any(p.total is None for p in self.peers.values()):
            gevent.sleep(0.05)
        self.write_summary()

    def write_summary(self) -> None:
        for peer in self.peers.values():
            peer.write(force=True)
        path = os.path.join(self.directory, OFFSETS_FILE)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump({"reference": "the locust master's wall clock (the harness's host)",
                       "workers": [p.summary() for p in sorted(self.peers.values(),
                                                               key=lambda p: p.index)]}, f)
        os.replace(path + ".tmp", path)


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


def _guard_client() -> None:
    """geventhttpclient's HTTPClient is bound to one host when it is made (FastHttpSession
    makes one per host; the open-loop senders and any locustfile may make their own): check
    the host there, so no client exists for a host nobody allowed."""
    from geventhttpclient.client import HTTPClient

    original = HTTPClient.__init__
    if getattr(original, "_kube_chaos_guarded", False):
        return

    def init(self: Any, host: str, *args: Any, **kwargs: Any) -> None:
        bare = (host or "").strip("[]")
        _check_url(f"//[{bare}]" if ":" in bare else f"//{bare}")  # one rule, as for URLs
        original(self, host, *args, **kwargs)

    init._kube_chaos_guarded = True  # type: ignore[attr-defined]
    HTTPClient.__init__ = init  # type: ignore[method-assign]


def _install() -> Capture | None:
    _guard(HttpSession)
    _guard(FastHttpSession)
    _guard_send()
    _guard_client()
    collect = os.environ.get("KUBE_CHAOS_COLLECT")
    if collect:
        collector = Collector(collect, float(os.environ.get("KUBE_CHAOS_FINAL_WAIT_S", "10")))
        events.init.add_listener(collector.on_init)  # type: ignore[no-untyped-call]
    path = os.environ.get("KUBE_CHAOS_CAPTURE")
    stream = os.environ.get("KUBE_CHAOS_STREAM") == "1"
    if not path and not stream:
        return None
    raw_max = os.environ.get("KUBE_CHAOS_MAX_REQUESTS", "")
    capture = Capture(None if stream else path, int(raw_max) if raw_max else None)
    # EventHook.add_listener is unannotated in locust.
    events.init.add_listener(capture.on_init)  # type: ignore[no-untyped-call]
    events.request.add_listener(capture.on_request)  # type: ignore[no-untyped-call]
    events.test_stop.add_listener(lambda **_: capture.flush())  # type: ignore[no-untyped-call]
    events.quitting.add_listener(lambda **_: capture.flush())  # type: ignore[no-untyped-call]
    atexit.register(capture.close)
    return capture


CAPTURE = _install()
