"""Replaying undo actions: the runner's `finally`, and `kube-chaos rollback` after a crash.

Every handler is idempotent: an already-uncordoned node, a running node container, a probe
block that is gone, a pod that no longer exists all count as "undone". A handler raises only when
the fault may still be in place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.errors import RollbackFailed
from chaos.journal import Journal, UndoAction
from chaos.k8s import nodes as knodes
from chaos.k8s import probes as kprobes
from chaos.k8s.client import Kube, connect

if TYPE_CHECKING:
    from chaos.faults.base import FaultContext

Handler = Callable[[UndoAction], None]

NODE_READY_TIMEOUT_S = 180.0


def kube_for(action: UndoAction) -> Kube:
    target = action.target
    return connect(target.get("kubeconfig") or None, target.get("context") or None)


def _param(action: UndoAction, name: str) -> str:
    value = action.params.get(name)
    if not value:
        raise RollbackFailed(f"{action.describe()}: missing parameter {name!r}")
    return value


def undo_uncordon(action: UndoAction) -> None:
    knodes.uncordon(kube_for(action), _param(action, "node"))


def _wait_ready(action: UndoAction, node: str) -> None:
    timeout = float(action.params.get("ready_timeout_s") or NODE_READY_TIMEOUT_S)
    if not knodes.wait_node_ready(kube_for(action), node, timeout):
        raise RollbackFailed(f"node {node} container is running again but the node is not "
                             f"Ready after {timeout:g}s")


def undo_start_node(action: UndoAction) -> None:
    """`docker start` a stopped kind node (unpause a paused one), then wait until Ready."""
    node = _param(action, "node")
    state = knodes.container_state(node)
    if state is None:
        return  # the cluster was deleted: nothing left to restore
    if state == "paused":
        _docker_or_fail(action, "unpause", node)
    elif state != "running":
        _docker_or_fail(action, "start", node)
    _wait_ready(action, node)


def undo_unpause_node(action: UndoAction) -> None:
    node = _param(action, "node")
    state = knodes.container_state(node)
    if state is None:
        return
    if state == "paused":
        _docker_or_fail(action, "unpause", node)
    elif state != "running":
        _docker_or_fail(action, "start", node)
    _wait_ready(action, node)


def _docker_or_fail(action: UndoAction, verb: str, node: str) -> None:
    proc = knodes.docker(verb, node, timeout=120)
    if proc.returncode != 0:
        raise RollbackFailed(f"{action.describe()}: docker {verb} {node}: "
                             f"{proc.stderr.strip() or proc.stdout.strip()}")


def undo_clear_admin_probe(action: UndoAction) -> None:
    kprobes.admin_call(kube_for(action), action.target.get("namespace") or
                       _param(action, "namespace"), _param(action, "pod"),
                       int(_param(action, "port")), "clear", action.params.get("probe", "all"),
                       missing_ok=True)


def undo_unblock_probe(action: UndoAction) -> None:
    kprobes.unblock(_param(action, "node"), _param(action, "pod_uid"), _param(action, "table"))


def undo_none(action: UndoAction) -> None:
    """Faults with nothing to put back (pod kill) are journaled for the record only."""


HANDLERS: dict[str, Handler] = {
    "uncordon": undo_uncordon,
    "start-node": undo_start_node,
    "unpause-node": undo_unpause_node,
    "clear-admin-probe": undo_clear_admin_probe,
    "unblock-probe": undo_unblock_probe,
    "none": undo_none,
}


def run_undo(action: UndoAction, handlers: Mapping[str, Handler] | None = None) -> None:
    """Put back what ``action`` describes; raises RollbackFailed when that did not work."""
    table = HANDLERS if handlers is None else handlers
    handler = table.get(action.kind)
    if handler is None:
        raise RollbackFailed(f"unknown undo action {action.kind!r} ({action.describe()}); "
                             f"known: {', '.join(sorted(table))}")
    try:
        handler(action)
    except RollbackFailed:
        raise
    except Exception as exc:
        raise RollbackFailed(f"{action.describe()}: {exc}") from exc


def undo_pending(ctx: FaultContext, actions: list[UndoAction],
                 detail: str | None = None) -> list[str]:
    """Run a fault's recorded undos newest first, marking each in the journal; returns the
    errors (never raises: one stuck undo must not strand the others). Each success emits a
    `fault-end` event with `detail` (default: the undo's kind)."""
    errors: list[str] = []
    while actions:
        action = actions.pop()
        try:
            run_undo(action)
        except Exception as exc:  # undo must go on with the rest
            ctx.journal.done(action, error=str(exc))
            errors.append(f"{action.describe()}: {exc}")
        else:
            ctx.journal.done(action)
            ctx.emit("fault-end", action.params.get("node", action.params.get("pod", "")),
                     detail or action.kind)
    return errors


RollbackResult = tuple[UndoAction, str | None]


def rollback_all(journals: Iterable[Journal | Path],
                 handlers: Mapping[str, Handler] | None = None,
                 *, dry_run: bool = False,
                 on_result: Callable[[Journal, UndoAction, str | None], None] | None = None,
                 ) -> list[RollbackResult]:
    """Run every pending action of every journal, newest first across all of them.

    Each success is marked done in its own journal, each failure recorded as failed (it stays
    pending, so a later rollback tries again). Never raises over a failure: the errors come back
    next to their actions. With ``dry_run`` nothing is run or marked.
    """
    queue: list[tuple[Journal, UndoAction]] = []
    for item in journals:
        journal = item if isinstance(item, Journal) else Journal(item)
        queue += [(journal, action) for action in journal.pending()]
    queue.sort(key=lambda pair: pair[1].created, reverse=True)
    results: list[RollbackResult] = []
    for journal, action in queue:
        error: str | None = None
        if not dry_run:
            try:
                run_undo(action, handlers)
            except Exception as exc:  # keep going: one stuck undo must not strand the others
                error = str(exc) or type(exc).__name__
            try:
                journal.done(action, error=error)
            except OSError as exc:
                error = f"{error + '; ' if error else ''}cannot write journal: {exc}"
        results.append((action, error))
        if on_result is not None:
            on_result(journal, action, error)
    return results
