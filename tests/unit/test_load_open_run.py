"""Real, short open-loop locust runs (subprocess) against a throwaway HTTP server on 127.0.0.1:
arrivals keep their schedule whatever the server does, nothing is skipped silently, and the
wait coordinated omission hides is in the latency."""

from __future__ import annotations

import http.server
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chaos.load import LoadRun
from chaos.plan import timeline as tl
from chaos.plan.generator import GeneratorFigures

pytestmark = pytest.mark.timeout(120)


@dataclass
class Server:
    url: str
    delay_s: float = 0.0  # every answer takes this long
    status: int = 200


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:
            if state.delay_s:
                time.sleep(state.delay_s)
            self.wfile.write(f"HTTP/1.1 {state.status} X\r\nContent-Length: 2\r\n\r\n{{}}"
                             .encode())

        def log_message(self, format: str, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    state.url = f"http://127.0.0.1:{srv.server_address[1]}"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        srv.shutdown()
        srv.server_close()


def _grid(ts: list[float], step: float) -> None:
    """The intended starts are the schedule's grid, without a gap: nothing was skipped."""
    ts = sorted(ts)
    gaps = [b - a for a, b in itertools.pairwise(ts)]
    assert min(gaps) == pytest.approx(step, abs=1e-4)
    assert max(gaps) == pytest.approx(step, abs=1e-4)


def test_arrivals_keep_their_schedule(server: Server, tmp_path: Path) -> None:
    with LoadRun.start(server.url, users=1, spawn_rate=1, max_duration_s=3, out_dir=tmp_path,
                       mode="open", rate_segments=[(100.0, 100.0, None)]) as run:
        result = run.wait(timeout=40)
    recs = result.records
    assert result.mode == "open" and all(r.scheduled for r in recs)
    assert 250 <= len(recs) <= 300
    _grid([r.t for r in recs], 0.01)
    # a busy machine may stop the run with a last arrival in flight: recorded, not a failure
    assert all(r.ok or r.unfinished for r in recs), [r.error for r in recs if not r.ok][:3]
    assert all(r.sent is not None and r.sent >= r.t - 1e-3 for r in recs)
    assert all(r.latency_s >= (r.sent or 0) - r.t - 1e-6 for r in recs)
    assert len(recs) == result.locust_requests


def test_a_full_sender_pool_drops_arrivals_and_records_them(server: Server,
                                                            tmp_path: Path) -> None:
    server.delay_s = 0.5  # two senders, each busy 0.5 s: at most 4 of 50 arrivals/s get out
    with LoadRun.start(server.url, users=1, spawn_rate=1, max_duration_s=3, out_dir=tmp_path,
                       mode="open", rate_segments=[(50.0, 50.0, None)], max_in_flight=2,
                       drop_after_s=0.2, request_timeout_s=2) as run:
        result = run.wait(timeout=40)
    first = min(r.t for r in result.records)
    recs = [r for r in result.records if r.t < first + 2.0]
    dropped = [r for r in recs if r.dropped]
    assert len(recs) >= 90
    _grid([r.t for r in recs], 0.02)
    assert len(dropped) / len(recs) > 0.8
    assert all(not r.ok and r.error and r.error.startswith("Dropped: ") for r in dropped)
    # (a busy machine may also make the scheduler itself late now and then)
    no_sender = [r for r in dropped if (r.error or "").startswith("Dropped: no free sender")]
    assert len(no_sender) / len(dropped) > 0.5 and len(no_sender) > 40
    assert tl.error_rate(recs) == pytest.approx(len(dropped) / len(recs))


def test_an_error_status_is_a_failed_arrival_with_its_status(server: Server,
                                                             tmp_path: Path) -> None:
    server.status = 503
    with LoadRun.start(server.url, users=1, spawn_rate=1, max_duration_s=2, out_dir=tmp_path,
                       mode="open", rate_segments=[(50.0, 50.0, None)]) as run:
        result = run.wait(timeout=40)
    recs = [r for r in result.records if not r.unfinished]
    assert len(recs) >= 60
    assert all(not r.ok and r.status == 503 and r.error == "BadStatus: HTTP 503" for r in recs)
    assert tl.error_rate(recs) == 1.0


def test_latency_runs_from_the_intended_start(server: Server, tmp_path: Path) -> None:
    """One sender, answers taking 50 ms, arrivals every 40 ms: each waits longer for the
    sender than the last. Service time alone would say 50 ms; the users waited more."""
    server.delay_s = 0.05
    with LoadRun.start(server.url, users=1, spawn_rate=1, max_duration_s=2, out_dir=tmp_path,
                       mode="open", rate_segments=[(25.0, 25.0, None)], max_in_flight=1,
                       drop_after_s=0.5, request_timeout_s=2) as run:
        result = run.wait(timeout=40)
    sent = sorted((r for r in result.records if not r.dropped), key=lambda r: r.t)
    assert len(sent) >= 20
    service = sorted(r.end - (r.sent or r.t) for r in sent)
    typical = service[len(service) // 2]
    assert typical < 0.15
    # the queue grew by ~10 ms an arrival: the last ones waited far longer than they were
    # served
    assert sent[-1].latency_s > 0.15
    assert sent[-1].latency_s > typical + 0.1


def test_two_workers_merge_on_one_timeline(server: Server, tmp_path: Path) -> None:
    with LoadRun.start(server.url, users=1, spawn_rate=1, max_duration_s=4, out_dir=tmp_path,
                       mode="open", rate_segments=[(100.0, 100.0, None)], workers=2) as run:
        result = run.wait(timeout=60)
    assert [p.name for p in result.capture_paths] == ["requests-w0.tsv", "requests-w1.tsv"]
    recs = result.records
    from chaos.load.records import parse_capture

    per_file = [parse_capture(p) for p in result.capture_paths]
    assert all(len(f) > 100 for f in per_file)
    assert sorted(recs, key=lambda r: (r.t, r.end)) == sorted(
        [r for f in per_file for r in f], key=lambda r: (r.t, r.end))
    assert [r.end for r in recs] == sorted(r.end for r in recs)
    for f in per_file:  # each worker keeps its own grid at half the rate
        _grid([r.t for r in f], 0.02)
    # (locust's master counts only what the workers reported every 3 s: the capture is exact)
    assert 350 <= len(recs) <= 400
    # one machine, one clock: the workers' offsets are the jitter of reading it
    offsets = result.clock_offsets_s
    assert offsets[0] == 0.0 and offsets[1] is not None and abs(offsets[1]) < 0.001


def test_the_timeout_bounds_the_whole_request(server: Server, tmp_path: Path) -> None:
    """An answer slower than the timeout is a failure recorded at the timeout, not later."""
    server.delay_s = 2.0
    with LoadRun.start(server.url, users=1, spawn_rate=1, max_duration_s=2, out_dir=tmp_path,
                       mode="open", rate_segments=[(5.0, 5.0, None)],
                       request_timeout_s=0.5) as run:
        result = run.wait(timeout=40)
    # those still waiting when the schedule ended are Unfinished, counted apart
    recs = [r for r in result.records if not r.unfinished]
    assert len(recs) >= 5 and not any(r.ok for r in recs)
    assert all("no answer within 0.5 s" in (r.error or "") for r in recs), recs[0].error
    assert all(0.45 < r.latency_s < 0.8 for r in recs)


def test_arrivals_in_flight_when_the_load_stops_are_recorded_not_lost(
        server: Server, tmp_path: Path) -> None:
    """Stopped while every answer takes 2 s: the arrivals sent in the last 2 s have no answer
    yet. Each is captured as 'Unfinished' at its intended start, counted apart from the
    figures, and the schedule stays without a gap."""
    server.delay_s = 2.0
    with LoadRun.start(server.url, users=1, spawn_rate=1, max_duration_s=30, out_dir=tmp_path,
                       mode="open", rate_segments=[(20.0, 20.0, None)]) as run:
        deadline = time.monotonic() + 60.0  # locust may take long to start on a busy machine
        while len(run.records()) < 5 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # arrivals keep coming; those of the last 2 s have no answer yet
        run.stop()
        result = run.wait()
    recs = list(result.records)
    assert len(recs) == len(result.records)  # streamed from disk, counted while read live
    unfinished = [r for r in recs if r.unfinished]
    assert 10 <= len(unfinished) <= 60, len(unfinished)  # ~2 s of arrivals at 20/s
    assert all(r.sent is not None and not r.dropped for r in unfinished)
    assert all("load stopped" in (r.error or "") for r in unfinished)
    _grid([r.t for r in recs], 1 / 20)  # every arrival accounted for
    from chaos.plan.stream import RunWindows, run_figures
    figs = run_figures(result.records, RunWindows(origin=result.started_at))
    assert figs.requests_in_flight_at_stop == len(unfinished)
    assert figs.requests_total == len(recs) - len(unfinished)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate (what a staging endpoint
    often has): ``tlsVerify: false`` must reach it, the default must refuse it."""
    import shutil
    import ssl
    import subprocess

    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to make the test's certificate"
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

        def log_message(self, format: str, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    srv.socket = context.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("mode", ["open", "closed"])
@pytest.mark.parametrize("verify", [False, True])
def test_tls_verify_decides_whether_a_self_signed_endpoint_is_served(
        tls_server: str, tmp_path: Path, verify: bool, mode: str) -> None:
    shape: dict[str, object] = ({"rate_segments": [(20.0, 20.0, None)]} if mode == "open"
                                else {"wait_s": 0.05})
    with LoadRun.start(tls_server, users=1, spawn_rate=1, max_duration_s=2, out_dir=tmp_path,
                       mode=mode, tls_verify=verify, **shape) as run:  # type: ignore[arg-type]
        result = run.wait(timeout=40)
    recs = [r for r in result.records if not r.unfinished]
    assert len(recs) >= 10
    if verify:
        assert not any(r.ok for r in recs)
        assert all("CERTIFICATE_VERIFY_FAILED" in (r.error or "") for r in recs), recs[0].error
    else:
        assert all(r.ok and r.status == 200 for r in recs), recs[0].error


def test_a_schedule_faster_than_the_generator_can_send_is_its_own_overload(
        server: Server, tmp_path: Path) -> None:
    """Negative control for chaos.plan.generator on a real generator: 20,000 arrivals/s is
    more than one locust process sends on this machine (≈ 200 µs of CPU each), so its
    scheduler falls behind and drops arrivals as its own lateness, whatever the server does."""
    with LoadRun.start(server.url, users=1, spawn_rate=1, max_duration_s=2, out_dir=tmp_path,
                       mode="open", rate_segments=[(20000.0, 20000.0, None)], max_in_flight=20,
                       drop_after_s=0.2, request_timeout_s=2, max_requests=60000) as run:
        result = run.wait(timeout=60)
    late = [r for r in result.records if r.late_drop]
    assert late and all(r.dropped and not r.ok for r in late)
    figs = GeneratorFigures(0.1, None, len(late), result.cpu)
    assert figs.overload is not None and "too late to send" in figs.overload


def test_a_real_run_reports_the_cpu_its_generator_got(server: Server, tmp_path: Path) -> None:
    with LoadRun.start(server.url, users=1, spawn_rate=1, max_duration_s=3, out_dir=tmp_path,
                       mode="open", rate_segments=[(50.0, 50.0, None)]) as run:
        result = run.wait(timeout=40)
    assert not [r for r in result.records if r.late_drop]
    cpu = result.cpu
    assert cpu is not None and cpu.cpu_s > 0 and cpu.slices > 0 and cpu.mean_wait_s is not None
    # well inside a 100 ms bound on any machine that can run the suite
    assert cpu.mean_wait_s < 0.1
