"""A real Prometheus server for the guard tests: built from its Go module by kube-chaos's own
build code (cached by version), started here on 127.0.0.1 as a local process, scraping the
bundled httpd's /metrics through a NodePort on 127.0.0.1. No tests in this module."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 500ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: {job}
    metrics_path: /metrics
    static_configs:
      - targets: ["{target}"]
"""


@dataclass(frozen=True)
class Prometheus:
    url: str
    log: Path

    def query(self, promql: str) -> list[tuple[dict[str, str], float]]:
        """An instant query: (labels, value) per sample."""
        q = urllib.parse.urlencode({"query": promql})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{self.url}/api/v1/query?{q}", timeout=5) as resp:
            doc = json.loads(resp.read())
        assert doc["status"] == "success", doc
        return [(r["metric"], float(r["value"][1])) for r in doc["data"]["result"]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build() -> Path:
    """The cached Prometheus binary (built on first use: see docs/measurements.md)."""
    from chaos.cluster.cache import cache_root
    from chaos.cluster.gobuild import install_prometheus
    from chaos.cluster.progress import Progress
    from chaos.cluster.versions import PINS

    return install_prometheus(PINS, cache_root(), Progress())


@contextmanager
def running(binary: Path, workdir: Path, target: str, job: str = "httpd",
            ready_timeout_s: float = 60) -> Iterator[Prometheus]:
    """Prometheus on a free 127.0.0.1 port, scraping ``target`` (host:port) every second."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(CONFIG.format(job=job, target=target))
    port = _free_port()
    log = workdir / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(binary), f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
            stdout=out, stderr=subprocess.STDOUT)
    server = Prometheus(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + ready_timeout_s
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"prometheus exited ({proc.returncode}):\n"
                                     + log.read_text()[-3000:])
            try:
                with opener.open(f"{server.url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"prometheus not ready in {ready_timeout_s:g}s:\n"
                                     + log.read_text()[-3000:])
            time.sleep(0.5)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
