"""kind clusters: up (idempotent), down, status, and loading local images.

The node image is resolved in order: the image the user names; the public
kindest/node image when a registry answers; otherwise our offline build.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, replace
from pathlib import Path

from chaos.cluster import engine, loadbalancer, nodeimage
from chaos.cluster import metrics_server as ms
from chaos.cluster.cache import build_lock, cache_root
from chaos.cluster.config import ClusterConfig, kind_config, shape_of
from chaos.cluster.kindload import kind_binary
from chaos.cluster.progress import Progress
from chaos.cluster.shell import capture, run_logged
from chaos.cluster.versions import PINS
from chaos.errors import ClusterError, PortInUse

PUBLIC_NODE_IMAGE = "kindest/node:{version}"
MARKER_LABEL = "io.x-k8s.kind.cluster"
ROLE_LABEL = "io.x-k8s.kind.role"


def registry_answers(timeout: float = 3.0) -> bool:
    """Whether Docker Hub answers at all; offline machines get our own build."""
    try:
        with socket.create_connection(("registry-1.docker.io", 443), timeout=timeout):
            return True
    except OSError:
        return False


def resolve_node_image(cfg: ClusterConfig, progress: Progress) -> str:
    if cfg.image:
        progress.say(f"node image: {cfg.image} (named by the user)")
        return cfg.image
    local = nodeimage.node_image_tag(PINS)
    if capture(["docker", "image", "inspect", local]).returncode == 0:
        progress.cached(f"node image {local}")
        return local
    if cfg.kubernetes == PINS.kubernetes and not registry_answers():
        progress.say("no container registry answers: building the node image offline")
        return nodeimage.build_node_image(PINS, cache_root(), progress)
    public = PUBLIC_NODE_IMAGE.format(version=cfg.kubernetes)
    progress.say(f"node image: {public} (public, pulled by kind)")
    return public


def existing_clusters(kind: str) -> list[str]:
    out = capture([kind, "get", "clusters"])
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def node_containers(name: str) -> list[str]:
    out = capture(["docker", "ps", "-a", "--filter", f"label={MARKER_LABEL}={name}",
                   "--format", "{{.Names}}"])
    return sorted(line for line in out.stdout.splitlines() if line)


def existing_shape(name: str) -> tuple[int, int]:
    """(control planes, workers) of the kind cluster ``name`` as Docker has it."""
    out = capture(["docker", "ps", "-a", "--filter", f"label={MARKER_LABEL}={name}",
                   "--format", f'{{{{.Label "{ROLE_LABEL}"}}}}'])
    return shape_of([line.strip() for line in out.stdout.splitlines()])


def check_ports_free(cfg: ClusterConfig) -> None:
    for mapping in cfg.ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((mapping.listen, mapping.host_port))
            except OSError as exc:
                raise PortInUse(
                    f"Port {mapping.listen}:{mapping.host_port} is already taken, so the kind "
                    f"cluster {cfg.name!r} cannot publish NodePort {mapping.node_port} there. "
                    "Stop whatever listens on it (`ss -ltnp`), or delete the other cluster "
                    "that uses it (`kube-chaos cluster down --name ...`)."
                ) from exc


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    name: str
    context: str
    kubeconfig: Path
    image: str
    nodes: tuple[str, ...]
    reused: bool
    seconds: float


def up(cfg: ClusterConfig, progress: Progress | None = None, wait_s: float = 300,
       adopt_shape: bool = False, metrics_server: bool = False) -> ClusterInfo:
    """Create the cluster, or reuse it when it exists and is healthy. ``adopt_shape``: an
    existing cluster is judged by the control planes and workers it has, not by ``cfg``'s (the
    pytest plugin names a cluster without knowing its shape, and must not recreate an HA
    cluster as a single control plane). ``metrics_server``: install it too (idempotent, so a
    reused cluster gets it) and wait until the metrics API reports every node."""
    progress = progress or Progress()
    # one process at a time makes or checks a cluster: the workers of a parallel session all
    # reach this on their first experiment, and the first one's cluster is the others' reuse
    with build_lock(cache_root(), f"cluster-{cfg.name}", lambda: progress.say(
            f"waiting for another process setting up cluster {cfg.name!r}")):
        info = _up(cfg, progress, wait_s, adopt_shape)
    if metrics_server:
        ms.install(cfg, progress, nodes=len([n for n in info.nodes
                                             if not n.endswith("external-load-balancer")]))
    return info


def _up(cfg: ClusterConfig, progress: Progress, wait_s: float, adopt_shape: bool
        ) -> ClusterInfo:
    from chaos.k8s import health  # the only layer allowed to talk to the API server

    started = time.monotonic()
    engine.ensure_engine(progress)
    kind = kind_binary(progress)
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    log = cfg.state_dir / "kind.log"
    if cfg.name in existing_clusters(kind):
        if adopt_shape:
            planes, workers = existing_shape(cfg.name)
            if planes and (planes, workers) != (cfg.control_planes, cfg.workers):
                progress.say(f"cluster {cfg.name!r} has {planes} control plane(s) and "
                             f"{workers} worker(s): judged as it is")
                cfg = replace(cfg, control_planes=planes, workers=workers)
        _export_kubeconfig(kind, cfg, log)
        problems = health.cluster_problems(cfg.kubeconfig, cfg.context, cfg.nodes_total)
        if not problems:
            progress.say(f"cluster {cfg.name!r} exists and is healthy: reusing it")
            health.refresh_marker(cfg.kubeconfig, cfg.context)
            if cfg.ha and not loadbalancer.proxy_running(cfg):
                _start_ports_proxy(cfg, progress, log)
            return _info(cfg, True, started)
        progress.say(f"cluster {cfg.name!r} exists but is unhealthy ({problems[0]}): recreating")
        down(cfg, progress)
    check_ports_free(cfg)
    image = resolve_node_image(cfg, progress)
    if cfg.ha:
        loadbalancer.ensure_image(PINS, progress)  # kind would pull it: there is no registry
    (cfg.state_dir / "loaded-images.json").unlink(missing_ok=True)
    config_path = cfg.state_dir / "kind-config.yaml"
    config_path.write_text(kind_config(cfg))
    with progress.step(f"kind create cluster {cfg.name!r} ({cfg.control_planes} control "
                       f"plane(s), {cfg.workers} workers, {image})"):
        run_logged(
            "kind create cluster",
            [kind, "create", "cluster", "--name", cfg.name, "--image", image,
             "--config", str(config_path), "--kubeconfig", str(cfg.kubeconfig),
             "--retain", "--wait", "0s"],
            log,
            timeout=wait_s + 300,
        )
    with progress.step("waiting for every node and kube-system pod to be Ready"):
        health.wait_cluster_ready(cfg.kubeconfig, cfg.context, cfg.nodes_total, timeout_s=wait_s)
        health.mark_provisioned(cfg.kubeconfig, cfg.context, cfg.name, image)
    if cfg.ha:
        _start_ports_proxy(cfg, progress, log)
    info = _info(cfg, False, started, image)
    progress.say(f"cluster {cfg.name!r} up in {info.seconds:.1f}s; KUBECONFIG={cfg.kubeconfig}")
    return info


def _start_ports_proxy(cfg: ClusterConfig, progress: Progress, log: Path) -> None:
    with progress.step(f"ports proxy {loadbalancer.proxy_name(cfg)}: NodePorts on every node"):
        loadbalancer.start_proxy(cfg, cfg.node_names(), loadbalancer.ensure_image(PINS), log)


def _info(cfg: ClusterConfig, reused: bool, started: float, image: str = "") -> ClusterInfo:
    if not image:
        out = capture(["docker", "inspect", "--format", "{{.Config.Image}}",
                       f"{cfg.name}-control-plane"])
        image = out.stdout.strip()
    return ClusterInfo(cfg.name, cfg.context, cfg.kubeconfig, image,
                       tuple(node_containers(cfg.name)), reused, time.monotonic() - started)


def _export_kubeconfig(kind: str, cfg: ClusterConfig, log: Path) -> None:
    run_logged("kind export kubeconfig",
               [kind, "export", "kubeconfig", "--name", cfg.name, "--kubeconfig",
                str(cfg.kubeconfig)], log)


def down(cfg: ClusterConfig, progress: Progress | None = None) -> None:
    """Delete the cluster: its containers, its kubeconfig; the shared `kind` network
    is removed too when no other kind cluster uses it."""
    progress = progress or Progress()
    if not engine.engine_answers():
        progress.say("no Docker engine answers: nothing to delete")
        return
    kind = kind_binary(progress)
    log = cfg.state_dir / "kind.log"
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    with progress.step(f"kind delete cluster {cfg.name!r}"):
        run_logged("kind delete cluster",
                   [kind, "delete", "cluster", "--name", cfg.name, "--kubeconfig",
                    str(cfg.kubeconfig)], log)
        for leftover in node_containers(cfg.name):
            capture(["docker", "rm", "-f", "-v", leftover])
        loadbalancer.remove_proxy(cfg)
        if not existing_clusters(kind):
            capture(["docker", "network", "rm", "kind"])
    cfg.kubeconfig.unlink(missing_ok=True)


def status(cfg: ClusterConfig) -> dict[str, object]:
    from chaos.k8s import health

    if not engine.engine_answers():
        return {"name": cfg.name, "exists": False, "reason": "no Docker engine answers"}
    containers = node_containers(cfg.name)
    result: dict[str, object] = {"name": cfg.name, "exists": bool(containers),
                                 "containers": containers, "kubeconfig": str(cfg.kubeconfig),
                                 "context": cfg.context}
    if containers and cfg.kubeconfig.exists():
        result.update(health.cluster_summary(cfg.kubeconfig, cfg.context))
    return result


def node_image_identity(name: str) -> dict[str, str] | None:
    """The node image a kind cluster runs: its tag and the image ID Docker resolved it to
    (two clusters built from different sources under one tag differ in the ID)."""
    out = capture(["docker", "inspect", "--format", "{{.Config.Image}} {{.Image}}",
                   f"{name}-control-plane"])
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) != 2:
        return None
    return {"tag": parts[0], "id": parts[1]}


def kind_config_record(name: str) -> dict[str, str] | None:
    """The kind config the cluster was created with (kept in its state dir), and its hash."""
    import hashlib

    path = ClusterConfig(name=name).state_dir / "kind-config.yaml"
    try:
        text = path.read_text()
    except OSError:
        return None
    return {"path": str(path), "sha256": hashlib.sha256(text.encode()).hexdigest(),
            "text": text}


def network_gateway(network: str = "kind") -> str:
    """The IPv4 gateway of kind's Docker network: this machine's address on it, which the
    nodes (and, masqueraded by them, the pods) reach it at."""
    out = capture(["docker", "network", "inspect", "--format",
                   "{{range .IPAM.Config}}{{.Gateway}} {{end}}", network])
    for address in out.stdout.split():
        if address.count(".") == 3:
            return address
    raise ClusterError(f"docker network {network!r} has no IPv4 gateway "
                       f"({out.stderr.strip() or out.stdout.strip() or 'no such network'})")
