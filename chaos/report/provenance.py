"""The reproducibility manifest of a report: what produced it, exactly, and how to run it again.

Gathered at the edges (git, docker, the API server, file hashes) and stored as plain JSON in
report.json's ``manifest``; ``kube-chaos report compare`` lists its differences before it
compares figures, and ``kube-chaos rerun`` repeats the run its ``rerun.argv`` records (read as
data by ``chaos.report.rerun``, never executed as it stands). A piece that cannot be
read is named in ``errors`` instead of failing the run.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import platform
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from chaos import version
from chaos.report.types import JSONValue, ManifestDict, ManifestFileDict

PACKAGE_DIR = Path(version.__file__).resolve().parent


def file_sha256(path: Path) -> str | None:
    """None when unreadable, or not a regular file (a rerun hashes paths a report names:
    /dev/zero must not be read to the end)."""
    try:
        if not path.is_file():
            return None
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def file_entry(path: Path | None) -> ManifestFileDict | None:
    if path is None:
        return None
    return {"path": str(path), "sha256": file_sha256(path)}


def source_revision() -> dict[str, JSONValue]:
    """kube-chaos's version, and its git commit and dirty flag when it runs from a checkout
    (an installed wheel has no .git: commit null)."""
    out: dict[str, JSONValue] = {"version": version.__version__, "commit": None, "dirty": None}
    root = PACKAGE_DIR.parent
    if not (root / ".git").exists():
        return out
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                 "--untracked-files=no", "--", "chaos"], capture_output=True,
                                text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return out
    out["commit"] = head or None
    out["dirty"] = bool(status.strip())
    return out


def package_version(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def rerun_argv(experiment: Path | None, seed: int, options: Sequence[str]) -> list[str]:
    """`kube-chaos run EXPERIMENT --seed N` plus the session's target options."""
    return ["kube-chaos", "run", str(experiment) if experiment else "?", f"--seed={seed}",
            *options]


def build_manifest(*, seed: int, experiment: Path | None, exact: bool,
                   manifests: Sequence[Path], locustfile: Path,
                   images: list[dict[str, str | None]], nodes: list[dict[str, str | None]],
                   server_version: str | None, session: Mapping[str, JSONValue],
                   rerun_options: Sequence[str], repeat: tuple[int, int] | None,
                   errors: Sequence[str]) -> ManifestDict:
    argv = rerun_argv(experiment, seed, rerun_options)
    kube_chaos = session.get("kube_chaos")
    return {
        "kube_chaos": kube_chaos if isinstance(kube_chaos, dict) else source_revision(),
        "python": platform.python_version(),
        "locust": package_version("locust"),
        "kubernetes_client": package_version("kubernetes"),
        "kubernetes_server": server_version,
        "seed": seed,
        "experiment_file": file_entry(experiment),
        "workload_manifests": [e for m in manifests if (e := file_entry(m)) is not None],
        "locustfile": file_entry(locustfile),
        "images": [dict(r) for r in images],
        "nodes": [dict(n) for n in nodes],
        "node_image": session.get("node_image"),
        "kind_config": session.get("kind_config"),
        "repeat": {"index": repeat[0], "count": repeat[1]} if repeat else None,
        "rerun": {"argv": argv, "command": shlex.join(argv), "exact": exact},
        "errors": list(errors),
    }
