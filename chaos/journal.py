"""Crash-safe undo journal.

Every fault writes the action that undoes it here, fsync'd, *before* it acts. When the undo's
effect is confirmed, a `done` line follows; an unconfirmed undo gets a `failed` line with its
reason and stays pending. A run killed with SIGKILL leaves pending entries behind, and
`kube-chaos rollback` replays them. Undo actions are idempotent (uncordon an uncordoned node,
start a running container), so replaying one whose `done` line was lost is harmless.

Reading never trusts the file: a malformed record is skipped and named (file and line), a file
that cannot be used at all is moved to ``quarantine/`` and named, and neither stops the others.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, TypedDict

from chaos.errors import JournalWriteFailed

QUARANTINE_DIR = "quarantine"
MAX_LINE_PROBLEMS = 5  # per file: a garbage file must not flood the console
DESCRIBE_LIMIT = 80  # longer parameter values are elided in UndoAction.describe()


def journal_dir() -> Path:
    """`$KUBE_CHAOS_STATE`, else `$XDG_STATE_HOME/kube-chaos`, else ~/.local/state/kube-chaos."""
    explicit = os.environ.get("KUBE_CHAOS_STATE")
    if explicit:
        return Path(explicit) / "journal"
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "kube-chaos" / "journal"


class JournalWarning(UserWarning):
    """A journal record or file could not be used; the message names the file (and line)."""


@dataclass(frozen=True, slots=True)
class UndoAction:
    """How to put one thing back. `kind` names a handler in chaos.faults.undo."""

    kind: str
    params: Mapping[str, str]
    target: Mapping[str, str] = field(default_factory=dict)  # kubeconfig, context, cluster
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    created: float = field(default_factory=time.time)

    def describe(self) -> str:
        """One line; a long parameter (a recorded pod template) is shown by its size only."""
        args = ", ".join(f"{k}={v if len(v) <= DESCRIBE_LIMIT else f'<{len(v)} chars>'}"
                         for k, v in sorted(self.params.items()))
        return f"{self.kind}({args})"


# --- the writer of a journal, and whether it still runs ------------------------------------


@dataclass(frozen=True, slots=True)
class Writer:
    """The process that wrote undo entries. ``started`` (clock ticks after boot, from /proc)
    tells a reused pid from the writer itself."""

    pid: int
    host: str = ""
    started: int | None = None

    def describe(self) -> str:
        return f"pid {self.pid}" + (f" on {self.host}" if self.host else "")


def _proc_stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/<pid>/stat (state first), None where there is no such entry."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # field 2 (the command name) may hold spaces and parentheses: count after the last ")"
    return stat.rsplit(")", 1)[-1].split()


def process_start(pid: int) -> int | None:
    """starttime of ``pid`` from /proc/<pid>/stat (field 22), None where there is no /proc."""
    fields = _proc_stat(pid)
    try:
        return int(fields[19]) if fields is not None else None
    except (IndexError, ValueError):
        return None


def this_writer() -> Writer:
    pid = os.getpid()
    return Writer(pid=pid, host=socket.gethostname(), started=process_start(pid))


def writer_running(writer: Writer) -> str | None:
    """Why ``writer`` may still be running; None when it is certainly gone."""
    if writer.host and writer.host != socket.gethostname():
        return f"{writer.describe()}: another host, cannot tell whether it still runs"
    if writer.pid <= 0:
        return None
    try:
        os.kill(writer.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # exists, owned by someone else
    fields = _proc_stat(writer.pid)
    if fields and fields[0] in ("Z", "X"):
        return None  # killed, not yet reaped by its parent
    if writer.started is not None and fields is not None:
        now = process_start(writer.pid)
        if now is not None and now != writer.started:
            return None  # the pid now belongs to another process
    return f"{writer.describe()} is still running"


# --- writing -------------------------------------------------------------------------------


def _fsync_dir(directory: Path) -> None:
    """Make a new directory entry (a created or renamed file) survive a power cut."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # some filesystems cannot fsync a directory
            raise
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    """os.write may write less than asked (a full disk, a signal): loop until all is out."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, f"write() wrote {written} of {len(view)} bytes")
        view = view[written:]


def _append_line(path: Path, line: bytes) -> None:
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags | os.O_EXCL, 0o644)
        created = True
    except FileExistsError:
        fd = os.open(path, flags, 0o644)
        created = False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a forced rollback may append next to the live run
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # close a torn line, or this record would be glued to it
        _write_all(fd, line)
        os.fsync(fd)  # the undo must survive a SIGKILL the next instant
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)


def _os_reason(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, "")
    text = exc.strerror or str(exc)
    return f"{text} ({name})" if name else text


class Journal:
    """Append-only JSON-lines file, one per run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def for_run(cls, run_id: str, directory: Path | None = None) -> Journal:
        directory = directory or journal_dir()
        try:
            if not directory.is_dir():
                directory.mkdir(parents=True, exist_ok=True)
                _fsync_dir(directory.parent)
        except OSError as exc:
            raise JournalWriteFailed(directory, _os_reason(exc)) from exc
        return cls(directory / f"{run_id}.jsonl")

    def _append(self, record: Mapping[str, object]) -> None:
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        with self._lock:
            try:
                _append_line(self.path, line)
            except OSError as exc:
                raise JournalWriteFailed(self.path, _os_reason(exc)) from exc

    def record(self, action: UndoAction) -> UndoAction:
        """Persist ``action`` before its fault acts; raises JournalWriteFailed, and then the
        fault must not act."""
        writer = this_writer()
        self._append({"op": "undo", "id": action.id, "kind": action.kind,
                      "params": dict(action.params), "target": dict(action.target),
                      "created": action.created, "pid": writer.pid, "host": writer.host,
                      "pid_start": writer.started})
        return action

    def done(self, action: UndoAction, error: str | None = None) -> None:
        """Mark ``action`` undone (or failed, with the reason: it stays pending)."""
        self._append({"op": "done" if error is None else "failed", "id": action.id,
                      "error": error, "at": time.time()})

    def pending(self) -> list[UndoAction]:
        """Undo actions not yet marked done, newest first (undo in reverse order)."""
        return pending_in(self.path)


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JournalProblem:
    """Something in a journal that could not be used; ``line`` None means the whole file."""

    path: Path
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class JournalState:
    """What one journal says, read defensively."""

    path: Path
    pending: tuple[UndoAction, ...] = ()  # newest first
    last_error: Mapping[str, str] = field(default_factory=dict)  # id -> why it is still pending
    writers: tuple[Writer, ...] = ()
    problems: tuple[JournalProblem, ...] = ()
    unusable: str | None = None  # why the file as a whole cannot be used
    quarantined: Path | None = None  # where an unusable file was moved

    def running(self) -> str | None:
        """Why this journal's run may still be alive; None when every writer is gone."""
        for writer in self.writers:
            why = writer_running(writer)
            if why is not None:
                return why
        return None


@dataclass(frozen=True, slots=True)
class _Undo:
    action: UndoAction
    writer: Writer | None


@dataclass(frozen=True, slots=True)
class _Mark:
    id: str
    error: str | None  # None: done


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _bad_field(obj: Mapping[str, object], name: str, expected: str) -> str:
    if name not in obj:
        return f"missing field {name!r}"
    return f"field {name!r} is {_short(obj[name])}, not {expected}"


def _str_map(value: object) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or isinstance(item, bool) or \
                not isinstance(item, str | int | float):
            return None
        out[key] = str(item)
    return out


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _writer(obj: Mapping[str, object]) -> Writer | None:
    """Lenient: a bad pid must not cost us the undo itself; the writer is then unknown."""
    pid, host, started = obj.get("pid"), obj.get("host"), obj.get("pid_start")
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return None
    return Writer(pid=pid, host=host if isinstance(host, str) else "",
                  started=started if isinstance(started, int)
                  and not isinstance(started, bool) else None)


def _parse_undo(obj: Mapping[str, object], ident: str) -> _Undo | str:
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        return _bad_field(obj, "kind", "a non-empty string")
    params = _str_map(obj.get("params"))
    if params is None:
        return _bad_field(obj, "params", "an object of strings")
    target = _str_map(obj.get("target", {}))
    if target is None:
        return _bad_field(obj, "target", "an object of strings")
    created = _number(obj.get("created"))
    if created is None:
        return _bad_field(obj, "created", "a number (epoch seconds)")
    action = UndoAction(kind=kind, params=params, target=target, id=ident, created=created)
    return _Undo(action, _writer(obj))


def _parse_line(raw: bytes) -> _Undo | _Mark | str:
    """One record, or why it cannot be used."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
    try:
        obj: object = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        detail = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) \
            else type(exc).__name__
        return f"not JSON ({detail})"
    if not isinstance(obj, dict):
        return f"not a JSON object but {type(obj).__name__}"
    ident = obj.get("id")
    if not isinstance(ident, str) or not ident:
        return _bad_field(obj, "id", "a non-empty string")
    op = obj.get("op")
    if op == "undo":
        return _parse_undo(obj, ident)
    if op == "done":
        return _Mark(ident, None)
    if op == "failed":
        error = obj.get("error")
        return _Mark(ident, error if isinstance(error, str) and error
                     else "failed (no reason recorded)")
    return _bad_field(obj, "op", "'undo', 'done' or 'failed'")


def _lines(data: bytes) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes, complete): an unterminated last line is torn (a crash mid-write)."""
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    for number, raw in enumerate(lines, start=1):
        yield number, raw, True
    if tail:
        yield len(lines) + 1, tail, False


def read_journal(path: Path) -> JournalState:
    """Parse every line on its own; malformed records become problems, never exceptions."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return JournalState(path)
    except OSError as exc:
        return JournalState(path, unusable=f"cannot read it: {_os_reason(exc)}")
    actions: dict[str, UndoAction] = {}
    errors: dict[str, str] = {}
    writers: dict[Writer, None] = {}
    problems: list[JournalProblem] = []
    bad_complete = bad_total = good = 0
    for number, raw, complete in _lines(data):
        if not raw.strip():
            continue
        parsed = _parse_line(raw)
        if isinstance(parsed, str):
            bad_total += 1
            bad_complete += complete
            if bad_total <= MAX_LINE_PROBLEMS:
                why = parsed if complete else f"torn last line (crash mid-write?), {parsed}"
                problems.append(JournalProblem(path, number, f"{why}; record skipped: "
                                                             f"{_short(raw, 80)}"))
            continue
        good += 1
        if isinstance(parsed, _Undo):
            actions[parsed.action.id] = parsed.action
            errors.pop(parsed.action.id, None)
            if parsed.writer is not None:
                writers[parsed.writer] = None
        elif parsed.error is None:
            actions.pop(parsed.id, None)
            errors.pop(parsed.id, None)
        else:
            errors[parsed.id] = parsed.error
    if bad_total > MAX_LINE_PROBLEMS:
        problems.append(JournalProblem(path, None, f"{bad_total - MAX_LINE_PROBLEMS} more "
                                                   f"malformed line(s) skipped"))
    pending = sorted(actions.values(), key=lambda a: a.created, reverse=True)
    return JournalState(
        path=path, pending=tuple(pending),
        last_error={k: v for k, v in errors.items() if k in actions},
        writers=tuple(writers), problems=tuple(problems),
        # only complete lines count: a lone torn line may be a live writer's first record
        unusable="no readable record in it" if good == 0 and bad_complete else None,
    )


def quarantine(path: Path) -> Path:
    """Move ``path`` into ``quarantine/`` next to it (never overwriting); returns where."""
    folder = path.parent / QUARANTINE_DIR
    folder.mkdir(exist_ok=True)
    dest = folder / path.name
    if dest.exists():
        dest = folder / f"{path.name}.{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    os.replace(path, dest)
    _fsync_dir(path.parent)
    return dest


def load_journal(path: Path) -> JournalState:
    """``read_journal``, moving an unusable file aside so it stops bothering every session."""
    state = read_journal(path)
    if state.unusable is None:
        return state
    try:
        dest = quarantine(path)
    except OSError as exc:
        problem = JournalProblem(path, None, f"{state.unusable}; could not move it to "
                                             f"{QUARANTINE_DIR}/: {_os_reason(exc)}")
        return replace(state, problems=(*state.problems, problem))
    problem = JournalProblem(path, None, f"{state.unusable}; quarantined as {dest} (any undo "
                                         f"in it was not replayed: inspect it by hand)")
    return replace(state, problems=(*state.problems, problem), quarantined=dest)


def load_journals(paths: Iterable[Path]) -> list[JournalState]:
    return [load_journal(p) for p in paths]


def warn_problems(states: Iterable[JournalState], stacklevel: int = 2) -> None:
    for state in states:
        for problem in state.problems:
            warnings.warn(str(problem), JournalWarning, stacklevel=stacklevel + 1)


def pending_in(path: Path) -> list[UndoAction]:
    """Pending undo actions of one journal, newest first; problems become JournalWarnings."""
    state = read_journal(path)
    warn_problems([state])
    return list(state.pending)


def all_journals(directory: Path | None = None) -> list[Path]:
    directory = directory or journal_dir()
    return sorted(directory.glob("*.jsonl")) if directory.is_dir() else []


def orphaned(directory: Path | None = None) -> list[Path]:
    """Journals with pending undo whose writers are all gone: a crashed or killed run."""
    states = load_journals(all_journals(directory))
    warn_problems(states)
    return [s.path for s in states if s.pending and s.running() is None]


# --- what an undo came to ------------------------------------------------------------------

UndoStatus = Literal["undone", "failed", "skipped"]


class UndoOutcomeDict(TypedDict):
    """One undo outcome in report.json."""

    id: str
    kind: str
    action: str
    status: UndoStatus
    reason: str
    at: float
    journal: str | None
    journal_error: str | None


@dataclass(frozen=True, slots=True)
class UndoOutcome:
    """What one undo came to. `undone` only when its effect was confirmed; `failed` leaves it
    pending with ``reason``; `skipped` means it was not attempted (dry run, live run).
    ``journal_error`` says the journal could not record this outcome (so it still lists the
    action as pending: a later rollback repeats it, harmlessly)."""

    action: UndoAction
    status: UndoStatus
    reason: str = ""
    at: float = field(default_factory=time.time)
    journal: Path | None = None
    journal_error: str | None = None

    @property
    def settled(self) -> bool:
        """Undone and recorded as such: nothing left for a later rollback."""
        return self.status == "undone" and self.journal_error is None

    def describe(self) -> str:
        text = {"undone": "undone", "failed": "FAILED", "skipped": "skipped"}[self.status]
        if self.reason:
            text += f": {self.reason}" if self.status != "undone" else f" ({self.reason})"
        if self.journal_error:
            text += f"; NOT RECORDED: {self.journal_error}"
        return text

    def as_dict(self) -> UndoOutcomeDict:
        return {"id": self.action.id, "kind": self.action.kind,
                "action": self.action.describe(), "status": self.status,
                "reason": self.reason, "at": self.at,
                "journal": str(self.journal) if self.journal is not None else None,
                "journal_error": self.journal_error}
