"""Images into a kind cluster's nodes, copied, never pulled (no registry needed), and the kind
binary that copies them.

Below chaos.cluster.kind (the cluster's life cycle): the add-ons that need their image on the
nodes (metrics-server, the in-cluster locust workers, the workload images) load it from here,
and kind.up installs metrics-server, without either importing the other.
"""

from __future__ import annotations

import json

from chaos.cluster import gobuild
from chaos.cluster.cache import build_lock, cache_root
from chaos.cluster.config import ClusterConfig
from chaos.cluster.progress import Progress
from chaos.cluster.shell import capture, run_logged, which
from chaos.cluster.versions import PINS
from chaos.errors import ClusterError


def kind_binary(progress: Progress) -> str:
    found = which("kind")
    if found:
        return found
    return str(gobuild.install_kind(PINS, cache_root(), progress))


def load_image(cfg: ClusterConfig, image: str, progress: Progress | None = None) -> None:
    """What `kind load docker-image` does: copy a local image into every node."""
    progress = progress or Progress()
    kind = kind_binary(progress)
    log = cfg.state_dir / "kind.log"
    with progress.step(f"loading {image} into {cfg.name!r}"):
        run_logged(f"kind load docker-image {image}",
                   [kind, "load", "docker-image", image, "--name", cfg.name], log, timeout=600)


def ensure_loaded(cfg: ClusterConfig, image: str, progress: Progress | None = None) -> None:
    """Load `image` unless this cluster already got this exact image ID from us. Experiments
    running at once (pytest-xdist workers) load onto one cluster: the record of what it got is
    read and written under the cluster's own lock, one load at a time."""
    want = capture(["docker", "image", "inspect", "--format", "{{.Id}}", image]).stdout.strip()
    if not want:
        raise ClusterError(f"image {image!r} is not in the local Docker engine; build it first")
    with build_lock(cache_root(), f"load-{cfg.name}"):
        record = cfg.state_dir / "loaded-images.json"
        loaded: dict[str, str] = json.loads(record.read_text()) if record.exists() else {}
        if loaded.get(image) == want:
            return
        load_image(cfg, image, progress)
        loaded[image] = want
        record.write_text(json.dumps(loaded, indent=1))
