"""Optional components built ahead of time, so the tests that need them find them cached.

On a cold machine these builds are minutes of CPU each (Prometheus alone is ≈ 7 min of CPU,
docs/measurements.md). CI starts ``kube-chaos cluster prebuild`` in the background at the lowest
priority right after the virtualenv exists: the builds then use the CPU the cluster and the
tests leave idle, instead of stalling the suite when a test first asks for them. Each build
holds its build lock (``chaos.cluster.cache.build_lock``), so a test that gets there first
builds it itself and the prebuild waits and finds it done, and the other way round.

Only builds that need no Docker engine belong here: the engine is installed by the first
``cluster up``, which may be running at the same time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chaos.cluster import gobuild, locust_image, metrics_server, rootfs
from chaos.cluster.progress import Progress
from chaos.cluster.versions import HAPROXY_PACKAGES, Pins

Build = Callable[[Pins, Path, Progress], object]

# In the order CI needs them: metrics-server comes with the first HPA experiment, and the
# suite's first minutes are the node image's build, which leaves little CPU to a niced build.
COMPONENTS: dict[str, tuple[str, Build]] = {
    "metrics-server": ("metrics-server binary (experiments with a HorizontalPodAutoscaler)",
                       metrics_server.build_binary),
    "prometheus": ("Prometheus server (the Prometheus abort guard's tests)",
                   gobuild.install_prometheus),
    "haproxy-rootfs": ("Debian root filesystem of the HA load balancer (cluster up "
                       "--control-planes 3)",
                       lambda pins, root, progress: rootfs.debootstrap(
                           "haproxy", HAPROXY_PACKAGES, pins, root, progress)),
    "locust-worker": ("root filesystem and wheels of the in-cluster locust worker image "
                      "(load.inCluster)", locust_image.prebuild),
    "kwok": ("kwok controller (tests/e2e_scale, benchmarks/bench_scale.py)",
             gobuild.install_kwok),
}


def unknown(names: list[str]) -> list[str]:
    return [n for n in names if n not in COMPONENTS]


def prebuild(names: list[str], pins: Pins, root: Path, progress: Progress) -> dict[str, str]:
    """Build each named component (all when ``names`` is empty); one failure does not stop the
    others. Returns each component's outcome: "ok" or the error's first line."""
    outcome: dict[str, str] = {}
    for name in names or list(COMPONENTS):
        what, build = COMPONENTS[name]
        try:
            with progress.step(f"prebuild {name}: {what}"):
                build(pins, root, progress)
        except Exception as exc:  # reported, and the next component still gets built
            outcome[name] = (str(exc).splitlines() or [type(exc).__name__])[0]
        else:
            outcome[name] = "ok"
    return outcome
