"""The locust worker image for in-cluster load (``spec.load.inCluster``), built offline.

No registry: a debootstrapped Debian bookworm with its python3, a venv holding locust from
PyPI at exactly the version the harness runs (master and workers must speak one protocol), and
kube-chaos's own locust-side modules (capture, open loop, default locustfile) copied in at
build time from this checkout. The wheels are fetched on the host by the harness's own pip
(``pip download``, with whatever index and certificates the machine's pip is configured for:
a build container would not have them) and installed in the image with ``--no-index``; the
host and the image are both CPython 3.11 on glibc x86_64 (bookworm). The tag is a digest of
all of that, so a changed capture module makes a new image while an unchanged one costs
nothing; docker's layer cache keeps the pip layer across such changes.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from importlib.metadata import version as dist_version
from pathlib import Path

from chaos.cluster import rootfs
from chaos.cluster.cache import Stamp, build_lock, cache_root, digest, file_digest
from chaos.cluster.progress import Progress
from chaos.cluster.shell import capture, run_logged
from chaos.cluster.versions import LOCUST_PACKAGES, PINS, Pins

LOAD_DIR = Path(__file__).resolve().parents[1] / "load"
# what runs inside the locust processes (see chaos.load.runner); nothing else of kube-chaos
MODULES = ("kube_chaos_capture.py", "openloop.py", "arrivals.py", "locustfile.py")
IMAGE_DIR = "/opt/kube-chaos"
SOURCE_LABEL = "kube-chaos.source"
REPO = "kube-chaos/locust-worker"


def locust_version() -> str:
    """The locust the harness runs its master with (read from metadata: never imported)."""
    return dist_version("locust")


def dockerfile(base: str, locust: str) -> str:
    return (
        f"FROM {base}\n"
        "COPY wheels /tmp/wheels\n"
        f"RUN python3 -m venv /opt/locust && /opt/locust/bin/pip install --no-cache-dir "
        f"--disable-pip-version-check -q --no-index --find-links /tmp/wheels locust=={locust} "
        "&& rm -rf /tmp/wheels\n"
        f"COPY {' '.join(MODULES)} {IMAGE_DIR}/\n"
        f"WORKDIR {IMAGE_DIR}\n"
        "ENV PYTHONUNBUFFERED=1 HOME=/tmp\n"
        "USER 65534:65534\n"
        'ENTRYPOINT ["/opt/locust/bin/python", "-m", "locust"]\n'
    )


def image_tag(pins: Pins = PINS, locust: str | None = None) -> str:
    locust = locust or locust_version()
    key = digest(pins.debian, pins.debian_mirror, *LOCUST_PACKAGES, locust,
                 dockerfile("base", locust),
                 file_digest(*(LOAD_DIR / m for m in MODULES)))
    return f"{REPO}:{locust}-{key}"


def wheels(locust: str, root: Path, progress: Progress) -> Path:
    """locust and its dependencies as binary wheels for this interpreter, once per version."""
    target = root / "wheels" / f"locust-{locust}"
    stamp = Stamp(root, "locust-wheels", locust)
    with build_lock(root, "locust-wheels", lambda: progress.say(
            "another process is downloading locust's wheels: waiting")):
        if stamp.done():
            return target
        shutil.rmtree(target, ignore_errors=True)
        with progress.step(f"pip download locust=={locust} (binary wheels)"):
            run_logged("pip download locust",
                       [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:",
                        "-d", str(target), f"locust=={locust}"],
                       root / "logs" / "locust-image.log", timeout=600)
        stamp.mark()
    return target


def prebuild(pins: Pins, root: Path, progress: Progress) -> None:
    """What of the image needs no Docker engine: its root filesystem and the wheels."""
    rootfs.debootstrap("locust", LOCUST_PACKAGES, pins, root, progress)
    wheels(locust_version(), root, progress)


def ensure_image(pins: Pins = PINS, progress: Progress | None = None) -> str:
    """Build the worker image unless the engine already holds this exact build; its tag."""
    progress = progress or Progress()
    locust = locust_version()
    tag = image_tag(pins, locust)
    key = tag.rsplit("-", 1)[1]
    have = capture(["docker", "image", "inspect", "--format",
                    f'{{{{index .Config.Labels "{SOURCE_LABEL}"}}}}', tag]).stdout.strip()
    if have == key:
        progress.cached(f"locust worker image {tag}")
        return tag
    root = cache_root()
    base = rootfs.rootfs_image("locust", LOCUST_PACKAGES, pins, root, progress)
    wheel_dir = wheels(locust, root, progress)
    log = root / "logs" / "locust-image.log"
    ctx = Path(tempfile.mkdtemp(prefix="locust-image-", dir=root))
    try:
        (ctx / "Dockerfile").write_text(dockerfile(base, locust))
        for module in MODULES:
            shutil.copy(LOAD_DIR / module, ctx / module)
        shutil.copytree(wheel_dir, ctx / "wheels")
        with progress.step(f"building locust worker image {tag} (locust {locust} from PyPI)"):
            run_logged("docker build locust worker",
                       ["docker", "build", "-q", "--label", f"{SOURCE_LABEL}={key}", "-t", tag,
                        str(ctx)], log, timeout=900)
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    return tag
