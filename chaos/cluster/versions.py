"""Pinned versions of everything the offline node image is built from.

One place, so the build cache can be keyed by them: change a pin and exactly
the artefacts that depend on it are rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pins:
    kubernetes: str = "v1.34.4"  # 1.34 still runs on cgroup v1 without failCgroupV1
    kind: str = "v0.31.0"  # last kind whose base image is Debian bookworm
    etcd: str = "v3.6.5"  # what kubeadm v1.34.4 asks for (3.6.5-0)
    coredns: str = "v1.12.1"  # kubeadm v1.34 CoreDNSVersion
    pause: str = "3.10.1"  # kubeadm v1.34 PauseVersion
    debian: str = "bookworm"
    debian_mirror: str = "http://deb.debian.org/debian"
    # module version of github.com/prometheus/prometheus (Prometheus 3.x): the real server the
    # guard tests query; not part of the node image, so not in key()
    prometheus: str = "v0.316.0"
    # module version of sigs.k8s.io/metrics-server: what `cluster up` installs so that
    # `kubectl top` and HorizontalPodAutoscalers work; not part of the node image, so not in key()
    metrics_server: str = "v0.9.0"
    # sigs.k8s.io/kwok: simulated nodes and pods for the scale benchmarks (tests/e2e_scale,
    # benchmarks/bench_scale.py); a host process, not part of the node image, so not in key()
    kwok: str = "v0.8.0"
    # The image kind starts as the external load balancer of a cluster with more than one
    # control-plane node: kind v0.31.0's pkg/cluster/internal/loadbalancer/const.go (Image).
    # kind pulls it only when absent, so ours, built offline under this exact name, is used.
    # Change it with `kind`: each kind release names its own.
    kind_load_balancer: str = "docker.io/kindest/haproxy:v20251211-v0.29.0-alpha-100-g82a92c5d"

    @property
    def staging(self) -> str:
        """k8s.io staging modules are tagged v0.X.Y for Kubernetes v1.X.Y."""
        return "v0." + self.kubernetes.removeprefix("v1.")

    @property
    def etcd_tag(self) -> str:
        return self.etcd.removeprefix("v") + "-0"

    def key(self) -> str:
        return (
            f"k8s-{self.kubernetes}_kind-{self.kind}_etcd-{self.etcd}_coredns-{self.coredns}"
            f"_pause-{self.pause}_{self.debian}"
        )


PINS = Pins()

# Packages of the node's root filesystem (Debian's systemd, containerd 1.6, runc,
# CNI plugins); mirrors what kind's base image installs, minus storage extras.
NODE_PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "conntrack", "iptables", "nftables", "iproute2",
    "ethtool", "util-linux", "mount", "kmod", "libseccomp2", "pigz", "bash",
    "ca-certificates", "curl", "jq", "procps", "containerd", "runc",
    "containernetworking-plugins", "socat", "ebtables", "ipset",
)

# Userspace that kube-proxy (nftables mode) and our kindnetd need in their images.
TOOLBOX_PACKAGES = ("iptables", "nftables", "iproute2", "conntrack", "ipset", "ca-certificates")

# The load balancer's root filesystem: what kind's images/haproxy/Dockerfile stages (haproxy,
# and cp, mkdir and kill, which kind runs in it to write its config and reload it; coreutils
# is in every minbase, kill comes with procps).
HAPROXY_PACKAGES = ("haproxy", "procps")

# The in-cluster locust worker's root filesystem: Debian's python3 (3.11, as the harness) and
# venv, into which the image build pip-installs locust (chaos.cluster.locust_image).
LOCUST_PACKAGES = ("python3", "python3-venv", "ca-certificates")
