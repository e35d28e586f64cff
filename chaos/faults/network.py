"""Network faults inside the selected pods' network namespaces: partition, packet loss and DNS
(an nftables table per pod), bandwidth and latency (a root qdisc per pod).

One shape for all of them:

1. prepare: read what the fault needs (sandbox PID, interface, peer addresses, netem) and
   refuse here, before anything is journaled or touched;
2. journal every target's undo, then act on all targets at once (threads: the pods' faults
   start within a Docker round trip of each other, not one after another);
3. hold for the duration, reading the Observer's state (never polling pods);
4. read the counters while the fault is still in place;
5. lift it on all targets at once (the fault ends as the lift begins, ``lifted_at``), then
   run the journaled undos, which confirm each pod is clean and mark the journal.

The outcome names the addresses cut and the packets the rules saw and dropped, so a run can
tell "the fault held" from "the rule matched nothing".
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ClassVar

from chaos.errors import ChaosError, InjectionFailed
from chaos.faults.base import FaultContext, FaultOutcome, implements
from chaos.faults.targets import pod_targets
from chaos.faults.undo import undo_errors, undo_pending
from chaos.journal.store import UndoAction, UndoOutcome
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
from chaos.node import netns
from chaos.node.runtime import NodeRuntime
from chaos.plan import netrules

MAX_PARALLEL = 8  # docker exec calls in flight at once


@dataclass
class _Target:
    name: str
    uid: str
    node: str
    ip: str
    pid: int = 0  # its sandbox's, whose netns is the pod's
    dev: str = ""  # its default-route interface: where rules bind and qdiscs go
    action: UndoAction | None = None


def _each(targets: list[_Target], fn: Callable[[_Target], None]) -> None:
    """``fn`` on every target concurrently; the first error is raised once all have run."""
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_PARALLEL, len(targets)))) as pool:
        futures = [pool.submit(fn, t) for t in targets]
    for f in futures:
        f.result()


def _read_each(targets: list[_Target], read: Callable[[_Target], str | None]
               ) -> dict[str, str | None]:
    """``read`` on every target concurrently; a failed read is None (a figure we lack)."""
    found: dict[str, str | None] = {}

    def one(t: _Target) -> None:
        try:
            found[t.name] = read(t)
        except ChaosError:
            found[t.name] = None

    _each(targets, one)
    return {t.name: found.get(t.name) for t in targets}


@dataclass
class _NetFault:
    """What every network fault shares: choose pods, journal, apply, hold, lift, report."""

    spec: NetworkFault
    pending: list[UndoAction] = field(default_factory=list)
    node: NodeRuntime | None = field(default=None, repr=False)  # the run's, set by inject

    def inject(self, ctx: FaultContext) -> FaultOutcome:
        spec = self.spec
        outcome = FaultOutcome(type=spec.type, started_at=ctx.clock.wall())
        self.node = ctx.need_node(f"{spec.type} acts inside pods' network namespaces on their "
                                  f"kind nodes (docker exec): it needs a kind cluster")
        running = {p.name: p for p in kpods.running_pods(ctx.kube, ctx.namespace, spec.selector)}
        names = pod_targets(ctx.scope(), spec)  # the choice the plan and blast radius saw
        targets = [_Target(n, running[n].uid, running[n].node, running[n].ip) for n in names]
        outcome.targets = list(names)
        _each(targets, self._locate)
        self.prepare(ctx, targets, outcome)  # reads only: nothing to undo if it refuses
        errors: list[str] = []
        held_s = 0.0
        try:
            before = ctx.observer.snapshot()
            for t in targets:
                t.action = ctx.record_undo(**self.undo_record(ctx, t))
                self.pending.append(t.action)
            for t in targets:
                ctx.emit("fault-start", t.name, f"{spec.type}: {self.describe(t)}")
            _each(targets, self.act)
            with ctx.holding(spec.duration_s) as granted:
                ctx.await_state(_never, granted)
            held_s = ctx.holds[-1].held_s
            self.measure(targets, outcome)
            outcome.details["targets_gone_during_fault"] = _gone(
                before, ctx.observer.snapshot(), targets)
            # the fault ends when the lift begins: figures measured from here include the
            # lift's own Docker round trips, as a user ending the fault would see them
            outcome.lifted_at = ctx.clock.wall()
            _each(targets, self._lift_quietly)
            outcome.details["lift_s"] = round(ctx.clock.wall() - outcome.lifted_at, 3)
        finally:
            outcome.undo = list(self.pending)
            errors = undo_errors(self.undo(ctx))
            if outcome.lifted_at is None:  # not held to the end: lifted by the undo itself
                outcome.lifted_at = ctx.clock.wall()
        outcome.details.update({
            "duration_s": spec.duration_s,
            "held_s": round(held_s, 3),
            # when the lift began, from the fault's start (the report's timeline axis)
            "lifted_after_s": round(outcome.lifted_at - outcome.started_at, 3),
            "nodes": {t.name: t.node for t in targets},
            "pod_ips": {t.name: t.ip for t in targets},
        })
        if errors:
            outcome.details["undo_errors"] = errors
        outcome.ended_at = ctx.clock.wall()
        return outcome

    def undo(self, ctx: FaultContext) -> list[UndoOutcome]:
        return undo_pending(ctx, self.pending, f"{self.spec.type} lifted")

    @property
    def rt(self) -> NodeRuntime:
        assert self.node is not None, "inject sets the node runtime first"
        return self.node

    def _locate(self, t: _Target) -> None:
        t.pid = netns.running_pid(self.rt, t.node, t.uid, f"pod {t.name}")
        t.dev = netns.default_dev(self.rt, t.node, t.pid)

    def _lift_quietly(self, t: _Target) -> None:
        # unconfirmed: the journaled undo that follows retries, confirms and reports
        with contextlib.suppress(ChaosError):
            self.lift(t)

    # --- what each fault type fills in ------------------------------------------------------

    def prepare(self, ctx: FaultContext, targets: list[_Target], outcome: FaultOutcome) -> None:
        """Checks and reads before anything is journaled (refusals land here)."""

    def undo_record(self, ctx: FaultContext, t: _Target) -> dict[str, str]:
        raise NotImplementedError

    def act(self, t: _Target) -> None:
        raise NotImplementedError

    def lift(self, t: _Target) -> None:
        raise NotImplementedError

    def describe(self, t: _Target) -> str:
        return self.spec.type

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

    def table(self, t: _Target) -> str:
        return netrules.table_name(self.kind, t.name)

    def family(self, t: _Target) -> str:
        return self.rules(t).family

    def undo_record(self, ctx: FaultContext, t: _Target) -> dict[str, str]:
        return {"kind": "delete-nft-table", "node": t.node, "pod": t.name, "pod_uid": t.uid,
                "table": self.table(t), "family": self.family(t), "namespace": ctx.namespace}

    def act(self, t: _Target) -> None:
        rules = self.rules(t)
        netns.load_table(self.rt, t.node, t.pid, self.table(t),
                         netrules.render(self.table(t), rules), rules.family)

    def lift(self, t: _Target) -> None:
        netns.drop_table(self.rt, t.node, t.pid, self.table(t), self.family(t))

    def measure(self, targets: list[_Target], outcome: FaultOutcome) -> None:
        listings = _read_each(targets, lambda t: netns.read_table(
            self.rt, t.node, t.pid, self.table(t), self.family(t)))
        found = {n: netrules.counters(text) if text is not None else None
                 for n, text in listings.items()}
        outcome.details["matched_packets"] = {n: c.matched if c else None for n, c in found.items()}
        outcome.details["dropped_packets"] = {n: c.dropped if c else None for n, c in found.items()}


def _resolve_peer(ctx: FaultContext, peer: Peer, targets: list[_Target],
                  outcome: FaultOutcome) -> dict[str, netrules.Addresses]:
    """The peer's addresses for each target (never the target's own IP)."""
    raw = kpeers.resolve(ctx.kube, ctx.namespace, peer)
    try:
        per = {t.name: netrules.Addresses.of(raw, exclude=[t.ip]) for t in targets}
        every = netrules.Addresses.of(raw).all()
    except ValueError as exc:
        raise InjectionFailed(f"peer {peer.describe()}: {exc}") from exc
    outcome.details["peer"] = peer.describe()
    outcome.details["peer_addresses"] = every
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

    def rules(self, t: _Target) -> netrules.Ruleset:
        return netrules.partition_rules(self.spec.direction, self.peers[t.name], t.dev)

    def describe(self, t: _Target) -> str:
        return f"{self.spec.direction} with {self.spec.peer.describe()} dropped on {t.dev}"


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

    def rules(self, t: _Target) -> netrules.Ruleset:
        peers = self.peers[t.name] if self.spec.peer is not None else None
        return netrules.loss_rules(self.spec.direction, self.spec.loss, peers, t.dev)

    def describe(self, t: _Target) -> str:
        peer = self.spec.peer.describe() if self.spec.peer is not None else "all traffic"
        return f"{self.spec.loss:g} % of {self.spec.direction} packets ({peer}) dropped on {t.dev}"

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

    def rules(self, t: _Target) -> netrules.Ruleset:
        return netrules.dns_rules(self.spec.mode, t.dev)

    def describe(self, t: _Target) -> str:
        return "queries rejected" if self.spec.mode == "fail" else f"queries dropped on {t.dev}"


# --- qdisc faults --------------------------------------------------------------------------------


@dataclass
class _QdiscFault(_NetFault):
    def qdisc(self) -> list[str]:
        raise NotImplementedError

    def prepare(self, ctx: FaultContext, targets: list[_Target], outcome: FaultOutcome) -> None:
        _each(targets, lambda t: netns.check_root_free(self.rt, t.node, t.pid, t.dev))
        outcome.details["qdisc"] = " ".join(self.qdisc())

    def undo_record(self, ctx: FaultContext, t: _Target) -> dict[str, str]:
        return {"kind": "delete-qdisc", "node": t.node, "pod": t.name, "pod_uid": t.uid,
                "dev": t.dev, "namespace": ctx.namespace}

    def act(self, t: _Target) -> None:
        netns.set_root_qdisc(self.rt, t.node, t.pid, t.dev, self.qdisc())

    def lift(self, t: _Target) -> None:
        netns.drop_root_qdisc(self.rt, t.node, t.pid, t.dev)

    def describe(self, t: _Target) -> str:
        return f"{' '.join(self.qdisc())} on {t.dev}"

    def measure(self, targets: list[_Target], outcome: FaultOutcome) -> None:
        texts = _read_each(targets,
                           lambda t: netns.qdisc_stats(self.rt, t.node, t.pid, t.dev))
        stats = {n: netrules.qdisc_stats(text) if text is not None else None
                 for n, text in texts.items()}
        outcome.details["sent_bytes"] = {n: s.sent_bytes if s else None for n, s in stats.items()}
        outcome.details["dropped_packets"] = {n: s.dropped if s else None
                                              for n, s in stats.items()}


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
            why = netns.netem_unavailable(self.rt, node)
            if why is not None:
                raise InjectionFailed(f"latency refused, nothing was injected: {why}")
        super().prepare(ctx, targets, outcome)
