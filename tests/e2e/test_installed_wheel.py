"""kube-chaos installed from a wheel into another project, as a team would use it.

The wheel is built from this checkout and installed into a fresh virtualenv outside the
repository. A project of its own (a Go service, its image built with docker, its manifests and
an experiment listing the image) then runs `pytest -m chaos` there against the session's kind
cluster: pod kill under load, report written. Nothing of this checkout is importable there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.engine.runner import RunEnv

ROOT = Path(__file__).resolve().parents[2]
NODE_PORT = 30085  # published on 127.0.0.1 by the kind cluster; no other test uses it

APP_MAIN = """\
package main

import (
	"context"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	mux := http.NewServeMux()
	host, _ := os.Hostname()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("shop " + host))
	})
	srv := &http.Server{Addr: ":8080", Handler: mux}
	go srv.ListenAndServe()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}
"""

MANIFESTS = f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: shop}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: shop}}}}
  template:
    metadata: {{labels: {{app: shop}}}}
    spec:
      containers:
        - name: shop
          image: {{image}}
          imagePullPolicy: Never
          ports: [{{containerPort: 8080}}]
          readinessProbe:
            httpGet: {{path: /healthz, port: 8080}}
            periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {{name: shop}}
spec:
  type: NodePort
  selector: {{app: shop}}
  ports: [{{port: 80, targetPort: 8080, nodePort: {NODE_PORT}}}]
"""

EXPERIMENT = f"""\
apiVersion: kube-chaos/v1
kind: Experiment
metadata: {{name: shop-pod-kill}}
spec:
  workload:
    manifests: [../deploy/shop.yaml]
    images: [{{image}}]
    selector: {{app: shop}}
    service: shop
    nodePort: {NODE_PORT}
    replicas: 3
  load: {{users: 5, spawnRate: 5, warmup: 4s, tail: 5s, maxDuration: 90s, wait: 20ms}}
  steadyState: {{maxErrorRate: 0.0, window: 2s}}
  faults:
    - {{type: pod-kill, count: 1, gracePeriod: 0}}
  slas: {{maxErrorRate: 0.05, maxRecovery: 60s, steadyStateRestored: true}}
  timeout: 150s
"""


def _run(argv: list[str], cwd: Path | None = None, timeout: float = 600,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env, check=False)
    assert proc.returncode == 0, (f"{' '.join(argv)} exited {proc.returncode}:\n"
                                  f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv, outside the repository, with kube-chaos installed from a wheel."""
    base = tmp_path_factory.mktemp("wheel")
    assert not base.resolve().is_relative_to(ROOT)
    # build from a copy, so no build/ or *.egg-info residue lands in the checkout
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", "reports", "build", "dist", "*.egg-info", "__pycache__", ".tox",
        ".mypy_cache", ".ruff_cache"))
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(base / "dist"),
          str(src)])
    wheels = list((base / "dist").glob("kube_chaos-*.whl"))
    assert len(wheels) == 1, wheels
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--prefer-binary",
          str(wheels[0])], timeout=900)
    return venv


@pytest.fixture(scope="module")
def app_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The team's own service, built the way its CI would: go build, then docker build."""
    app = tmp_path_factory.mktemp("app")
    (app / "main.go").write_text(APP_MAIN)
    (app / "go.mod").write_text("module example.test/shop\n\ngo 1.22\n")
    (app / "Dockerfile").write_text("FROM scratch\nCOPY shop /shop\nUSER 65534:65534\n"
                                    "ENTRYPOINT [\"/shop\"]\n")
    _run(["go", "build", "-trimpath", "-o", "shop", "."], cwd=app,
         env={**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"})
    image = f"kc-wheel-shop:{uuid.uuid4().hex[:8]}"  # a fresh tag: it must really be loaded
    _run(["docker", "build", "-q", "-t", image, str(app)])
    yield image
    subprocess.run(["docker", "image", "rm", "-f", image], capture_output=True, check=False)


def test_installed_wheel_runs_a_project_of_its_own(installed: Path, app_image: str,
                                                   chaos_env: RunEnv,
                                                   tmp_path: Path) -> None:
    python = str(installed / "bin" / "python")
    where = _run([python, "-c", "import chaos, chaos.plugin; print(chaos.__file__)"],
                 cwd=tmp_path).stdout.strip()
    assert Path(where).is_relative_to(installed), where

    project = tmp_path / "shop"
    (project / "deploy").mkdir(parents=True)
    (project / "chaos").mkdir()
    (project / "deploy" / "shop.yaml").write_text(MANIFESTS.replace("{image}", app_image))
    (project / "chaos" / "shop-pod-kill.yaml").write_text(
        EXPERIMENT.replace("{image}", app_image))
    # the experiment names ../deploy/shop.yaml: outside its folder, so the project allows it
    (project / "pytest.ini").write_text("[pytest]\nchaos_allow_path = deploy\n")
    env = {**os.environ, "KUBE_CHAOS_STATE": str(tmp_path / "state"),
           "PYTHONPATH": "", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [python, "-m", "pytest", "-m", "chaos", "chaos/", "-v", "-p", "no:cacheprovider",
         f"--chaos-kubeconfig={chaos_env.kubeconfig}", f"--chaos-context={chaos_env.kube.context}",
         "--chaos-reports=reports", "--chaos-seed=7"],
        cwd=project, capture_output=True, text=True, timeout=600, env=env, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert "1 passed" in out, out[-3000:]
    assert "kube-chaos/httpd" not in out  # the bundled workload is not built when unused
    reports = list((project / "reports").glob("*/shop-pod-kill/report.json"))
    assert len(reports) == 1, out[-3000:]
    report = json.loads(reports[0].read_text())
    assert report["verdict"] == "pass"
    assert report["seed"] == 7
    assert report["load"]["requests_total"] > 100
    targets = report["fault"]["faults"][0]["targets"]
    assert len(targets) == 1 and targets[0].startswith("shop-"), targets
    assert report["recovery"]["recovery_seconds"] is not None
    # the HTML views come with the wheel (templates are package data), and the manifest
    # names the image the project's own pods ran; an installed kube-chaos has no git commit
    assert (reports[0].parent / "report.html").stat().st_size > 10_000
    assert (reports[0].parent.parent / "index.html").exists()
    manifest = report["manifest"]
    assert manifest["kube_chaos"]["commit"] is None and manifest["errors"] == []
    assert f"--allow-path={(project / 'deploy').resolve()}" in manifest["rerun"]["argv"]
    assert {i["image"].rsplit("/", 1)[-1] for i in manifest["images"]} == {app_image}, manifest
    assert all("sha256:" in str(i["image_id"]) for i in manifest["images"]), manifest
