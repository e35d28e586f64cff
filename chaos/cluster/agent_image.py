"""The node agent's image (chaos.node.agent_main in Debian's python3), built offline.

Its base is the locust worker's debootstrapped root filesystem (python3, and util-linux's
``nsenter``, which every Debian minbase has), so the two images share their big layer and the
agent costs one more small one. The tag is a digest of the base's key, the Dockerfile and the
agent program, and is known without a Docker engine: a run on a cluster it does not provision
names the image it expects without building it (``kube-chaos agent image`` builds it, and can
save it as a tar for a registry).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from chaos.cluster import kindload, rootfs
from chaos.cluster.cache import cache_root, digest, file_digest
from chaos.cluster.config import ClusterConfig
from chaos.cluster.progress import Progress
from chaos.cluster.shell import capture, run_logged
from chaos.cluster.versions import LOCUST_PACKAGES, PINS, Pins

PROGRAM = Path(__file__).resolve().parents[1] / "node" / "agent_main.py"
IMAGE_DIR = "/opt/kube-chaos"
SOURCE_LABEL = "kube-chaos.source"
REPO = "kube-chaos/node-agent"


def dockerfile(base: str) -> str:
    return (
        f"FROM {base}\n"
        f"COPY agent_main.py {IMAGE_DIR}/agent_main.py\n"
        "ENV PYTHONUNBUFFERED=1 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        f'ENTRYPOINT ["/usr/bin/python3", "{IMAGE_DIR}/agent_main.py"]\n'
        'CMD ["serve"]\n'
    )


def image_tag(pins: Pins = PINS) -> str:
    """The tag of the agent image this checkout builds (no Docker engine needed)."""
    key = digest(pins.debian, pins.debian_mirror, *LOCUST_PACKAGES, dockerfile("base"),
                 file_digest(PROGRAM))
    return f"{REPO}:{key}"


def ensure_image(pins: Pins = PINS, progress: Progress | None = None) -> str:
    """Build the agent image unless the engine already holds this exact build; its tag."""
    progress = progress or Progress()
    tag = image_tag(pins)
    key = tag.rsplit(":", 1)[1]
    have = capture(["docker", "image", "inspect", "--format",
                    f'{{{{index .Config.Labels "{SOURCE_LABEL}"}}}}', tag]).stdout.strip()
    if have == key:
        progress.cached(f"node agent image {tag}")
        return tag
    root = cache_root()
    base = rootfs.rootfs_image("locust", LOCUST_PACKAGES, pins, root, progress)
    ctx = Path(tempfile.mkdtemp(prefix="agent-image-", dir=root))
    try:
        (ctx / "Dockerfile").write_text(dockerfile(base))
        shutil.copy(PROGRAM, ctx / "agent_main.py")
        with progress.step(f"building node agent image {tag}"):
            run_logged("docker build node agent",
                       ["docker", "build", "-q", "--label", f"{SOURCE_LABEL}={key}", "-t", tag,
                        str(ctx)], root / "logs" / "agent-image.log", timeout=600)
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    return tag


def provide(cluster: str, progress: Progress | None = None) -> str:
    """Build (or reuse) the agent image and copy it onto the kind cluster's nodes."""
    progress = progress or Progress()
    tag = ensure_image(progress=progress)
    kindload.ensure_loaded(ClusterConfig(name=cluster), tag, progress)
    return tag


def save(out: Path, progress: Progress | None = None) -> str:
    """Build (or reuse) the image and write it to ``out`` as a `docker save` tar (to push to a
    registry the cluster pulls from: `docker load` / `skopeo copy` it there)."""
    progress = progress or Progress()
    tag = ensure_image(progress=progress)
    with progress.step(f"saving {tag} to {out}"):
        run_logged("docker save node agent", ["docker", "save", "-o", str(out), tag],
                   cache_root() / "logs" / "agent-image.log", timeout=600)
    return tag
