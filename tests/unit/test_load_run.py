"""Real, short locust runs (subprocess) against a throwaway HTTP server on 127.0.0.1."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chaos.load import LoadError, LoadRun
from chaos.model.experiment import LoadProfile

pytestmark = pytest.mark.timeout(120)


@dataclass
class Server:
    url: str
    fail_from: float = float("inf")  # wall-clock window in which GET / answers 500
    fail_until: float = float("-inf")
    paths: Counter[str] = field(default_factory=Counter)
    authorization: set[str] = field(default_factory=set)


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            state.paths[self.path] += 1
            state.authorization.add(self.headers.get("Authorization", ""))
            if self.path.startswith("/redirect-"):
                away = self.path == "/redirect-away"
                self.send_response(302)
                self.send_header("Location", "http://example.invalid/stolen" if away else "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            now = time.time()
            code = 500 if state.fail_from <= now < state.fail_until else 200
            body = b"{}"
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    state.url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        srv.shutdown()
        srv.server_close()


def test_failure_window_shows_in_the_timeline(server: Server, tmp_path: Path) -> None:
    now = time.time()
    # 6 s of run time: locust may take 2-3 s to start on a loaded 2-core machine, and the
    # failure window plus a stretch of successes after it must still fit in what is left.
    with LoadRun.start(
        server.url, users=2, spawn_rate=10, max_duration_s=6, wait_s=0.05, out_dir=tmp_path
    ) as run:
        # Live view: steady state is visible while the load runs (as before a fault).
        deadline = time.monotonic() + 20
        while not run.records_since(now) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert run.records_since(now), "no live records within 20 s"
        assert run.records_since(time.time() + 3600) == []
        # The window is set once load flows, so a slow locust start cannot make this flaky.
        start = time.time()
        server.fail_from, server.fail_until = start + 0.3, start + 1.1
        result = run.wait(timeout=30)

    recs = result.records
    assert result.stop_reason == "run-time"
    assert len(recs) == result.locust_requests
    before = [r for r in recs if r.t + r.latency_s < server.fail_from]
    inside = [r for r in recs if server.fail_from <= r.t and r.t + r.latency_s < server.fail_until]
    after = [r for r in recs if r.t >= server.fail_until]
    assert before and inside and after
    assert all(r.ok and r.status == 200 and r.error is None for r in before + after)
    assert all(not r.ok and r.status == 500 and r.error for r in inside)
    assert result.failures == result.locust_failures
    assert min(r.t for r in recs) >= result.started_at


def test_max_requests_stops_early_exactly(server: Server, tmp_path: Path) -> None:
    t0 = time.monotonic()
    with LoadRun.start(
        server.url,
        users=2,
        spawn_rate=10,
        max_duration_s=30,
        max_requests=15,
        wait_s=0.05,
        path="/items",
        out_dir=tmp_path,
    ) as run:
        result = run.wait(timeout=30)
    assert time.monotonic() - t0 < 15
    assert result.stop_reason == "max-requests"
    assert len(result.records) == 15
    assert server.paths == {"/items": 15}


USER_LOCUSTFILE = """
from geventhttpclient import HTTPClient
from locust import HttpUser, constant, task

class MyUser(HttpUser):
    wait_time = constant(0.05)

    @task
    def go(self):
        try:
            self.client.get("http://192.0.2.1/escape", timeout=0.2)
        except ValueError:
            refused = 1
        else:
            refused = 0
        try:  # a client of its own, for a host nobody allowed
            HTTPClient("192.0.2.1", 80, connection_timeout=0.2).get("/escape")
        except ValueError:
            own = 1
        else:
            own = 0
        self.client.get(f"/mine?refused={refused}&own={own}")
"""


def test_user_locustfile_gets_capture_and_guard(server: Server, tmp_path: Path) -> None:
    lf = tmp_path / "my_locustfile.py"
    lf.write_text(USER_LOCUSTFILE)
    with LoadRun.start(
        server.url,
        users=2,
        spawn_rate=10,
        max_duration_s=30,
        max_requests=10,
        locustfile=lf,
        out_dir=tmp_path / "out",
    ) as run:
        result = run.wait(timeout=30)
    # Budget enforced from the capture listener: in-flight requests of other users may finish.
    assert 10 <= len(result.records) <= 10 + 2
    assert result.stop_reason == "max-requests"
    # absolute non-local URLs and clients for other hosts never send
    assert set(server.paths) == {"/mine?refused=1&own=1"}


def test_from_profile(server: Server, tmp_path: Path) -> None:
    profile = LoadProfile(users=1, spawn_rate=5, max_duration_s=10, max_requests=4, wait_ms=10)
    with LoadRun.from_profile(server.url, profile, tmp_path) as run:
        result = run.wait(timeout=30)
    assert len(result.records) == 4 and all(r.ok for r in result.records)


def test_connection_errors_have_status_zero(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with LoadRun.start(
        f"http://127.0.0.1:{port}",
        users=1,
        spawn_rate=5,
        max_duration_s=10,
        max_requests=3,
        out_dir=tmp_path,
    ) as run:
        result = run.wait(timeout=30)
    assert len(result.records) == 3
    assert all(not r.ok and r.status == 0 and r.error for r in result.records)


def test_broken_locustfile_raises_naming_the_log(tmp_path: Path, server: Server) -> None:
    lf = tmp_path / "broken.py"
    lf.write_text("raise RuntimeError('boom in locustfile')\n")
    run = LoadRun.start(
        server.url, users=1, spawn_rate=1, max_duration_s=2, locustfile=lf, out_dir=tmp_path
    )
    with pytest.raises(LoadError, match=r"locust\.log") as info:
        run.wait(timeout=30)
    assert "boom in locustfile" in str(info.value)


def test_stop_is_graceful_and_keeps_records(server: Server, tmp_path: Path) -> None:
    run = LoadRun.start(
        server.url, users=2, spawn_rate=10, max_duration_s=60, wait_s=0.05, out_dir=tmp_path
    )
    deadline = time.monotonic() + 20
    while len(run.records()) < 10 and time.monotonic() < deadline:
        time.sleep(0.2)
    t0 = time.monotonic()
    run.stop()
    assert time.monotonic() - t0 < 10
    result = run.wait(timeout=5)
    assert result.stop_reason == "stopped"
    assert result.records and len(result.records) == result.locust_requests


def test_a_redirect_never_takes_the_load_to_another_host(server: Server, tmp_path: Path) -> None:
    with LoadRun.start(server.url, users=1, spawn_rate=5, max_duration_s=20, max_requests=3,
                       path="/redirect-away", wait_s=0.01, out_dir=tmp_path / "away") as run:
        away = run.wait(timeout=30)
    assert len(away.records) >= 3 and not any(r.ok for r in away.records)
    assert all("refusing load traffic to 'example.invalid'" in (r.error or "")
               for r in away.records)
    with LoadRun.start(server.url, users=1, spawn_rate=5, max_duration_s=20, max_requests=3,
                       path="/redirect-home", wait_s=0.01, out_dir=tmp_path / "home") as run:
        home = run.wait(timeout=30)
    assert home.records and all(r.ok for r in home.records)  # same host: followed
    assert server.paths["/"] >= 3


def test_headers_come_from_the_environment(server: Server, tmp_path: Path) -> None:
    profile = LoadProfile(users=1, spawn_rate=5, max_duration_s=10, max_requests=3, wait_ms=10,
                          headers_from_env=(("Authorization", "STAGING_TOKEN"),))
    with LoadRun.from_profile(server.url, profile, tmp_path / "h",
                              environ={"STAGING_TOKEN": "Bearer s3cret"}) as run:
        run.wait(timeout=30)
    assert server.authorization == {"Bearer s3cret"}
    assert "s3cret" not in (tmp_path / "h" / "locust.log").read_text()
    with pytest.raises(LoadError, match="not set: STAGING_TOKEN"):
        LoadRun.from_profile(server.url, profile, tmp_path / "h2", environ={})


def test_only_allowed_hosts_are_load_targets(tmp_path: Path) -> None:
    from chaos.load.target import TargetRefused, allowed_hosts, check_target

    allowed = allowed_hosts(["Staging.Example", " "])
    assert check_target("https://staging.example:8443/", allowed) == \
        "https://staging.example:8443"
    with pytest.raises(TargetRefused, match=r"--chaos-allow-host=prod\.example"):
        check_target("https://prod.example/", allowed)
    with pytest.raises(TargetRefused, match="is not allowed"):
        LoadRun.start("https://prod.example", users=1, spawn_rate=1, max_duration_s=1,
                      out_dir=tmp_path, allowed_hosts=allowed)
