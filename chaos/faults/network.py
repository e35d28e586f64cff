"""Network faults inside the selected pods' network namespaces: partition, packet loss and DNS
(an nftables table per pod), bandwidth and latency (a root qdisc per pod).

Each one journals its undo per pod before it touches that pod, holds for its duration, then
lifts itself (table deleted, or qdisc removed, and confirmed by listing again). What it did is
in the outcome: the addresses it cut, and the packets its rules saw and dropped, read just
before the undo, so an experiment can tell "the fault held" from "the rule matched nothing".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar

from chaos.errors import ChaosError, InjectionFailed
from chaos.faults.base import FaultContext, FaultOutcome, implements
from chaos.faults.undo import undo_errors, undo_pending
from chaos.journal import UndoAction, UndoOutcome
from chaos.k8s import netns
from chaos.k8s import peers as kpeers
from chaos.k8s import pods as kpods
from chaos.k8s.observe import Snapshot
from chaos.model.experiment import (
    Bandwidth,
    Dns,
    Latency,
    NetworkFault,
    PacketLoss,
    Partition,
    Peer,
)
from chaos.model.netvalues import format_rate
from chaos.plan import netrules
from chaos.plan.select import choose


@dataclass
class _Target:
    name: str
    uid: str
    node: str
    ip: str
    action: UndoAction | None = None
    dev: str = ""  # the pod's interface, where its rules bind or its qdisc goes


@dataclass
class _NetFault:
    """What every network fault shares: choose pods, journal, apply, hold, lift, report."""

    spec: NetworkFault
    pending: list[UndoAction] = field(default_factory=list)
    what: ClassVar[str] = ""  # for the timeline

    def inject(self, ctx: FaultContext) -> FaultOutcome:
        spec = self.spec
        outcome = FaultOutcome(type=spec.type)
        if not ctx.cluster_name:
            raise InjectionFailed(f"{spec.type} acts inside pods' network namespaces on their "
                                  f"kind nodes (docker exec): it needs a kind cluster")
        running = {p.name: p for p in kpods.running_pods(ctx.kube, ctx.namespace, spec.selector)}
        names = choose(list(running), seed=ctx.seed, salt=f"fault-{ctx.index}:{spec.type}",
                       count=spec.count, percent=spec.percent)
        targets = [_Target(n, running[n].uid, running[n].node, running[n].ip) for n in names]
        outcome.targets = list(names)
        self.prepare(ctx, targets, outcome)  # reads only: nothing to undo if it refuses
        errors: list[str] = []
        held_s = 0.0
        try:
            before = ctx.observer.snapshot()
            for t in targets:
                self.apply(ctx, t)
            applied = ctx.clock.monotonic()
            ctx.await_state(_never, min(spec.duration_s, ctx.remaining()))
            held_s = ctx.clock.monotonic() - applied
            self.measure(targets, outcome)
            outcome.details["targets_gone_during_fault"] = _gone(
                before, ctx.observer.snapshot(), targets)
        finally:
            outcome.undo = list(self.pending)
            errors = undo_errors(self.undo(ctx))
            outcome.lifted_at = time.time()
        outcome.details.update({
            "duration_s": spec.duration_s,
            "held_s": round(held_s, 3),
            "nodes": {t.name: t.node for t in targets},
            "pod_ips": {t.name: t.ip for t in targets},
        })
        if errors:
            outcome.details["undo_errors"] = errors
        outcome.ended_at = time.time()
        return outcome

    def undo(self, ctx: FaultContext) -> list[UndoOutcome]:
        return undo_pending(ctx, self.pending, f"{self.spec.type} lifted")

    # --- what each fault type fills in ------------------------------------------------------

    def prepare(self, ctx: FaultContext, targets: list[_Target], outcome: FaultOutcome) -> None:
        """Checks and reads before anything is journaled (refusals land here)."""

    def apply(self, ctx: FaultContext, t: _Target) -> None:
        raise NotImplementedError

    def measure(self, targets: list[_Target], outcome: FaultOutcome) -> None:
        """Read the fault's counters while it is still in place."""


def _never(_: Snapshot) -> bool:
    return False


def _gone(before: Snapshot, after: Snapshot, targets: list[_Target]) -> list[str]:
    """Targets deleted or replaced during the fault (their netns, and the fault, went with
    them). Only pods the Observer watched from the start can be told."""
    out = []
    for t in targets:
        seen = before.pods.get(t.name)
        if seen is None or seen.uid != t.uid:
            continue
        now = after.pods.get(t.name)
        if now is None or now.uid != t.uid:
            out.append(t.name)
    return out


# --- nftables faults ----------------------------------------------------------------------------


@dataclass
class _TableFault(_NetFault):
    kind: ClassVar[str] = ""  # table name part

    def rules(self, t: _Target) -> netrules.Ruleset:
        raise NotImplementedError

    def prepare(self, ctx: FaultContext, targets: list[_Target], outcome: FaultOutcome) -> None:
        for t in targets:
            t.dev = netns.pod_dev(t.node, t.uid)

    def apply(self, ctx: FaultContext, t: _Target) -> None:
        table = netrules.table_name(self.kind, t.name)
        rules = self.rules(t)
        t.action = ctx.record_undo("delete-nft-table", node=t.node, pod=t.name, pod_uid=t.uid,
                                   table=table, family=rules.family, namespace=ctx.namespace)
        self.pending.append(t.action)
        ctx.emit("fault-start", t.name, f"{self.spec.type}: {self.describe()}")
        netns.apply_table(t.node, t.uid, table, netrules.render(table, rules), rules.family)

    def describe(self) -> str:
        return self.spec.type

    def measure(self, targets: list[_Target], outcome: FaultOutcome) -> None:
        matched: dict[str, int | None] = {}
        dropped: dict[str, int | None] = {}
        for t in targets:
            family = t.action.params.get("family", "inet") if t.action else "inet"
            try:
                listing = netns.list_table(t.node, t.uid, netrules.table_name(self.kind, t.name),
                                           family)
            except ChaosError:
                listing = None
            found = netrules.counters(listing) if listing is not None else None
            matched[t.name] = found.matched if found else None
            dropped[t.name] = found.dropped if found else None
        outcome.details["matched_packets"] = matched
        outcome.details["dropped_packets"] = dropped


def _resolve_peer(ctx: FaultContext, peer: Peer, targets: list[_Target],
                  outcome: FaultOutcome) -> dict[str, netrules.Addresses]:
    """The peer's addresses for each target (never the target's own IP)."""
    raw = kpeers.resolve(ctx.kube, ctx.namespace, peer)
    try:
        per = {t.name: netrules.Addresses.of(raw, exclude=[t.ip]) for t in targets}
    except ValueError as exc:
        raise InjectionFailed(f"peer {peer.describe()}: {exc}") from exc
    outcome.details["peer"] = peer.describe()
    outcome.details["peer_addresses"] = netrules.Addresses.of(raw).all()
    empty = [n for n, a in per.items() if not a]
    if empty:
        raise InjectionFailed(f"peer {peer.describe()} resolves to no address (other than the "
                              f"target's own) for {', '.join(empty)}: the fault would do nothing")
    return per


@implements(Partition)
@dataclass
class PartitionFault(_TableFault):
    spec: Partition
    kind: ClassVar[str] = "partition"
    peers: dict[str, netrules.Addresses] = field(default_factory=dict)

    def prepare(self, ctx: FaultContext, targets: list[_Target], outcome: FaultOutcome) -> None:
        self.peers = _resolve_peer(ctx, self.spec.peer, targets, outcome)
        outcome.details["direction"] = self.spec.direction
        super().prepare(ctx, targets, outcome)

    def rules(self, t: _Target) -> netrules.Ruleset:
        return netrules.partition_rules(self.spec.direction, self.peers[t.name], t.dev)

    def describe(self) -> str:
        return f"{self.spec.direction} with {self.spec.peer.describe()} dropped"


@implements(PacketLoss)
@dataclass
class PacketLossFault(_TableFault):
    spec: PacketLoss
    kind: ClassVar[str] = "loss"
    peers: dict[str, netrules.Addresses] = field(default_factory=dict)

    def prepare(self, ctx: FaultContext, targets: list[_Target], outcome: FaultOutcome) -> None:
        if self.spec.peer is not None:
            self.peers = _resolve_peer(ctx, self.spec.peer, targets, outcome)
        outcome.details["loss_percent"] = self.spec.loss
        outcome.details["direction"] = self.spec.direction
        super().prepare(ctx, targets, outcome)

    def rules(self, t: _Target) -> netrules.Ruleset:
        peers = self.peers[t.name] if self.spec.peer is not None else None
        return netrules.loss_rules(self.spec.direction, self.spec.loss, peers, t.dev)

    def describe(self) -> str:
        peer = self.spec.peer.describe() if self.spec.peer is not None else "all traffic"
        return f"{self.spec.loss:g} % of {self.spec.direction} packets ({peer}) dropped"

    def measure(self, targets: list[_Target], outcome: FaultOutcome) -> None:
        super().measure(targets, outcome)
        matched = outcome.details["matched_packets"]
        dropped = outcome.details["dropped_packets"]
        assert isinstance(matched, dict) and isinstance(dropped, dict)
        outcome.details["observed_loss_percent"] = {
            n: round(100.0 * dropped[n] / m, 2) if m and dropped.get(n) is not None else None
            for n, m in matched.items()}


@implements(Dns)
@dataclass
class DnsFault(_TableFault):
    spec: Dns
    kind: ClassVar[str] = "dns"

    def prepare(self, ctx: FaultContext, targets: list[_Target], outcome: FaultOutcome) -> None:
        outcome.details["mode"] = self.spec.mode
        super().prepare(ctx, targets, outcome)

    def rules(self, t: _Target) -> netrules.Ruleset:
        return netrules.dns_rules(self.spec.mode, t.dev)

    def describe(self) -> str:
        return "queries rejected" if self.spec.mode == "fail" else "queries dropped"


# --- qdisc faults --------------------------------------------------------------------------------


@dataclass
class _QdiscFault(_NetFault):
    def qdisc(self) -> list[str]:
        raise NotImplementedError

    def prepare(self, ctx: FaultContext, targets: list[_Target], outcome: FaultOutcome) -> None:
        for t in targets:
            t.dev = netns.root_qdisc_dev(t.node, t.uid)
        outcome.details["qdisc"] = " ".join(self.qdisc())

    def apply(self, ctx: FaultContext, t: _Target) -> None:
        t.action = ctx.record_undo("delete-qdisc", node=t.node, pod=t.name, pod_uid=t.uid,
                                   dev=t.dev, namespace=ctx.namespace)
        self.pending.append(t.action)
        ctx.emit("fault-start", t.name, f"{self.spec.type}: {' '.join(self.qdisc())} on {t.dev}")
        netns.set_root_qdisc(t.node, t.uid, t.dev, self.qdisc())

    def measure(self, targets: list[_Target], outcome: FaultOutcome) -> None:
        sent: dict[str, int | None] = {}
        dropped: dict[str, int | None] = {}
        for t in targets:
            try:
                text = netns.qdisc_stats(t.node, t.uid, t.dev)
            except ChaosError:
                text = None
            stats = netrules.qdisc_stats(text) if text is not None else None
            sent[t.name] = stats.sent_bytes if stats else None
            dropped[t.name] = stats.dropped if stats else None
        outcome.details["sent_bytes"] = sent
        outcome.details["dropped_packets"] = dropped


@implements(Bandwidth)
@dataclass
class BandwidthFault(_QdiscFault):
    """Egress only: a qdisc shapes what an interface sends. Shaping what a pod receives would
    need an ifb device this kernel may not have; apply the fault to the sending pods instead."""

    spec: Bandwidth

    def qdisc(self) -> list[str]:
        return netrules.tbf_args(self.spec.rate_bps)

    def prepare(self, ctx: FaultContext, targets: list[_Target], outcome: FaultOutcome) -> None:
        super().prepare(ctx, targets, outcome)
        outcome.details["rate"] = format_rate(self.spec.rate_bps)


@implements(Latency)
@dataclass
class LatencyFault(_QdiscFault):
    """tc netem, where the node's kernel has it. Where it does not, the fault is refused
    before anything is journaled or touched: delaying packets any other way (a userspace
    proxy, dropping to force retransmits) would measure something else under its name."""

    spec: Latency

    def qdisc(self) -> list[str]:
        return netrules.netem_args(self.spec.latency_s, self.spec.jitter_s)

    def prepare(self, ctx: FaultContext, targets: list[_Target], outcome: FaultOutcome) -> None:
        for node in sorted({t.node for t in targets}):
            why = netns.netem_unavailable(node)
            if why is not None:
                raise InjectionFailed(f"latency refused, nothing was injected: {why}")
        super().prepare(ctx, targets, outcome)
