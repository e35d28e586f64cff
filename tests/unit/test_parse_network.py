"""The network fault types as experiment files write them: values, defaults, and every error
naming file, line and field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml

from chaos.errors import ExperimentInvalid
from chaos.model import Selector
from chaos.model.experiment import Bandwidth, Dns, Latency, PacketLoss, Partition, Peer
from chaos.model.parse import load_experiment
from chaos.model.schema import SCHEMA_PATH

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = Selector.of({"tier": "backend"})
FRONTENDS = Selector.of({"tier": "frontend"})

HEAD = """\
apiVersion: kube-chaos/v1
kind: Experiment
metadata: {name: net}
spec:
  workload:
    manifests: [workloads/tiers.yaml]
    selector: {app: tiers}
    service: frontend
    nodePort: 30084
    replicas: 5
  faults:
"""
TAIL = """\
  slas: {maxErrorRate: 0.01}
  timeout: 120s
"""


@pytest.fixture
def net_dir(tmp_path: Path) -> Path:
    (tmp_path / "workloads").mkdir()
    shutil.copy(ROOT / "experiments" / "workloads" / "tiers.yaml", tmp_path / "workloads")
    return tmp_path


def _load(net_dir: Path, fault: str) -> object:
    path = net_dir / "x.yaml"
    path.write_text(HEAD + fault + TAIL)
    (spec,) = load_experiment(path).faults
    return spec


def _error(net_dir: Path, fault: str) -> str:
    with pytest.raises(ExperimentInvalid) as info:
        _load(net_dir, fault)
    return str(info.value).replace(str(net_dir / "x.yaml"), "x.yaml")


def test_partition_with_each_kind_of_peer(net_dir: Path) -> None:
    assert _load(net_dir, "    - {type: partition, selector: {tier: backend}, percent: 100,\n"
                          "       peer: {selector: {tier: frontend}}, duration: 10s}\n") == \
        Partition(selector=BACKENDS, count=None, percent=100.0, duration_s=10.0,
                  peer=Peer(selector=FRONTENDS))
    spec = _load(net_dir, "    - {type: partition, selector: {tier: frontend},"
                          " peer: {service: backend}, direction: egress}\n")
    assert spec == Partition(selector=FRONTENDS, peer=Peer(service="backend"),
                             direction="egress")
    spec = _load(net_dir, "    - type: partition\n"
                          "      peer: {cidr: [10.1.2.3/8, 192.0.2.1, 10.0.0.0/8]}\n")
    assert isinstance(spec, Partition)
    assert spec.peer == Peer(cidrs=("10.0.0.0/8", "192.0.2.1/32"))
    assert spec.selector == {"app": "tiers"} and spec.count == 1 and spec.duration_s == 30.0
    assert spec.direction == "both"
    one = _load(net_dir, "    - {type: partition, peer: {cidr: 'fd00::/8'}}\n")
    assert isinstance(one, Partition) and one.peer == Peer(cidrs=("fd00::/8",))


def test_the_other_network_faults_and_their_defaults(net_dir: Path) -> None:
    assert _load(net_dir, "    - {type: packet-loss, selector: {tier: backend}, loss: 30}\n") == \
        PacketLoss(selector=BACKENDS, loss=30.0, direction="both", peer=None)
    assert _load(net_dir, "    - {type: bandwidth, rate: 512kbit, duration: 5s}\n") == \
        Bandwidth(selector=Selector.of({"app": "tiers"}), rate_bps=512_000, duration_s=5.0)
    assert _load(net_dir, "    - {type: dns, selector: {tier: frontend}, percent: 50}\n") == \
        Dns(selector=FRONTENDS, count=None, percent=50.0, mode="fail")
    assert _load(net_dir, "    - {type: latency, latency: 100ms, jitter: 10ms}\n") == \
        Latency(selector=Selector.of({"app": "tiers"}), latency_s=0.1, jitter_s=0.01)


@pytest.mark.parametrize(("fault", "expected"), [
    ("    - {type: partition}\n",
     "x.yaml:12: spec.faults[0].peer: required field missing"),
    ("    - {type: partition, peer: {}}\n",
     "x.yaml:12: spec.faults[0].peer: give exactly one of selector, service, cidr (found none)"),
    ("    - type: partition\n      peer: {service: backend, cidr: 10.0.0.0/8}\n",
     "x.yaml:13: spec.faults[0].peer: give exactly one of selector, service, cidr (found "
     "service, cidr)"),
    ("    - {type: partition, peer: {pods: {tier: frontend}}}\n",
     "x.yaml:12: spec.faults[0].peer.pods: unknown field; allowed: cidr, selector, service"),
    ("    - {type: partition, peer: {service: backnd}}\n",
     "x.yaml:12: spec.faults[0].peer.service: no Service 'backnd' in the workload manifests "
     "(did you mean 'backend'?); they define: backend, frontend"),
    ("    - {type: partition, peer: {selector: {tier: database}}}\n",
     "x.yaml:12: spec.faults[0].peer.selector: 'tier=database' matches no pod the workload "
     "manifests create (their pod labels: app=tiers,app.kubernetes.io/part-of=kube-chaos,"
     "tier=frontend; app=tiers,app.kubernetes.io/part-of=kube-chaos,tier=backend)"),
    ("    - type: partition\n      peer:\n        cidr: [10.0.0.0/8, 10.300.0.0/16]\n",
     "x.yaml:14: spec.faults[0].peer.cidr[1]: expected an IP address or CIDR such as "
     "10.0.0.0/8, got '10.300.0.0/16'"),
    ("    - {type: partition, peer: {service: backend}, direction: sideways}\n",
     "x.yaml:12: spec.faults[0].direction: expected one of 'both', 'egress', 'ingress', got "
     "'sideways'"),
    ("    - {type: packet-loss}\n",
     "x.yaml:12: spec.faults[0].loss: required field missing"),
    ("    - {type: packet-loss, loss: 130}\n",
     "x.yaml:12: spec.faults[0].loss: expected a percentage above 0 and at most 100, got 130"),
    ("    - {type: bandwidth, rate: 1mbps}\n",
     "x.yaml:12: spec.faults[0].rate: expected a rate such as 512kbit, 1mbit or 1.5gbit (bits "
     "per second, as tc writes them), got '1mbps': not a rate: '1mbps'"),
    ("    - {type: bandwidth, rate: 100}\n",
     "x.yaml:12: spec.faults[0].rate: expected a rate such as 512kbit, 1mbit or 1.5gbit (bits "
     "per second, as tc writes them), got 100: not a rate: 100 (give a unit, e.g. 1mbit)"),
    ("    - {type: dns, mode: nxdomain}\n",
     "x.yaml:12: spec.faults[0].mode: expected one of 'fail', 'block', got 'nxdomain'"),
    ("    - {type: latency, latency: 10ms, jitter: 20ms}\n",
     "x.yaml:12: spec.faults[0].jitter: 0.02s is more than the latency (0.01s): packets "
     "cannot arrive before they leave"),
    ("    - {type: latency, latency: 0s}\n",
     "x.yaml:12: spec.faults[0].latency: expected a duration above zero, got '0s'"),
    ("    - {type: dns, selector: {tier: frontend}, count: 3}\n",
     "x.yaml:12: spec.faults[0].count: 3 is more than the 2 pod(s) the manifests run matching "
     "'tier=frontend'"),
])
def test_network_fault_errors(net_dir: Path, fault: str, expected: str) -> None:
    assert _error(net_dir, fault) == expected


def _schema_errors(fault: dict[str, object]) -> list[str]:
    schema = json.loads(SCHEMA_PATH.read_text())
    validator = jsonschema.Draft202012Validator({"$defs": schema["$defs"],
                                                 "$ref": "#/$defs/fault"})
    return [e.message for e in validator.iter_errors(fault)]


@pytest.mark.parametrize("fault", [
    {"type": "partition", "peer": {"selector": {"tier": "frontend"}}, "direction": "egress"},
    {"type": "partition", "peer": {"cidr": ["10.0.0.0/8"]}},
    {"type": "packet-loss", "loss": 0.5, "peer": {"service": "backend"}},
    {"type": "bandwidth", "rate": "1.5mbit"},
    {"type": "dns", "mode": "block"},
    {"type": "latency", "latency": "100ms"},
])
def test_schema_accepts_good_network_faults(fault: dict[str, object]) -> None:
    assert _schema_errors(fault) == []


@pytest.mark.parametrize("fault", [
    {"type": "partition", "peer": {}},
    {"type": "partition", "peer": {"service": "backend", "cidr": "10.0.0.0/8"}},
    {"type": "packet-loss", "loss": 0},
    {"type": "bandwidth", "rate": "1mbps"},
    {"type": "dns", "mode": "nxdomain"},
])
def test_schema_refuses_bad_network_faults(fault: dict[str, object]) -> None:
    assert _schema_errors(fault) != []


def test_bundled_network_experiments_parse_and_name_the_tiers() -> None:
    files = sorted((ROOT / "experiments").glob("net-*.yaml"))
    assert len(files) >= 4
    for f in files:
        exp = load_experiment(f)
        assert exp.workload.node_port == "auto", f"{f.name}: a free published port per run"
        doc = yaml.safe_load(f.read_text())
        assert doc["spec"]["workload"]["manifests"] == ["workloads/tiers.yaml"]
        assert exp.load.max_duration_s <= 90, f"{f.name}: keep network experiments short"
