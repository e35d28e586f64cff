"""Pod kill and container kill.

Neither has an undo: the workload's controllers are what we are testing, and
they put things back. They are still journaled (as `none`) so a report and a
rollback show what happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from chaos.errors import InjectionFailed
from chaos.faults.base import FaultContext, FaultOutcome, implements
from chaos.faults.targets import pod_targets
from chaos.journal.store import UndoOutcome
from chaos.k8s import pods as kpods
from chaos.model.experiment import ContainerKill, PodKill
from chaos.node import tasks


@implements(PodKill)
@dataclass
class PodKillFault:
    spec: PodKill

    def inject(self, ctx: FaultContext) -> FaultOutcome:
        outcome = FaultOutcome(type=self.spec.type, started_at=ctx.clock.wall())
        for round_no in range(self.spec.repeat):
            if ctx.aborted:
                break
            if round_no:
                wait = self.spec.interval_s or 0.0
                if wait > ctx.remaining():
                    raise InjectionFailed(
                        f"pod-kill: round {round_no + 1} would start after the deadline"
                    )
                if ctx.sleep(wait):
                    break  # aborted: no further round
            targets = pod_targets(ctx.scope(), self.spec, round_no)
            grace = self.spec.grace_period_s
            for name in targets:
                ctx.emit("fault-start", name,
                         f"pod-kill grace={'default' if grace is None else grace}")
                kpods.delete_pod(ctx.kube, ctx.namespace, name, grace)
                outcome.targets.append(name)
        outcome.details = {"grace_period_s": self.spec.grace_period_s,
                           "rounds": self.spec.repeat, "interval_s": self.spec.interval_s}
        outcome.ended_at = ctx.clock.wall()
        ctx.emit("fault-end", ",".join(outcome.targets), "pod-kill")
        return outcome

    def undo(self, ctx: FaultContext) -> list[UndoOutcome]:
        """Nothing to put back: the ReplicaSet (what we test) replaces the pods."""
        return []


@implements(ContainerKill)
@dataclass
class ContainerKillFault:
    """Kill a container's main process so the kubelet restarts it in place.

    On kind we signal the task through the node's containerd (`ctr task kill`),
    which is exactly a process dying: same pod UID, restartCount + 1.
    """

    spec: ContainerKill

    def inject(self, ctx: FaultContext) -> FaultOutcome:
        rt = ctx.need_node(
            "container-kill needs access to the node's container runtime; it is supported "
            "on kind clusters (the node containers must be reachable with docker exec)")
        outcome = FaultOutcome(type=self.spec.type, started_at=ctx.clock.wall())
        by_name = {p.name: p for p in kpods.running_pods(ctx.kube, ctx.namespace,
                                                         self.spec.selector)}
        targets = pod_targets(ctx.scope(), self.spec)
        for name in targets:
            pod = by_name[name]
            container = self.spec.container or pod.containers[0]
            cid = pod.container_ids.get(container)
            if not cid:
                raise InjectionFailed(f"container-kill: {name} has no running container "
                                      f"{container!r} (containers: {', '.join(pod.containers)})")
            ctx.emit("fault-start", name, f"container-kill {container} SIG{self.spec.signal}")
            tasks.kill_container(rt, pod.node, cid, self.spec.signal)
            outcome.targets.append(f"{name}/{container}")
            outcome.details.setdefault("restart_count_before", {})[name] = (  # type: ignore[index]
                pod.restart_counts.get(container, 0))
            outcome.details.setdefault("pod_uid", {})[name] = pod.uid  # type: ignore[index]
        outcome.ended_at = ctx.clock.wall()
        ctx.emit("fault-end", ",".join(outcome.targets), "container-kill")
        return outcome

    def undo(self, ctx: FaultContext) -> list[UndoOutcome]:
        """Nothing to put back: the kubelet (what we test) restarts the container."""
        return []
