"""Debian root filesystems made with debootstrap, imported as Docker base images.

Two of them: the node (systemd, containerd, runc, CNI plugins) and a small
"toolbox" (nftables, iproute2, conntrack) under kube-proxy and kindnetd.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from chaos.cluster.cache import Stamp, build_lock, digest
from chaos.cluster.progress import Progress
from chaos.cluster.shell import apt_get, capture, run_logged, which
from chaos.cluster.versions import NODE_PACKAGES, TOOLBOX_PACKAGES, Pins
from chaos.errors import BuildFailed


def rootfs_image(
    name: str, packages: tuple[str, ...], pins: Pins, root: Path, progress: Progress,
    force: bool = False,
) -> str:
    """Return a local image tag holding a debootstrapped Debian with `packages`."""
    key = digest(pins.debian, pins.debian_mirror, *packages)
    tag = f"kube-chaos/rootfs-{name}:{pins.debian}-{key}"
    if not force and capture(["docker", "image", "inspect", tag]).returncode == 0:
        progress.cached(f"{name} root filesystem ({tag})")
        return tag
    log = root / "logs" / f"rootfs-{name}.log"
    target = debootstrap(name, packages, pins, root, progress)
    with progress.step(f"importing {name} root filesystem as {tag}"):
        tar = subprocess.Popen(
            ["tar", "-C", str(target), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE
        )
        assert tar.stdout is not None
        with log.open("ab") as fh:
            imp = subprocess.run(
                ["docker", "import", "-", tag], stdin=tar.stdout, stdout=fh, stderr=fh, check=False
            )
        tar.stdout.close()
        if tar.wait() != 0 or imp.returncode != 0:
            raise BuildFailed(f"docker import {name}", log, "tar or docker import failed")
    return tag


def debootstrap(name: str, packages: tuple[str, ...], pins: Pins, root: Path,
                progress: Progress) -> Path:
    """The debootstrapped directory of a root filesystem, made once per key (no Docker needed,
    so CI can prebuild it before the engine is installed)."""
    key = digest(pins.debian, pins.debian_mirror, *packages)
    with build_lock(root, f"rootfs-{name}", lambda: progress.say(
            f"another process is debootstrapping the {name} root filesystem: waiting")):
        return _debootstrap(name, packages, key, pins, root, progress)


def _debootstrap(name: str, packages: tuple[str, ...], key: str, pins: Pins, root: Path,
                 progress: Progress) -> Path:
    log = root / "logs" / f"rootfs-{name}.log"
    target = root / "rootfs" / f"{name}-{pins.debian}-{key}"
    stamp = Stamp(root, f"rootfs-{name}", key)
    if stamp.done():
        progress.cached(f"{name} root filesystem directory")
        return target
    if which("debootstrap") is None:
        _install_debootstrap(log)
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with progress.step(f"debootstrap {pins.debian} {name} root filesystem (about 80 s)"):
        run_logged(
            f"debootstrap {name}",
            ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}",
             pins.debian, str(target), pins.debian_mirror],
            log,
            timeout=1800,
        )
        # apt caches are dead weight in an image that never runs apt
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (target / junk).glob("*"):
                if entry.is_file():
                    entry.unlink()
    stamp.mark()
    return target


def _install_debootstrap(log: Path) -> None:
    if os.geteuid() != 0:
        raise BuildFailed("install debootstrap", log, "debootstrap is missing and we are not root")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    run_logged("apt-get update", apt_get("update", "-q"), log, env=env, timeout=900)
    run_logged("apt-get install debootstrap", apt_get("install", "-y", "-q", "debootstrap"),
               log, env=env, timeout=900)


def node_rootfs(pins: Pins, root: Path, progress: Progress, force: bool = False) -> str:
    return rootfs_image("node", NODE_PACKAGES, pins, root, progress, force)


def toolbox_rootfs(pins: Pins, root: Path, progress: Progress, force: bool = False) -> str:
    return rootfs_image("toolbox", TOOLBOX_PACKAGES, pins, root, progress, force)
