"""Offline build of a kind node image.

What `kind build node-image` does, without any registry: our own component
images (kube-apiserver, controller-manager, scheduler, proxy, etcd, CoreDNS,
pause, kindnetd) under the exact names `kubeadm config images list` prints,
preloaded into the node's containerd, on a debootstrapped Debian base that
carries kind's own entrypoint and systemd units (read from the kind Go module).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from chaos.clock import SYSTEM_CLOCK, Deadline
from chaos.cluster import gobuild, rootfs
from chaos.cluster.cache import cache_root, digest, file_digest
from chaos.cluster.progress import Progress
from chaos.cluster.shell import capture, run_logged
from chaos.cluster.versions import PINS, Pins
from chaos.errors import BuildFailed, DiskShort

FILES = Path(__file__).parent / "files"
KINDNETD_REPO = "docker.io/kube-chaos/kindnetd"

# kind's base image files we reuse verbatim (relative to images/base/files).
KIND_FILES = (
    "usr/local/bin/entrypoint",
    "usr/local/bin/clean-install",
    "kind/bin/create-kubelet-cgroup-v2.sh",
    "kind/bin/mount-product-files.sh",
    "kind/bin/undo-mount-hacks.sh",
    "etc/crictl.yaml",
    "etc/default/kubelet",
    "etc/sysctl.d/10-network-magic.conf",
    "etc/sysctl.d/10-network-security.conf",
    "etc/systemd/system/containerd.service",
    "etc/systemd/system/kubelet.service",
    "etc/systemd/system/kubelet.slice",
    "etc/systemd/system/undo-mount-hacks.service",
    "etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
    "etc/systemd/system/kubelet.service.d/11-kind.conf",
)


@dataclass(frozen=True, slots=True)
class ComponentImage:
    name: str  # exact reference kubeadm (or our CNI manifest) asks for
    binary: Path
    base: str  # "scratch" or a local rootfs tag
    path_in_image: str
    entrypoint: bool  # CoreDNS, pause and kindnetd are run by ENTRYPOINT


def patch_containerd_config(text: str, pause_image: str) -> str:
    """Adapt kind's containerd config to Debian's containerd 1.6 in a sandbox.

    - sandbox_image: our locally built pause, so nothing is ever pulled;
    - restrict_oom_score_adj: the kubelet asks for negative OOM scores that need
      CAP_SYS_RESOURCE, which sandboxed hosts do not grant;
    - drop the fuse-overlayfs proxy plugin (rootless only, binary not shipped).
    """
    text = re.sub(r'sandbox_image = "[^"]*"', f'sandbox_image = "{pause_image}"', text)
    text = text.replace("restrict_oom_score_adj = false", "restrict_oom_score_adj = true")
    text = re.sub(r'\[proxy_plugins\]\n.*?address = "[^"]*"\n', "", text, flags=re.S)
    return text


def node_dockerfile(pins: Pins, rootfs_tag: str) -> str:
    return f"""FROM {rootfs_tag}
COPY files/ /
COPY bin/ /usr/bin/
COPY manifests/ /kind/manifests/
# Same clean-up as kind's base image: boot only what a node needs.
RUN chmod 755 /kind/bin /kind/bin/* /usr/local/bin/entrypoint /usr/local/bin/clean-install \\
    /usr/bin/kubeadm /usr/bin/kubelet /usr/bin/kubectl \\
 && find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete \\
 && rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \\
    /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \\
    /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/* \\
 && echo "ReadKMsg=no" >> /etc/systemd/journald.conf \\
 && ln -sf "$(command -v systemd || echo /lib/systemd/systemd)" /sbin/init \\
 && ln -sf /usr/bin/containerd /usr/local/bin/containerd \\
 && mkdir -p /opt/cni/bin /etc/kubernetes/manifests /etc/cni/net.d \\
 && ln -sf /usr/lib/cni/* /opt/cni/bin/ \\
 && ctr oci spec \\
    | jq '.hooks.createContainer[.hooks.createContainer|length] |= . + \\
          {{"path": "/kind/bin/mount-product-files.sh"}}' \\
    | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json \\
 && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \\
 && systemctl mask systemd-binfmt.service \\
 && echo "{pins.kubernetes}" > /kind/version
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
"""


def component_dockerfile(image: ComponentImage) -> str:
    name = image.binary.name
    lines = [f"FROM {image.base}"]
    if image.base == "scratch":
        # distroless-like: a /tmp and certificates are all these static binaries need
        lines.append("COPY rootfs/ /")
    lines += [
        f"COPY {name} {image.path_in_image}",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ]
    if image.entrypoint:
        lines.append(f'ENTRYPOINT ["{image.path_in_image}"]')
    return "\n".join(lines) + "\n"


def build_component(image: ComponentImage, root: Path, progress: Progress) -> Path:
    """docker build one component image and `docker save` it; cached by content."""
    key = digest(image.name, image.base, file_digest(image.binary))
    tar = root / "images" / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', image.name)}-{key}.tar"
    if tar.exists():
        progress.cached(f"image {image.name}")
        return tar
    ctx = root / "build" / f"component-{key}"
    if ctx.exists():
        shutil.rmtree(ctx)
    (ctx / "rootfs" / "tmp").mkdir(parents=True)
    (ctx / "rootfs" / "etc" / "ssl" / "certs").mkdir(parents=True)
    ca = Path("/etc/ssl/certs/ca-certificates.crt")
    if ca.exists():
        shutil.copy(ca, ctx / "rootfs" / "etc" / "ssl" / "certs")
    shutil.copy(image.binary, ctx / image.binary.name)
    (ctx / "Dockerfile").write_text(component_dockerfile(image))
    log = root / "logs" / "images.log"
    with progress.step(f"image {image.name}"):
        run_logged(f"docker build {image.name}", ["docker", "build", "-q", "-t", image.name,
                                                   str(ctx)], log)
        tar.parent.mkdir(parents=True, exist_ok=True)
        part = tar.with_suffix(".part")
        run_logged(f"docker save {image.name}", ["docker", "save", "-o", str(part), image.name],
                   log)
        part.rename(tar)
    shutil.rmtree(ctx, ignore_errors=True)
    return tar


def kindnetd_image(pins: Pins, binary: Path) -> str:
    return f"{KINDNETD_REPO}:{pins.kubernetes}-{file_digest(binary)[:8]}"


def node_image_tag(pins: Pins) -> str:
    """Stable tag: changes whenever a pin or any of our sources changes."""
    sources = [*sorted(gobuild.GOSRC.glob("*/main.go")), *sorted(FILES.glob("*")), Path(__file__),
               Path(rootfs.__file__)]
    return f"kube-chaos/node:{pins.kubernetes}-{digest(pins.key(), file_digest(*sources))}"


def build_node_image(
    pins: Pins = PINS, root: Path | None = None, progress: Progress | None = None,
    force: bool = False,
) -> str:
    """Build (or find in the cache) the offline node image; return its tag.

    `force` ignores images already in the Docker engine and rebuilds from the cache
    directory `root` (empty caches give a cold build: how its time is measured).
    """
    root = root or cache_root()
    progress = progress or Progress()
    tag = node_image_tag(pins)
    if not force and capture(["docker", "image", "inspect", tag]).returncode == 0:
        progress.cached(f"node image {tag}")
        return tag
    started = time.monotonic()
    _check_disk(root, progress)
    kube = gobuild.build_kubernetes(pins, root, progress)
    etcd = gobuild.build_module_main("etcd", {"go.etcd.io/etcd/server/v3": pins.etcd}, root,
                                     progress)
    coredns = gobuild.build_module_main(
        "coredns", {"github.com/coredns/coredns": pins.coredns}, root, progress
    )
    pause = gobuild.build_module_main("pause", {}, root, progress)
    kindnetd = gobuild.build_module_main("kindnetd", {}, root, progress)
    node_base = rootfs.node_rootfs(pins, root, progress, force)
    toolbox = rootfs.toolbox_rootfs(pins, root, progress, force)

    reg = "registry.k8s.io"
    pause_ref = f"{reg}/pause:{pins.pause}"
    components = [
        *(ComponentImage(f"{reg}/{c}:{pins.kubernetes}", kube / c, "scratch",
                         f"/usr/local/bin/{c}", False)
          for c in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")),
        ComponentImage(f"{reg}/kube-proxy:{pins.kubernetes}", kube / "kube-proxy", toolbox,
                       "/usr/local/bin/kube-proxy", False),
        ComponentImage(f"{reg}/etcd:{pins.etcd_tag}", etcd, "scratch", "/usr/local/bin/etcd",
                       False),
        ComponentImage(f"{reg}/coredns/coredns:{pins.coredns}", coredns, "scratch", "/coredns",
                       True),
        ComponentImage(pause_ref, pause, "scratch", "/pause", True),
        ComponentImage(kindnetd_image(pins, kindnetd), kindnetd, toolbox, "/bin/kindnetd", True),
    ]
    _check_kubeadm_images(kube / "kubeadm", pins, {c.name for c in components}, root)
    tars = [build_component(c, root, progress) for c in components]

    ctx = _node_context(pins, root, kube, node_base, pause_ref, kindnetd_image(pins, kindnetd))
    log = root / "logs" / "node-image.log"
    base_tag = tag.replace("kube-chaos/node:", "kube-chaos/node-base:")
    with progress.step("node image: base layer with kind's entrypoint and units"):
        run_logged("docker build node base", ["docker", "build", "-t", base_tag, str(ctx)], log)
    with progress.step(f"node image: preloading {len(tars)} images into containerd"):
        _preload(base_tag, tag, tars, log)
    shutil.rmtree(ctx, ignore_errors=True)
    progress.say(f"node image {tag} built in {time.monotonic() - started:.0f}s")
    return tag


def _node_context(
    pins: Pins, root: Path, kube: Path, node_base: str, pause_ref: str, kindnetd_ref: str
) -> Path:
    kind_files = gobuild.kind_module_dir(pins, root) / "images" / "base" / "files"
    ctx = root / "build" / "node"
    if ctx.exists():
        shutil.rmtree(ctx)
    for rel in KIND_FILES:
        dest = ctx / "files" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(kind_files / rel, dest)
    containerd = (kind_files / "etc/containerd/config.toml").read_text()
    dest = ctx / "files/etc/containerd/config.toml"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(patch_containerd_config(containerd, pause_ref))
    (ctx / "bin").mkdir()
    for c in ("kubeadm", "kubelet", "kubectl"):
        shutil.copy(kube / c, ctx / "bin" / c)
    (ctx / "manifests").mkdir()
    cni = (FILES / "default-cni.yaml").read_text().replace("@KINDNETD_IMAGE@", kindnetd_ref)
    (ctx / "manifests" / "default-cni.yaml").write_text(cni)
    shutil.copy(FILES / "default-storage.yaml", ctx / "manifests" / "default-storage.yaml")
    (ctx / "Dockerfile").write_text(node_dockerfile(pins, node_base))
    return ctx


def _preload(base_tag: str, tag: str, tars: list[Path], log: Path) -> None:
    """Import image archives into the node's containerd content store, then commit.

    `--no-unpack` stores content only, so containerd needs no snapshotter (and no
    privileges) in the build container; the kubelet unpacks at first use.
    """
    name = f"kube-chaos-build-{int(time.time())}"
    run_logged("start build container",
               ["docker", "run", "-d", "--name", name, "--entrypoint", "sleep", base_tag,
                "infinity"], log)
    try:
        subprocess.run(["docker", "exec", "-d", name, "sh", "-c",
                        "containerd >/var/log/containerd-build.log 2>&1"], check=True)
        if not Deadline(SYSTEM_CLOCK, 60).until(
                lambda: capture(["docker", "exec", name, "ctr", "version"]).returncode == 0, 0.5):
            raise BuildFailed("start containerd in build container", log, "no socket in 60s")
        for tar in tars:
            run_logged(f"import {tar.name}",
                       ["docker", "exec", "-i", name, "ctr", "--namespace=k8s.io", "images",
                        "import", "--all-platforms", "--no-unpack", "--digests", "-"],
                       log, stdin=tar.read_bytes(), timeout=600)
        listing = run_logged("list preloaded images",
                             ["docker", "exec", name, "ctr", "--namespace=k8s.io", "images", "ls",
                              "-q"], log)
        with log.open("a") as fh:
            fh.write(listing)
        run_logged("stop containerd", ["docker", "exec", name, "pkill", "containerd"], log)
        time.sleep(1)
        run_logged("docker commit",
                   ["docker", "commit",
                    "--change", 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]',
                    "--change", "CMD []",
                    name, tag], log)
    finally:
        capture(["docker", "rm", "-f", "-v", name])


def _check_kubeadm_images(kubeadm: Path, pins: Pins, have: set[str], root: Path) -> None:
    """Fail early if kubeadm would ask for an image we do not build."""
    log = root / "logs" / "node-image.log"
    out = run_logged("kubeadm config images list",
                     [str(kubeadm), "config", "images", "list", "--kubernetes-version",
                      pins.kubernetes], log)
    missing = [ref for ref in out.split() if ref not in have]
    if missing:
        raise BuildFailed("match kubeadm's image list", log,
                          f"kubeadm asks for images we do not build: {', '.join(missing)}")


def _check_disk(root: Path, progress: Progress) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for where in (root, Path("/var/lib/docker") if Path("/var/lib/docker").exists() else root):
        free = shutil.disk_usage(where).free / 2**30
        if free < 8:
            raise DiskShort(
                f"only {free:.1f} GiB free under {where}; the offline node image build needs "
                "about 8 GiB (Go build cache, root filesystems, images). Free some space or "
                "point KUBE_CHAOS_CACHE at a bigger disk."
            )
    progress.say(f"cache directory: {root}")
