"""Pure parts of cluster provisioning: kind config, go.mod, containerd patch, caps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from chaos.cluster.config import ClusterConfig, PortMapping, kind_config
from chaos.cluster.engine import missing_capabilities
from chaos.cluster.gobuild import kubernetes_gomod, version_ldflags
from chaos.cluster.nodeimage import patch_containerd_config
from chaos.cluster.versions import Pins

WRAPPER = Path(__file__).parents[2] / "chaos" / "cluster" / "files" / "runc-capfilter"


def test_default_topology_is_one_control_plane_and_two_workers() -> None:
    doc = yaml.safe_load(kind_config(ClusterConfig()))
    assert [n["role"] for n in doc["nodes"]] == ["control-plane", "worker", "worker"]
    assert doc["networking"]["kubeProxyMode"] == "nftables"
    ports = doc["nodes"][0]["extraPortMappings"]
    assert {p["listenAddress"] for p in ports} == {"127.0.0.1"}
    assert ports[0] == {"containerPort": 30080, "hostPort": 30080, "listenAddress": "127.0.0.1",
                        "protocol": "TCP"}


def test_worker_count_and_ports_are_configurable() -> None:
    cfg = ClusterConfig(name="x", workers=3, ports=(PortMapping(18080, 30080),))
    doc = yaml.safe_load(kind_config(cfg))
    assert len(doc["nodes"]) == 4
    assert doc["nodes"][0]["extraPortMappings"][0]["hostPort"] == 18080
    assert cfg.node_names() == ["x-control-plane", "x-worker", "x-worker2", "x-worker3"]


def test_kubernetes_gomod_replaces_every_staging_module_with_its_release() -> None:
    upstream = "replace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n" \
               "\tk8s.io/kubelet => ./staging/src/k8s.io/kubelet\n)\n"
    gomod = kubernetes_gomod(Pins(kubernetes="v1.34.4"), upstream)
    assert "require k8s.io/kubernetes v1.34.4" in gomod
    assert "\tk8s.io/api => k8s.io/api v0.34.4" in gomod
    assert "\tk8s.io/kubelet => k8s.io/kubelet v0.34.4" in gomod


def test_version_is_stamped_for_kubeadm_and_kubectl() -> None:
    flags = version_ldflags(Pins(kubernetes="v1.34.4"))
    assert "-X k8s.io/component-base/version.gitVersion=v1.34.4" in flags
    assert "-X k8s.io/client-go/pkg/version.gitMinor=34" in flags


def test_containerd_config_uses_local_pause_and_restricts_oom_scores() -> None:
    kind_cfg = (
        'version = 2\n\n[proxy_plugins]\n# rootless\n[proxy_plugins."fuse-overlayfs"]\n'
        '  type = "snapshot"\n  address = "/run/containerd-fuse-overlayfs.sock"\n\n'
        '[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "registry.k8s.io/pause:3.10"\n'
        "  restrict_oom_score_adj = false\n"
    )
    out = patch_containerd_config(kind_cfg, "registry.k8s.io/pause:3.10.1")
    assert 'sandbox_image = "registry.k8s.io/pause:3.10.1"' in out
    assert "restrict_oom_score_adj = true" in out
    assert "fuse-overlayfs" not in out


def test_missing_capabilities_reads_the_bounding_set() -> None:
    assert missing_capabilities("CapBnd:\t000001fffeffffff\n") == [24]  # CAP_SYS_RESOURCE
    assert missing_capabilities("CapBnd:\t000001ffffffffff\n") == []


def test_runc_wrapper_drops_capabilities_outside_the_bounding_set(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    caps = ["CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_NOT_A_REAL_ONE"]
    spec = {"process": {"capabilities": {k: list(caps) for k in
                                         ("bounding", "effective", "permitted")}}}
    (bundle / "config.json").write_text(json.dumps(spec))
    fake_runc = tmp_path / "runc"
    fake_runc.write_text("#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/args\"\n")
    fake_runc.chmod(0o755)
    env = dict(os.environ, KUBE_CHAOS_REAL_RUNC=str(fake_runc))
    subprocess.run([sys.executable, str(WRAPPER), "--root", "/x", "create", "--bundle",
                    str(bundle), "ctr1"], env=env, check=True)
    out = json.loads((bundle / "config.json").read_text())["process"]["capabilities"]
    allowed = _bounding_set()
    for kind in ("bounding", "effective", "permitted"):
        assert "CAP_NOT_A_REAL_ONE" not in out[kind]
        assert "CAP_CHOWN" in out[kind]
        assert ("CAP_SYS_RESOURCE" in out[kind]) == (24 in allowed)
    assert (tmp_path / "args").read_text().split() == ["--root", "/x", "create", "--bundle",
                                                       str(bundle), "ctr1"]


def _bounding_set() -> set[int]:
    status = Path("/proc/self/status").read_text()
    return set(range(41)) - set(missing_capabilities(status))
