"""Rollout and rollback: a new pod template for the workload's Deployment or StatefulSet.

Each change is followed two ways at once: the controller's own status through a watch of that
one object (complete, or stalled at its progress deadline), and the pods through the Observer's
snapshots (the surge and unavailability actually seen, set next to what the strategy allows, and
whether the old pods kept serving). The template replaced is journaled as `restore-template`
before the patch, so the run (or `kube-chaos rollback` after a crash) puts back exactly what was
there; that undo is confirmed only when the controller reports the old template rolled out again.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chaos.errors import ChaosError, InjectionFailed
from chaos.faults.base import FaultContext, FaultOutcome, implements
from chaos.faults.undo import undo_pending
from chaos.journal.store import UndoAction, UndoOutcome
from chaos.k8s import controllers as kc
from chaos.k8s.observe import Snapshot
from chaos.model.experiment import ControllerRef, Rollback, Rollout, Selector
from chaos.plan import revisions as rv
from chaos.plan import rollout as ro

LOOK_S = 0.25  # how often the pod loop looks at the controller watch's verdict (no API call)
MIN_RESTORE_S = 60.0  # the undo waits at least this long for the restored template to roll out


@dataclass(frozen=True)
class _Target:
    kind: str
    name: str
    obj: dict[str, Any]  # as read before the change

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"

    def watched_by(self, selector: Selector) -> bool:
        """Whether the Observer (watching ``selector``) sees this controller's pods."""
        labels = (kc.template_of(self.obj).get("metadata") or {}).get("labels") or {}
        return selector.matches(labels)

    @property
    def selector(self) -> Selector:
        spec = self.obj.get("spec") or {}
        return Selector.of(((spec.get("selector") or {}).get("matchLabels")) or {})


def _resolve(ctx: FaultContext, ref: ControllerRef | None, what: str) -> _Target:
    """The named controller, or the one Deployment/StatefulSet running the workload's pods."""
    try:
        found = ([(ref.kind, ref.name)] if ref is not None
                 else kc.find(ctx.kube, ctx.namespace, ctx.workload_selector))
        if len(found) != 1:
            names = ", ".join(f"{k}/{n}" for k, n in found) or "none"
            raise InjectionFailed(
                f"{what}: {len(found)} Deployments/StatefulSets in {ctx.namespace} run pods "
                f"matching {ctx.workload_selector.to_label_selector()!r} ({names}); name one "
                "with target")
        kind, name = found[0]
        obj = kc.read(ctx.kube, ctx.namespace, kind, name)
    except InjectionFailed:
        raise
    except ChaosError as exc:
        raise InjectionFailed(f"{what}: {exc}") from exc
    if obj is None:
        raise InjectionFailed(f"{what}: no {kind} {name} in namespace {ctx.namespace}")
    return _Target(kind, name, obj)


def _strategy(target: _Target, what: str) -> ro.Strategy:
    try:
        strategy = ro.strategy(target.kind, target.obj)
    except ValueError as exc:
        raise InjectionFailed(f"{what}: {target}: {exc}") from exc
    if strategy.type == "OnDelete":
        raise InjectionFailed(f"{what}: {target} updates with OnDelete: its pods change only "
                              "when deleted, so there is no rollout to measure")
    if (target.obj.get("spec") or {}).get("paused"):
        raise InjectionFailed(f"{what}: {target} is paused: a template change would not roll "
                              "out")
    return strategy


def _revision(target: _Target) -> str:
    if target.kind == "Deployment":
        return str(((target.obj.get("metadata") or {}).get("annotations") or {})
                   .get(rv.REVISION_ANNOTATION) or "")
    return str((target.obj.get("status") or {}).get("updateRevision") or "")


def _serving_revisions(snap: Snapshot, selector: Selector) -> frozenset[str]:
    """Revisions of the pods serving before the change: the "old" pods."""
    return frozenset(ro.revision_of(p.labels) for p in snap.pods.values()
                     if p.ready and not p.terminating and selector.matches(p.labels))


class _ControllerWatch(threading.Thread):
    """The controller's status after a change, in a thread of its own while the pod loop reads
    the Observer: when it completed or stalled (monotonic, on the context's clock)."""

    def __init__(self, ctx: FaultContext, target: _Target, generation: int, timeout_s: float,
                 on_observed: Callable[[dict[str, Any]], None] | None = None) -> None:
        super().__init__(daemon=True, name=f"kube-chaos-rollout-{target.name}")
        self.ctx, self.target, self.generation = ctx, target, generation
        self.timeout_s = timeout_s
        self.on_observed = on_observed
        self.finished = threading.Event()
        self._stop_asked = threading.Event()
        self.last: ro.Progress | None = None
        self.done_at: float | None = None
        self.stalled_at: float | None = None  # when we saw the condition
        self.error: str | None = None
        self._observed_seen = False

    def run(self) -> None:
        try:
            kc.watch_until(self.ctx.kube, self.ctx.namespace, self.target.kind, self.target.name,
                           self._seen, self.timeout_s, stop=self._stop_asked.is_set)
        except Exception as exc:  # reported, never lost in a thread
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.finished.set()

    def _seen(self, obj: dict[str, Any]) -> bool:
        if int((obj.get("metadata") or {}).get("generation") or 0) < self.generation:
            return False
        state = ro.progress(self.target.kind, obj)
        self.last = state
        if state.observed and not self._observed_seen:
            self._observed_seen = True
            if self.on_observed is not None:
                self.on_observed(obj)
        now = self.ctx.clock.monotonic()
        if state.done and self.done_at is None:
            self.done_at = now
        if state.stalled_at and self.stalled_at is None:
            self.stalled_at = now
        return state.done or state.stalled_at is not None

    def stop(self) -> None:
        self._stop_asked.set()


@dataclass
class _Followed:
    """What following one change measured; times in seconds from the patch."""

    peaks: ro.Peaks
    done_s: float | None = None
    stalled_s: float | None = None
    whole_s: float | None = None
    last: ro.Progress | None = None
    final: ro.PodCounts | None = None
    error: str | None = None


def _follow(ctx: FaultContext, target: _Target, generation: int, patched_at: float,
            strategy: ro.Strategy, old: frozenset[str], wait_s: float, *,
            whole_revision: str | None = None,
            on_observed: Callable[[dict[str, Any]], None] | None = None) -> _Followed:
    """Until the controller reports the change complete or stalled (and, with
    ``whole_revision``, every replica of that revision is Ready with no pod to spare), or
    ``wait_s`` runs out; every Observer change in between is counted."""
    end = patched_at + max(0.0, min(wait_s, ctx.remaining()))
    watcher = _ControllerWatch(ctx, target, generation, max(1.0, end - ctx.clock.monotonic()),
                               on_observed)
    watcher.start()
    out = _Followed(peaks=ro.Peaks(strategy.replicas, old))
    selector = target.selector
    snap = ctx.observer.snapshot()
    seen = -1
    ran_out = False
    try:
        while True:
            if snap.version != seen:  # each state once, however often we look
                seen = snap.version
                counts = ro.count_pods(snap.pods.values(), selector)
                out.peaks.add(counts)
                out.final = counts
            now = ctx.clock.monotonic()
            if whole_revision is not None and out.whole_s is None and \
                    counts.active == strategy.replicas and \
                    counts.ready_by_revision.get(whole_revision, 0) >= strategy.replicas:
                out.whole_s = now - patched_at
            if watcher.finished.is_set() and (whole_revision is None or out.whole_s is not None
                                              or watcher.done_at is None):
                break
            if now >= end:
                ran_out = True
                break
            snap = ctx.observer.wait_change(snap.version, min(end - now, LOOK_S))
    finally:
        watcher.stop()
        watcher.join(timeout=1.0)  # a watch still blocked ends by itself within seconds
    out.last, out.error = watcher.last, watcher.error
    out.done_s = None if watcher.done_at is None else watcher.done_at - patched_at
    out.stalled_s = None if watcher.stalled_at is None else watcher.stalled_at - patched_at
    if ran_out:  # followed to its end: was the end the budget's?
        ctx.cut_short(wait_s, end - patched_at, "rollout followed")
    return out


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _figures(strategy: ro.Strategy, f: _Followed, watched: bool) -> dict[str, object]:
    """The surge and unavailability seen, next to what the strategy declares."""
    peaks = f.peaks
    declared: dict[str, object] = {
        "strategy": strategy.as_dict(),
        "declared_max_surge": strategy.max_surge,
        "declared_max_unavailable": strategy.max_unavailable,
    }
    if not watched:  # zeros here would read as a total outage: say nothing was seen
        return {**declared, "pods_observed": False,
                **{k: None for k in peaks.as_dict()}}
    return {
        **declared,
        "pods_observed": True,
        **peaks.as_dict(),
        "surge_within_strategy": peaks.max_surge <= strategy.max_surge,
        "unavailable_within_strategy": peaks.max_unavailable <= strategy.max_unavailable,
        "pod_samples": peaks.samples,
        "ready_at_end": f.final.ready if f.final else None,
        "ready_by_revision_at_end": dict(f.final.ready_by_revision) if f.final else {},
    }


def _record_restore(ctx: FaultContext, target: _Target, timeout_s: float) -> UndoAction:
    return ctx.record_undo(
        "restore-template", workload=str(target),
        template=json.dumps(kc.template_of(target.obj), sort_keys=True, separators=(",", ":")),
        revision=_revision(target), timeout_s=f"{max(MIN_RESTORE_S, timeout_s):.0f}")


def _patch(ctx: FaultContext, target: _Target, template: Mapping[str, Any],
           what: str) -> dict[str, Any]:
    try:
        return kc.patch_template(ctx.kube, ctx.namespace, target.kind, target.name, template,
                                 resource_version=target.obj["metadata"]["resourceVersion"])
    except ChaosError as exc:
        raise InjectionFailed(f"{what}: {exc}") from exc


def _replicasets(ctx: FaultContext, target: _Target, before: str) -> dict[str, object]:
    """The new and old ReplicaSets (Deployment) or revisions (StatefulSet) after a change."""
    try:
        now = kc.read(ctx.kube, ctx.namespace, target.kind, target.name)
        if now is None:
            return {}
        if target.kind == "StatefulSet":
            st = now.get("status") or {}
            return {"update_revision": st.get("updateRevision"),
                    "current_revision": st.get("currentRevision"), "revision_before": before}
        uid = now["metadata"]["uid"]
        owned = [rs for rs in kc.revisions(ctx.kube, ctx.namespace, "Deployment")
                 if any(o.get("uid") == uid for o in rs["metadata"].get("ownerReferences") or ())]
    except ChaosError as exc:
        return {"revisions_error": str(exc)}
    by_rev = {str(rs["metadata"].get("annotations", {}).get(rv.REVISION_ANNOTATION)):
              rs["metadata"]["name"] for rs in owned}
    revision = str(now["metadata"].get("annotations", {}).get(rv.REVISION_ANNOTATION) or "")
    return {"revision_before": before, "revision_after": revision,
            "new_replicaset": by_rev.get(revision), "old_replicaset": by_rev.get(before)}


@implements(Rollout)
@dataclass
class RolloutFault:
    spec: Rollout
    pending: list[UndoAction] = field(default_factory=list)

    def inject(self, ctx: FaultContext) -> FaultOutcome:
        spec = self.spec
        outcome = FaultOutcome(type=spec.type, started_at=ctx.clock.wall())
        target = _resolve(ctx, spec.target, "rollout")
        outcome.targets = [str(target)]
        strategy = _strategy(target, "rollout")
        change = rv.TemplateChange(container=spec.container, image=spec.image,
                                   env=spec.env or (), args=spec.args)
        try:
            template, container = rv.apply_change(kc.template_of(target.obj), change)
        except rv.RevisionError as exc:
            raise InjectionFailed(f"rollout of {target}: {exc}") from exc
        if template == kc.template_of(target.obj):
            raise InjectionFailed(f"rollout of {target}: {change.describe()} is what the "
                                  "template already says: there is nothing to roll out")
        old = _serving_revisions(ctx.observer.snapshot(), target.selector)
        before = _revision(target)
        self.pending.append(_record_restore(ctx, target, spec.wait_s))
        outcome.undo = list(self.pending)
        ctx.emit("fault-start", str(target), f"rollout {change.describe()}")
        patched_at = ctx.clock.monotonic()
        outcome.started_at = ctx.clock.wall()
        after = _patch(ctx, target, template, f"rollout of {target}")
        generation = int(after["metadata"].get("generation") or 0)
        followed = _follow(ctx, target, generation, patched_at, strategy, old, spec.wait_s)
        last = followed.last
        stalled = followed.stalled_s is not None or (
            target.kind == "StatefulSet" and followed.done_s is None)
        completed = followed.done_s is not None
        watched = target.watched_by(ctx.workload_selector)
        old_ready: int | None = None
        kept: bool | None = None
        if watched:
            old_ready = sum(n for r, n in (followed.final.ready_by_revision.items()
                                           if followed.final else ()) if r in old)
            kept = not completed and old_ready > 0 and \
                old_ready >= strategy.replicas - strategy.max_unavailable
        reason = _stall_reason(target.kind, followed)
        outcome.answer = stalled  # expectStalled's answer
        outcome.details = {
            "target": str(target), "container": container, "change": change.describe(),
            "rollout_seconds": _r(followed.done_s),
            "completed": completed,
            "stalled": stalled,
            "stalled_after_s": _r(followed.stalled_s),
            "stall_condition_time": last.stalled_at if last else None,
            "stall_reason": reason,
            "unfinished": not completed and not stalled,
            "old_ready_at_end": old_ready,
            "old_pods_kept_serving": kept,
            "last_status": last.summary if last else None,
            "wait_s": spec.wait_s,
            **_figures(strategy, followed, watched),
            **_replicasets(ctx, target, before),
        }
        if followed.error:
            outcome.details["watch_error"] = followed.error
        outcome.details["summary"] = _summary(strategy, followed, stalled=stalled, reason=reason,
                                              old_ready=old_ready, kept=kept,
                                              wait_s=spec.wait_s)
        outcome.ended_at = ctx.clock.wall()
        ctx.emit("fault-end", str(target), str(outcome.details["summary"]))
        return outcome

    def undo(self, ctx: FaultContext) -> list[UndoOutcome]:
        """Restore the recorded template and wait until it has rolled out again."""
        return undo_pending(ctx, self.pending, "rollout undone: template restored")


def _stall_reason(kind: str, f: _Followed) -> str | None:
    if f.stalled_s is not None and f.last is not None:
        return f"ProgressDeadlineExceeded: {f.last.stall_message}".rstrip(": ")
    if kind == "StatefulSet" and f.done_s is None:
        return "not complete within wait (a StatefulSet has no progress deadline)"
    return None


def _summary(strategy: ro.Strategy, f: _Followed, *, stalled: bool, reason: str | None,
             old_ready: int | None, kept: bool | None, wait_s: float) -> str:
    if old_ready is None:
        seen = "pods not watched (the workload's selector does not match them)"
        serving = "old pods not watched"
    else:
        seen = (f"surge {f.peaks.max_surge}/{strategy.max_surge}, unavailable "
                f"{f.peaks.max_unavailable}/{strategy.max_unavailable} (observed/allowed)")
        serving = (f"old pods {'kept' if kept else 'did NOT keep'} serving "
                   f"({old_ready}/{strategy.replicas} Ready)")
    if f.done_s is not None:
        return f"rollout complete in {f.done_s:.1f}s; {seen}"
    if stalled:
        return f"rollout stalled ({reason}); {serving}; {seen}"
    return f"rollout unfinished after {wait_s:g}s; {serving}; {seen}"


def _pending_restore(ctx: FaultContext, target: _Target) -> UndoAction | None:
    """A restore of this controller already journaled by an earlier fault of this run: it puts
    back what was there before the run, which a rollback's own undo would only undo again."""
    for action in ctx.journal.pending():
        if action.kind == "restore-template" and action.params.get("workload") == str(target) \
                and action.target.get("namespace") == ctx.namespace:
            return action
    return None


@implements(Rollback)
@dataclass
class RollbackFault:
    spec: Rollback
    pending: list[UndoAction] = field(default_factory=list)

    def inject(self, ctx: FaultContext) -> FaultOutcome:
        spec = self.spec
        outcome = FaultOutcome(type=spec.type, started_at=ctx.clock.wall())
        target = _resolve(ctx, spec.target, "rollback")
        outcome.targets = [str(target)]
        strategy = _strategy(target, "rollback")
        try:
            history = kc.revisions(ctx.kube, ctx.namespace, target.kind)
            previous = (rv.previous_replicaset(target.obj, history)
                        if target.kind == "Deployment"
                        else rv.previous_controller_revision(target.obj, history))
        except (ChaosError, rv.RevisionError) as exc:
            raise InjectionFailed(f"rollback of {target}: {exc}") from exc
        old = _serving_revisions(ctx.observer.snapshot(), target.selector)
        covered = _pending_restore(ctx, target)
        if covered is None:
            self.pending.append(_record_restore(ctx, target, spec.wait_s))
        outcome.undo = list(self.pending)
        forced: list[str] = []
        force_error: list[str] = []

        def force(obj: dict[str, Any]) -> None:
            if target.kind != "StatefulSet":
                return
            try:
                forced.extend(kc.force_stuck_pods(ctx.kube, ctx.namespace, obj))
            except ChaosError as exc:
                force_error.append(str(exc))

        ctx.emit("fault-start", str(target),
                 f"rollback to revision {previous.revision} ({previous.name})")
        patched_at = ctx.clock.monotonic()
        outcome.started_at = ctx.clock.wall()
        after = _patch(ctx, target, previous.template, f"rollback of {target}")
        generation = int(after["metadata"].get("generation") or 0)
        followed = _follow(ctx, target, generation, patched_at, strategy, old, spec.wait_s,
                           whole_revision=previous.pod_revision, on_observed=force)
        outcome.details = {
            "target": str(target),
            "from_revision": previous.current_revision, "from": previous.current,
            "to_revision": previous.revision, "to": previous.name,
            "rollback_seconds": _r(followed.done_s),
            "whole_seconds": _r(followed.whole_s),
            "whole": followed.whole_s is not None,
            "completed": followed.done_s is not None,
            "forced_pods": forced,
            "last_status": followed.last.summary if followed.last else None,
            "undo": ("restore-template recorded" if covered is None else
                     f"covered by the earlier fault's restore-template ({covered.id})"),
            "wait_s": spec.wait_s,
            **_figures(strategy, followed, target.watched_by(ctx.workload_selector)),
        }
        if followed.error or force_error:
            outcome.details["watch_error"] = "; ".join(
                e for e in (followed.error, *force_error) if e)
        whole = (f"whole again in {followed.whole_s:.1f}s" if followed.whole_s is not None
                 else f"NOT whole after {spec.wait_s:g}s")
        outcome.details["summary"] = (
            f"rollback to revision {previous.revision}: {whole}"
            + (f"; forced out {', '.join(forced)}" if forced else ""))
        outcome.ended_at = ctx.clock.wall()
        ctx.emit("fault-end", str(target), str(outcome.details["summary"]))
        return outcome

    def undo(self, ctx: FaultContext) -> list[UndoOutcome]:
        """Restore the template the rollback replaced, unless an earlier rollout of this run
        restores the one from before the run (then nothing is recorded here)."""
        return undo_pending(ctx, self.pending, "rollback undone: template restored")
