"""metrics-server's install pieces that need no cluster: the manifests, the build's failure
and the `cluster up` switch."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chaos.cli import build_parser
from chaos.cluster import metrics_server as ms
from chaos.cluster.progress import Progress
from chaos.cluster.versions import PINS
from chaos.errors import BuildFailed


def test_manifests_run_our_image_and_register_the_metrics_api() -> None:
    docs = list(yaml.safe_load_all(ms.manifests(ms.image_tag())))
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("APIService", ms.API_SERVICE) in kinds
    assert ("ClusterRoleBinding", "metrics-server:system:auth-delegator") in kinds
    binding = next(d for d in docs if d["kind"] == "RoleBinding")
    assert binding["roleRef"]["name"] == "extension-apiserver-authentication-reader"
    assert binding["metadata"]["namespace"] == "kube-system"
    deploy = next(d for d in docs if d["kind"] == "Deployment")
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"kube-chaos/metrics-server:{PINS.metrics_server}"
    assert container["imagePullPolicy"] == "Never"  # there is no registry
    assert "--kubelet-insecure-tls" in container["args"]
    # metrics-server refuses a resolution under 10 s, or one not above 90 % of the timeout
    assert "--metric-resolution=10s" in container["args"]
    assert "--kubelet-request-timeout=5s" in container["args"]


def test_a_failed_build_is_a_build_error_naming_its_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no go here
    with pytest.raises(BuildFailed, match="go install metrics-server") as err:
        ms.build_binary(PINS, tmp_path, Progress(quiet=True))
    assert err.value.log_path == tmp_path / "logs" / f"metrics-server-{PINS.metrics_server}.log"
    assert "command not found: go" in str(err.value)


def test_cluster_up_installs_metrics_server_unless_told_not_to() -> None:
    parser = build_parser()
    assert parser.parse_args(["cluster", "up"]).no_metrics_server is False
    assert parser.parse_args(["cluster", "up", "--no-metrics-server"]).no_metrics_server
