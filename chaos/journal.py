"""Crash-safe undo journal.

Every fault writes the action that undoes it here, fsync'd, *before* it acts.
When the undo has run, a `done` line follows. A run killed with SIGKILL leaves
pending entries behind, and `kube-chaos rollback` replays them. Undo actions
are idempotent (uncordon an uncordoned node, start a running container), so
rolling back twice is harmless.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path


def journal_dir() -> Path:
    """`$KUBE_CHAOS_STATE`, else `$XDG_STATE_HOME/kube-chaos`, else ~/.local/state/kube-chaos."""
    explicit = os.environ.get("KUBE_CHAOS_STATE")
    if explicit:
        return Path(explicit) / "journal"
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "kube-chaos" / "journal"


@dataclass(frozen=True, slots=True)
class UndoAction:
    """How to put one thing back. `kind` names a handler in chaos.faults.undo."""

    kind: str
    params: Mapping[str, str]
    target: Mapping[str, str] = field(default_factory=dict)  # kubeconfig, context, cluster
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    created: float = field(default_factory=time.time)

    def describe(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.kind}({args})"


class Journal:
    """Append-only JSON-lines file, one per run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def for_run(cls, run_id: str, directory: Path | None = None) -> Journal:
        directory = directory or journal_dir()
        directory.mkdir(parents=True, exist_ok=True)
        return cls(directory / f"{run_id}.jsonl")

    def _append(self, record: dict[str, object]) -> None:
        line = json.dumps(record, sort_keys=True) + "\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)  # the undo must survive a SIGKILL the next instant
            finally:
                os.close(fd)

    def record(self, action: UndoAction) -> UndoAction:
        self._append({"op": "undo", "id": action.id, "kind": action.kind,
                      "params": dict(action.params), "target": dict(action.target),
                      "created": action.created, "pid": os.getpid()})
        return action

    def done(self, action: UndoAction, error: str | None = None) -> None:
        self._append({"op": "done" if error is None else "failed", "id": action.id,
                      "error": error, "at": time.time()})

    def pending(self) -> list[UndoAction]:
        """Undo actions not yet marked done, newest first (undo in reverse order)."""
        return pending_in(self.path)


def _read(path: Path) -> Iterator[dict[str, object]]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a torn last line from a crash mid-write
        if isinstance(rec, dict):
            yield rec


def pending_in(path: Path) -> list[UndoAction]:
    actions: dict[str, UndoAction] = {}
    for rec in _read(path):
        ident = str(rec.get("id"))
        if rec.get("op") == "undo":
            params = rec.get("params")
            target = rec.get("target")
            actions[ident] = UndoAction(
                kind=str(rec["kind"]),
                params={str(k): str(v) for k, v in (params or {}).items()}
                if isinstance(params, dict) else {},
                target={str(k): str(v) for k, v in target.items()}
                if isinstance(target, dict) else {},
                id=ident,
                created=float(rec.get("created", 0.0)),  # type: ignore[arg-type]
            )
        elif rec.get("op") == "done":
            actions.pop(ident, None)
    return sorted(actions.values(), key=lambda a: a.created, reverse=True)


def all_journals(directory: Path | None = None) -> list[Path]:
    directory = directory or journal_dir()
    return sorted(directory.glob("*.jsonl")) if directory.exists() else []


def journal_pids(path: Path) -> set[int]:
    """Processes that wrote undo entries to this journal."""
    return {int(rec["pid"]) for rec in _read(path)  # type: ignore[call-overload]
            if rec.get("op") == "undo" and isinstance(rec.get("pid"), int)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphaned(directory: Path | None = None) -> list[Path]:
    """Journals with pending undo whose writers are all gone: a crashed or killed run."""
    return [p for p in all_journals(directory)
            if pending_in(p) and not any(_alive(pid) for pid in journal_pids(p))]
