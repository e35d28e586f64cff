"""Fault types, each declared once: its YAML type name, fields (YAML name, kind of value, default,
docs text), its own cross-field rules, and every facet the rest of kube-chaos reads.

The parser's tables, the JSON Schema's fault section and docs/faults.md are generated from
these classes (``chaos.model.parse``, ``chaos.model.schema``); the implementation of each type
lives in ``chaos.faults`` and is looked up by the spec's class. Adding a fault type means one
class here and one implementation module.

The facets (declared on each class; ``FAULT_TYPES`` refuses a class that leaves one out):

- ``acts_on``: what it hits (pods, nodes, the control plane, a controller, nothing in the cluster);
  read by the blast-radius checks, target resolution, the Events a run announces and the
  API-server probe.
- ``rbac``: the Kubernetes permissions its implementation uses, in its own class body (never
  inherited); ``kube-chaos rbac`` and ``kube-chaos plan`` derive the Role from them.
- ``exclusive`` and ``exclusive_why``: whether a run with it needs the cluster to itself (what a
  scheduler running experiments side by side reads).
- ``hold_s()``: the least time it keeps the run busy (the parser's timeline check).
- ``nodes_hit()``: how many nodes it hits, when the file says (the parser's blast-radius check).
- ``manifest_checks``: which checks against the workload's manifests the parser runs for it.
- ``question``: the yes/no its run answers and an SLA can expect (a drain: blocked, under
  ``expectBlocked``); the SLA is refused without such a fault, and the implementation sets
  ``FaultOutcome.answer``.
- ``evicts``: it evicts pods through the eviction API, so PodDisruptionBudgets can block it
  (``kube-chaos plan`` lists the ones that would).
- ``shapes_load``, ``load_schedule()`` and ``ramp_s()``: it changes the load's schedule instead
  of the cluster (the parser writes the schedule; the autoscaling figures window the ramp).

Nothing outside this module and ``chaos.faults`` names a concrete fault class or type string
(tests/unit/test_fault_facets.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from chaos.model import values as v
from chaos.model.fields import FieldInfo, field_infos, option
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


# What a fault hits. "controller": the workload's Deployment or StatefulSet; "nothing": nothing in
# the cluster (a load-spike changes the load instead).
ActsOn = Literal["pods", "nodes", "control-plane", "controller", "nothing"]
# Checks the parser runs against the workload's manifests (chaos.model.parse): "pod-count" (count
# no more than the pods the selector matches), "container" (the named container exists in those
# pods), "probe" (some container defines the probe), "controller" (the target Deployment or
# StatefulSet, and its container, exist).
ManifestCheck = Literal["pod-count", "container", "probe", "controller"]


@dataclass(frozen=True, slots=True)
class Access:
    """A Kubernetes permission a fault's implementation uses: ``verbs`` on ``resource`` (which may
    carry a subresource, "pods/eviction") of API ``group`` ("" is the core group), in the
    experiment's namespace or cluster-wide; ``when`` = (field, value) limits it to specs with
    that field value."""

    verbs: tuple[str, ...]
    group: str
    resource: str
    cluster_wide: bool = False
    when: tuple[str, str] | None = None

    def describe(self) -> str:
        group = f"{self.group}/" if self.group else ""
        where = "cluster-wide" if self.cluster_wide else "in the namespace"
        return f"{', '.join(self.verbs)} {group}{self.resource} {where}"


@dataclass(frozen=True, slots=True)
class Question:
    """A yes/no a run of the fault answers, whose expected answer an SLA states: ``sla`` is its
    key under spec.slas, ``asks`` what it says ("whether a drain was blocked"), ``unrecorded``
    the answer of a run of the fault that recorded none (None: it cannot tell)."""

    sla: str
    asks: str
    unrecorded: bool | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultSpec:
    """Base of every fault type; ``type`` is the YAML ``type`` value."""

    type: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    # extra JSON Schema keywords for rules between fields (the parser enforces them in check())
    schema_rules: ClassVar[Mapping[str, Any]] = {}
    # facets every concrete type declares (see the module's docstring; no default on purpose)
    acts_on: ClassVar[ActsOn]
    exclusive: ClassVar[bool]
    exclusive_why: ClassVar[str]
    rbac: ClassVar[tuple[Access, ...]]
    # facets with a default most types keep
    manifest_checks: ClassVar[tuple[ManifestCheck, ...]] = ()
    question: ClassVar[Question | None] = None
    evicts: ClassVar[bool] = False
    shapes_load: ClassVar[bool] = False

    delay_s: float = option("delay", v.DURATION, "wait this long after warm-up (or the "
                            "previous fault) before this one", 0.0)

    @classmethod
    def field_infos(cls) -> Iterator[FieldInfo]:
        return field_infos(cls)

    def check(self) -> list[tuple[str, str]]:
        """Rules between fields: (YAML field name, problem) pairs; empty when consistent."""
        return []

    def salt(self, index: int, round_no: int = 0) -> str:
        """What keeps this fault's seeded choice independent of the run's other faults. Part
        of every recorded seed's meaning: changing it changes which pods or nodes a rerun hits."""
        return f"fault-{index}:{self.type}"

    def permissions(self) -> tuple[Access, ...]:
        """The declared ``rbac`` this spec uses (those with a ``when`` only when it holds)."""
        return tuple(a for a in self.rbac
                     if a.when is None or getattr(self, a.when[0]) == a.when[1])

    def hold_s(self) -> float:
        """The least time the fault keeps the run busy (the runner waits for each in turn);
        0 for a fault that acts and returns."""
        return 0.0

    def nodes_hit(self) -> int | None:
        """How many nodes the fault hits, when the file says; None for a fault on no nodes."""
        return None

    def load_schedule(self, base: float, start_s: float
                      ) -> tuple[tuple[float, float, float | None], ...] | None:
        """For a fault that ``shapes_load``: the open-loop schedule (from rate, to rate,
        seconds; None: to the end) around it, from ``base`` at the run's start, the fault
        starting ``start_s`` in."""
        return None

    def ramp_s(self) -> float:
        """For a fault that ``shapes_load``: how long the rate climbs once it starts (the
        autoscaling figures' ramp window); 0 for every other fault."""
        return 0.0


def _namespaced(*verbs: str, resource: str, group: str = "") -> Access:
    return Access(verbs, group, resource)


# every pod fault lists the selected pods of the namespace
_LIST_PODS = _namespaced("list", resource="pods")


@dataclass(frozen=True, slots=True, kw_only=True)
class PodFault(FaultSpec):
    """A fault on some of the workload's pods, chosen with the run's seed."""

    acts_on: ClassVar[ActsOn] = "pods"
    manifest_checks: ClassVar[tuple[ManifestCheck, ...]] = ("pod-count",)

    selector: Selector = option("selector", v.SELECTOR, "pods to choose from (default: the "
                                "workload's selector)", reader="pod-selector")
    count: int | None = option("count", v.COUNT, "how many pods (default 1)", 1,
                               reader="count-or-percent")
    percent: float | None = option("percent", v.PERCENT, "or what share of them, rounded up",
                                   None, reader="count-or-percent")


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeFault(FaultSpec):
    """A fault on nodes, chosen with the run's seed; the control plane only when named. Every
    node fault needs the cluster to itself: nodes are shared by every workload on them."""

    acts_on: ClassVar[ActsOn] = "nodes"
    exclusive: ClassVar[bool] = True
    exclusive_why: ClassVar[str] = ("its nodes run other workloads' pods too, and an "
                                    "experiment beside it would measure its effects")

    nodes: NodeSelection = option("nodes", v.NODE_NAMES, "node names, or nodeSelector: "
                                  "{label: value}, or podsOf: {label: value} (default: nodes "
                                  "hosting the workload's pods)", reader="node-selection")
    count: int = option("count", v.COUNT, "how many nodes", 1)

    def nodes_hit(self) -> int | None:
        return self.count


@dataclass(frozen=True, slots=True, kw_only=True)
class PodKill(PodFault):
    type: ClassVar[str] = "pod-kill"
    summary: ClassVar[str] = "delete pods; their controller must replace them"
    exclusive: ClassVar[bool] = False
    exclusive_why: ClassVar[str] = "it deletes pods of the workload's own namespace only"
    rbac: ClassVar[tuple[Access, ...]] = (_namespaced("delete", resource="pods"),)
    grace_period_s: int | None = option("gracePeriod", v.WHOLE_SECONDS, "deletion grace period "
                                        "(default: the pod's own)", None)
    interval_s: float | None = option("interval", v.DURATION, "pause between rounds", None)
    repeat: int = option("repeat", v.COUNT, "rounds of kills", 1)

    def salt(self, index: int, round_no: int = 0) -> str:
        return f"fault-{index}:{self.type}:{round_no}"  # each round chooses afresh

    def hold_s(self) -> float:
        return (self.repeat - 1) * (self.interval_s or 0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerKill(PodFault):
    type: ClassVar[str] = "container-kill"
    summary: ClassVar[str] = ("signal a container's main process; the kubelet restarts it in "
                              "place")
    exclusive: ClassVar[bool] = False
    exclusive_why: ClassVar[str] = ("it signals containers of the workload's own pods only (on "
                                    "their nodes, through the node runtime)")
    rbac: ClassVar[tuple[Access, ...]] = (_LIST_PODS,)
    manifest_checks: ClassVar[tuple[ManifestCheck, ...]] = ("pod-count", "container")
    container: str | None = option("container", v.STRING, "container name (default: the pod's "
                                   "first)", None)
    signal: str = option("signal", v.SIGNAL, "signal to send, optionally SIG-prefixed", "KILL")


@dataclass(frozen=True, slots=True, kw_only=True)
class Cordon(NodeFault):
    type: ClassVar[str] = "cordon"
    summary: ClassVar[str] = "mark nodes unschedulable"
    rbac: ClassVar[tuple[Access, ...]] = (
        Access(("patch",), "", "nodes", cluster_wide=True), _LIST_PODS)
    duration_s: float | None = option("duration", v.POSITIVE_DURATION, "uncordon after this "
                                      "long (default: at the end of the experiment)", None)

    def hold_s(self) -> float:
        return self.duration_s or 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Drain(NodeFault):
    type: ClassVar[str] = "drain"
    summary: ClassVar[str] = ("cordon, then evict every pod through the eviction API "
                              "(PodDisruptionBudgets apply)")
    rbac: ClassVar[tuple[Access, ...]] = (
        Access(("patch",), "", "nodes", cluster_wide=True),
        Access(("list",), "", "pods", cluster_wide=True),  # every pod on the node
        Access(("create",), "", "pods/eviction", cluster_wide=True),
        Access(("list",), "policy", "poddisruptionbudgets", cluster_wide=True),
        _LIST_PODS)
    question: ClassVar[Question | None] = Question(
        "expectBlocked", "whether a drain was blocked", unrecorded=False)
    evicts: ClassVar[bool] = True
    timeout_s: float = option("timeout", v.POSITIVE_DURATION, "give up evicting after this "
                              "long: the drain is then reported blocked", 60.0)
    grace_period_s: int | None = option("gracePeriod", v.WHOLE_SECONDS, "eviction grace period "
                                        "(default: each pod's own)", None)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeLoss(NodeFault):
    type: ClassVar[str] = "node-loss"
    summary: ClassVar[str] = ("stop or pause a kind node's container: its kubelet stops "
                              "reporting")
    rbac: ClassVar[tuple[Access, ...]] = (_LIST_PODS,)
    duration_s: float = option("duration", v.POSITIVE_DURATION, "how long the node stays lost",
                               60.0)
    mode: Literal["stop", "pause"] = option("mode", v.enum("stop", "pause"),
                                            "docker stop or docker pause", "stop")

    def hold_s(self) -> float:
        return self.duration_s


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
    acts_on: ClassVar[ActsOn] = "control-plane"
    exclusive: ClassVar[bool] = True
    exclusive_why: ClassVar[str] = ("every experiment on the cluster goes through its API "
                                    "server")
    rbac: ClassVar[tuple[Access, ...]] = ()  # the node runtime acts; the API is only probed
    count: int = option("count", v.COUNT, "how many control-plane nodes", 1)
    duration_s: float = option("duration", v.POSITIVE_DURATION, "how long they stay lost", 30.0)
    mode: Literal["pause", "stop"] = option(
        "mode", v.enum("pause", "stop"), "pause: frozen, as a hung machine (its address and "
        "etcd membership are kept); stop: powered off (restarted in address order, so Docker "
        "gives each its address back)", "pause")

    def hold_s(self) -> float:
        return self.duration_s

    def nodes_hit(self) -> int | None:
        return self.count


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeBreak(PodFault):
    type: ClassVar[str] = "probe-break"
    summary: ClassVar[str] = "make a probe fail without killing the pod"
    exclusive: ClassVar[bool] = False
    exclusive_why: ClassVar[str] = ("it breaks probes of the workload's own pods only (in their "
                                    "network namespaces, or through their admin endpoint)")
    rbac: ClassVar[tuple[Access, ...]] = (
        Access(("get", "create"), "", "pods/proxy", when=("method", "admin")),)
    manifest_checks: ClassVar[tuple[ManifestCheck, ...]] = ("pod-count", "probe")
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

    def hold_s(self) -> float:
        return self.duration_s

    def check(self) -> list[tuple[str, str]]:
        if self.probe == "startup" and self.method == "admin":
            return [("method", "a startup probe break needs method: network (a startup probe "
                               "only runs after a container restart, and the workload's admin "
                               "state does not survive one)")]
        return []


# what a rollout or rollback (and its undo, restore-template) does to the controller: read,
# find, watch and patch it, read its revisions (a Deployment's ReplicaSets, a StatefulSet's
# ControllerRevisions), and delete a StatefulSet's pods stuck on the old revision
_CONTROLLER_RBAC = (
    _namespaced("get", "list", "watch", "patch", group="apps", resource="deployments"),
    _namespaced("get", "list", "watch", "patch", group="apps", resource="statefulsets"),
    _namespaced("list", group="apps", resource="replicasets"),
    _namespaced("list", group="apps", resource="controllerrevisions"),
    _namespaced("list", "delete", resource="pods"))


@dataclass(frozen=True, slots=True, kw_only=True)
class ControllerFault(FaultSpec):
    """A fault on the workload's controller (its Deployment or StatefulSet) rather than on pods
    or nodes."""

    acts_on: ClassVar[ActsOn] = "controller"
    exclusive: ClassVar[bool] = False
    exclusive_why: ClassVar[str] = ("it changes the workload's own Deployment or StatefulSet, in "
                                    "its namespace")
    manifest_checks: ClassVar[tuple[ManifestCheck, ...]] = ("controller",)

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
    rbac: ClassVar[tuple[Access, ...]] = _CONTROLLER_RBAC
    question: ClassVar[Question | None] = Question(
        "expectStalled", "whether a rollout stalled", unrecorded=None)
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
    rbac: ClassVar[tuple[Access, ...]] = _CONTROLLER_RBAC
    wait_s: float = option("wait", v.POSITIVE_DURATION, "stop watching after this long: the "
                           "workload is then reported not whole again", 120.0)


Direction = Literal["both", "egress", "ingress"]
_DIRECTION_DOC = ("egress: what the selected pods send, ingress: what they receive, or both")


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkFault(PodFault):
    """A fault inside the selected pods' network namespaces (nftables, or a tc qdisc), held
    for ``duration`` and then lifted; traffic on the pod's loopback is never touched."""

    exclusive: ClassVar[bool] = False
    exclusive_why: ClassVar[str] = ("it acts inside the selected pods' network namespaces only: "
                                    "a peer's own traffic with other pods is untouched")

    duration_s: float = option("duration", v.POSITIVE_DURATION, "how long the fault holds",
                               30.0)

    def hold_s(self) -> float:
        return self.duration_s


@dataclass(frozen=True, slots=True, kw_only=True)
class Partition(NetworkFault):
    type: ClassVar[str] = "partition"
    rbac: ClassVar[tuple[Access, ...]] = ()  # the node runtime acts
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
    rbac: ClassVar[tuple[Access, ...]] = ()  # the node runtime acts
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
    rbac: ClassVar[tuple[Access, ...]] = ()  # the node runtime acts
    summary: ClassVar[str] = ("shape what the selected pods send to a rate (a token-bucket "
                              "qdisc on the pod's interface: packets queue, then drop)")
    rate_bps: int = option("rate", v.RATE, "egress rate, e.g. 1mbit or 512kbit")


@dataclass(frozen=True, slots=True, kw_only=True)
class Dns(NetworkFault):
    type: ClassVar[str] = "dns"
    rbac: ClassVar[tuple[Access, ...]] = ()  # the node runtime acts
    summary: ClassVar[str] = "make the selected pods' DNS queries (port 53) fail or go unanswered"
    mode: Literal["fail", "block"] = option(
        "mode", v.enum("fail", "block"), "fail: reject queries at once (ICMP port unreachable, "
        "TCP reset); block: drop them, so lookups time out", "fail")


_LATENCY = v.at_most(v.POSITIVE_DURATION, v.MAX_LATENCY_S, "above 0, at most 60s")
_JITTER = v.at_most(v.DURATION, v.MAX_LATENCY_S, "0 to 60s")


@dataclass(frozen=True, slots=True, kw_only=True)
class Latency(NetworkFault):
    type: ClassVar[str] = "latency"
    rbac: ClassVar[tuple[Access, ...]] = ()  # the node runtime acts
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
    acts_on: ClassVar[ActsOn] = "nothing"
    exclusive: ClassVar[bool] = True
    exclusive_why: ClassVar[str] = (
        "what it measures, how fast pods are added, hangs on the nodes' free capacity and the "
        "load generators' machine, both shared with any experiment beside it")
    rbac: ClassVar[tuple[Access, ...]] = ()
    shapes_load: ClassVar[bool] = True
    rate: float = option("rate", v.ARRIVAL_RATE, "the spike's arrival rate (e.g. 80/s)")
    ramp_up_s: float = option("rampUp", v.DURATION, "from the base rate to `rate`, linearly, "
                              "within the duration", 0.0)
    duration_s: float = option("duration", v.POSITIVE_DURATION, "the whole spike, ramp "
                               "included", 30.0)

    def hold_s(self) -> float:
        return self.duration_s

    def ramp_s(self) -> float:
        return self.ramp_up_s

    def load_schedule(self, base: float, start_s: float
                      ) -> tuple[tuple[float, float, float | None], ...] | None:
        segments: list[tuple[float, float, float | None]] = [(base, base, start_s)]
        if self.ramp_up_s > 0:
            segments.append((base, self.rate, self.ramp_up_s))
        if self.duration_s > self.ramp_up_s:
            segments.append((self.rate, self.rate, self.duration_s - self.ramp_up_s))
        segments.append((base, base, None))
        return tuple(segments)

    def check(self) -> list[tuple[str, str]]:
        if self.ramp_up_s > self.duration_s:
            return [("rampUp", f"{self.ramp_up_s:g}s is longer than the spike's duration "
                               f"({self.duration_s:g}s), which includes the ramp")]
        return []


AnyFault = (PodKill | ContainerKill | Cordon | Drain | NodeLoss | ControlPlaneLoss | ProbeBreak
            | Rollout | Rollback | Partition | PacketLoss | Bandwidth | Dns | Latency | LoadSpike)
REQUIRED_FACETS = ("acts_on", "exclusive", "exclusive_why", "rbac")


def registry(*classes: type[FaultSpec]) -> dict[str, type[FaultSpec]]:
    """Fault types by YAML name, each checked to declare every facet: ``rbac`` in its own class
    body (a permission inherited by a new type would go unreviewed), the others on it or a
    family base; a TypeError names what is missing."""
    for cls in classes:
        missing = [f for f in REQUIRED_FACETS if not hasattr(cls, f)]
        if "rbac" not in vars(cls) and "rbac" not in missing:
            missing.append("rbac")
        if not cls.type or not cls.summary:
            missing.append("type" if not cls.type else "summary")
        if missing:
            raise TypeError(f"fault type {cls.__name__} does not declare: {', '.join(missing)}")
    return {cls.type: cls for cls in classes}


# every concrete fault type by its YAML name, in the order the docs and schema list them
FAULT_TYPES: dict[str, type[FaultSpec]] = registry(
    PodKill, ContainerKill, Cordon, Drain, NodeLoss, ControlPlaneLoss, ProbeBreak, Rollout,
    Rollback, Partition, PacketLoss, Bandwidth, Dns, Latency, LoadSpike)


def declared(type_name: str) -> type[FaultSpec] | None:
    """The declaration of the fault type named ``type_name`` (a recorded outcome's), if any."""
    return FAULT_TYPES.get(type_name)
