"""Cold build of the Prometheus server the guard tests run, as CI does it on a fresh machine.

Empty Go module and build caches and an empty kube-chaos cache in ``--dir``, then
``chaos.cluster.gobuild.install_prometheus`` (cmd/prometheus with ``-tags remove_all_sd``), or
with ``--full`` the same ``go install`` with every service-discovery plugin. Prints wall time
and the CPU time of the build (children's rusage: robust to a busy machine, which only
stretches the wall time). Run it niced on a shared machine.

    nice -n 10 python benchmarks/bench_prometheus_build.py --dir /tmp/promcold [--full]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", type=Path, required=True, help="scratch dir, emptied first")
    ap.add_argument("--full", action="store_true", help="with every service-discovery plugin")
    args = ap.parse_args()
    if args.dir.exists():
        subprocess.run(["chmod", "-R", "u+w", str(args.dir)], check=False)
        shutil.rmtree(args.dir)
    args.dir.mkdir(parents=True)
    os.environ.update({"GOMODCACHE": str(args.dir / "gomod"), "GOCACHE": str(args.dir / "gobuild"),
                       "KUBE_CHAOS_CACHE": str(args.dir / "kube-chaos")})
    from chaos.cluster.cache import cache_root
    from chaos.cluster.gobuild import install_prometheus
    from chaos.cluster.progress import Progress
    from chaos.cluster.versions import PINS

    start = time.monotonic()
    if args.full:
        binary = args.dir / "bin" / "prometheus"
        subprocess.run(["go", "install", "-trimpath", "-ldflags", "-s -w",
                        f"github.com/prometheus/prometheus/cmd/prometheus@{PINS.prometheus}"],
                       check=True, env={**os.environ, "GOBIN": str(binary.parent),
                                        "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"})
    else:
        binary = install_prometheus(PINS, cache_root(), Progress())
    wall = time.monotonic() - start
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    mods = subprocess.run(["du", "-sh", str(args.dir / "gomod")], capture_output=True,
                          text=True, check=False).stdout.split("\t")[0]
    print(f"{'full' if args.full else 'slim (-tags remove_all_sd)'} prometheus "
          f"{PINS.prometheus}: wall {wall:.0f} s, CPU {cpu.ru_utime:.0f} s user + "
          f"{cpu.ru_stime:.0f} s sys, binary {binary.stat().st_size / 1e6:.0f} MB, "
          f"modules {mods}, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
