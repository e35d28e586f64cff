"""Fault types, each declared once: its YAML type name, fields (YAML name, kind of value, default,
docs text) and its own cross-field rules.

The parser's tables, the JSON Schema's fault section and docs/faults.md are generated from
these classes (``chaos.model.parse``, ``chaos.model.schema``); the implementation of each type
lives in ``chaos.faults`` and is looked up by the spec's class. Adding a fault type means one
class here and one implementation module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from chaos.model import values as v
from chaos.model.netvalues import Peer
from chaos.model.selector import Selector


@dataclass(frozen=True, slots=True)
class NodeSelection:
    """Which nodes a node fault may hit: exactly one of the three ways is set.

    ``pods_of`` (the default, with the workload's selector) means nodes hosting the workload's pods.
    """

    nodes: tuple[str, ...] = ()
    node_selector: Selector | None = None
    pods_of: Selector | None = None


@dataclass(frozen=True, slots=True)
class ControllerRef:
    """A Deployment or StatefulSet by name, in the workload's namespace."""

    kind: Literal["Deployment", "StatefulSet"]
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


# How a field is read. "value": one YAML key read as ``Value``; the groups read several keys
# with rules of their own (see chaos.model.parse): "pod-selector" (selector, defaulting to the
# workload's and checked against its manifests), "count-or-percent" (one of the two),
# "node-selection" (one of nodes, nodeSelector, podsOf).
Reader = Literal["value", "pod-selector", "count-or-percent", "node-selection"]


def option(yaml: str, value: v.Value, doc: str, default: Any = dataclasses.MISSING,
           reader: Reader = "value") -> Any:
    """A fault field: its YAML name, how its value is read and described, what it means."""
    return dataclasses.field(default=default, metadata={
        "yaml": yaml, "value": value, "doc": doc, "reader": reader})


@dataclass(frozen=True, slots=True)
class FieldInfo:
    attr: str
    yaml: str
    value: v.Value
    doc: str
    reader: Reader
    default: Any  # dataclasses.MISSING when required


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultSpec:
    """Base of every fault type; ``type`` is the YAML ``type`` value."""

    type: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    # extra JSON Schema keywords for rules between fields (the parser enforces them in check())
    schema_rules: ClassVar[Mapping[str, Any]] = {}

    delay_s: float = option("delay", v.DURATION, "wait this long after warm-up (or the "
                            "previous fault) before this one", 0.0)

    @classmethod
    def field_infos(cls) -> Iterator[FieldInfo]:
        for f in dataclasses.fields(cls):
            meta = f.metadata
            yield FieldInfo(attr=f.name, yaml=meta["yaml"], value=meta["value"], doc=meta["doc"],
                            reader=meta["reader"], default=f.default)

    def check(self) -> list[tuple[str, str]]:
        """Rules between fields: (YAML field name, problem) pairs; empty when consistent."""
        return []


@dataclass(frozen=True, slots=True, kw_only=True)
class PodFault(FaultSpec):
    """A fault on some of the workload's pods, chosen with the run's seed."""

    selector: Selector = option("selector", v.SELECTOR, "pods to choose from (default: the "
                                "workload's selector)", reader="pod-selector")
    count: int | None = option("count", v.COUNT, "how many pods (default 1)", 1,
                               reader="count-or-percent")
    percent: float | None = option("percent", v.PERCENT, "or what share of them, rounded up",
                                   None, reader="count-or-percent")

    def salt(self, index: int, round_no: int = 0) -> str:
        """What keeps this fault's seeded choice independent of the run's other faults. Part
        of every recorded seed's meaning: changing it changes which pods a rerun hits."""
        return f"fault-{index}:{self.type}"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeFault(FaultSpec):
    """A fault on nodes, chosen with the run's seed; the control plane only when named."""

    nodes: NodeSelection = option("nodes", v.NODE_NAMES, "node names, or nodeSelector: "
                                  "{label: value}, or podsOf: {label: value} (default: nodes "
                                  "hosting the workload's pods)", reader="node-selection")
    count: int = option("count", v.COUNT, "how many nodes", 1)

    def salt(self, index: int, round_no: int = 0) -> str:
        return f"fault-{index}:{self.type}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PodKill(PodFault):
    type: ClassVar[str] = "pod-kill"
    summary: ClassVar[str] = "delete pods; their controller must replace them"
    grace_period_s: int | None = option("gracePeriod", v.WHOLE_SECONDS, "deletion grace period "
                                        "(default: the pod's own)", None)
    interval_s: float | None = option("interval", v.DURATION, "pause between rounds", None)
    repeat: int = option("repeat", v.COUNT, "rounds of kills", 1)

    def salt(self, index: int, round_no: int = 0) -> str:
        return f"fault-{index}:{self.type}:{round_no}"  # each round chooses afresh


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerKill(PodFault):
    type: ClassVar[str] = "container-kill"
    summary: ClassVar[str] = ("signal a container's main process; the kubelet restarts it in "
                              "place")
    container: str | None = option("container", v.STRING, "container name (default: the pod's "
                                   "first)", None)
    signal: str = option("signal", v.SIGNAL, "signal to send, optionally SIG-prefixed", "KILL")


@dataclass(frozen=True, slots=True, kw_only=True)
class Cordon(NodeFault):
    type: ClassVar[str] = "cordon"
    summary: ClassVar[str] = "mark nodes unschedulable"
    duration_s: float | None = option("duration", v.POSITIVE_DURATION, "uncordon after this "
                                      "long (default: at the end of the experiment)", None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Drain(NodeFault):
    type: ClassVar[str] = "drain"
    summary: ClassVar[str] = ("cordon, then evict every pod through the eviction API "
                              "(PodDisruptionBudgets apply)")
    timeout_s: float = option("timeout", v.POSITIVE_DURATION, "give up evicting after this "
                              "long: the drain is then reported blocked", 60.0)
    grace_period_s: int | None = option("gracePeriod", v.WHOLE_SECONDS, "eviction grace period "
                                        "(default: each pod's own)", None)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeLoss(NodeFault):
    type: ClassVar[str] = "node-loss"
    summary: ClassVar[str] = ("stop or pause a kind node's container: its kubelet stops "
                              "reporting")
    duration_s: float = option("duration", v.POSITIVE_DURATION, "how long the node stays lost",
                               60.0)
    mode: Literal["stop", "pause"] = option("mode", v.enum("stop", "pause"),
                                            "docker stop or docker pause", "stop")


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlPlaneLoss(FaultSpec):
    """Control-plane nodes by count, chosen with the run's seed among every control-plane node
    (the fault's type names the control plane, so none has to be named); the blast radius'
    maxNodes still applies."""

    type: ClassVar[str] = "control-plane-loss"
    summary: ClassVar[str] = (
        "pause or stop control-plane node containers of a kind cluster (API server, etcd member, "
        "controller-manager and scheduler together), chosen with the run's seed; a probe of the "
        "API server through the kubeconfig's address runs next to the load, for maxApiOutage "
        "and the report's api_server figures (outages, lease holder changes, etcd members)")
    count: int = option("count", v.COUNT, "how many control-plane nodes", 1)
    duration_s: float = option("duration", v.POSITIVE_DURATION, "how long they stay lost", 30.0)
    mode: Literal["pause", "stop"] = option(
        "mode", v.enum("pause", "stop"), "pause: frozen, as a hung machine (its address and "
        "etcd membership are kept); stop: powered off (restarted in address order, so Docker "
        "gives each its address back)", "pause")

    def salt(self, index: int, round_no: int = 0) -> str:
        return f"fault-{index}:{self.type}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeBreak(PodFault):
    type: ClassVar[str] = "probe-break"
    summary: ClassVar[str] = "make a probe fail without killing the pod"
    schema_rules: ClassVar[Mapping[str, Any]] = {
        "if": {"properties": {"probe": {"const": "startup"}}, "required": ["probe"]},
        "then": {"properties": {"method": {"const": "network"}}},
    }
    probe: Literal["readiness", "liveness", "startup"] = option(
        "probe", v.enum("readiness", "liveness", "startup"), "which probe to break",
        "readiness")
    duration_s: float = option("duration", v.POSITIVE_DURATION, "how long the probe fails",
                               30.0)
    method: Literal["network", "admin"] = option(
        "method", v.enum("network", "admin"), "network: drop the kubelet's probe traffic in "
        "the pod's network namespace (any HTTP/TCP probe); admin: ask the bundled workload to "
        "fail it", "network")

    def check(self) -> list[tuple[str, str]]:
        if self.probe == "startup" and self.method == "admin":
            return [("method", "a startup probe break needs method: network (a startup probe "
                               "only runs after a container restart, and the workload's admin "
                               "state does not survive one)")]
        return []


@dataclass(frozen=True, slots=True, kw_only=True)
class ControllerFault(FaultSpec):
    """A fault on the workload's controller (its Deployment or StatefulSet) rather than on pods
    or nodes."""

    target: ControllerRef | None = option(
        "target", v.CONTROLLER_REF, "the Deployment or StatefulSet, as Deployment/<name> or "
        "StatefulSet/<name> (default: the one whose pods the workload's selector matches)", None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Rollout(ControllerFault):
    type: ClassVar[str] = "rollout"
    summary: ClassVar[str] = (
        "change the pod template (image, env, args) of a Deployment or StatefulSet and measure "
        "the rollout under load: its duration, a stall at the progress deadline, and the surge "
        "and unavailability observed against the strategy; undone by restoring the recorded "
        "template")
    schema_rules: ClassVar[Mapping[str, Any]] = {
        "anyOf": [{"required": ["image"]}, {"required": ["env"]}, {"required": ["args"]}]}
    container: str | None = option("container", v.STRING, "container to change (default: the "
                                   "pod's first)", None)
    image: str | None = option("image", v.IMAGE, "new image (the nodes must have or pull it; "
                               "list it in spec.workload.images to load it into kind)", None)
    env: tuple[tuple[str, str], ...] | None = option(
        "env", v.ENV_MAP, "environment variables to set; a variable already set is replaced, "
        "the others are kept", None)
    args: tuple[str, ...] | None = option("args", v.STRING_LIST, "new container args, "
                                          "replacing the old ones ([] clears them)", None)
    wait_s: float = option("wait", v.POSITIVE_DURATION, "stop watching after this long: a "
                           "Deployment still rolling out is reported unfinished (its progress "
                           "deadline normally ends a stuck one first, as stalled); a "
                           "StatefulSet, which has no progress deadline, is reported stalled",
                           120.0)

    def check(self) -> list[tuple[str, str]]:
        if self.image is None and self.env is None and self.args is None:
            return [("image", "a rollout needs something to change: give image, env or args")]
        return []


@dataclass(frozen=True, slots=True, kw_only=True)
class Rollback(ControllerFault):
    type: ClassVar[str] = "rollback"
    summary: ClassVar[str] = (
        "roll a Deployment or StatefulSet back to its previous revision (kubectl rollout undo) "
        "and measure the time until it is whole again; after an earlier rollout of the same "
        "run, that rollout's recorded template is what the run restores at the end")
    wait_s: float = option("wait", v.POSITIVE_DURATION, "stop watching after this long: the "
                           "workload is then reported not whole again", 120.0)


Direction = Literal["both", "egress", "ingress"]
_DIRECTION_DOC = ("egress: what the selected pods send, ingress: what they receive, or both")


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkFault(PodFault):
    """A fault inside the selected pods' network namespaces (nftables, or a tc qdisc), held
    for ``duration`` and then lifted; traffic on the pod's loopback is never touched."""

    duration_s: float = option("duration", v.POSITIVE_DURATION, "how long the fault holds",
                               30.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Partition(NetworkFault):
    type: ClassVar[str] = "partition"
    summary: ClassVar[str] = ("drop every packet between the selected pods and a peer (pods, "
                              "a Service or CIDRs)")
    peer: Peer = option("peer", v.PEER, "selector: {label: value} (pods of the experiment's "
                        "namespace), service: name (its cluster IPs and its pods), or cidr: "
                        "one CIDR or a list; resolved to addresses when the fault starts")
    direction: Direction = option("direction", v.enum("both", "egress", "ingress"),
                                  _DIRECTION_DOC + " (one direction is enough to break TCP)",
                                  "both")


@dataclass(frozen=True, slots=True, kw_only=True)
class PacketLoss(NetworkFault):
    type: ClassVar[str] = "packet-loss"
    summary: ClassVar[str] = "drop a random share of the selected pods' packets"
    loss: float = option("loss", v.PERCENT, "percentage of packets dropped, each packet "
                         "independently (0.01 % steps)")
    direction: Direction = option("direction", v.enum("both", "egress", "ingress"),
                                  _DIRECTION_DOC, "both")
    peer: Peer | None = option("peer", v.PEER, "only traffic with this peer (as for "
                               "partition; default: all traffic, the kubelet's probes and "
                               "DNS included)", None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Bandwidth(NetworkFault):
    type: ClassVar[str] = "bandwidth"
    summary: ClassVar[str] = ("shape what the selected pods send to a rate (a token-bucket "
                              "qdisc on the pod's interface: packets queue, then drop)")
    rate_bps: int = option("rate", v.RATE, "egress rate, e.g. 1mbit or 512kbit")


@dataclass(frozen=True, slots=True, kw_only=True)
class Dns(NetworkFault):
    type: ClassVar[str] = "dns"
    summary: ClassVar[str] = "make the selected pods' DNS queries (port 53) fail or go unanswered"
    mode: Literal["fail", "block"] = option(
        "mode", v.enum("fail", "block"), "fail: reject queries at once (ICMP port unreachable, "
        "TCP reset); block: drop them, so lookups time out", "fail")


_LATENCY = v.at_most(v.POSITIVE_DURATION, v.MAX_LATENCY_S, "above 0, at most 60s")
_JITTER = v.at_most(v.DURATION, v.MAX_LATENCY_S, "0 to 60s")


@dataclass(frozen=True, slots=True, kw_only=True)
class Latency(NetworkFault):
    type: ClassVar[str] = "latency"
    summary: ClassVar[str] = ("delay what the selected pods send (tc netem; refused on a kernel "
                              "without the netem qdisc, never imitated)")
    latency_s: float = option("latency", _LATENCY, "added delay per packet")
    jitter_s: float = option("jitter", _JITTER, "random variation around it", 0.0)

    def check(self) -> list[tuple[str, str]]:
        if self.jitter_s > self.latency_s:
            return [("jitter", f"{self.jitter_s:g}s is more than the latency "
                               f"({self.latency_s:g}s): packets cannot arrive before they leave")]
        return []


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadSpike(FaultSpec):
    """More load, not a broken part: the open-loop arrival rate climbs from ``spec.load.rate``
    to ``rate`` over ``rampUp``, holds it for the rest of ``duration``, then falls back. The
    parser writes it into the load's schedule (load and fault share the run's time axis);
    the fault itself only marks the window. For autoscaling: does an HPA add pods in time?"""

    type: ClassVar[str] = "load-spike"
    summary: ClassVar[str] = ("raise the open-loop arrival rate (ramp, hold, back to the base "
                              "rate): the load HorizontalPodAutoscalers must answer; needs "
                              "load.mode: open")
    rate: float = option("rate", v.ARRIVAL_RATE, "the spike's arrival rate (e.g. 80/s)")
    ramp_up_s: float = option("rampUp", v.DURATION, "from the base rate to `rate`, linearly, "
                              "within the duration", 0.0)
    duration_s: float = option("duration", v.POSITIVE_DURATION, "the whole spike, ramp "
                               "included", 30.0)

    def check(self) -> list[tuple[str, str]]:
        if self.ramp_up_s > self.duration_s:
            return [("rampUp", f"{self.ramp_up_s:g}s is longer than the spike's duration "
                               f"({self.duration_s:g}s), which includes the ramp")]
        return []


AnyFault = (PodKill | ContainerKill | Cordon | Drain | NodeLoss | ControlPlaneLoss | ProbeBreak
            | Rollout | Rollback | Partition | PacketLoss | Bandwidth | Dns | Latency | LoadSpike)
# every concrete fault type by its YAML name, in the order the docs and schema list them
FAULT_TYPES: dict[str, type[FaultSpec]] = {
    cls.type: cls for cls in (PodKill, ContainerKill, Cordon, Drain, NodeLoss, ControlPlaneLoss,
                              ProbeBreak, Rollout, Rollback, Partition, PacketLoss, Bandwidth,
                              Dns, Latency, LoadSpike)
}
