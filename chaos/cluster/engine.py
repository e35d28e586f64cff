"""Make sure a Docker engine answers; start one on fresh machines and CI.

On a machine with a working engine we touch nothing. Otherwise we install
Debian's docker.io and start dockerd ourselves. Where the process capability
bounding set lacks capabilities that `--privileged` requests (Firecracker VMs,
some hardened runners), dockerd is started with a runtime wrapper that drops
those capabilities from each OCI spec, or kind's privileged nodes cannot start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from chaos.clock import SYSTEM_CLOCK, Deadline
from chaos.cluster.progress import Progress
from chaos.cluster.shell import apt_get, capture, which
from chaos.errors import DockerUnavailable

WRAPPER_SRC = Path(__file__).parent / "files" / "runc-capfilter"
WRAPPER_DST = Path("/usr/local/lib/kube-chaos/runc-capfilter")
DOCKERD_LOG = Path("/var/log/kube-chaos/dockerd.log")
LAST_CAP = 40  # CAP_CHECKPOINT_RESTORE
INOTIFY = {"fs.inotify.max_user_watches": 524288, "fs.inotify.max_user_instances": 512}


def missing_capabilities(status_text: str) -> list[int]:
    """Capability numbers absent from the bounding set in /proc/self/status text."""
    for line in status_text.splitlines():
        if line.startswith("CapBnd:"):
            mask = int(line.split()[1], 16)
            return [cap for cap in range(LAST_CAP + 1) if not mask >> cap & 1]
    return []


def engine_answers() -> bool:
    return capture(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=20).returncode == 0


def ensure_engine(progress: Progress | None = None) -> None:
    progress = progress or Progress()
    if which("docker") is None and which("dockerd") is None:
        _install_docker(progress)
    if engine_answers():
        _raise_inotify_limits(progress)
        return
    if os.geteuid() != 0:
        raise DockerUnavailable(
            "No Docker engine answers (`docker info` failed) and kube-chaos is not running as "
            "root, so it cannot start one. Start Docker (e.g. `sudo systemctl start docker`) "
            "or add your user to the docker group, then retry."
        )
    if which("dockerd") is None:
        _install_docker(progress)
    _start_dockerd(progress)
    _raise_inotify_limits(progress)


def _install_docker(progress: Progress) -> None:
    if os.geteuid() != 0 or which("apt-get") is None:
        raise DockerUnavailable(
            "Docker is not installed and kube-chaos can only install it on Debian/Ubuntu as "
            "root (apt-get install docker.io). Install Docker and retry."
        )
    with progress.step("installing Debian's docker.io"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for argv in (apt_get("update", "-q"), apt_get("install", "-y", "-q", "docker.io")):
            proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise DockerUnavailable(
                    f"`{' '.join(argv)}` failed (exit {proc.returncode}): "
                    f"{proc.stderr.strip()[-400:]}"
                )


def _start_dockerd(progress: Progress) -> None:
    argv = ["dockerd"]
    missing = missing_capabilities(Path("/proc/self/status").read_text())
    if missing:
        real_runc = which("runc") or "/usr/sbin/runc"
        WRAPPER_DST.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(WRAPPER_SRC, WRAPPER_DST)
        WRAPPER_DST.chmod(0o755)
        argv += ["--add-runtime", f"capfilter={WRAPPER_DST}", "--default-runtime", "capfilter"]
        progress.say(
            f"capability bounding set lacks {missing}: dockerd gets the capability-filtering "
            f"runtime wrapper (real runc: {real_runc})"
        )
    DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
    with progress.step("starting dockerd"):
        with DOCKERD_LOG.open("ab") as log:
            subprocess.Popen(
                argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
            )
        if not Deadline(SYSTEM_CLOCK, 60).until(engine_answers, 1.0):
            raise DockerUnavailable(
                f"dockerd did not answer within 60 s; read {DOCKERD_LOG} for the reason."
            )


def _raise_inotify_limits(progress: Progress) -> None:
    """kind's known-issues page asks for these; lower values break kubelets in nodes."""
    if os.geteuid() != 0:
        return
    for key, wanted in INOTIFY.items():
        path = Path("/proc/sys") / key.replace(".", "/")
        try:
            if int(path.read_text()) < wanted:
                path.write_text(str(wanted))
                progress.say(f"raised {key} to {wanted}")
        except OSError:
            progress.say(f"could not raise {key}; kind nodes may fail to start many pods")
