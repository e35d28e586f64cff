"""Node faults: cordon, drain, and loss of a kind node.

Each records its undo in the journal before it acts. Cordon (without a duration) and drain leave
the node cordoned when ``inject`` returns: the runner calls ``undo(ctx)`` at the end of the
experiment, and ``kube-chaos rollback`` does it after a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from chaos.clock import Deadline
from chaos.errors import InjectionFailed
from chaos.faults.base import FaultContext, FaultOutcome, implements
from chaos.faults.targets import node_targets
from chaos.faults.undo import undo_errors, undo_pending
from chaos.journal.store import UndoAction, UndoOutcome
from chaos.k8s import nodes as knodes
from chaos.k8s.observe import Snapshot
from chaos.model.experiment import Cordon, Drain, NodeLoss
from chaos.model.faults import NodeFault
from chaos.plan.drain import plan_drain

POLL_S = 1.0


def choose_nodes(ctx: FaultContext, spec: NodeFault) -> tuple[str, ...]:
    return node_targets(ctx.scope(), spec)


def _hold(ctx: FaultContext, seconds: float | None) -> float:
    """Hold for the fault's duration, never past the deadline, cut short by an abort; returns
    the time held."""
    if seconds is None:
        return 0.0
    return ctx.hold(seconds)


def _cordon_journaled(ctx: FaultContext, nodes: tuple[str, ...],
                      pending: list[UndoAction]) -> list[str]:
    """Cordon each node, journaling `uncordon` first; nodes already cordoned are left alone."""
    already: list[str] = []
    for name in nodes:
        view = knodes.get_node(ctx.kube, name)
        if view is None:
            raise InjectionFailed(f"node {name} disappeared")
        if view.unschedulable:
            already.append(name)  # not ours to uncordon later
            continue
        pending.append(ctx.record_undo("uncordon", node=name))
        ctx.emit("fault-start", name, "cordon")
        knodes.cordon(ctx.kube, name)
    return already


@implements(Cordon)
@dataclass
class CordonFault:
    spec: Cordon
    pending: list[UndoAction] = field(default_factory=list)

    def inject(self, ctx: FaultContext) -> FaultOutcome:
        outcome = FaultOutcome(type=self.spec.type, started_at=ctx.clock.wall())
        targets = choose_nodes(ctx, self.spec)
        outcome.targets = list(targets)
        try:
            already = _cordon_journaled(ctx, targets, self.pending)
        except BaseException:
            undo_pending(ctx, self.pending)
            raise
        outcome.undo = list(self.pending)
        outcome.details = {"duration_s": self.spec.duration_s, "already_cordoned": already}
        if self.spec.duration_s is not None:
            held = _hold(ctx, self.spec.duration_s)
            outcome.details["held_s"] = round(held, 3)
            outcome.details["aborted"] = ctx.aborted
            errors = undo_errors(undo_pending(ctx, self.pending))
            if errors:
                outcome.details["undo_errors"] = errors
        outcome.ended_at = ctx.clock.wall()
        return outcome

    def undo(self, ctx: FaultContext) -> list[UndoOutcome]:
        """Uncordon what this fault cordoned (idempotent); returns outcomes, never raises."""
        return undo_pending(ctx, self.pending)


@implements(Drain)
@dataclass
class DrainFault:
    spec: Drain
    pending: list[UndoAction] = field(default_factory=list)

    def inject(self, ctx: FaultContext) -> FaultOutcome:
        outcome = FaultOutcome(type=self.spec.type, started_at=ctx.clock.wall())
        targets = choose_nodes(ctx, self.spec)
        outcome.targets = list(targets)
        try:
            _cordon_journaled(ctx, targets, self.pending)
        except BaseException:
            undo_pending(ctx, self.pending)
            raise
        outcome.undo = list(self.pending)
        clock = ctx.clock
        start = clock.monotonic()
        budget = ctx.budget(self.spec.timeout_s)
        deadline = budget.end

        evicted: list[str] = []
        skipped: list[dict[str, str]] = []
        refused: list[dict[str, str]] = []
        to_evict: dict[str, tuple[str, str]] = {}  # key -> (namespace, name)
        for node in targets:
            plan = plan_drain(knodes.pods_on_node(ctx.kube, node), node)
            skipped += [{"pod": f"{d.pod.namespace}/{d.pod.name}", "node": node,
                         "reason": d.reason} for d in plan.skipped]
            refused += [{"pod": f"{d.pod.namespace}/{d.pod.name}", "node": node,
                         "reason": d.reason} for d in plan.refused]
            for p in plan.evict:
                to_evict[f"{p.namespace}/{p.name}"] = (p.namespace, p.name)
        ctx.emit("fault-start", ",".join(targets), f"drain: evicting {len(to_evict)} pod(s)")

        blocked: dict[str, knodes.EvictionResult] = {}
        waiting = dict(to_evict)
        attempts = 0
        while waiting:
            attempts += 1
            for key, (ns, name) in list(waiting.items()):
                result = knodes.evict(ctx.kube, ns, name, self.spec.grace_period_s)
                if result.status == "blocked":
                    blocked[key] = result
                    continue
                blocked.pop(key, None)
                del waiting[key]
                if result.status == "evicted":
                    evicted.append(key)
                    ctx.emit("event", key, "evicted")
                elif result.status == "namespace-terminating":
                    skipped.append({"pod": key, "node": "", "reason": "namespace terminating: "
                                    "deleted by the namespace controller (waited for)"})
            if not waiting or budget.remaining() < POLL_S:
                break
            if ctx.sleep(POLL_S):  # a refused eviction is retried, as kubectl drain does
                break  # ... unless the run is aborted

        # every pod we evicted (or found gone) must actually leave the node
        gone_by = self._wait_gone(ctx, targets, set(to_evict) - set(waiting), deadline)
        drain_seconds = (gone_by - start) if gone_by is not None and not waiting else None

        if waiting or gone_by is None:  # ended on its deadline: was it the drain's own?
            ctx.cut_short(self.spec.timeout_s, deadline - start, "drain waited")
        blocked_by = sorted({pdb for r in blocked.values() for pdb in r.pdbs})
        outcome.answer = bool(waiting)  # expectBlocked's answer
        outcome.details = {
            "blocked": outcome.answer,
            "blocked_by": blocked_by,
            "blocked_pods": sorted(waiting),
            "blocked_messages": sorted({r.message for r in blocked.values() if r.message}),
            "evicted": sorted(evicted),
            "skipped": skipped,
            "refused": refused,
            "eviction_rounds": attempts,
            "drain_seconds": None if drain_seconds is None else round(drain_seconds, 3),
            "timeout_s": self.spec.timeout_s,
            "pods_left_on_node": gone_by is None,
            "aborted": ctx.aborted,
        }
        if waiting:
            ctx.emit("event", ",".join(targets),
                     f"drain blocked by PDB {', '.join(blocked_by) or '?'}")
        outcome.ended_at = ctx.clock.wall()
        ctx.emit("fault-end", ",".join(targets),
                 "drain blocked" if waiting else f"drained in {drain_seconds or 0:.1f}s")
        return outcome

    @staticmethod
    def _wait_gone(ctx: FaultContext, nodes: tuple[str, ...], keys: set[str],
                   deadline: float) -> float | None:
        """Monotonic time at which none of ``keys`` is bound to its node; None at the deadline."""
        while True:
            left = set()
            for node in nodes:
                left |= knodes.pod_names_on_node(ctx.kube, node) & keys
            now = ctx.clock.monotonic()
            if not left:
                return now
            if now >= deadline or ctx.aborted:
                return None
            # short watches: an abort is noticed within a second
            knodes.wait_pod_change(ctx.kube, nodes, min(1.0, deadline - now))

    def undo(self, ctx: FaultContext) -> list[UndoOutcome]:
        """Uncordon the drained nodes (the runner calls this at the end of the experiment)."""
        return undo_pending(ctx, self.pending)


@implements(NodeLoss)
@dataclass
class NodeLossFault:
    """Stop (or pause) a node's machine (kind: its container, through ``ctx.node``): the kubelet
    stops reporting, like a lost machine."""

    spec: NodeLoss
    pending: list[UndoAction] = field(default_factory=list)

    def inject(self, ctx: FaultContext) -> FaultOutcome:
        rt = ctx.need_node(
            "node-loss needs the node containers of a kind cluster (docker stop/pause); "
            "the cluster name is not known, so this cluster is not supported")
        if not rt.supports(self.spec.mode):
            raise InjectionFailed(f"node-loss mode: {self.spec.mode} needs docker access to kind "
                                  f"node containers; this run reaches its nodes through "
                                  f"{rt.access}")
        outcome = FaultOutcome(type=self.spec.type, started_at=ctx.clock.wall())
        targets = choose_nodes(ctx, self.spec)
        outcome.targets = list(targets)
        for node in targets:
            if rt.state(node) is None:
                raise InjectionFailed(f"node-loss: no {rt.access} container named {node} (is "
                                      f"{ctx.cluster_name!r} a kind cluster on this host?)")
        tolerations = _workload_tolerations(ctx)
        clock = ctx.clock
        lost_at: dict[str, float] = {}
        docker_s: dict[str, float] = {}
        undo_kind = "start-node" if self.spec.mode == "stop" else "unpause-node"
        try:
            for node in targets:
                if ctx.aborted:
                    break
                # the undo waits for Ready; within this run that wait must fit the deadline
                ready_timeout = max(10.0, min(180.0, ctx.remaining() - self.spec.duration_s))
                self.pending.append(ctx.record_undo(undo_kind, node=node,
                                                    ready_timeout_s=f"{ready_timeout:.0f}"))
                ctx.emit("fault-start", node, f"node-loss ({self.spec.mode})")
                lost_at[node] = clock.monotonic()  # `docker stop` itself takes a few seconds
                proc = rt.power(node, self.spec.mode, timeout=max(30.0, ctx.remaining()))
                if proc.returncode != 0:
                    raise InjectionFailed(f"{rt.access} {self.spec.mode} {node} failed: "
                                          f"{proc.stderr.strip()}")
                docker_s[node] = round(clock.monotonic() - lost_at[node], 3)
            notready: dict[str, float] = {}
            with ctx.holding(self.spec.duration_s) as granted:
                hold = Deadline(clock, granted)
                snap = ctx.observer.snapshot()
                while True:  # the Observer records node-notready; we time it per node
                    for node in targets:
                        if node not in notready and snap.nodes.get(node) is False:
                            notready[node] = clock.monotonic() - lost_at[node]
                    if hold.expired() or ctx.aborted:  # an abort wakes wait_change
                        break
                    snap = ctx.observer.wait_change(snap.version, hold.remaining())
        finally:
            restored_at = clock.monotonic()
            outcome.undo = list(self.pending)
            errors = undo_errors(undo_pending(ctx, self.pending))
        ready_after: dict[str, float | None] = {}
        for node in targets:
            # the undo confirmed Ready already; this times it (skipped when aborted)
            ok = ctx.await_state(_node_is_ready(node), ctx.remaining())
            ready_after[node] = round(clock.monotonic() - restored_at, 3) if ok else None
        outcome.details = {
            "mode": self.spec.mode,
            "duration_s": self.spec.duration_s,
            "docker_command_s": docker_s,
            "time_to_notready_s": {n: round(v, 3) for n, v in notready.items()},
            "time_to_ready_after_restore_s": ready_after,
            "tolerations": tolerations,
            "held_s": round(restored_at - min(lost_at.values(), default=restored_at), 3),
            "aborted": ctx.aborted,
        }
        if errors:
            outcome.details["undo_errors"] = errors
        outcome.ended_at = ctx.clock.wall()
        return outcome

    def undo(self, ctx: FaultContext) -> list[UndoOutcome]:
        return undo_pending(ctx, self.pending)


def _node_is_ready(node: str) -> Callable[[Snapshot], bool]:
    return lambda snap: snap.nodes.get(node) is True


def _workload_tolerations(ctx: FaultContext) -> dict[str, int | None]:
    """not-ready / unreachable tolerationSeconds of the workload's pods (None: forever)."""
    return knodes.eviction_tolerations(ctx.kube, ctx.namespace,
                                       ctx.workload_selector.to_label_selector())
