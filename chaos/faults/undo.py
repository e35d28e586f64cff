"""Replaying undo actions: the runner's `finally`, and `kube-chaos rollback` after a crash.

Every handler is idempotent and confirms its effect before it returns: the node is schedulable
again, the node container runs unpaused and the node is Ready, the nft table or our qdisc is gone,
the probe no longer fails. A handler returns None when it did the work, or a note saying why there
was nothing left to do (the cluster or the pod is gone); it raises RollbackFailed whenever the
fault may still be in place, including when it cannot tell (Docker or the API server unreachable).
Only a confirmed undo is marked done in the journal; everything else stays pending with its reason.

A journal is a file anyone with the user's rights can write, so a handler never trusts it further
than its own checks: no cluster but the one its target names (never the default kubeconfig), no
protected namespace, no namespace or object without kube-chaos's ownership label; and a replay
(`rollback_all`: `kube-chaos rollback`, the session-start replay) passes the safety gate for each
cluster before any handler that talks to it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.errors import ClusterError, RollbackFailed, SafetyRefused
from chaos.journal.store import (
    Journal,
    JournalState,
    UndoAction,
    UndoOutcome,
    UndoOutcomeDict,
    load_journal,
    warn_problems,
)
from chaos.k8s import controllers as kcontrollers
from chaos.k8s import nodes as knodes
from chaos.k8s import objects as kobjects
from chaos.k8s import probes as kprobes
from chaos.k8s import workload as kw
from chaos.k8s.client import Kube, connect
from chaos.k8s.safety import refuse_unless_ours
from chaos.model.experiment import PROTECTED_LABEL, PROTECTED_NAMESPACES
from chaos.node import netns
from chaos.node.access import LEGACY_ACCESS, for_access
from chaos.node.runtime import NodeMachineState, NodeRuntime, PowerVerb

if TYPE_CHECKING:
    from chaos.faults.base import FaultContext

Handler = Callable[[UndoAction], str | None]

NODE_READY_TIMEOUT_S = 180.0
RESTORE_TIMEOUT_S = 120.0


def kube_for(action: UndoAction) -> Kube:
    """The cluster the action's target names; a target without a kubeconfig and a context is
    refused (falling back to the default kubeconfig could reach any cluster)."""
    target = action.target
    missing = [key for key in ("kubeconfig", "context") if not target.get(key)]
    if missing:
        raise RollbackFailed(f"{action.describe()}: its target names no {' and no '.join(missing)}"
                             f"; refusing to fall back to the default kubeconfig")
    return connect(target["kubeconfig"], target["context"])


def node_for(action: UndoAction) -> NodeRuntime:
    """The node runtime the action's target names (``node_access``, recorded by the run that
    journaled it; journals from before it was recorded reached their nodes with docker)."""
    return for_access(action.target.get("node_access", LEGACY_ACCESS), action.target,
                      kube=lambda: kube_for(action))


def _param(action: UndoAction, name: str) -> str:
    value = action.params.get(name)
    if not value:
        raise RollbackFailed(f"{action.describe()}: missing parameter {name!r}")
    return value


def _int_param(action: UndoAction, name: str) -> int:
    value = _param(action, name)
    try:
        return int(value)
    except ValueError:
        raise RollbackFailed(f"{action.describe()}: parameter {name!r} is {value!r}, "
                             f"not a whole number") from None


# --- nodes -------------------------------------------------------------------------------------


def undo_uncordon(action: UndoAction) -> str | None:
    """Uncordon, then read the node back: only spec.unschedulable false counts."""
    node = _param(action, "node")
    kube = kube_for(action)
    knodes.uncordon(kube, node)
    try:
        view = knodes.get_node(kube, node)
    except ClusterError as exc:
        raise RollbackFailed(f"uncordon of node {node} sent, but cannot read it back to "
                             f"confirm: {exc}") from exc
    if view is None:
        return f"node {node} no longer exists"
    if view.unschedulable:
        raise RollbackFailed(f"node {node} is still cordoned after uncordon")
    return None


def _ready_timeout(action: UndoAction) -> float:
    try:
        return float(action.params.get("ready_timeout_s") or NODE_READY_TIMEOUT_S)
    except ValueError:
        return NODE_READY_TIMEOUT_S


def _wait_ready(action: UndoAction, node: str) -> None:
    timeout = _ready_timeout(action)
    kube = kube_for(action)
    if knodes.wait_node_ready(kube, node, timeout):
        return
    try:
        view = knodes.get_node(kube, node)
    except ClusterError as exc:
        why = f"API server: {exc}"
    else:
        if view is not None and view.ready:
            return  # Ready just after the deadline
        why = "no such node" if view is None else "NotReady"
    raise RollbackFailed(f"node container {node} runs again, but the node is not Ready after "
                         f"{timeout:g}s ({why})")


def _power_or_fail(rt: NodeRuntime, verb: PowerVerb, node: str) -> None:
    proc = rt.power(node, verb, timeout=120)
    if proc.returncode != 0:
        raise RollbackFailed(f"{rt.access} {verb} {node}: "
                             f"{proc.stderr.strip() or proc.stdout.strip() or proc.returncode}")


def _inspect(rt: NodeRuntime, node: str, doing: str) -> NodeMachineState | None:
    try:
        return rt.state(node)
    except ClusterError as exc:
        raise RollbackFailed(f"{doing}: {exc}") from exc


def _restore_node(action: UndoAction) -> str | None:
    """Start a stopped node container or unpause a paused one, confirm with `docker inspect`
    (the node runtime's ``state``) that it runs unpaused, then wait until the node is Ready."""
    node = _param(action, "node")
    rt = node_for(action)
    info = _inspect(rt, node, f"cannot tell whether node container {node} runs")
    if info is None:
        return f"node container {node} no longer exists (cluster deleted): nothing to restore"
    verb: PowerVerb | None = None
    if info.paused:
        verb = "unpause"
    elif not info.up:
        verb = "start"
    if verb is not None:
        _power_or_fail(rt, verb, node)
        after = _inspect(rt, node, f"{rt.access} {verb} {node} answered, but cannot confirm "
                                   f"the container runs")
        if after is None:
            return f"node container {node} disappeared (cluster deleted): nothing to restore"
        if not after.up:
            raise RollbackFailed(f"node container {node} is {after.status}"
                                 f"{' (paused)' if after.paused else ''} after {rt.access} "
                                 f"{verb}")
    _wait_ready(action, node)
    return None


def undo_start_node(action: UndoAction) -> str | None:
    """`docker start` a stopped kind node (unpause a paused one), then wait until Ready."""
    return _restore_node(action)


def undo_unpause_node(action: UndoAction) -> str | None:
    """`docker unpause` a paused kind node (start a stopped one), then wait until Ready."""
    return _restore_node(action)


# --- probes ------------------------------------------------------------------------------------


def _admin_pod_gone(action: UndoAction, kube: Kube, namespace: str, pod: str,
                    failure: RollbackFailed) -> str | None:
    """After a failed clear: is the broken process gone anyway (pod deleted or replaced, or its
    container restarted, which starts with no broken probe)? None when it may still be there."""
    try:
        found = kprobes.read_pod(kube, namespace, pod)
    except ClusterError as exc:
        raise RollbackFailed(f"{failure}; cannot read the pod either: {exc}") from exc
    if found is None:
        return f"pod {namespace}/{pod} no longer exists"
    uid = action.params.get("pod_uid")
    if uid and found.metadata.uid != uid:
        return f"pod {namespace}/{pod} was replaced (new uid): the broken one is gone"
    before = action.params.get("restarts")
    if before and before.isdigit() and kprobes.restart_count(found) > int(before):
        return (f"pod {namespace}/{pod} restarted its container since the break: a fresh "
                f"process has no broken probe")
    return None


def _confirm_cleared(state: Mapping[str, object], probe: str, pod: str) -> None:
    """The clear call answers with the admin state; where the workload exposes one, the
    probe(s) must no longer fail. Without one, the call's success is all we can know."""
    probes = state.get("probes")
    if not isinstance(probes, dict):
        return
    names = list(probes) if probe in ("", "all") else [probe]
    still = [n for n in names if isinstance(probes.get(n), dict) and probes[n].get("failing")]
    if still:
        raise RollbackFailed(f"pod {pod}: {', '.join(still)} probe still failing after clear")


def undo_clear_admin_probe(action: UndoAction) -> str | None:
    namespace = action.target.get("namespace") or _param(action, "namespace")
    pod = _param(action, "pod")
    port = _int_param(action, "port")
    probe = action.params.get("probe") or "all"
    kube = kube_for(action)
    try:
        state = kprobes.admin_call(kube, namespace, pod, port, "clear", probe)
    except RollbackFailed as exc:
        gone = _admin_pod_gone(action, kube, namespace, pod, exc)
        if gone is None:
            raise
        return gone
    _confirm_cleared(state, probe, pod)
    return None


def undo_unblock_probe(action: UndoAction) -> str | None:
    """Probe break's network block: its nft table deleted, and listed again to confirm."""
    return netns.delete_table(node_for(action), _param(action, "node"),
                              _param(action, "pod_uid"), _param(action, "table"))


# --- controllers ------------------------------------------------------------------------------


def undo_restore_template(action: UndoAction) -> str | None:
    """Put back the pod template a rollout (or rollback) replaced, exactly as it was read, and
    confirm that the controller reports it rolled out again (a StatefulSet's pods stuck on the
    bad revision are forced out, as its documentation prescribes)."""
    namespace = action.target.get("namespace") or _param(action, "namespace")
    workload = _param(action, "workload")
    kind, _, name = workload.partition("/")
    # a journal is untrusted text: "Deployment/web/x" names no controller (it read as web/x,
    # "not found", and the undo passed as done)
    if kind not in kcontrollers.KINDS or not name or "/" in name:
        raise RollbackFailed(f"{action.describe()}: workload {workload!r} is not "
                             "Deployment/<name> or StatefulSet/<name>")
    try:
        template = json.loads(_param(action, "template"))
    except ValueError as exc:
        raise RollbackFailed(f"{action.describe()}: the recorded template is not JSON: "
                             f"{exc}") from exc
    try:
        timeout = float(action.params.get("timeout_s") or RESTORE_TIMEOUT_S)
    except ValueError:
        timeout = RESTORE_TIMEOUT_S
    kube = kube_for(action)
    where = f"{kind} {namespace}/{name}"
    try:
        obj = kcontrollers.read(kube, namespace, kind, name)
        if obj is None:
            return f"{where} no longer exists: nothing to restore"
        if kcontrollers.template_of(obj) != template:
            obj = kcontrollers.patch_template(kube, namespace, kind, name, template)
        generation = int(obj["metadata"].get("generation") or 0)
        progress, forced = kcontrollers.await_rollout(kube, namespace, kind, name, generation,
                                                      timeout)
    except ClusterError as exc:
        raise RollbackFailed(f"{where}: {exc}") from exc
    if progress is None:
        return f"{where} was deleted while its template was restored"
    if not progress.done:
        raise RollbackFailed(f"{where}: template restored, but the controller does not report "
                             f"it rolled out after {timeout:g}s ({progress.summary})")
    return f"forced out stuck pod(s) {', '.join(forced)}" if forced else None


# --- network ----------------------------------------------------------------------------------


def undo_delete_nft_table(action: UndoAction) -> str | None:
    """Partition, packet loss, DNS: the pod's nft table deleted, and listed again to confirm."""
    family = action.params.get("family") or "inet"
    if family not in ("inet", "netdev"):
        raise RollbackFailed(f"{action.describe()}: parameter 'family' is {family!r}, not inet "
                             f"or netdev")
    return netns.delete_table(node_for(action), _param(action, "node"),
                              _param(action, "pod_uid"), _param(action, "table"), family)


def undo_delete_qdisc(action: UndoAction) -> str | None:
    """Bandwidth, latency: our root qdisc removed from the pod's interface, and confirmed."""
    return netns.delete_root_qdisc(node_for(action), _param(action, "node"),
                                   _param(action, "pod_uid"), _param(action, "dev"))


def undo_none(action: UndoAction) -> str | None:
    """Faults with nothing to put back (pod kill) are journaled for the record only."""
    return None


# --- what a run created -------------------------------------------------------------------------


def _refuse_protected_name(action: UndoAction, namespace: str | None) -> None:
    if namespace in PROTECTED_NAMESPACES:
        raise RollbackFailed(f"{action.describe()}: namespace {namespace} is protected; "
                             f"kube-chaos never deletes in it")


def _refuse_protected(action: UndoAction, what: str, labels: Mapping[str, str]) -> None:
    if labels.get(PROTECTED_LABEL) == "true":
        raise RollbackFailed(f"{action.describe()}: {what} is labelled {PROTECTED_LABEL}=true; "
                             f"kube-chaos never deletes it")


def undo_delete_namespace(action: UndoAction) -> str | None:
    """Delete the namespace a run created (its Services first, so their NodePorts are free at
    once); confirmed when it is gone or terminating (Kubernetes then finishes it). Refused for
    a protected namespace and for one without kube-chaos's run label (not one it created)."""
    name = _param(action, "namespace")
    _refuse_protected_name(action, name)
    kube = kube_for(action)
    try:
        if kw.namespace_state(kube, name) == "absent":
            return "already gone"
        labels = kw.namespace_labels(kube, name)
        _refuse_protected(action, f"namespace {name}", labels)
        if not labels.get(kw.RUN_LABEL):
            raise RollbackFailed(f"{action.describe()}: namespace {name} has no {kw.RUN_LABEL} "
                                 f"label: kube-chaos did not create it, and will not delete it")
        kw.release_node_ports(kube, name)
        kw.delete_namespace(kube, name)
        state = kw.namespace_state(kube, name)
    except ClusterError as exc:
        raise RollbackFailed(f"namespace {name}: {exc}") from exc
    if state == "active":
        raise RollbackFailed(f"namespace {name} is still active after its deletion")
    return None


def undo_delete_object(action: UndoAction) -> str | None:
    """Delete a cluster-scoped object a run created (the namespace's deletion does not reach
    it), or, with a ``namespace`` parameter, a namespaced one (the in-cluster load's worker
    pods); confirmed when it is gone or being deleted. Refused in (or of) a protected
    namespace, and for an object without kube-chaos's ownership label."""
    api_version, kind = _param(action, "api_version"), _param(action, "kind")
    name = _param(action, "name")
    ns = action.params.get("namespace") or None
    _refuse_protected_name(action, ns)
    if kind == "Namespace":
        _refuse_protected_name(action, name)
    kube = kube_for(action)
    try:
        labels = kobjects.object_labels(kube, api_version, kind, name, ns)
        if labels is None:
            return "already gone"
        if ns is not None:
            _refuse_protected(action, f"namespace {ns}", kw.namespace_labels(kube, ns))
        _refuse_protected(action, f"{kind} {name}", labels)
        if labels.get(kw.MANAGED_BY) != kw.MANAGER:
            raise RollbackFailed(f"{action.describe()}: {kind} {name} is not labelled "
                                 f"{kw.MANAGED_BY}={kw.MANAGER}: kube-chaos did not create it, "
                                 f"and will not delete it")
        kobjects.delete_object(kube, api_version, kind, name, ns)
        state = kobjects.object_state(kube, api_version, kind, name, ns)
    except ClusterError as exc:
        raise RollbackFailed(f"{kind} {name}: {exc}") from exc
    if state == "present":
        raise RollbackFailed(f"{kind} {name} still exists after its deletion")
    return None


HANDLERS: dict[str, Handler] = {
    "delete-namespace": undo_delete_namespace,
    "delete-object": undo_delete_object,
    "uncordon": undo_uncordon,
    "start-node": undo_start_node,
    "unpause-node": undo_unpause_node,
    "clear-admin-probe": undo_clear_admin_probe,
    "unblock-probe": undo_unblock_probe,
    "restore-template": undo_restore_template,
    "delete-nft-table": undo_delete_nft_table,
    "delete-qdisc": undo_delete_qdisc,
    "none": undo_none,
}


# --- running undos -----------------------------------------------------------------------------


# The handlers that act through the Kubernetes API on the cluster their record names: a replay
# passes the safety gate for that cluster before running one of them.
GATED: frozenset[Handler] = frozenset({undo_delete_namespace, undo_delete_object, undo_uncordon,
                                       undo_clear_admin_probe, undo_restore_template})

Gate = Callable[[UndoAction], None]


def replay_gate(allow_contexts: Iterable[str] = (),
                handlers: Mapping[str, Handler] | None = None) -> Gate:
    """The safety gate for undo actions read from a journal: before a GATED handler runs, the
    cluster its target names must be one kube-chaos provisioned or a context the user allowed
    (``allow_contexts``), exactly as for a run. Raises RollbackFailed with the way out;
    each cluster is asked once."""
    allowed = tuple(allow_contexts)
    verdicts: dict[tuple[str, str], str | None] = {}

    def gate(action: UndoAction) -> None:
        table = HANDLERS if handlers is None else handlers
        if table.get(action.kind) not in GATED:
            return
        key = (action.target.get("kubeconfig", ""), action.target.get("context", ""))
        if key not in verdicts:
            try:
                refuse_unless_ours(kube_for(action), allowed, doing="roll back undo actions on",
                                   way_out="--allow-context")
                verdicts[key] = None
            except (SafetyRefused, RollbackFailed, ClusterError) as exc:
                verdicts[key] = str(exc) or type(exc).__name__
        why = verdicts[key]
        if why is not None:
            raise RollbackFailed(why)

    return gate


def run_undo(action: UndoAction, handlers: Mapping[str, Handler] | None = None) -> str | None:
    """Put back what ``action`` describes and confirm it; returns a note when there was nothing
    left to put back. Raises RollbackFailed when the effect is not confirmed."""
    table = HANDLERS if handlers is None else handlers
    handler = table.get(action.kind)
    if handler is None:
        raise RollbackFailed(f"unknown undo action {action.kind!r} ({action.describe()}); "
                             f"known: {', '.join(sorted(table))}")
    try:
        return handler(action)
    except RollbackFailed:
        raise
    except Exception as exc:
        raise RollbackFailed(str(exc) or type(exc).__name__) from exc


def settle(journal: Journal, action: UndoAction,
           handlers: Mapping[str, Handler] | None = None, *,
           gate: Gate | None = None) -> UndoOutcome:
    """Run one undo and record its outcome in ``journal``; never raises. A journal that cannot
    be written is named in the outcome (the action then still reads as pending there). A
    ``gate`` that refuses the action makes it a failure with the gate's reason (it stays
    pending)."""
    try:
        if gate is not None:
            gate(action)
        note = run_undo(action, handlers)
    except Exception as exc:  # anything: one stuck undo must not strand the others
        outcome = UndoOutcome(action, "failed", str(exc) or type(exc).__name__,
                              journal=journal.path)
    else:
        outcome = UndoOutcome(action, "undone", note or "", journal=journal.path)
    try:
        journal.done(action, error=outcome.reason if outcome.status == "failed" else None)
    except Exception as exc:
        return UndoOutcome(action, outcome.status, outcome.reason, at=outcome.at,
                           journal=journal.path, journal_error=str(exc) or type(exc).__name__)
    return outcome


def undo_pending(ctx: FaultContext, actions: list[UndoAction], detail: str | None = None,
                 *, handlers: Mapping[str, Handler] | None = None) -> list[UndoOutcome]:
    """Run a fault's recorded undos newest first (emptying ``actions``), each marked in the
    journal; returns every outcome, also kept in ``ctx.undo_outcomes`` for the report.

    Never raises: a failed undo or an unwritable journal is in that entry's outcome, and the
    loop goes on. Each confirmed undo emits a `fault-end` event with ``detail`` (default: the
    undo's kind).
    """
    outcomes: list[UndoOutcome] = []
    while actions:
        action = actions.pop()
        outcome = settle(ctx.journal, action, handlers)
        outcomes.append(outcome)
        ctx.undo_outcomes.append(outcome)
        if outcome.status == "undone":
            with contextlib.suppress(Exception):  # the timeline is not worth a stranded undo
                # named like the fault-start it ends: the pod for pod faults, else the node
                ctx.emit("fault-end", action.params.get("pod") or action.params.get("node", ""),
                         detail or action.kind)
    return outcomes


def undo_errors(outcomes: Iterable[UndoOutcome]) -> list[str]:
    """One line per undo that is not settled (failed, or undone but not recorded)."""
    return [f"{o.action.describe()}: {o.describe()}" for o in outcomes
            if o.status == "failed" or (o.status == "undone" and o.journal_error)]


def undo_report(outcomes: Iterable[UndoOutcome]) -> list[UndoOutcomeDict]:
    """Every undo outcome as JSON-ready dicts for report.json, in the order they ran."""
    return [o.as_dict() for o in outcomes]


def rollback_all(journals: Iterable[Journal | Path | JournalState],
                 handlers: Mapping[str, Handler] | None = None,
                 *, dry_run: bool = False,
                 on_result: Callable[[UndoOutcome], None] | None = None,
                 allow_contexts: Iterable[str] = (),
                 ) -> list[UndoOutcome]:
    """Run every pending action of every journal, newest first across all of them.

    Each confirmed undo is marked done in its own journal; each failure is recorded as failed
    with its reason and stays pending, so a later rollback tries again. Never raises over a
    failure. Journals given as paths are read defensively here (malformed records, and records
    of a kind no handler knows, become JournalWarnings and are quarantined, as is an unusable
    file); a Journal (this process's own) is read the same way without the kind check; a
    JournalState is taken as read. Every action whose handler talks to the Kubernetes API
    first passes ``replay_gate(allow_contexts)``. With ``dry_run`` nothing is run, asked or
    marked, and every outcome is `skipped`.
    """
    table = HANDLERS if handlers is None else handlers
    queue: list[tuple[Journal, UndoAction]] = []
    for item in journals:
        if isinstance(item, JournalState):
            state = item
        elif isinstance(item, Journal):
            state = load_journal(item.path)
            warn_problems([state])
        else:
            state = load_journal(item, set(table))
            warn_problems([state])
        journal = item if isinstance(item, Journal) else Journal(state.path)
        queue += [(journal, action) for action in state.pending]
    queue.sort(key=lambda pair: pair[1].created, reverse=True)
    gate = replay_gate(allow_contexts, handlers)
    outcomes: list[UndoOutcome] = []
    for journal, action in queue:
        if dry_run:
            outcome = UndoOutcome(action, "skipped", "dry run", journal=journal.path)
        else:
            outcome = settle(journal, action, handlers, gate=gate)
        outcomes.append(outcome)
        if on_result is not None:
            with contextlib.suppress(Exception):
                on_result(outcome)
    return outcomes
