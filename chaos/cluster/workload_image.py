"""Build the bundled target workload image (chaos/workloads/httpd, shipped in the package).

No base image is pulled: a static Go binary goes into a FROM-scratch image.
The tag carries a digest of the sources, so a changed workload is rebuilt and
re-loaded while an unchanged one costs nothing. Built only when an experiment's
manifests run it (see chaos.cluster.images), never at session start.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from chaos.cluster.cache import cache_root, file_digest
from chaos.cluster.progress import Progress
from chaos.cluster.shell import capture, run_logged

DEFAULT_TAG = "kube-chaos/httpd:dev"
HTTPD_SOURCE = Path(__file__).resolve().parents[1] / "workloads" / "httpd"


def build_httpd(tag: str = DEFAULT_TAG, src: Path | None = None,
                progress: Progress | None = None) -> str:
    """Build `tag` from source unless the engine already holds this exact build."""
    progress = progress or Progress()
    src = src or HTTPD_SOURCE
    key = file_digest(src / "main.go", src / "go.mod", src / "Dockerfile")
    have = capture(["docker", "image", "inspect", "--format",
                    "{{index .Config.Labels \"kube-chaos.source\"}}", tag]).stdout.strip()
    if have == key:
        progress.cached(f"workload image {tag}")
        return tag
    root = cache_root()
    ctx = root / "build" / f"httpd-{key}"
    if ctx.exists():
        shutil.rmtree(ctx)
    ctx.mkdir(parents=True)
    log = root / "logs" / "httpd.log"
    with progress.step(f"building workload image {tag}"):
        run_logged("go build httpd",
                   ["go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=dev", "-o",
                    str(ctx / "httpd"), "."],
                   log, cwd=src, env={"CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"})
        shutil.copy(src / "Dockerfile", ctx / "Dockerfile")
        run_logged("docker build httpd",
                   ["docker", "build", "-q", "--label", f"kube-chaos.source={key}", "-t", tag,
                    str(ctx)], log)
    shutil.rmtree(ctx, ignore_errors=True)
    return tag
