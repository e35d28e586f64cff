"""Loss of control-plane nodes of a kind cluster: their containers paused or stopped, taking
an API server, an etcd member, a controller-manager and a scheduler each.

As node-loss: each node's undo (unpause-node or start-node, which confirm the container runs
and the node is Ready) is journaled before that node is touched, so `kube-chaos rollback` puts
it back after a crash. Here every lost node is first brought back at once, then the undos
confirm each: one at a time would keep etcd without quorum while the first one's Ready is
awaited. Stopped nodes are started in the order of their addresses on kind's network: Docker
hands a restarted container the lowest free address, and an etcd member that comes back on
another member's address cannot rejoin.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from chaos.errors import ClusterError, InjectionFailed
from chaos.faults.base import FaultContext, FaultOutcome, implements
from chaos.faults.targets import control_plane_targets
from chaos.faults.undo import undo_errors, undo_pending
from chaos.journal.store import UndoAction, UndoOutcome
from chaos.model.faults import ControlPlaneLoss
from chaos.node.runtime import RESTORE, LossMode, NodeRuntime
from chaos.plan.quorum import quorum_kept


def restart_order(addresses: dict[str, str]) -> list[str]:
    """Nodes by ascending address (those without one last, by name)."""
    def key(node: str) -> tuple[int, int, str]:
        try:
            return (0, int(ipaddress.ip_address(addresses.get(node, ""))), node)
        except ValueError:
            return (1, 0, node)
    return sorted(addresses, key=key)


@implements(ControlPlaneLoss)
@dataclass
class ControlPlaneLossFault:
    spec: ControlPlaneLoss
    pending: list[UndoAction] = field(default_factory=list)

    def inject(self, ctx: FaultContext) -> FaultOutcome:
        spec = self.spec
        rt = ctx.need_node(
            "control-plane-loss needs the node containers of a kind cluster (docker "
            "pause/stop); the cluster name is not known, so this cluster is not supported")
        if not rt.supports(spec.mode):
            raise InjectionFailed(f"control-plane-loss mode: {spec.mode} needs docker access to "
                                  f"kind node containers; this run reaches its nodes through "
                                  f"{rt.access}")
        outcome = FaultOutcome(type=spec.type, started_at=ctx.clock.wall())
        targets, members = control_plane_targets(ctx.scope(), spec)
        outcome.targets = list(targets)
        for node in targets:
            state = rt.state(node)
            if state is None or state.status != "running":
                raise InjectionFailed(f"control-plane-loss: container {node} is not running "
                                      f"(is {ctx.cluster_name!r} a kind cluster on this host?)")
        addresses = {node: rt.address(node) for node in targets}
        clock = ctx.clock
        lost_at: dict[str, float] = {}
        docker_s: dict[str, float] = {}
        undo_kind = "start-node" if spec.mode == "stop" else "unpause-node"
        order = restart_order(addresses)
        try:
            # every undo journaled and every node announced (an Event, through the API) while
            # the whole control plane answers; then the nodes are lost back to back: an API
            # call between two losses may hang on the first lost API server
            ready_timeout = max(30.0, min(240.0, ctx.remaining() - spec.duration_s))
            for node in order:
                self.pending.append(ctx.record_undo(undo_kind, node=node,
                                                    ready_timeout_s=f"{ready_timeout:.0f}"))
            for node in order:
                ctx.emit("fault-start", node, f"control-plane-loss ({spec.mode})")
            for node in order:
                if ctx.aborted:
                    break
                lost_at[node] = clock.monotonic()
                proc = rt.power(node, spec.mode, timeout=max(30.0, ctx.remaining()))
                if proc.returncode != 0:
                    raise InjectionFailed(f"{rt.access} {spec.mode} {node} failed: "
                                          f"{proc.stderr.strip()}")
                docker_s[node] = round(clock.monotonic() - lost_at[node], 3)
            if lost_at:
                ctx.hold(spec.duration_s)
        finally:
            restored_at = clock.monotonic()
            outcome.lifted_at = ctx.clock.wall()
            restore_errors = self._restore_all(rt, spec.mode, addresses, lost_at)
            outcome.undo = list(self.pending)
            errors = undo_errors(undo_pending(ctx, self.pending, f"control-plane-loss undone "
                                                                 f"({spec.mode})"))
            back_s = round(clock.monotonic() - restored_at, 3)
        after = {node: rt.address(node) for node in lost_at} if spec.mode == "stop" else {}
        outcome.details = {
            "mode": spec.mode,
            "duration_s": spec.duration_s,
            "control_planes": len(members),
            "lost": len(lost_at),
            "quorum_kept": quorum_kept(len(members), len(lost_at)),
            "docker_command_s": docker_s,
            "held_s": round(restored_at - min(lost_at.values(), default=restored_at), 3),
            # every lost node running again and confirmed Ready by the undos
            "back_ready_after_restore_s": back_s,
            "addresses": addresses,
            "aborted": ctx.aborted,
        }
        if after:
            outcome.details["addresses_changed"] = sorted(
                n for n in after if after[n] and after[n] != addresses.get(n))
        if restore_errors or errors:
            outcome.details["undo_errors"] = [*restore_errors, *errors]
        outcome.ended_at = ctx.clock.wall()
        return outcome

    @staticmethod
    def _restore_all(rt: NodeRuntime, mode: LossMode, addresses: dict[str, str],
                     lost_at: dict[str, float]) -> list[str]:
        """Unpause (or start, in address order) every lost node now; the journaled undos then
        confirm each. Failures are returned, never raised: the undos retry and report them."""
        verb = RESTORE[mode]
        problems = []
        for node in restart_order({n: addresses.get(n, "") for n in lost_at}):
            try:
                info = rt.state(node)
            except ClusterError as exc:
                problems.append(f"{node}: {exc}")
                continue
            if info is None or (info.up and not info.paused):
                continue
            proc = rt.power(node, verb, timeout=120)
            if proc.returncode != 0:
                problems.append(f"{rt.access} {verb} {node}: {proc.stderr.strip()}")
        return problems

    def undo(self, ctx: FaultContext) -> list[UndoOutcome]:
        return undo_pending(ctx, self.pending)
