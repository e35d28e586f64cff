"""What the network faults put into a pod's network namespace, rendered as text: nftables
tables (partition, packet loss, DNS) and tc qdisc arguments (bandwidth, latency).

Pure: ``chaos.node.netns`` applies the text inside the pod's netns on its kind node, and the
counters read back are parsed here too. Rules are written from the selected pod's side:
egress is what it sends, ingress what it receives, both on its own interface (netdev hooks),
so loopback is never touched and a pod is never cut off from itself.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Direction = Literal["both", "egress", "ingress"]
Family = Literal["inet", "netdev"]
Hook = Literal["input", "output", "ingress", "egress"]

PRIORITY = -10  # before any filter chain a CNI might add at priority 0
# the root qdisc we install carries this handle ("KC"), so an undo deletes only ours
QDISC_HANDLE = "4b43:"
LOSS_SCALE = 10_000  # numgen range: loss in 0.01 % steps
TBF_LATENCY_MS = 200  # longest a packet may queue in the bucket before it is dropped
NETEM_MISSING = ("Specified qdisc kind is unknown", "Unknown qdisc")

_SIDE: Mapping[Hook, str] = {"output": "daddr", "egress": "daddr", "input": "saddr",
                             "ingress": "saddr"}
_LOOPBACK: Mapping[Hook, str] = {"output": 'oifname "lo" accept', "input": 'iifname "lo" accept'}
_COUNTER = re.compile(r"counter packets (\d+) bytes \d+")
_DEVICE = re.compile(r"[A-Za-z0-9_.@-]{1,15}")


def table_name(kind: str, pod: str) -> str:
    """nftables identifiers: letters, digits, underscore; short and unique per (kind, pod)."""
    return f"kube_chaos_{kind}_" + re.sub(r"[^A-Za-z0-9_]", "_", pod)[:48]


def wire_hooks(direction: Direction) -> tuple[Hook, ...]:
    return ("egress", "ingress") if direction == "both" else (direction,)


@dataclass(frozen=True, slots=True)
class Ruleset:
    """One nft table's worth of rules. ``netdev`` chains are bound to ``device``, the pod's
    interface: there a dropped packet is lost as on the wire. The ``inet`` output hook is no
    place for that: the kernel answers a local sender whose packet it drops there with EPERM
    at once, so a "silent" drop would turn into an instant error."""

    family: Family
    chains: Mapping[Hook, tuple[str, ...]]
    device: str | None = None

    def __post_init__(self) -> None:
        if self.family == "netdev" and (self.device is None or not _DEVICE.fullmatch(self.device)):
            raise ValueError(f"a netdev table needs an interface name, got {self.device!r}")


@dataclass(frozen=True, slots=True)
class Addresses:
    """A peer resolved to addresses, by family; host addresses bare, networks as CIDRs."""

    v4: tuple[str, ...] = ()
    v6: tuple[str, ...] = ()

    @classmethod
    def of(cls, items: Iterable[str], exclude: Iterable[str] = ()) -> Addresses:
        """Normalised, de-duplicated and sorted; ``exclude`` drops exact addresses (a pod is
        never its own peer). Raises ValueError on anything that is not an address or CIDR."""
        skip = {str(ipaddress.ip_address(e)) for e in exclude if e}
        nets = {ipaddress.ip_network(i.strip(), strict=False) for i in items if i.strip()}
        v4: list[str] = []
        v6: list[str] = []
        for net in sorted(nets, key=lambda n: (n.version, n.network_address, n.prefixlen)):
            text = str(net.network_address) if net.num_addresses == 1 else str(net)
            if text in skip:
                continue
            (v4 if net.version == 4 else v6).append(text)
        return cls(tuple(v4), tuple(v6))

    def __bool__(self) -> bool:
        return bool(self.v4 or self.v6)

    def all(self) -> list[str]:
        return [*self.v4, *self.v6]


def _peer_matches(hook: Hook, peers: Addresses | None) -> list[str]:
    """One match per address family (``ip daddr { ... }``); without a peer, every IP packet
    (ARP and the like pass: losing them would be a different fault)."""
    if peers is None:
        return ["meta protocol { ip, ip6 } "]
    side = _SIDE[hook]
    return [f"{family} {side} {{ {', '.join(addrs)} }} "
            for family, addrs in (("ip", peers.v4), ("ip6", peers.v6)) if addrs]


def partition_rules(direction: Direction, peers: Addresses, device: str) -> Ruleset:
    """Every packet to (egress) and from (ingress) the peer dropped on the pod's interface:
    senders on either side hear nothing back, as across a real partition."""
    if not peers:
        raise ValueError("a partition needs at least one peer address")
    return Ruleset("netdev", {h: tuple(f"{m}counter drop" for m in _peer_matches(h, peers))
                              for h in wire_hooks(direction)}, device)


def loss_threshold(loss_percent: float) -> int:
    """Out of LOSS_SCALE: how many numgen values mean "drop"."""
    if not 0 < loss_percent <= 100:
        raise ValueError(f"loss must be above 0 and at most 100 %, got {loss_percent}")
    return max(1, round(loss_percent * LOSS_SCALE / 100))


def loss_rules(direction: Direction, loss_percent: float, peers: Addresses | None,
               device: str) -> Ruleset:
    """Each matching packet is dropped independently with the given probability, on the
    wire (TCP retransmits, as after real loss). The first counter counts the packets the
    rule saw, the second those it dropped."""
    if peers is not None and not peers:
        raise ValueError("an empty peer would make the loss apply to nothing")
    n = loss_threshold(loss_percent)
    return Ruleset("netdev", {
        h: tuple(f"{m}counter numgen random mod {LOSS_SCALE} < {n} counter drop"
                 for m in _peer_matches(h, peers)) for h in wire_hooks(direction)}, device)


def dns_rules(mode: Literal["fail", "block"], device: str) -> Ruleset:
    """Queries the pod sends to port 53, over UDP and TCP. ``fail`` rejects them in the pod's
    own stack (the resolver's send fails at once); ``block`` drops them on the wire, so
    resolvers wait for their timeout."""
    if mode == "fail":
        return Ruleset("inet", {"output": ("meta l4proto udp th dport 53 counter reject",
                                           "meta l4proto tcp th dport 53 counter reject with "
                                           "tcp reset")})
    return Ruleset("netdev", {"egress": ("meta l4proto { udp, tcp } th dport 53 counter drop",)},
                   device)


def probe_rules(port: int, sources: Addresses) -> Ruleset:
    """Probe break: drop TCP to the probe port from the kubelet's addresses (the node's)."""
    if not sources:
        raise ValueError("a probe block needs the node's addresses")
    return Ruleset("inet", {"input": tuple(f"{m}tcp dport {port} counter drop"
                                           for m in _peer_matches("input", sources))})


def render(table: str, rules: Ruleset) -> str:
    """An ``nft -f`` script creating ``table`` with one base chain per hook."""
    lines = [f"table {rules.family} {table} {{"]
    for hook, body in rules.chains.items():
        device = f' device "{rules.device}"' if rules.family == "netdev" else ""
        lines += [f"  chain {hook} {{",
                  f"    type filter hook {hook}{device} priority {PRIORITY}; policy accept;"]
        if hook in _LOOPBACK:
            lines.append(f"    {_LOOPBACK[hook]}")
        lines += [f"    {r}" for r in body]
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Counters:
    matched: int  # packets the fault's rules considered
    dropped: int  # packets they dropped or rejected


def counters(listing: str) -> Counters:
    """Sum the counters of the dropping rules in ``nft list table`` output: a rule with two
    counters (packet loss) counted what it saw, then what it dropped; with one, both."""
    matched = dropped = 0
    for line in listing.splitlines():
        if not re.search(r"\b(drop|reject)\b", line):
            continue
        found = [int(x) for x in _COUNTER.findall(line)]
        if found:
            matched += found[0]
            dropped += found[-1]
    return Counters(matched, dropped)


# --- tc ----------------------------------------------------------------------------------------


def tbf_args(rate_bps: int) -> list[str]:
    """A token bucket: shaping, not policing. Packets over the rate wait in the queue (up to
    TBF_LATENCY_MS, then drop), as on a slow link, so TCP settles at the rate; a policer that
    drops at once makes TCP saw-tooth far below it. The bucket holds 10 ms of the rate, and
    at least a few full-size packets."""
    burst = max(4 * 1514, rate_bps // 8 // 100)
    return ["tbf", "rate", f"{rate_bps}bit", "burst", str(burst), "latency",
            f"{TBF_LATENCY_MS}ms"]


def netem_args(latency_s: float, jitter_s: float = 0.0) -> list[str]:
    args = ["netem", "delay", _ms(latency_s)]
    if jitter_s > 0:
        args.append(_ms(jitter_s))
    return args


def _ms(seconds: float) -> str:
    return f"{round(seconds * 1_000_000) / 1000:g}ms"


@dataclass(frozen=True, slots=True)
class Qdisc:
    kind: str
    handle: str


def root_qdisc(show: str) -> Qdisc | None:
    """The root qdisc in ``tc qdisc show dev X`` output; None when the output names none."""
    for line in show.splitlines():
        m = re.match(r"qdisc (\S+) (\S+:)\S* root\b", line.strip())
        if m:
            return Qdisc(m.group(1), m.group(2))
    return None


def ours(q: Qdisc | None) -> bool:
    return q is not None and q.handle == QDISC_HANDLE


def replaceable(q: Qdisc | None) -> bool:
    """A root we may put ours over: none, or the kernel's default (handle 0:, e.g. noqueue
    on a veth). Anyone else's qdisc is left alone: deleting it at undo would lose it."""
    return q is None or q.handle == "0:" or ours(q)


@dataclass(frozen=True, slots=True)
class QdiscStats:
    sent_bytes: int
    sent_packets: int
    dropped: int
    overlimits: int


def qdisc_stats(show: str) -> QdiscStats | None:
    """Our root qdisc's counters in ``tc -s qdisc show`` output (the line after its own)."""
    lines = show.splitlines()
    for i, line in enumerate(lines):
        if ours(root_qdisc(line)):
            for follow in lines[i + 1:i + 3]:
                m = re.search(r"Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+)",
                              follow)
                if m:
                    return QdiscStats(*(int(x) for x in m.groups()))
    return None


def default_route_dev(routes: str) -> str | None:
    """The interface of the default route in ``ip -o route show default`` output."""
    for line in routes.splitlines():
        m = re.search(r"^default\b.*?\bdev (\S+)", line.strip())
        if m:
            return m.group(1)
    return None


def netem_missing(stderr: str) -> bool:
    """tc's own words for a kernel without the netem qdisc."""
    return any(s in stderr for s in NETEM_MISSING)
