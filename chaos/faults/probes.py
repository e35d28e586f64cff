"""Probe break: make a readiness, liveness or startup probe fail without killing the pod.

``admin`` asks our workload to fail the probe (cooperative, any probe handler); ``network`` drops
the kubelet's probe traffic inside the pod's network namespace (any workload, no pod-spec change,
HTTP and TCP probes only). Either way the undo is journaled before the break, and the figures
Kubernetes produced (endpoints left/rejoined, restart and its latency) are recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chaos.errors import InjectionFailed
from chaos.faults.base import FaultContext, FaultOutcome, implements
from chaos.faults.targets import pod_targets
from chaos.faults.undo import undo_errors, undo_pending
from chaos.journal.store import UndoAction, UndoOutcome
from chaos.k8s import pods as kpods
from chaos.k8s import probes as kprobes
from chaos.model.experiment import ProbeBreak
from chaos.node import netns, tasks

REJOIN_WAIT_S = 60.0
NETWORK_NEEDS_NODE = ("probe-break network mode needs the node containers of a kind cluster "
                      "(docker exec); use method: admin")
PROBES = ("readiness", "liveness", "startup")


@dataclass
class _Target:
    name: str
    uid: str
    node: str
    settings: kprobes.ProbeSettings
    restarts_before: int
    action: UndoAction | None = None
    left_endpoints_s: float | None = None
    rejoined_endpoints_s: float | None = None
    restarted_s: float | None = None
    restarts_after: int | None = None
    broken_at: float = 0.0
    broken_wall: float = 0.0


@implements(ProbeBreak)
@dataclass
class ProbeBreakFault:
    spec: ProbeBreak
    pending: list[UndoAction] = field(default_factory=list)

    def inject(self, ctx: FaultContext) -> FaultOutcome:
        spec = self.spec
        outcome = FaultOutcome(type=spec.type, started_at=ctx.clock.wall())
        if spec.method == "network":
            ctx.need_node(NETWORK_NEEDS_NODE)
        running = {p.name: p for p in kpods.running_pods(ctx.kube, ctx.namespace, spec.selector)}
        names = pod_targets(ctx.scope(), spec)
        warnings: list[str] = []
        targets = [self._prepare(ctx, running[n].name, warnings) for n in names]
        outcome.targets = [t.name for t in targets]
        clock = ctx.clock
        errors: list[str] = []
        try:
            for t in targets:
                self._break(ctx, t)
            broken_at = clock.monotonic()
            for t in targets:
                t.broken_at = broken_at
                t.broken_wall = ctx.clock.wall()
            with ctx.holding(spec.duration_s) as granted:
                self._observe(ctx, targets, broken_at, broken_at + granted, phase="break")
        finally:
            cleared_at = clock.monotonic()
            outcome.undo = list(self.pending)
            errors = undo_errors(self.undo(ctx))
        rejoin_end = cleared_at + max(0.0, min(REJOIN_WAIT_S, ctx.remaining()))
        self._observe(ctx, targets, cleared_at, rejoin_end, phase="rejoin")
        predicted = None
        window: list[int] | None = None
        kill_decided: dict[str, float | None] = {}
        if spec.probe in ("liveness", "startup"):
            # startup: counted from the break, which also restarts the container (≈ same time)
            s = targets[0].settings
            predicted = s.initial_delay_s + s.period_s * s.failure_threshold
            # from the break, on the kubelet's probe grid: the first failing probe comes
            # 0..period later, a timed-out (network) probe registers timeoutSeconds later still
            window = [(s.failure_threshold - 1) * s.period_s,
                      s.failure_threshold * s.period_s + s.timeout_s]
            for t in targets:
                # the kubelet's "Killing ... failed liveness probe" event: the decision, before
                # the container's graceful stop and the new start that bumps restartCount
                kills = kprobes.event_times(ctx.kube, ctx.namespace, t.name, "Killing",
                                            t.broken_wall)
                kill_decided[t.name] = round(kills[0] - t.broken_wall, 3) if kills else None
        outcome.details = {
            "probe": spec.probe,
            "method": spec.method,
            "duration_s": spec.duration_s,
            "probe_settings": {t.name: t.settings.as_dict() for t in targets},
            "predicted_restart_latency_s": predicted,
            "predicted_kill_window_s": window,
            "observed_restart_latency_s": {t.name: _r(t.restarted_s) for t in targets},
            "kill_decided_after_s": kill_decided,
            "restart_count_before": {t.name: t.restarts_before for t in targets},
            "restart_count_after": {t.name: t.restarts_after for t in targets},
            "forced_restart_into_startup": spec.probe == "startup",
            "left_endpoints_after_s": {t.name: _r(t.left_endpoints_s) for t in targets},
            "rejoined_endpoints_after_clear_s": {t.name: _r(t.rejoined_endpoints_s)
                                                 for t in targets},
            "warnings": warnings,
            "aborted": ctx.aborted,
        }
        if errors:
            outcome.details["undo_errors"] = errors
        outcome.ended_at = ctx.clock.wall()
        return outcome

    def undo(self, ctx: FaultContext) -> list[UndoOutcome]:
        return undo_pending(ctx, self.pending, f"probe-break {self.spec.probe} cleared")

    # --- steps ---------------------------------------------------------------------------------

    def _prepare(self, ctx: FaultContext, name: str, warnings: list[str]) -> _Target:
        spec = self.spec
        pod = kprobes.read_pod(ctx.kube, ctx.namespace, name)
        if pod is None:
            raise InjectionFailed(f"probe-break: pod {name} disappeared")
        settings = kprobes.probe_settings(pod, spec.probe)
        if settings is None:
            raise InjectionFailed(f"probe-break: pod {name} has no {spec.probe} probe")
        if spec.method == "network":
            if settings.handler in ("exec", "grpc"):
                raise InjectionFailed(
                    f"probe-break network mode cannot break an {settings.handler} probe "
                    f"({name} {spec.probe}); use method: admin")
            if settings.port is None:
                raise InjectionFailed(f"probe-break: cannot resolve the {spec.probe} probe port "
                                      f"of {name}")
            sharing = [p for p in PROBES if p != spec.probe
                       and (o := kprobes.probe_settings(pod, p)) is not None
                       and o.port == settings.port]
            if sharing:
                warnings.append(
                    f"{name}: the {spec.probe} probe shares port {settings.port} with the "
                    f"{' and '.join(sharing)} probe(s): blocking it breaks them too")
        if spec.probe == "startup" and spec.method != "network":
            raise InjectionFailed(
                "probe-break startup needs method: network: a startup probe only runs after a "
                "container (re)start, and the workload's admin state does not survive one")
        return _Target(name=name, uid=pod.metadata.uid, node=pod.spec.node_name or "",
                       settings=settings, restarts_before=kprobes.restart_count(pod))

    def _break(self, ctx: FaultContext, t: _Target) -> None:
        spec = self.spec
        port = t.settings.port or _first_port(ctx, t.name)
        if spec.method == "admin":
            # uid and restart count let the undo tell a replaced pod or a restarted container
            # (neither carries the break) from an admin endpoint that just does not answer
            t.action = ctx.record_undo("clear-admin-probe", pod=t.name, namespace=ctx.namespace,
                                       port=str(port), probe=spec.probe, pod_uid=t.uid,
                                       restarts=str(t.restarts_before))
            self.pending.append(t.action)
            ctx.emit("fault-start", t.name, f"probe-break {spec.probe} (admin)")
            kprobes.admin_call(ctx.kube, ctx.namespace, t.name, port, "fail", spec.probe, 0)
        else:
            table = kprobes.table_name(t.name)
            t.action = ctx.record_undo("unblock-probe", node=t.node, pod=t.name,
                                       pod_uid=t.uid, table=table, namespace=ctx.namespace)
            self.pending.append(t.action)
            ctx.emit("fault-start", t.name, f"probe-break {spec.probe} (network, port {port})")
            rt = ctx.need_node(NETWORK_NEEDS_NODE)
            netns.block_probe(rt, t.node, t.uid, table, port, netns.node_addresses(rt, t.node))
            if spec.probe == "startup":
                self._restart_into_startup(ctx, t)

    @staticmethod
    def _restart_into_startup(ctx: FaultContext, t: _Target) -> None:
        """A startup probe runs only until it first succeeds, so a running container has none.
        Kill its main process (the pod and its network namespace, with the block, survive):
        the kubelet restarts it, its startup probe now never passes, and Kubernetes must kill
        and restart it again after initialDelaySeconds + periodSeconds x failureThreshold."""
        pod = kprobes.read_pod(ctx.kube, ctx.namespace, t.name)
        view = kpods.view(pod) if pod is not None else None
        cid = next(iter(view.container_ids.values()), None) if view is not None else None
        if view is None or cid is None:
            raise InjectionFailed(f"probe-break startup: {t.name} has no running container")
        ctx.emit("event", t.name, "probe-break startup: container restarted into its startup "
                                  "probe")
        tasks.kill_container(ctx.need_node(NETWORK_NEEDS_NODE), view.node, cid, "KILL")

    def _observe(self, ctx: FaultContext, targets: list[_Target], since: float, until: float,
                 phase: str) -> None:
        """Follow the Observer's state (endpoints, restart counts) until ``until`` or, rejoining,
        until every target is back; the Observer records the events themselves."""
        clock = ctx.clock
        snap = ctx.observer.snapshot()
        while True:
            now = clock.monotonic()
            for t in targets:
                pod = snap.pods.get(t.name)
                if pod is not None and pod.uid == t.uid:
                    t.restarts_after = pod.restarts
                    if t.restarted_s is None and pod.restarts > t.restarts_before:
                        t.restarted_s = now - t.broken_at
                if phase == "break" and t.left_endpoints_s is None \
                        and t.name not in snap.endpoints:
                    t.left_endpoints_s = now - since
                if phase == "rejoin" and t.rejoined_endpoints_s is None \
                        and t.name in snap.endpoints:
                    t.rejoined_endpoints_s = now - since
            if phase == "rejoin" and all(t.rejoined_endpoints_s is not None for t in targets):
                return
            if now >= until or ctx.aborted:  # an abort wakes wait_change
                return
            snap = ctx.observer.wait_change(snap.version, until - now)


def _first_port(ctx: FaultContext, name: str) -> int:
    pod: Any = kprobes.read_pod(ctx.kube, ctx.namespace, name)
    for c in (pod.spec.containers if pod is not None else []) or []:
        for p in c.ports or []:
            return int(p.container_port)
    raise InjectionFailed(f"probe-break admin: pod {name} declares no container port")


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
