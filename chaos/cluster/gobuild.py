"""Build the node image's programs from Go modules, offline from any registry.

Kubernetes cannot be `go install`ed directly: its go.mod replaces the k8s.io/*
staging modules with ./staging paths. We generate a small module that requires
k8s.io/kubernetes and replaces each staging module with its published v0.X.Y
release, then `go build` the commands from it. Versions are stamped with -X so
kubeadm and the node's /kind/version agree.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from chaos.cluster.cache import Stamp, build_lock, file_digest
from chaos.cluster.progress import Progress
from chaos.cluster.shell import run_logged
from chaos.cluster.versions import Pins

GOSRC = Path(__file__).parent / "gosrc"

KUBE_COMMANDS = (
    "kubeadm",
    "kubelet",
    "kubectl",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
)

_STAGING = re.compile(r"^\s*(k8s\.io/[a-z0-9-]+)\s+=>\s+\./staging/", re.M)
_STATIC = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=mod -buildvcs=false"}


def _module_info(module: str, version: str, workdir: Path, log: Path) -> dict[str, str]:
    out = run_logged(
        f"download {module}@{version}",
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        log,
        cwd=workdir,
    )
    info: dict[str, str] = json.loads(out)
    return info


def kubernetes_gomod(pins: Pins, upstream_gomod: str) -> str:
    """The go.mod that builds k8s.io/kubernetes commands outside its repository."""
    staging = sorted(set(_STAGING.findall(upstream_gomod)))
    lines = [
        "module kubechaos.local/build/kubernetes",
        "",
        "go 1.24.0",
        "",
        f"require k8s.io/kubernetes {pins.kubernetes}",
        "",
        "replace (",
        *(f"\t{m} => {m} {pins.staging}" for m in staging),
        ")",
        "",
    ]
    return "\n".join(lines)


def version_ldflags(pins: Pins) -> str:
    major, minor = pins.kubernetes.removeprefix("v").split(".")[:2]
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={pins.kubernetes}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitCommit=0000000000000000000000000000000000000000",
            f"-X {pkg}.gitTreeState=clean",
            # fixed, so rebuilding from cache is reproducible
            f"-X {pkg}.buildDate=1970-01-01T00:00:00Z",
        ]
    return " ".join(flags)


def build_kubernetes(pins: Pins, root: Path, progress: Progress) -> Path:
    out = root / "bin" / f"kubernetes-{pins.kubernetes}"
    stamp = Stamp(root, "kubernetes-bin", pins.kubernetes)
    if stamp.done() and all((out / c).exists() for c in KUBE_COMMANDS):
        progress.cached(f"Kubernetes {pins.kubernetes} binaries")
        return out
    src = root / "src" / f"kubernetes-{pins.kubernetes}"
    src.mkdir(parents=True, exist_ok=True)
    log = root / "logs" / f"kubernetes-{pins.kubernetes}.log"
    with progress.step(
        f"building Kubernetes {pins.kubernetes} ({', '.join(KUBE_COMMANDS)}); "
        f"about 6 min cold on 2 cores, log {log}"
    ):
        info = _module_info("k8s.io/kubernetes", pins.kubernetes, src, log)
        upstream = Path(info["GoMod"]).read_text()
        (src / "go.mod").write_text(kubernetes_gomod(pins, upstream))
        out.mkdir(parents=True, exist_ok=True)
        run_logged("download Kubernetes dependencies", ["go", "mod", "download"], log,
                   cwd=src, env=_STATIC)
        run_logged(
            "go build Kubernetes",
            ["go", "build", "-trimpath", "-ldflags", version_ldflags(pins), "-o", f"{out}/",
             *(f"k8s.io/kubernetes/cmd/{c}" for c in KUBE_COMMANDS)],
            log,
            cwd=src,
            env=_STATIC,
        )
    stamp.mark()
    return out


def build_module_main(
    name: str,
    requires: dict[str, str],
    root: Path,
    progress: Progress,
) -> Path:
    """Build one of our own mains under gosrc/<name> (pause, kindnetd, etcd, coredns)."""
    main = GOSRC / name / "main.go"
    key = file_digest(main) + "-" + "-".join(f"{m}@{v}" for m, v in sorted(requires.items()))
    key = key.replace("/", "_")
    binary = root / "bin" / f"{name}-{file_digest(main)}-{_short(requires)}" / name
    stamp = Stamp(root, f"go-{name}", key)
    if stamp.done() and binary.exists():
        progress.cached(f"{name} binary")
        return binary
    src = root / "src" / f"{name}-{_short(requires) or 'local'}"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    shutil.copy(main, src / "main.go")
    log = root / "logs" / f"{name}.log"
    gomod = f"module kubechaos.local/build/{name}\n\ngo 1.24.0\n"
    (src / "go.mod").write_text(gomod)
    with progress.step(f"building {name} ({', '.join(f'{m}@{v}' for m, v in requires.items())})"):
        for module, version in requires.items():
            run_logged(f"go get {module}", ["go", "get", f"{module}@{version}"], log, cwd=src,
                       env=_STATIC)
        if requires:
            run_logged(f"go mod tidy ({name})", ["go", "mod", "tidy"], log, cwd=src, env=_STATIC)
        binary.parent.mkdir(parents=True, exist_ok=True)
        run_logged(
            f"go build {name}",
            ["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(binary), "."],
            log,
            cwd=src,
            env=_STATIC,
        )
    stamp.mark()
    return binary


def _short(requires: dict[str, str]) -> str:
    return "-".join(v for _, v in sorted(requires.items()))


def install_kind(pins: Pins, root: Path, progress: Progress) -> Path:
    """kind from its Go module, into the cache (used when no kind is on PATH)."""
    gobin = root / "bin" / f"kind-{pins.kind}"
    binary = gobin / "kind"
    if binary.exists():
        progress.cached(f"kind {pins.kind}")
        return binary
    log = root / "logs" / f"kind-{pins.kind}.log"
    with progress.step(f"installing kind {pins.kind} with go install"):
        run_logged(
            "go install kind",
            ["go", "install", f"sigs.k8s.io/kind@{pins.kind}"],
            log,
            env={"GOBIN": str(gobin), "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"},
        )
    return binary


# upstream's own build switch: no service-discovery plugins (static targets only), which leaves
# out the cloud SDKs (AWS, Azure, GCE, OCI ...) and the Kubernetes client
PROMETHEUS_SLIM_TAGS = "remove_all_sd"


def go_install(root: Path, progress: Progress, package: str, version: str, *, dirname: str,
               key: str, ldflags: str = "-s -w", tags: str = "", cost: str = "") -> Path:
    """`go install package@version` (static, -trimpath) into root/bin/<dirname>, once per
    ``key``, under the build lock of its command (CI's background prebuild may be building it)."""
    command = package.rsplit("/", 1)[-1]
    step = f"go-{command}"
    with build_lock(root, step, lambda: progress.say(
            f"another process is building {command} (kube-chaos cluster prebuild?): waiting")):
        gobin = root / "bin" / dirname
        binary = gobin / command
        stamp = Stamp(root, step, key)
        if stamp.done() and binary.exists():
            progress.cached(f"{command} {version}")
            return binary
        log = root / "logs" / f"{dirname}.log"
        with progress.step(f"installing {command} ({package}@{version}) with go install"
                           f"{'; ' + cost if cost else ''}; log {log}"):
            run_logged(f"go install {command}",
                       ["go", "install", "-trimpath", *(["-tags", tags] if tags else []),
                        "-ldflags", ldflags, f"{package}@{version}"],
                       log,
                       env={"GOBIN": str(gobin), "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"})
        stamp.mark()
    return binary


def install_prometheus(pins: Pins, root: Path, progress: Progress) -> Path:
    """A real Prometheus server from its Go module (cmd/prometheus, `go install`), into the
    cache, keyed by version; for tests of the Prometheus abort guard. Built without service
    discovery: a test scrapes static 127.0.0.1 targets, and the discovery plugins' SDKs make
    most of the cold build (docs/measurements.md)."""
    return go_install(
        root, progress, "github.com/prometheus/prometheus/cmd/prometheus", pins.prometheus,
        dirname=f"prometheus-{pins.prometheus}-{PROMETHEUS_SLIM_TAGS}",
        key=f"{pins.prometheus}-{PROMETHEUS_SLIM_TAGS}", tags=PROMETHEUS_SLIM_TAGS,
        ldflags=f"-s -w -X github.com/prometheus/common/version.Version={pins.prometheus}")


def kind_module_dir(pins: Pins, root: Path) -> Path:
    """Source of the kind module: the node image reuses its entrypoint and units."""
    log = root / "logs" / f"kind-{pins.kind}.log"
    info = _module_info("sigs.k8s.io/kind", pins.kind, root, log)
    return Path(info["Dir"])


KWOK_MODULE = "sigs.k8s.io/kwok"
# the stages kwok plays, from its own module (kwokctl's defaults): nodes turn Ready at once and
# keep their lease and conditions fresh; pods turn Running/Ready at once, complete, and go away
# when deleted (there is no kubelet to confirm a deletion)
KWOK_STAGES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)


def install_kwok(pins: Pins, root: Path, progress: Progress) -> Path:
    """The kwok controller (cmd/kwok) from its Go module, into the cache, keyed by version."""
    return go_install(root, progress, f"{KWOK_MODULE}/cmd/kwok", pins.kwok,
                      dirname=f"kwok-{pins.kwok}", key=pins.kwok,
                      cost="about 4.5 min of CPU cold (19 min on a busy 2-core machine)")


def kwok_stages(pins: Pins, root: Path) -> str:
    """kwok's own stage documents (KWOK_STAGES), read from its module, as one YAML stream for
    `kwok --config`."""
    log = root / "logs" / f"kwok-{pins.kwok}.log"
    info = _module_info(KWOK_MODULE, pins.kwok, root, log)
    docs = [(Path(info["Dir"]) / rel).read_text().strip() for rel in KWOK_STAGES]
    return "\n---\n".join(docs) + "\n"
