"""Getting a workload's images onto a kind cluster when there is no registry.

Two sources: images kube-chaos builds itself (the bundled httpd, from sources shipped in the
package), and images the user already has in the local Docker engine (their CI built them),
named in ``spec.workload.images`` or given to ``kube-chaos cluster load``. Either way the image
is copied into every node, once per image ID.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from chaos.cluster import engine, kind, kindload
from chaos.cluster.config import ClusterConfig
from chaos.cluster.progress import Progress
from chaos.cluster.workload_image import DEFAULT_TAG, build_httpd
from chaos.errors import ClusterError

# image reference -> how to build it locally; the result is the tag built
BUILTIN: dict[str, Callable[[Progress], str]] = {
    DEFAULT_TAG: lambda progress: build_httpd(progress=progress),
}


def provide(cfg: ClusterConfig, images: Iterable[str], progress: Progress | None = None
            ) -> list[str]:
    """Build the built-in images among ``images``, then load every one into the cluster's
    nodes; returns the images handled. An image that is neither built in nor present in the
    local engine is a ClusterError naming it."""
    progress = progress or Progress()
    wanted = list(dict.fromkeys(images))
    if not wanted:
        return []
    engine.ensure_engine(progress)
    if not kind.node_containers(cfg.name):
        raise ClusterError(f"no kind cluster named {cfg.name!r} on this Docker engine: create it "
                           f"with `kube-chaos cluster up --name {cfg.name}` first")
    for image in wanted:
        build = BUILTIN.get(image)
        if build is not None:
            build(progress)
        kindload.ensure_loaded(cfg, image, progress)
    return wanted


def builtin_among(images: Iterable[str]) -> list[str]:
    """The images kube-chaos knows how to build, among those a workload's manifests run."""
    return [i for i in images if i in BUILTIN]
