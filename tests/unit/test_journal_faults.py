"""The journal under fault injection: short writes, a full disk, torn and garbage records,
unreadable files, an unwritable directory, reused pids. Nothing may be lost silently, and one bad
file must never hide the others."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from chaos.errors import JournalWriteFailed
from chaos.journal import store as jmod
from chaos.journal.store import (
    Journal,
    JournalWarning,
    UndoAction,
    Writer,
    all_journals,
    load_journal,
    orphaned,
    read_journal,
)

DEAD_PID = 2**22 + 12345  # above Linux's largest pid_max: no process has it
REAL_WRITE = os.write


def undo_line(ident: str, created: object = 1.0, **extra: object) -> bytes:
    record: dict[str, object] = {"op": "undo", "id": ident, "kind": "uncordon",
                                 "params": {"node": "w1"}, "target": {}, "created": created,
                                 "pid": DEAD_PID, "host": socket.gethostname()}
    record.update(extra)
    return json.dumps(record).encode() + b"\n"


def patch_write(monkeypatch: pytest.MonkeyPatch, marker: bytes,
                fake: Callable[[int, bytes], int]) -> None:
    """Route only the journal lines containing ``marker`` through ``fake``."""
    def write(fd: int, data: bytes | memoryview) -> int:
        raw = bytes(data)
        return fake(fd, raw) if marker in raw else REAL_WRITE(fd, raw)
    monkeypatch.setattr(os, "write", write)


# --- writing ---------------------------------------------------------------------------------


def test_disk_full_after_a_short_write_fails_loudly_and_the_next_record_is_intact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    j = Journal(tmp_path / "run.jsonl")
    first = j.record(UndoAction("uncordon", {"node": "w1"}, created=1.0))
    calls: list[int] = []

    def half_then_enospc(fd: int, data: bytes) -> int:
        calls.append(len(data))
        if len(calls) == 1:
            return REAL_WRITE(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    patch_write(monkeypatch, b'"w2"', half_then_enospc)
    with pytest.raises(JournalWriteFailed, match=r"No space left on device \(ENOSPC\)"):
        j.record(UndoAction("start-node", {"node": "w2"}, created=2.0))
    assert len(calls) == 2  # the short write was followed up, not taken as success
    monkeypatch.undo()  # the disk has room again

    third = j.record(UndoAction("uncordon", {"node": "w3"}, created=3.0))
    j.done(first)
    state = read_journal(j.path)
    assert [a.id for a in state.pending] == [third.id]
    assert [p.line for p in state.problems] == [2]
    assert "not JSON" in state.problems[0].reason
    assert state.unusable is None


def test_short_writes_are_continued_until_the_whole_line_is_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []

    def dribble(fd: int, data: bytes) -> int:
        sizes.append(len(data))
        return REAL_WRITE(fd, data[:7])

    patch_write(monkeypatch, b'"op"', dribble)
    j = Journal(tmp_path / "run.jsonl")
    a = j.record(UndoAction("uncordon", {"node": "w1"}))
    monkeypatch.undo()
    assert len(sizes) > 5
    assert [x.id for x in read_journal(j.path).pending] == [a.id]
    assert j.path.read_bytes().endswith(b"\n")


def test_a_write_that_makes_no_progress_is_an_error_not_a_hang(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    patch_write(monkeypatch, b'"op"', lambda fd, data: 0)
    with pytest.raises(JournalWriteFailed, match="wrote 0 of"):
        Journal(tmp_path / "run.jsonl").record(UndoAction("uncordon", {"node": "w1"}))


def test_file_is_fsynced_and_directory_too_when_the_file_is_created(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    j = Journal(tmp_path / "run.jsonl")
    j.record(UndoAction("uncordon", {"node": "w1"}))
    assert synced == ["file", "dir"]
    j.record(UndoAction("uncordon", {"node": "w2"}))
    assert synced == ["file", "dir", "file"]


def test_a_failing_fsync_is_a_failed_write(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(JournalWriteFailed, match="EIO"):
        Journal(tmp_path / "run.jsonl").record(UndoAction("uncordon", {"node": "w1"}))


def test_journal_directory_that_cannot_be_created(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "state").write_text("a file where the state directory should be")
    monkeypatch.setenv("KUBE_CHAOS_STATE", str(tmp_path / "state"))
    with pytest.raises(JournalWriteFailed, match=r"state/journal"):
        Journal.for_run("r1")


def test_unwritable_directory_fails_the_record(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    real_open = os.open

    def open_(path: str | os.PathLike[str], flags: int, mode: int = 0o777,
              **kw: object) -> int:
        if str(path).startswith(str(locked)) and flags & (os.O_WRONLY | os.O_RDWR):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", open_)
    j = Journal(locked / "run.jsonl")
    with pytest.raises(JournalWriteFailed, match=r"Permission denied \(EACCES\)"):
        j.record(UndoAction("uncordon", {"node": "w1"}))
    assert not j.path.exists()


def test_a_torn_last_line_is_closed_before_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    j = Journal(path)
    a = j.record(UndoAction("uncordon", {"node": "w1"}, created=1.0))
    b = j.record(UndoAction("uncordon", {"node": "w2"}, created=2.0))
    with path.open("ab") as fh:
        fh.write(b'{"op": "done", "id": "')  # the crash came mid-write
    j.done(a)  # without the repair this line would be glued to the torn one and lost
    state = read_journal(path)
    assert [x.id for x in state.pending] == [b.id]
    assert [(p.line, "not JSON" in p.reason) for p in state.problems] == [(3, True)]


# --- reading ---------------------------------------------------------------------------------


GARBAGE = {
    "non-utf8": (b'\xff\xfe{"op": "done"}', "not UTF-8 (byte 0xff at column 1)"),
    "not-json": (b"{op: undo", "not JSON"),
    "not-object": (b"[1, 2]", "not a JSON object but list"),
    "too-deep": (b"[" * 200_000 + b"]" * 200_000, "not JSON (RecursionError)"),
    "missing-kind": (b'{"op": "undo", "id": "x", "params": {}, "created": 1}',
                     "missing field 'kind'"),
    "missing-id": (b'{"op": "done"}', "missing field 'id'"),
    "non-numeric-time": (undo_line("x", created="yesterday").strip(),
                         "field 'created' is 'yesterday', not a number"),
    "nan-time": (b'{"op": "undo", "id": "x", "kind": "uncordon", "params": {}, '
                 b'"created": NaN}', "field 'created' is nan, not a number"),
    "params-list": (b'{"op": "undo", "id": "x", "kind": "uncordon", "params": ["w1"], '
                    b'"created": 1}', "field 'params' is ['w1'], not an object of strings"),
    "unknown-op": (b'{"op": "explode", "id": "x"}', "field 'op' is 'explode'"),
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_a_malformed_record_is_skipped_and_named_with_its_line(tmp_path: Path,
                                                               name: str) -> None:
    bad, reason = GARBAGE[name]
    path = tmp_path / "run.jsonl"
    path.write_bytes(undo_line("a1", 1.0) + bad + b"\n" + undo_line("a2", 2.0))
    state = read_journal(path)
    assert [a.id for a in state.pending] == ["a2", "a1"]
    assert len(state.problems) == 1
    problem = state.problems[0]
    assert (problem.path, problem.line) == (path, 2)
    assert reason in problem.reason
    assert str(problem).startswith(f"{path}:2: ")
    assert state.unusable is None


def test_a_failed_record_keeps_the_undo_pending_with_its_reason(tmp_path: Path) -> None:
    j = Journal(tmp_path / "run.jsonl")
    a = j.record(UndoAction("uncordon", {"node": "w1"}))
    j.done(a, error="API server unreachable")
    state = read_journal(j.path)
    assert [x.id for x in state.pending] == [a.id]
    assert state.last_error == {a.id: "API server unreachable"}
    j.done(a)
    assert read_journal(j.path).last_error == {}


def test_a_file_of_garbage_is_quarantined_and_the_others_still_roll_back(
        tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_bytes(undo_line("g1"))
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(b"\x00\x00\x00\x00\n\xff\xff\n")
    with pytest.warns(JournalWarning) as caught:
        assert orphaned(tmp_path) == [good]
    messages = [str(w.message) for w in caught]
    moved = tmp_path / "quarantine" / "garbage.jsonl"
    assert any(str(garbage) in m and f"quarantined as {moved}" in m for m in messages)
    assert moved.read_bytes() == b"\x00\x00\x00\x00\n\xff\xff\n"
    assert all_journals(tmp_path) == [good]


def test_an_unreadable_file_is_quarantined(tmp_path: Path) -> None:
    odd = tmp_path / "odd.jsonl"
    odd.mkdir()  # a directory where a journal should be: reading it fails
    state = load_journal(odd)
    assert state.unusable is not None and "EISDIR" in state.unusable
    assert state.quarantined == tmp_path / "quarantine" / "odd.jsonl"
    assert not odd.exists()
    assert "quarantined as" in str(state.problems[-1])


def test_quarantine_never_overwrites_an_earlier_one(tmp_path: Path) -> None:
    for _ in range(2):
        (tmp_path / "bad.jsonl").write_bytes(b"garbage\n")
        load_journal(tmp_path / "bad.jsonl")
    assert len(list((tmp_path / "quarantine").iterdir())) == 2


def test_a_lone_torn_line_is_not_quarantined(tmp_path: Path) -> None:
    """It may be a live writer's first record, half on disk."""
    path = tmp_path / "run.jsonl"
    path.write_bytes(b'{"op": "undo", "id": "a1", "ki')
    state = load_journal(path)
    assert state.unusable is None and path.exists()
    assert "torn last line" in state.problems[0].reason


def test_many_bad_lines_are_summarised(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(undo_line("a1") + b"junk\n" * 20)
    state = read_journal(path)
    assert len(state.problems) == jmod.MAX_LINE_PROBLEMS + 1
    assert "15 more malformed line(s)" in state.problems[-1].reason


# --- who wrote it, and is it still running ----------------------------------------------------


def test_liveness_survives_pid_reuse_and_other_hosts() -> None:
    me = jmod.this_writer()
    assert me.pid == os.getpid() and me.started is not None
    assert jmod.writer_running(me) is not None
    assert jmod.writer_running(Writer(me.pid, me.host, me.started + 1)) is None  # pid reused
    assert jmod.writer_running(Writer(DEAD_PID, me.host, 5)) is None
    other = jmod.writer_running(Writer(DEAD_PID, "elsewhere.example", 5))
    assert other is not None and "another host" in other


def test_a_journal_is_live_while_any_writer_runs(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    me = jmod.this_writer()
    path.write_bytes(undo_line("a1") + undo_line("a2", 2.0, pid=me.pid, pid_start=me.started))
    state = read_journal(path)
    assert state.running() == f"pid {me.pid} on {me.host} is still running"
    assert orphaned(tmp_path) == []


def test_a_killed_but_unreaped_writer_is_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = jmod.process_start(child.pid)
        writer = Writer(child.pid, socket.gethostname(), started)
        assert jmod.writer_running(writer) is not None
        os.kill(child.pid, signal.SIGKILL)
        for _ in range(200):  # a zombie until we reap it below
            if jmod.writer_running(writer) is None:
                break
            time.sleep(0.01)
        assert jmod.writer_running(writer) is None
    finally:
        child.kill()
        child.wait()
