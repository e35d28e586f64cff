"""haproxy containers of an HA cluster: kind's API-server load balancer, built offline, and our
ports proxy, which publishes the NodePorts so that they survive the loss of any one node.

kind starts its load balancer from a public image (``Pins.kind_load_balancer``) and pulls it
only when the engine lacks it; we build an image like kind's (images/haproxy at v0.31.0:
haproxy, plus the cp, mkdir and kill that kind runs in it to write its config and reload it)
from a debootstrapped Debian, and tag it under that exact name.

The ports proxy exists because a host port can be published by one container only: on a
1-control-plane cluster it sits on the control-plane node, which no worker fault touches, but
with several control planes any node may be the one that is lost, and its port mappings would
die with it. So a container of our own (same image, our config) on kind's network publishes
them instead and forwards each to that NodePort on every node, health-checked; kube-proxy on
the node that answers sends the connection on to a pod.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from chaos.cluster import rootfs
from chaos.cluster.cache import cache_root, digest
from chaos.cluster.config import ClusterConfig, ports_proxy_config
from chaos.cluster.progress import Progress
from chaos.cluster.shell import capture, run_logged
from chaos.cluster.versions import HAPROXY_PACKAGES, PINS, Pins
from chaos.errors import ClusterError

CONFIG_PATH = "/usr/local/etc/haproxy/haproxy.cfg"
STARTUP_CHECKS, STARTUP_CHECK_S = 4, 0.5  # kind's loadbalancer.ConfigPath
SOURCE_LABEL = "kube-chaos.source"
PROXY_LABEL = "io.kube-chaos.ports-proxy"

# The configuration the image starts with (kind rewrites it, then sends SIGHUP): enough for
# haproxy to start and listen where kind's will.
STARTING_CONFIG = """\
# replaced at runtime by kind (the API servers) or kube-chaos (the NodePorts)
global
  maxconn 4000

defaults
  mode tcp
  timeout connect 5s
  timeout client 50s
  timeout server 50s

frontend control-plane
  bind 0.0.0.0:6443
  default_backend kube-apiservers

backend kube-apiservers
"""


# haproxy as PID 1 (kind reloads it with `kill -s HUP 1`), with its connection limit fitted to
# the container's open-file limit: kind's config asks for maxconn 100000, i.e. 200028 files,
# and Debian's haproxy 2.6 refuses to start when it cannot raise the limit that far (kind's
# 2.2 only warned). -n takes precedence over the configuration's maxconn. Each connection
# takes two files; the rest is for listeners and servers: the ports proxy has one listener per
# NodePort and one server per node and NodePort (20 x 5 on an HA cluster; a margin of 128 files
# was short of that under a 20000-file limit, and haproxy exited).
ENTRYPOINT_SCRIPT = (
    'n=$(ulimit -n); case "$n" in unlimited) m=100000;; *) m=$(( n / 2 - 1024 ));; esac; '
    f'exec haproxy -W -db -n "$m" -f {CONFIG_PATH}'
)


def dockerfile(rootfs_tag: str) -> str:
    """What kind's image runs: haproxy in master-worker mode (SIGHUP reloads the config), in
    the foreground, stopped gracefully by SIGUSR1."""
    return f"""FROM {rootfs_tag}
COPY haproxy.cfg {CONFIG_PATH}
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
STOPSIGNAL SIGUSR1
ENTRYPOINT ["/bin/sh", "-c", {json.dumps(ENTRYPOINT_SCRIPT)}]
"""


def image_key(pins: Pins) -> str:
    return digest(pins.debian, pins.debian_mirror, *HAPROXY_PACKAGES, STARTING_CONFIG,
                  dockerfile("rootfs"))


def ensure_image(pins: Pins = PINS, progress: Progress | None = None) -> str:
    """The load-balancer image under kind's name (built once per machine; cached by content)."""
    progress = progress or Progress()
    tag = pins.kind_load_balancer
    key = image_key(pins)
    have = capture(["docker", "image", "inspect", "--format",
                    f'{{{{index .Config.Labels "{SOURCE_LABEL}"}}}}', tag]).stdout.strip()
    if have == key:
        progress.cached(f"load-balancer image {tag}")
        return tag
    root = cache_root()
    base = rootfs.rootfs_image("haproxy", HAPROXY_PACKAGES, pins, root, progress)
    log = root / "logs" / "haproxy-image.log"
    ctx = Path(tempfile.mkdtemp(prefix="haproxy-", dir=root))
    try:
        (ctx / "Dockerfile").write_text(dockerfile(base))
        (ctx / "haproxy.cfg").write_text(STARTING_CONFIG)
        with progress.step(f"building load-balancer image {tag}"):
            run_logged("docker build haproxy",
                       ["docker", "build", "-q", "--label", f"{SOURCE_LABEL}={key}", "-t", tag,
                        "-t", f"kube-chaos/haproxy:{key}", str(ctx)], log, timeout=600)
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    return tag


def proxy_name(cfg: ClusterConfig) -> str:
    return f"{cfg.name}-ports"


def proxy_running(cfg: ClusterConfig) -> bool:
    out = capture(["docker", "inspect", "--format", "{{.State.Running}}", proxy_name(cfg)])
    return out.returncode == 0 and out.stdout.strip() == "true"


def start_proxy(cfg: ClusterConfig, nodes: list[str], image: str, log: Path) -> str:
    """(Re)create the ports proxy for ``nodes`` on kind's network; returns its name."""
    name = proxy_name(cfg)
    remove_proxy(cfg)
    argv = ["docker", "create", "--name", name, "--hostname", name, "--net", "kind",
            "--label", f"{PROXY_LABEL}={cfg.name}", "--restart=on-failure:1"]
    for p in cfg.ports:
        argv += ["-p", f"{p.listen}:{p.host_port}:{p.node_port}/tcp"]
    run_logged("docker create ports proxy", [*argv, image], log)
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "haproxy.cfg"
        conf.write_text(ports_proxy_config(cfg, nodes))
        run_logged("docker cp ports proxy config",
                   ["docker", "cp", str(conf), f"{name}:{CONFIG_PATH}"], log)
    run_logged("docker start ports proxy", ["docker", "start", name], log)
    # haproxy reads its configuration after the container is up: judge it once that is done
    for _ in range(STARTUP_CHECKS):
        time.sleep(STARTUP_CHECK_S)
        if not proxy_running(cfg):
            raise ClusterError(f"the ports proxy {name} exited at start: {proxy_diagnosis(cfg)}")
    return name


def proxy_diagnosis(cfg: ClusterConfig) -> str:
    """Why the ports proxy is not running: its state, exit code and last log lines."""
    name = proxy_name(cfg)
    state = capture(["docker", "inspect", "--format",
                     "{{.State.Status}} exit={{.State.ExitCode}} oom={{.State.OOMKilled}} "
                     "restarts={{.RestartCount}} error={{.State.Error}}", name])
    logs = capture(["docker", "logs", "--tail", "20", name])
    return (f"{state.stdout.strip() or state.stderr.strip()}; last log lines: "
            f"{(logs.stdout + logs.stderr).strip()[-1500:]}")


def remove_proxy(cfg: ClusterConfig) -> None:
    capture(["docker", "rm", "-f", "-v", proxy_name(cfg)])
