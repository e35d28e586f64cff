"""metrics-server on kind clusters without a registry: built from its Go module, packed into a
FROM-scratch image, loaded into the nodes and applied by `kube-chaos cluster up`, so that
`kubectl top` and HorizontalPodAutoscalers work.

Installing is idempotent (server-side apply of the same manifests, an image loaded once per
image ID): `cluster up` on a running cluster adds it, and on one that has it changes nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

from chaos.cluster import kindload
from chaos.cluster.cache import build_lock, cache_root, file_digest
from chaos.cluster.config import ClusterConfig
from chaos.cluster.gobuild import build_kubernetes, go_install
from chaos.cluster.progress import Progress
from chaos.cluster.shell import capture, run_logged
from chaos.cluster.versions import PINS, Pins
from chaos.errors import ClusterError

MODULE = "sigs.k8s.io/metrics-server"
MANIFESTS = Path(__file__).parent / "files" / "metrics-server.yaml"
# the APIService the manifests register: Available once the kube-apiserver reaches it
API_SERVICE = "v1beta1.metrics.k8s.io"

_DOCKERFILE = """\
FROM scratch
COPY metrics-server /metrics-server
USER 65534:65534
ENTRYPOINT ["/metrics-server"]
"""


def image_tag(pins: Pins = PINS) -> str:
    return f"kube-chaos/metrics-server:{pins.metrics_server}"


def build_binary(pins: Pins, root: Path, progress: Progress) -> Path:
    """`go install` of cmd/metrics-server at the pinned version (static, -trimpath), into the
    cache keyed by that version. Upstream's own go.mod decides the k8s.io versions."""
    return go_install(
        root, progress, f"{MODULE}/cmd/metrics-server", pins.metrics_server,
        dirname=f"metrics-server-{pins.metrics_server}", key=pins.metrics_server,
        ldflags=f"-s -w -X k8s.io/client-go/pkg/version.gitVersion={pins.metrics_server}",
        cost="7 CPU-minutes cold (docs/measurements.md)")


def build_image(pins: Pins = PINS, progress: Progress | None = None) -> str:
    """The FROM-scratch image, rebuilt only when the binary changed (a label carries its
    digest)."""
    progress = progress or Progress()
    root = cache_root()
    binary = build_binary(pins, root, progress)
    tag = image_tag(pins)
    key = file_digest(binary)
    have = capture(["docker", "image", "inspect", "--format",
                    "{{index .Config.Labels \"kube-chaos.source\"}}", tag]).stdout.strip()
    if have == key:
        progress.cached(f"image {tag}")
        return tag
    ctx = root / "build" / f"metrics-server-{key}"
    if ctx.exists():
        shutil.rmtree(ctx)
    ctx.mkdir(parents=True)
    shutil.copy(binary, ctx / "metrics-server")
    (ctx / "Dockerfile").write_text(_DOCKERFILE)
    log = root / "logs" / "metrics-server-image.log"
    with progress.step(f"building image {tag}"):
        run_logged("docker build metrics-server",
                   ["docker", "build", "-q", "--label", f"kube-chaos.source={key}", "-t", tag,
                    str(ctx)], log)
    shutil.rmtree(ctx, ignore_errors=True)
    return tag


def manifests(tag: str) -> str:
    return MANIFESTS.read_text().replace("image: IMAGE", f"image: {tag}")


def install(cfg: ClusterConfig, progress: Progress | None = None, wait_s: float = 180,
            pins: Pins = PINS, nodes: int | None = None) -> float:
    """Build, load and apply metrics-server, then wait until the metrics API reports every
    node (what `kubectl top nodes` needs); returns the seconds that wait took. A failure is
    a ClusterError (BuildFailed for the build) naming its log."""
    progress = progress or Progress()
    nodes = nodes or cfg.nodes_total
    root = cache_root()
    kubectl = str(build_kubernetes(pins, root, progress) / "kubectl")
    tag = build_image(pins, progress)
    with build_lock(root, f"metrics-server-{cfg.name}"):  # workers of one session: one install
        return _install(cfg, progress, wait_s, kubectl, tag, nodes)


def _install(cfg: ClusterConfig, progress: Progress, wait_s: float, kubectl: str, tag: str,
             nodes: int) -> float:
    kindload.ensure_loaded(cfg, tag, progress)
    log = cfg.state_dir / "metrics-server.log"
    base = [kubectl, "--kubeconfig", str(cfg.kubeconfig), "--context", cfg.context]
    running = capture([*base, "-n", "kube-system", "get", "deployment", "metrics-server", "-o",
                       "jsonpath={.spec.template.spec.containers[0].image}"]).stdout.strip()
    if running == tag and (node_metrics(base) or 0) >= nodes:
        progress.cached(f"metrics-server ({tag}, metrics API answering)")
        return 0.0
    with progress.step("applying metrics-server (kube-system)"):
        run_logged("kubectl apply metrics-server",
                   [*base, "apply", "--server-side", "--force-conflicts",
                    "--field-manager=kube-chaos", "-f", "-"],
                   log, stdin=manifests(tag).encode(), timeout=120)
    started = time.monotonic()
    with progress.step(f"waiting for the metrics API to report all {nodes} nodes "
                       f"(`kubectl top nodes`)"):
        _wait_node_metrics(base, nodes, started + wait_s, log)
    return time.monotonic() - started


def node_metrics(base: list[str], timeout_s: float = 10) -> int | None:
    """How many nodes the metrics API reports now; None when it does not answer."""
    try:
        proc = subprocess.run([*base, "get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes"],
                              capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        return None
    try:
        items = json.loads(proc.stdout).get("items", [])
    except (ValueError, AttributeError):
        return None
    return len(items) if isinstance(items, list) else None


def _wait_node_metrics(base: list[str], nodes: int, deadline: float, log: Path) -> None:
    seen: int | None = None
    while True:
        seen = node_metrics(base)
        if seen is not None and seen >= nodes:
            return
        if time.monotonic() >= deadline:
            status = capture([*base, "get", "apiservice", API_SERVICE, "-o",
                              "jsonpath={.status.conditions[0].message}"]).stdout.strip()
            pods = capture([*base, "-n", "kube-system", "get", "pods", "-l",
                            "app.kubernetes.io/name=metrics-server", "-o", "wide"]).stdout
            with log.open("a") as fh:
                fh.write(f"\nAPIService {API_SERVICE}: {status}\n{pods}\n")
            raise ClusterError(
                f"metrics-server was applied but the metrics API reports "
                f"{'no answer' if seen is None else f'{seen} of {nodes} nodes'} after the wait "
                f"(APIService {API_SERVICE}: {status or 'no status'}); see {log} and "
                f"`kubectl -n kube-system logs deploy/metrics-server`")
        time.sleep(2)
