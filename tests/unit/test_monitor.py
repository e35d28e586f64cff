"""The guard monitor and what it runs on: tickers on the injectable clock, the abort signal,
one ticker per guard (a hanging check delays only itself), evaluation before any fault."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from chaos.abort import AbortSignal
from chaos.clock import FakeClock, SystemClock
from chaos.engine.monitor import (
    GuardCheck,
    GuardMonitor,
    HttpAnswer,
    build_checks,
    http_get,
    prometheus_query_url,
)
from chaos.errors import GuardUnusable
from chaos.model.abort import AbortSpec, Breach, HaltMarker, HttpGuard, OutageGuard
from chaos.plan import guards as pg


def _check(name: str, read: Callable[[], pg.Reading], interval: float = 1.0,
           **guard: Any) -> GuardCheck:
    return GuardCheck(HttpGuard(name=name, url="http://127.0.0.1/", **guard), read, interval)


# -- clocks -------------------------------------------------------------------------------------


def test_fake_clock_fires_tickers_at_their_due_times_in_order() -> None:
    clock = FakeClock()
    seen: list[tuple[str, float]] = []
    clock.every(1.0, lambda: seen.append(("a", clock.monotonic())), "a")
    ticker = clock.every(0.375, lambda: seen.append(("b", clock.monotonic())), "b")
    clock.advance(1.125)
    assert seen == [("b", 0.375), ("b", 0.75), ("a", 1.0), ("b", 1.125)]
    ticker.stop()
    clock.advance(1.0)
    assert seen[-1] == ("a", 2.0)
    with pytest.raises(ValueError):
        clock.every(0, lambda: None, "x")


def test_fake_clock_wait_returns_when_a_ticker_sets_the_event() -> None:
    clock, event = FakeClock(), threading.Event()
    clock.every(0.5, lambda: event.set() if clock.monotonic() >= 2.0 else None, "t")
    assert clock.wait(event, 60.0) is True and clock.monotonic() == 2.0
    assert clock.wait(threading.Event(), 1.5) is False and clock.monotonic() == 3.5


def test_system_clock_ticker_and_wait() -> None:
    clock, calls, event = SystemClock(), [], threading.Event()
    ticker = clock.every(0.02, lambda: calls.append(time.monotonic()), "t")
    time.sleep(0.15)
    ticker.stop()
    count = len(calls)
    assert count >= 4
    time.sleep(0.05)
    assert len(calls) == count  # stopped
    threading.Timer(0.05, event.set).start()
    start = time.monotonic()
    assert clock.wait(event, 5.0) is True and time.monotonic() - start < 1.0


# -- the abort signal ---------------------------------------------------------------------------


def _breach(guard: str = "g") -> Breach:
    return Breach(guard, "http", 503, "2xx", "HTTP 503", 1.0)


def test_abort_signal_keeps_the_first_breach_and_tells_listeners_once() -> None:
    signal, heard = AbortSignal(), []
    signal.listen(lambda b: heard.append(b.guard))
    signal.listen(lambda b: 1 / 0)  # a broken listener never stops the abort
    assert signal.trigger(_breach("first")) is True
    assert signal.trigger(_breach("second")) is False
    assert signal.is_set() and signal.event.is_set()
    assert signal.breach is not None and signal.breach.guard == "first"
    assert heard == ["first"]
    late: list[str] = []
    signal.listen(lambda b: late.append(b.guard))  # registered after the fact: told at once
    assert late == ["first"]


def test_breach_describe() -> None:
    assert _breach().describe() == "guard g (http) breached: 503 (threshold 2xx): HTTP 503"
    b = Breach("outage", "outage", 2.3456, 2.0, "outage", 1.0)
    assert b.describe() == "guard outage (outage) breached: 2.346 (threshold 2): outage"


# -- the monitor --------------------------------------------------------------------------------


def test_every_guard_runs_once_before_any_fault_then_on_its_own_interval() -> None:
    clock, signal = FakeClock(), AbortSignal()
    counts = {"fast": 0, "slow": 0}

    def reader(name: str) -> Callable[[], pg.Reading]:
        def read() -> pg.Reading:
            counts[name] += 1
            return pg.Reading("ok", 200)
        return read

    monitor = GuardMonitor([_check("fast", reader("fast"), 0.5),
                            _check("slow", reader("slow"), 1.0)], signal, clock)
    monitor.start()
    assert counts == {"fast": 1, "slow": 1}
    clock.advance(3.0)
    assert counts == {"fast": 7, "slow": 4}
    stats = {s.name: s for s in monitor.stats()}
    assert stats["fast"].max_gap_s == 0.5 and stats["slow"].max_gap_s == 1.0
    assert stats["slow"].last_status == "ok" and stats["slow"].last_value == 200
    monitor.stop()
    monitor.stop()  # idempotent
    clock.advance(3.0)
    assert counts == {"fast": 7, "slow": 4}


def test_a_breach_triggers_the_signal_and_stops_evaluating() -> None:
    clock, signal = FakeClock(), AbortSignal()
    readings = iter([pg.Reading("ok", 200)] * 2 + [pg.Reading("failed", 503, "2xx", "HTTP 503")]
                    + [pg.Reading("ok", 200)] * 10)
    check = _check("ready", lambda: next(readings))
    logged: list[str] = []
    monitor = GuardMonitor([check], signal, clock, logged.append)
    monitor.start()
    assert clock.wait(signal.event, 60.0) is True
    assert clock.monotonic() == 2.0
    assert signal.breach is not None and signal.breach.at == clock.wall()
    assert logged == ["abort: guard ready (http) breached: 503 (threshold 2xx): HTTP 503"]
    clock.advance(5.0)
    assert check.evaluations == 3  # nothing is read once the run is aborted


def test_a_reader_that_raises_is_an_unreadable_guard_not_a_crash() -> None:
    clock, signal = FakeClock(), AbortSignal()

    def boom() -> pg.Reading:
        raise OSError("no route to host")

    check = _check("ready", boom, on_error="ignore")
    monitor = GuardMonitor([check], signal, clock)
    monitor.start()
    clock.advance(10.0)
    assert not signal.is_set() and check.errors == 11
    assert check.last is not None and "no route to host" in check.last.detail


def test_a_guard_unreadable_before_any_fault_stops_the_run_there() -> None:
    monitor = GuardMonitor([_check("up", lambda: pg.Reading("error", detail="refused"))],
                           AbortSignal(), FakeClock())
    with pytest.raises(GuardUnusable, match=r"guard up .* before any fault: refused; no fault"):
        monitor.start()


def test_a_hanging_check_delays_only_itself() -> None:
    """Real threads: the halt guard keeps its half second while another guard hangs."""
    release = threading.Event()
    halt_times: list[float] = []

    def hang() -> pg.Reading:
        release.wait(2.0)
        return pg.Reading("ok", 200)

    def halt() -> pg.Reading:
        halt_times.append(time.monotonic())
        return pg.Reading("ok", "absent")

    hanging = _check("slow", lambda: pg.Reading("ok", 200), 0.1)
    monitor = GuardMonitor([hanging, _check("halt", halt, 0.1)], AbortSignal(), SystemClock())
    monitor.start()
    hanging.read = hang  # from now on the slow guard's reads hang
    time.sleep(0.6)
    release.set()
    monitor.stop()
    gaps = [b - a for a, b in itertools.pairwise(halt_times)]
    assert len(halt_times) >= 4 and max(gaps) < 0.35


def test_build_checks_puts_the_halt_guard_first_and_reads_through_the_ports() -> None:
    clock = FakeClock()

    class Cluster:
        def halt_marker(self, timeout_s: float) -> HaltMarker | None:
            return HaltMarker(by="me", at=1.0)

        def conditions(self, kind: str, name: str, namespace: str | None,
                       timeout_s: float) -> dict[str, str] | None:
            return None

    class Load:
        running = True

        def records_since(self, t: float) -> list[Any]:
            return []

    spec = AbortSpec(guards=(OutageGuard(name="outage", max_s=2.0),
                             HttpGuard(name="ready", url="http://127.0.0.1:1/")))
    checks = build_checks(spec, "ns", Load(), Cluster(), lambda u, t: HttpAnswer(200), clock)
    assert [(c.guard.name, c.interval_s) for c in checks] == [
        ("halt", 0.25), ("outage", 1.0), ("ready", 1.0)]
    assert checks[0].read().status == "failed"
    assert checks[2].read().status == "ok"
    with pytest.raises(GuardUnusable, match="no live load"):
        build_checks(spec, "ns", None, Cluster(), http_get, clock)


def test_prometheus_query_url_encodes_the_query() -> None:
    assert prometheus_query_url("http://127.0.0.1:9090/", 'sum(up{job="x"}) > 0') == (
        "http://127.0.0.1:9090/api/v1/query?query=sum%28up%7Bjob%3D%22x%22%7D%29+%3E+0")


def test_http_get_against_a_local_server_no_redirects_followed() -> None:
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "http://192.0.2.1/elsewhere")
                self.end_headers()
                return
            code = 503 if self.path == "/down" else 200
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert http_get(base + "/", 1.0) == HttpAnswer(200, b'{"ok": true}')
        assert http_get(base + "/down", 1.0).status == 503
        assert http_get(base + "/moved", 1.0).status == 302  # never followed
    finally:
        server.shutdown()
        server.server_close()
    gone = http_get(base + "/", 0.5)
    assert gone.status is None and gone.error


def test_a_slow_first_evaluation_does_not_push_back_the_other_guards() -> None:
    """Each guard ticks from its own first evaluation: the halt guard keeps its half second
    although the guard after it took 1.1 s to answer before the first fault."""
    clock, signal = FakeClock(), AbortSignal()
    calls = {"slow": 0}

    def slow() -> pg.Reading:
        calls["slow"] += 1
        if calls["slow"] == 1:
            clock.advance(1.1)  # the API server took its time (the halt ticker runs on)
        return pg.Reading("ok", "True")

    halt = _check("halt", lambda: pg.Reading("ok", "absent"), 0.5)
    monitor = GuardMonitor([halt, _check("slow", slow, 1.0)], signal, clock)
    monitor.start()
    clock.advance(3.0)
    stats = {s.name: s for s in monitor.stats()}
    assert stats["halt"].max_gap_s == pytest.approx(0.5)
    assert stats["slow"].max_gap_s == pytest.approx(1.1)  # its own read, nothing more
    monitor.stop()
