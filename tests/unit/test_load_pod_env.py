"""In-cluster load worker pods get exactly the settings a worker reads, nothing of this machine.

A pod spec is readable by anyone who may get pods in the namespace: a token exported as
KUBE_CHAOS_STAGING_TOKEN, or a header value given through the Python API, must never be
written into one. The pods are built for real (``LoadRun.start`` with a launcher that renders
``loadpods.pod_manifest``); only the local locust master process is stood in for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from chaos.k8s.loadpods import pod_manifest
from chaos.load import LoadRun
from chaos.load import runner as load_runner
from chaos.load.runner import (
    ENV_CAPTURE,
    ENV_COLLECT,
    ENV_FINAL_WAIT_S,
    ENV_HEADERS,
    POD_ENV,
    InCluster,
    LoadError,
    worker_pod_env,
)

STAGING_TOKEN = "stg_FAKE_TOKEN_d41d8cd98f00b204e9800998ecf8427e"
HEADER_VALUE = "Bearer FAKE_HEADER_SECRET_0123456789abcdef"
LOAD_DIR = Path(load_runner.__file__).resolve().parent


class PodSpecs:
    """A launcher that renders each worker pod exactly as the real one would create it."""

    def __init__(self) -> None:
        self.pods: list[dict[str, Any]] = []

    def launch(self, index: int, args: Sequence[str], env: Mapping[str, str]) -> None:
        self.pods.append(pod_manifest(f"kube-chaos-locust-test-{index}",
                                      "kube-chaos/locust-worker:test", index, args, env))

    def remove(self) -> None:
        pass


class FakePopen:
    """The local locust master, not started: this test is about what the pods are given."""

    pid = 2**22 + 4242

    def __init__(self, cmd: Sequence[str], **kwargs: Any) -> None:
        self.cmd = cmd
        self.env: Mapping[str, str] = kwargs["env"]

    def poll(self) -> int | None:
        return None


@pytest.fixture
def pods(monkeypatch: pytest.MonkeyPatch) -> PodSpecs:
    monkeypatch.setattr(load_runner.subprocess, "Popen", FakePopen)
    monkeypatch.setenv("KUBE_CHAOS_STAGING_TOKEN", STAGING_TOKEN)
    monkeypatch.setenv("STAGING_AUTH", HEADER_VALUE)
    return PodSpecs()


def _start(pods: PodSpecs, tmp_path: Path, **kwargs: Any) -> None:
    LoadRun.start("http://httpd.ns.svc.cluster.local:80", users=2, spawn_rate=2,
                  max_duration_s=5, out_dir=tmp_path / "load", max_requests=100,
                  in_cluster=InCluster(workers=2, bind_host="127.0.0.1", launcher=pods),
                  allowed_hosts=["httpd.ns.svc.cluster.local"], **kwargs)


@pytest.mark.parametrize("mode", ["closed", "open"])
def test_no_secret_of_the_environment_reaches_a_worker_pod_spec(
        pods: PodSpecs, tmp_path: Path, mode: str) -> None:
    kwargs: dict[str, Any] = ({"mode": "open", "rate_segments": [(50.0, 50.0, None)]}
                              if mode == "open" else {"wait_s": 0.05, "path": "/api"})
    _start(pods, tmp_path, **kwargs)
    assert len(pods.pods) == 2
    for index, pod in enumerate(pods.pods):
        text = json.dumps(pod)
        assert STAGING_TOKEN not in text and "KUBE_CHAOS_STAGING_TOKEN" not in text
        assert HEADER_VALUE not in text and ENV_HEADERS not in text
        (container,) = pod["spec"]["containers"]
        env = {e["name"]: e["value"] for e in container["env"]}
        assert set(env) <= POD_ENV, set(env) - POD_ENV
        # what the worker needs is there
        assert env["KUBE_CHAOS_STREAM"] == "1" and env["KUBE_CHAOS_WORKER"] == str(index)
        assert env["KUBE_CHAOS_WORKERS"] == "2" and env["KUBE_CHAOS_MAX_REQUESTS"] == "50"
        assert env["KUBE_CHAOS_ALLOWED_HOSTS"].split(",").count("httpd.ns.svc.cluster.local")
        assert {"KUBE_CHAOS_PATH", "KUBE_CHAOS_TIMEOUT_S", "KUBE_CHAOS_TLS_VERIFY",
                "KUBE_CHAOS_KEEPALIVE", "KUBE_CHAOS_SEGMENTS", "KUBE_CHAOS_RUN_S"} <= set(env)
        if mode == "closed":
            assert env["KUBE_CHAOS_PATH"] == "/api" and env["KUBE_CHAOS_WAIT_S"] == "0.05"


def test_headers_are_refused_for_in_cluster_load_without_their_values(
        pods: PodSpecs, tmp_path: Path) -> None:
    """Through the Python API (``headers=``), as the experiment file already refuses
    headersFromEnv with inCluster: no pod is made, and the message holds no value."""
    with pytest.raises(LoadError) as info:
        _start(pods, tmp_path, headers={"Authorization": HEADER_VALUE})
    assert str(info.value).startswith("in-cluster load cannot send headers (Authorization)")
    assert HEADER_VALUE not in str(info.value)
    assert pods.pods == []


def test_headers_from_the_environment_are_refused_too(pods: PodSpecs, tmp_path: Path,
                                                      good: str, exp_dir: Path) -> None:
    """An Experiment changed in Python (the file would be refused) gets no further."""
    from dataclasses import replace

    from chaos.model.parse import parse_experiment

    exp = parse_experiment(good, exp_dir / "x.yaml")
    load = replace(exp.load, headers_from_env=(("Authorization", "STAGING_AUTH"),))
    with pytest.raises(LoadError) as info:
        LoadRun.from_profile("http://httpd.ns.svc.cluster.local:80", load, tmp_path / "load",
                             allowed_hosts=["httpd.ns.svc.cluster.local"],
                             in_cluster=InCluster(workers=2, bind_host="127.0.0.1",
                                                  launcher=pods))
    assert HEADER_VALUE not in str(info.value) and pods.pods == []


def test_the_allow_list_is_exactly_what_a_pod_worker_reads() -> None:
    """Every KUBE_CHAOS_* name our worker-side modules read is passed; the ones only the
    master on this machine reads (its capture, the streamed records' folder) and the headers
    (refused in-cluster) are not."""
    read: set[str] = set()
    for module in ("locustfile.py", "openloop.py", "kube_chaos_capture.py"):
        read |= set(re.findall(r"\"(KUBE_CHAOS_[A-Z_]+)\"", (LOAD_DIR / module).read_text()))
    master_only = {ENV_CAPTURE, ENV_COLLECT, ENV_FINAL_WAIT_S}
    assert read - master_only - {ENV_HEADERS} == POD_ENV


def test_worker_pod_env_keeps_only_the_allow_list() -> None:
    env = worker_pod_env({"KUBE_CHAOS_PATH": "/", "KUBE_CHAOS_STAGING_TOKEN": STAGING_TOKEN,
                          ENV_HEADERS: json.dumps({"Authorization": HEADER_VALUE}),
                          ENV_CAPTURE: "/tmp/x", "HOME": "/root", "AWS_SECRET_ACCESS_KEY": "k"})
    assert env == {"KUBE_CHAOS_PATH": "/", "KUBE_CHAOS_STREAM": "1"}
