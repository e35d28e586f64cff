"""The HA cluster's pure parts: kind config with several control planes, the ports proxy's
haproxy config, the load-balancer image recipe."""

from __future__ import annotations

import json

import yaml

from chaos.cluster import loadbalancer
from chaos.cluster.config import (
    ClusterConfig,
    PortMapping,
    kind_config,
    ports_proxy_config,
    shape_of,
)
from chaos.cluster.versions import PINS


def test_three_control_planes_carry_no_port_mapping() -> None:
    cfg = ClusterConfig(name="kc-ha", control_planes=3, ports=(PortMapping(31080, 30080),))
    doc = yaml.safe_load(kind_config(cfg))
    assert [n["role"] for n in doc["nodes"]] == ["control-plane"] * 3 + ["worker"] * 2
    assert all("extraPortMappings" not in n for n in doc["nodes"])
    assert "apiServerPort" not in doc["networking"]  # kind picks the load balancer's port
    assert cfg.ha and cfg.nodes_total == 5
    assert cfg.node_names() == ["kc-ha-control-plane", "kc-ha-control-plane2",
                                "kc-ha-control-plane3", "kc-ha-worker", "kc-ha-worker2"]


def test_one_control_plane_keeps_its_port_mappings() -> None:
    cfg = ClusterConfig()
    assert not cfg.ha and cfg.control_planes == 1
    doc = yaml.safe_load(kind_config(cfg))
    assert len(doc["nodes"][0]["extraPortMappings"]) == 20


def test_ports_proxy_forwards_each_node_port_to_every_node() -> None:
    cfg = ClusterConfig(name="kc-ha", control_planes=3, workers=1,
                        ports=(PortMapping(31080, 30080), PortMapping(31081, 30081)))
    text = ports_proxy_config(cfg, cfg.node_names())
    for port in (30080, 30081):
        assert f"  bind *:{port}\n" in text
        for node in cfg.node_names():
            assert f"  server {node} {node}:{port}\n" in text
    assert text.count("  server ") == 8
    # health-checked, resolved through Docker's DNS, a failed connect retried elsewhere
    assert "check inter 1s fall 2 rise 2 resolvers docker" in text
    assert "option redispatch 1" in text and "timeout connect 1s" in text
    assert "31080" not in text  # host ports are docker's business (-p), not haproxy's


def test_load_balancer_image_is_kinds_name_and_entrypoint() -> None:
    assert PINS.kind_load_balancer.startswith("docker.io/kindest/haproxy:")
    text = loadbalancer.dockerfile("kube-chaos/rootfs-haproxy:x")
    assert text.startswith("FROM kube-chaos/rootfs-haproxy:x\n")
    assert "STOPSIGNAL SIGUSR1" in text
    entry = json.loads(text.split("ENTRYPOINT ", 1)[1].splitlines()[0])
    assert entry[:2] == ["/bin/sh", "-c"]
    # exec: haproxy is PID 1, so kind's `kill -s HUP 1` reloads it
    assert entry[2].split("; ")[-1].startswith("exec haproxy -W -db -n ")
    assert entry[2].endswith(f"-f {loadbalancer.CONFIG_PATH}")
    assert "bind 0.0.0.0:6443" in loadbalancer.STARTING_CONFIG
    assert loadbalancer.image_key(PINS) == loadbalancer.image_key(PINS)



def test_shape_of_an_existing_cluster_ignores_its_load_balancer() -> None:
    roles = ["control-plane", "external-load-balancer", "worker", "control-plane",
             "control-plane", "worker"]
    assert shape_of(roles) == (3, 2)
    assert shape_of([]) == (0, 0)
