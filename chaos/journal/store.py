"""Crash-safe undo journal.

Every fault writes the action that undoes it here, fsync'd, *before* it acts. When the undo's
effect is confirmed, a `done` line follows; an unconfirmed undo gets a `failed` line with its
reason and stays pending. A run killed with SIGKILL leaves pending entries behind, and
`kube-chaos rollback` replays them. Undo actions are idempotent (uncordon an uncordoned node,
start a running container), so replaying one whose `done` line was lost is harmless.

Reading never trusts the file: every record is checked field by field (types, ranges, the
known undo kinds, sizes); a malformed record is named (file, line and field, never the whole
record) and moved to ``quarantine/<journal>.quarantined``, a file that cannot be used at all is
moved to ``quarantine/`` whole, and neither stops the others. Journals and their quarantine hold
recorded pod templates: they are created 0600 in 0700 directories.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import re
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, TypedDict

from chaos.errors import JournalWriteFailed

QUARANTINE_DIR = "quarantine"
QUARANTINED_SUFFIX = ".quarantined"  # quarantine/<journal>.quarantined: its malformed records
MAX_LINE_PROBLEMS = 5  # per file: a garbage file must not flood the console
DESCRIBE_LIMIT = 80  # longer parameter values are elided in UndoAction.describe()
FILE_MODE = 0o600  # journals hold whole pod templates: for their owner only
DIR_MODE = 0o700
PID_MAX = 2**31 - 1  # pid_t is a signed 32-bit int: os.kill refuses anything larger
MAX_LINE_BYTES = 4 * 2**20  # one record: a recorded pod template is far smaller
MAX_JOURNAL_BYTES = 64 * 2**20  # a larger file is not one kube-chaos wrote: not read at all
ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
KIND_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,63}")


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
    if not 0 < writer.pid <= PID_MAX:
        return None  # no process can have it (records with such a pid are refused when read)
    try:
        os.kill(writer.pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):
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


def make_private_dir(directory: Path) -> None:
    """Create ``directory`` and any missing parent 0700 (existing ones are left as they are),
    each new entry fsync'd into its parent."""
    missing: list[Path] = []
    here = directory
    while not os.path.lexists(here):
        missing.append(here)
        if here.parent == here:
            break
        here = here.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue
        os.chmod(folder, DIR_MODE)  # whatever the umask
        _fsync_dir(folder.parent)


def _private(fd: int) -> None:
    """Tighten a file kube-chaos writes to 0600 (an older version made journals 0644)."""
    with contextlib.suppress(OSError):  # not ours to change: leave it, the write still counts
        if os.fstat(fd).st_mode & 0o777 != FILE_MODE:
            os.fchmod(fd, FILE_MODE)


def _same_file(fd: int, path: Path) -> bool:
    """Is ``fd`` still the file at ``path`` (not one a quarantine replaced or moved away)?"""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino)


def _open_locked(path: Path) -> tuple[int, bool]:
    """The journal at ``path``, created 0600 if missing, opened and locked; reopened when a
    quarantine rewrote or moved the file while we waited for the lock."""
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    for _ in range(10):
        try:
            fd = os.open(path, flags | os.O_EXCL, FILE_MODE)
            created = True
        except FileExistsError:
            fd = os.open(path, flags, FILE_MODE)
            created = False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # a forced rollback may append next to the live run
            if _same_file(fd, path):
                return fd, created
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    raise OSError(errno.EAGAIN, f"{path} keeps being replaced under the writer")


def _append_line(path: Path, line: bytes) -> None:
    fd, created = _open_locked(path)
    try:
        _private(fd)
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
            make_private_dir(directory)
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
    bad_lines: tuple[int, ...] = ()  # complete lines that are not valid records
    quarantined_records: Path | None = None  # where they were moved (the file stays)

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
    if isinstance(value, str | bytes):
        value = value[:limit]  # a huge value is never rendered whole
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _bad_field(obj: Mapping[str, object], name: str, expected: str) -> str:
    if name not in obj:
        return f"missing field {name!r}"
    return f"field {name!r} is {_short(obj[name])}, not {expected}"


def _str_map(value: object) -> dict[str, str] | None:
    """A JSON object of strings (a number is taken as its text: older records)."""
    if not isinstance(value, dict):
        return None
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or isinstance(item, bool) or \
                not isinstance(item, str | int | float):
            return None
        if isinstance(item, float) and not math.isfinite(item):
            return None
        out[key] = str(item)
    return out


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _writer(obj: Mapping[str, object]) -> Writer | str | None:
    """The record's writer, None when it names none (older records), or why its fields are
    wrong: a record whose writer cannot be told alive or gone is not replayed."""
    if obj.get("pid") is None and obj.get("host") is None and obj.get("pid_start") is None:
        return None
    pid = _whole(obj.get("pid"))
    if pid is None or not 0 < pid <= PID_MAX:
        return _bad_field(obj, "pid", f"a process id (1..{PID_MAX})")
    host = obj.get("host", "")
    if not isinstance(host, str) or len(host) > 255:
        return _bad_field(obj, "host", "a host name")
    raw_start = obj.get("pid_start")
    started = _whole(raw_start)
    if raw_start is not None and (started is None or started < 0):
        return _bad_field(obj, "pid_start", "a non-negative whole number or null")
    return Writer(pid=pid, host=host, started=started)


def _parse_undo(obj: Mapping[str, object], ident: str,
                kinds: Collection[str] | None) -> _Undo | str:
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        return _bad_field(obj, "kind", "a non-empty string")
    if not KIND_PATTERN.fullmatch(kind) or (kinds is not None and kind not in kinds):
        return _bad_field(obj, "kind", "a known undo kind")
    params = _str_map(obj.get("params"))
    if params is None:
        return _bad_field(obj, "params", "an object of strings")
    target = _str_map(obj.get("target", {}))
    if target is None:
        return _bad_field(obj, "target", "an object of strings")
    created = _number(obj.get("created"))
    if created is None:
        return _bad_field(obj, "created", "a number (epoch seconds)")
    writer = _writer(obj)
    if isinstance(writer, str):
        return writer
    action = UndoAction(kind=kind, params=params, target=target, id=ident, created=created)
    return _Undo(action, writer)


def _parse_mark(obj: Mapping[str, object], ident: str, op: str) -> _Mark | str:
    if "at" in obj and _number(obj["at"]) is None:
        return _bad_field(obj, "at", "a number (epoch seconds)")
    if op == "done":
        return _Mark(ident, None)
    error = obj.get("error")
    if error is not None and not isinstance(error, str):
        return _bad_field(obj, "error", "a string or null")
    return _Mark(ident, error or "failed (no reason recorded)")


def _parse_line(raw: bytes, kinds: Collection[str] | None = None) -> _Undo | _Mark | str:
    """One record, or why it cannot be used. ``kinds``: the undo kinds that may be replayed
    (None: any well-formed name)."""
    if len(raw) > MAX_LINE_BYTES:
        return f"line of {len(raw)} bytes, more than {MAX_LINE_BYTES}"
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
    if not ID_PATTERN.fullmatch(ident):
        return _bad_field(obj, "id", "up to 64 letters, digits, '_', '.' or '-'")
    op = obj.get("op")
    if op == "undo":
        return _parse_undo(obj, ident, kinds)
    if op in ("done", "failed"):
        return _parse_mark(obj, ident, op)
    return _bad_field(obj, "op", "'undo', 'done' or 'failed'")


def _lines(data: bytes) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes, complete): an unterminated last line is torn (a crash mid-write)."""
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    for number, raw in enumerate(lines, start=1):
        yield number, raw, True
    if tail:
        yield len(lines) + 1, tail, False


def _read_bounded(path: Path) -> bytes:
    """The file's bytes; OSError (EFBIG) when it is larger than any journal kube-chaos writes."""
    with path.open("rb") as fh:
        data = fh.read(MAX_JOURNAL_BYTES + 1)
    if len(data) > MAX_JOURNAL_BYTES:
        raise OSError(errno.EFBIG, f"larger than {MAX_JOURNAL_BYTES} bytes")
    return data


def read_journal(path: Path, kinds: Collection[str] | None = None) -> JournalState:
    """Parse every line on its own; malformed records become problems, never exceptions.
    ``kinds``: the undo kinds that may be replayed (None: any well-formed name). Pure reading:
    nothing is moved (``load_journal`` does that)."""
    try:
        data = _read_bounded(path)
    except FileNotFoundError:
        return JournalState(path)
    except OSError as exc:
        return JournalState(path, unusable=f"cannot read it: {_os_reason(exc)}")
    actions: dict[str, UndoAction] = {}
    errors: dict[str, str] = {}
    writers: dict[Writer, None] = {}
    problems: list[JournalProblem] = []
    bad_lines: list[int] = []
    bad_total = good = 0
    for number, raw, complete in _lines(data):
        if not raw.strip():
            continue
        parsed = _parse_line(raw, kinds)
        if isinstance(parsed, str):
            bad_total += 1
            if complete:
                bad_lines.append(number)
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
        writers=tuple(writers), problems=tuple(problems), bad_lines=tuple(bad_lines),
        # only complete lines count: a lone torn line may be a live writer's first record
        unusable="no readable record in it" if good == 0 and bad_lines else None,
    )


def _quarantine_folder(path: Path) -> Path:
    folder = path.parent / QUARANTINE_DIR
    make_private_dir(folder)
    return folder


def quarantine(path: Path) -> Path:
    """Move ``path`` into ``quarantine/`` next to it (never overwriting), for its owner only;
    returns where."""
    folder = _quarantine_folder(path)
    dest = folder / path.name
    if dest.exists():
        dest = folder / f"{path.name}.{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    os.replace(path, dest)
    with contextlib.suppress(OSError):
        os.chmod(dest, FILE_MODE)
    _fsync_dir(path.parent)
    return dest


def _write_private(path: Path, data: bytes, *, append: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | (
        os.O_APPEND if append else os.O_EXCL)
    fd = os.open(path, flags, FILE_MODE)
    try:
        _private(fd)
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def quarantine_records(path: Path, kinds: Collection[str] | None = None) -> tuple[Path, int]:
    """Move the complete lines of ``path`` that are not valid records to
    ``quarantine/<name>.quarantined`` (appended, 0600) and rewrite the journal without them
    (0600, atomically, under the writers' lock: a writer that waited for it reopens the new
    file). Returns where they went and how many; (path, 0) when there were none by then."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if not _same_file(fd, path):
            return path, 0  # replaced meanwhile: the next read judges the new file
        data = _read_bounded(path)
        keep: list[bytes] = []
        bad: list[bytes] = []
        for _, raw, complete in _lines(data):
            if complete and raw.strip() and isinstance(_parse_line(raw, kinds), str):
                bad.append(raw + b"\n")
            else:
                keep.append(raw + b"\n" if complete else raw)
        if not bad:
            return path, 0
        dest = _quarantine_folder(path) / f"{path.name}{QUARANTINED_SUFFIX}"
        _write_private(dest, b"".join(bad), append=True)
        _fsync_dir(dest.parent)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            _write_private(tmp, b"".join(keep), append=False)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        _fsync_dir(path.parent)
        return dest, len(bad)
    finally:
        os.close(fd)


def load_journal(path: Path, kinds: Collection[str] | None = None) -> JournalState:
    """``read_journal``, then moving what cannot be used aside so it stops bothering every
    session: an unusable file whole, malformed records of a usable one line by line."""
    state = read_journal(path, kinds)
    if state.unusable is None:
        if not state.bad_lines:
            return state
        try:
            dest, moved = quarantine_records(path, kinds)
        except OSError as exc:
            problem = JournalProblem(path, None, f"could not move {len(state.bad_lines)} "
                                                 f"malformed record(s) to {QUARANTINE_DIR}/: "
                                                 f"{_os_reason(exc)}")
            return replace(state, problems=(*state.problems, problem))
        if not moved:
            return state
        problem = JournalProblem(path, None, f"{moved} malformed record(s) moved to {dest} "
                                             f"(not replayed: inspect by hand)")
        return replace(state, problems=(*state.problems, problem), quarantined_records=dest)
    try:
        dest = quarantine(path)
    except OSError as exc:
        problem = JournalProblem(path, None, f"{state.unusable}; could not move it to "
                                             f"{QUARANTINE_DIR}/: {_os_reason(exc)}")
        return replace(state, problems=(*state.problems, problem))
    problem = JournalProblem(path, None, f"{state.unusable}; quarantined as {dest} (any undo "
                                         f"in it was not replayed: inspect it by hand)")
    return replace(state, problems=(*state.problems, problem), quarantined=dest)


def load_journals(paths: Iterable[Path],
                  kinds: Collection[str] | None = None) -> list[JournalState]:
    return [load_journal(p, kinds) for p in paths]


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
