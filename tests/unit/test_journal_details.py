"""The journal's small print: where it lives, how it names things in messages and in
report.json. Users read these strings (rollback output, report.json), so they are exact."""

from __future__ import annotations

import errno
import json
import os
import re
import socket
from pathlib import Path

import pytest

from chaos.errors import JournalWriteFailed
from chaos.journal import store as jmod
from chaos.journal.store import (
    Journal,
    JournalProblem,
    UndoAction,
    UndoOutcome,
    Writer,
    all_journals,
    journal_dir,
    read_journal,
)

# --- where journals live ---------------------------------------------------------------------


def test_journal_dir_prefers_kube_chaos_state_then_xdg_then_home(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBE_CHAOS_STATE", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert journal_dir() == tmp_path / "explicit" / "journal"
    monkeypatch.delenv("KUBE_CHAOS_STATE")
    assert journal_dir() == tmp_path / "xdg" / "kube-chaos" / "journal"
    monkeypatch.setenv("XDG_STATE_HOME", "")  # empty means unset (XDG base directory spec)
    assert journal_dir() == tmp_path / "home" / ".local" / "state" / "kube-chaos" / "journal"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert journal_dir() == tmp_path / "home" / ".local" / "state" / "kube-chaos" / "journal"


def test_for_run_creates_missing_parents(tmp_path: Path) -> None:
    j = Journal.for_run("r1", tmp_path / "a" / "b" / "journal")
    assert j.path == tmp_path / "a" / "b" / "journal" / "r1.jsonl"
    assert j.path.parent.is_dir()
    again = Journal.for_run("r2", tmp_path / "a" / "b" / "journal")  # an existing directory
    assert again.path == tmp_path / "a" / "b" / "journal" / "r2.jsonl"


def test_for_run_names_the_directory_and_the_os_reason(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(JournalWriteFailed) as info:
        Journal.for_run("r1", tmp_path / "file" / "journal")
    assert str(tmp_path / "file" / "journal") in str(info.value)
    assert "Not a directory (ENOTDIR)" in str(info.value)


def test_all_journals_of_a_missing_directory_is_empty(tmp_path: Path) -> None:
    assert all_journals(tmp_path / "missing") == []
    (tmp_path / "b.jsonl").write_text("")
    (tmp_path / "a.jsonl").write_text("")
    (tmp_path / "notes.txt").write_text("")
    assert all_journals(tmp_path) == [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]


def test_quarantine_names_a_second_file_with_time_and_a_random_suffix(tmp_path: Path) -> None:
    for _ in range(2):
        (tmp_path / "bad.jsonl").write_bytes(b"garbage\n")
        dest = jmod.quarantine(tmp_path / "bad.jsonl")
    assert re.fullmatch(r"bad\.jsonl\.\d{8}T\d{6}-[0-9a-f]{6}", dest.name), dest.name


# --- how things are named in messages --------------------------------------------------------


def test_os_reason_is_the_text_and_the_errno_name() -> None:
    assert jmod._os_reason(OSError(errno.ENOSPC, "No space left on device")) == \
        "No space left on device (ENOSPC)"
    assert jmod._os_reason(OSError("no errno at all")) == "no errno at all"
    assert jmod._os_reason(OSError(99999, "odd")) == "odd"  # an errno Python has no name for


def test_short_cuts_long_values_to_the_limit_with_an_ellipsis() -> None:
    assert jmod._short("x" * 58) == repr("x" * 58)  # 60 characters: kept whole
    assert jmod._short("x" * 59) == "'" + "x" * 56 + "..."  # 61: cut to 60
    assert len(jmod._short("y" * 500, 20)) == 20


def test_writer_and_problem_descriptions() -> None:
    assert Writer(12, "box").describe() == "pid 12 on box"
    assert Writer(12).describe() == "pid 12"
    assert str(JournalProblem(Path("/j/r.jsonl"), 3, "bad")) == "/j/r.jsonl:3: bad"
    assert str(JournalProblem(Path("/j/r.jsonl"), None, "bad")) == "/j/r.jsonl: bad"


def test_writer_running_edge_pids(monkeypatch: pytest.MonkeyPatch) -> None:
    host = socket.gethostname()
    assert jmod.writer_running(Writer(0, host)) is None  # never a real writer
    assert jmod.writer_running(Writer(-3, host)) is None
    assert jmod.writer_running(Writer(1, host)) == f"pid 1 on {host} is still running"
    # no recorded start time: the pid alone says it runs
    assert jmod.writer_running(Writer(os.getpid(), host)) == \
        f"pid {os.getpid()} on {host} is still running"
    monkeypatch.setattr(jmod, "_proc_stat", lambda pid: ["X", "1"])  # dead, being reaped
    assert jmod.writer_running(Writer(os.getpid(), host)) is None


# --- an undo outcome, as the report shows it -------------------------------------------------


def test_undo_outcome_as_dict_is_exact() -> None:
    action = UndoAction("uncordon", {"node": "w1"}, id="abc", created=1.0)
    assert UndoOutcome(action, "failed", "boom", at=5.0, journal=Path("/j/r.jsonl"),
                       journal_error="EIO").as_dict() == {
        "id": "abc", "kind": "uncordon", "action": "uncordon(node=w1)", "status": "failed",
        "reason": "boom", "at": 5.0, "journal": "/j/r.jsonl", "journal_error": "EIO"}
    assert UndoOutcome(action, "undone", at=6.0).as_dict()["journal"] is None


@pytest.mark.parametrize(("status", "reason", "journal_error", "expected"), [
    ("undone", "", None, "undone"),
    ("undone", "already gone", None, "undone (already gone)"),
    ("failed", "boom", None, "FAILED: boom"),
    ("skipped", "", None, "skipped"),
    ("skipped", "dry run", None, "skipped: dry run"),
    ("undone", "", "EIO", "undone; NOT RECORDED: EIO"),
])
def test_undo_outcome_describe(status: jmod.UndoStatus, reason: str, journal_error: str | None,
                               expected: str) -> None:
    action = UndoAction("none", {})
    assert UndoOutcome(action, status, reason, journal_error=journal_error).describe() == expected


# --- reading records: what each malformed one is called -------------------------------------


def _undo(**over: object) -> dict[str, object]:
    record: dict[str, object] = {"op": "undo", "id": "a1", "kind": "uncordon",
                                 "params": {"node": "w1"}, "target": {}, "created": 1.0}
    record.update(over)
    return record


@pytest.mark.parametrize(("line", "reason"), [
    (json.dumps(_undo(kind="")).encode(), "field 'kind' is '', not a non-empty string"),
    (json.dumps(_undo(id="")).encode(), "field 'id' is '', not a non-empty string"),
    (json.dumps({"op": "done"}).encode(), "missing field 'id'"),
    (json.dumps(_undo(target={"a": [1]})).encode(),
     "field 'target' is {'a': [1]}, not an object of strings"),
    (json.dumps(_undo(params={"n": True})).encode(),
     "field 'params' is {'n': True}, not an object of strings"),
    (json.dumps({"op": "redo", "id": "a1"}).encode(),
     "field 'op' is 'redo', not 'undo', 'done' or 'failed'"),
    (b"\xff{}", "not UTF-8 (byte 0xff at column 1)"),
    (b"{bad", "not JSON (Expecting property name enclosed in double quotes at column 2)"),
    (b"[" * 100_000, "not JSON (RecursionError)"),
])
def test_each_malformed_record_is_named(tmp_path: Path, line: bytes, reason: str) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(line + b"\n")
    [problem] = read_journal(path).problems
    assert problem.line == 1
    assert problem.reason.startswith(reason + "; record skipped: ")


def test_a_skipped_record_is_shown_cut_to_80_characters(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"x" * 100 + b"\n")
    [problem] = read_journal(path).problems
    shown = "b'" + "x" * 75 + "..."
    assert str(problem) == f"{path}:1: not JSON (Expecting value at column 1); record skipped: " \
        f"{shown}"


def test_records_after_a_bad_one_still_count(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"junk\n" + json.dumps(_undo()).encode() + b"\n"
                     + json.dumps({"op": "done", "id": "never-recorded"}).encode() + b"\n")
    state = read_journal(path)
    assert [a.id for a in state.pending] == ["a1"]
    assert [p.line for p in state.problems] == [1]
    assert state.unusable is None


def test_a_failed_mark_without_reason_and_a_replayed_undo(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    lines = [_undo(), {"op": "failed", "id": "a1", "error": ""}]
    path.write_bytes(b"".join(json.dumps(x).encode() + b"\n" for x in lines))
    assert read_journal(path).last_error == {"a1": "failed (no reason recorded)"}
    with path.open("ab") as fh:  # the same undo recorded again: its old failure is history
        fh.write(json.dumps(_undo(created=2.0)).encode() + b"\n")
    state = read_journal(path)
    assert state.last_error == {} and [a.created for a in state.pending] == [2.0]


def test_up_to_five_bad_lines_are_named_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(json.dumps(_undo()).encode() + b"\n" + b"junk\n" * 5)
    assert [p.line for p in read_journal(path).problems] == [2, 3, 4, 5, 6]
    path.write_bytes(json.dumps(_undo()).encode() + b"\n" + b"junk\n" * 7)
    assert str(read_journal(path).problems[-1]) == f"{path}: 2 more malformed line(s) skipped"


def test_unusable_means_no_readable_complete_record(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"junk\n" + b'{"op": "undo"')  # one complete bad line, then a torn one
    state = read_journal(path)
    assert state.unusable == "no readable record in it" and state.path == path
    missing = read_journal(tmp_path / "missing.jsonl")
    assert missing.path == tmp_path / "missing.jsonl" and missing.unusable is None
    (tmp_path / "dir.jsonl").mkdir()
    unreadable = read_journal(tmp_path / "dir.jsonl")
    assert unreadable.path == tmp_path / "dir.jsonl"
    assert unreadable.unusable == "cannot read it: Is a directory (EISDIR)"


def test_a_file_that_cannot_be_quarantined_is_named(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"junk\n")

    def refuse(p: Path) -> Path:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(jmod, "quarantine", refuse)
    state = jmod.load_journal(path)
    assert state.quarantined is None and path.exists()
    assert [str(p) for p in state.problems] == [
        f"{path}:1: not JSON (Expecting value at column 1); record skipped: b'junk'",
        f"{path}: no readable record in it; could not move it to quarantine/: Permission "
        f"denied (EACCES)"]


@pytest.mark.parametrize(("fields", "writer"), [
    ({"pid": 1, "host": "h", "pid_start": 77}, Writer(1, "h", 77)),
    ({"pid": 12}, Writer(12, "", None)),
    ({"pid": 2**31 - 1, "host": "h", "pid_start": None}, Writer(2**31 - 1, "h", None)),
    ({}, None),  # a record naming no writer (an older kube-chaos): the writer is unknown
])
def test_the_writer_of_a_record(tmp_path: Path, fields: dict[str, object],
                                writer: Writer | None) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(json.dumps(_undo(**fields)).encode() + b"\n")
    state = read_journal(path)
    assert state.writers == ((writer,) if writer else ())
    assert len(state.pending) == 1 and state.problems == ()


# Deliberately changed (issue 18): a record whose writer fields are wrong used to be replayed
# with an unknown writer (so a live run could be rolled back under it, and pid 2**31 crashed
# os.kill); it is now refused, named by its field, like any malformed record.
@pytest.mark.parametrize(("fields", "reason"), [
    ({"pid": 2**31}, "field 'pid' is 2147483648, not a process id (1..2147483647)"),
    ({"pid": 0, "host": "h"}, "field 'pid' is 0, not a process id"),
    ({"pid": -1}, "field 'pid' is -1, not a process id"),
    ({"pid": True, "host": "h"}, "field 'pid' is True, not a process id"),
    ({"pid": "12", "host": "h"}, "field 'pid' is '12', not a process id"),
    ({"host": "h"}, "missing field 'pid'"),
    ({"pid": 12, "host": 5}, "field 'host' is 5, not a host name"),
    ({"pid": 12, "pid_start": True}, "field 'pid_start' is True, not a non-negative"),
    ({"pid": 12, "pid_start": -3}, "field 'pid_start' is -3, not a non-negative"),
])
def test_a_record_with_a_bad_writer_is_refused(tmp_path: Path, fields: dict[str, object],
                                               reason: str) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(json.dumps(_undo(**fields)).encode() + b"\n")
    state = read_journal(path)
    assert state.pending == () and state.writers == () and state.bad_lines == (1,)
    [problem] = state.problems
    assert problem.line == 1 and problem.reason.startswith(reason), problem.reason


def test_a_done_line_records_when(tmp_path: Path) -> None:
    j = Journal(tmp_path / "run.jsonl")
    j.done(j.record(UndoAction("none", {}, id="a1")), error="boom")
    done = json.loads(j.path.read_bytes().splitlines()[-1])
    assert sorted(done) == ["at", "error", "id", "op"]
    assert (done["op"], done["id"], done["error"]) == ("failed", "a1", "boom")


# --- files on disk ---------------------------------------------------------------------------


def test_a_new_journal_is_for_its_owner_only(tmp_path: Path) -> None:
    # deliberately changed (issue 18): journals hold whole pod templates; they were 0644
    old = os.umask(0o022)
    try:
        j = Journal(tmp_path / "run.jsonl")
        j.record(UndoAction("none", {}))
    finally:
        os.umask(old)
    assert os.stat(j.path).st_mode & 0o777 == 0o600


def test_fsync_dir_opens_directories_only_and_tolerates_einval_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        jmod._fsync_dir(tmp_path / "file")
    failure = [errno.EINVAL]

    def fsync(fd: int) -> None:
        raise OSError(failure[0], os.strerror(failure[0]))

    monkeypatch.setattr(os, "fsync", fsync)
    jmod._fsync_dir(tmp_path)  # some filesystems cannot fsync a directory: fine
    failure[0] = errno.EIO
    with pytest.raises(OSError) as info:
        jmod._fsync_dir(tmp_path)
    assert info.value.errno == errno.EIO


def test_an_undo_line_names_its_writer(tmp_path: Path) -> None:
    j = Journal(tmp_path / "run.jsonl")
    j.record(UndoAction("none", {}, id="a1"))
    line = json.loads(j.path.read_bytes().splitlines()[0])
    me = jmod.this_writer()
    assert (line["pid"], line["host"], line["pid_start"]) == (me.pid, me.host, me.started)


def test_one_byte_writes_are_still_progress(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real(fd, bytes(data)[:1]))
    j = Journal(tmp_path / "run.jsonl")
    j.record(UndoAction("none", {}, id="a1"))
    monkeypatch.undo()
    assert [a.id for a in j.pending()] == ["a1"]


def test_a_write_of_nothing_is_an_io_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "write", lambda fd, data: 0)
    with pytest.raises(OSError) as info:
        jmod._write_all(1, b"abc")
    assert info.value.errno == errno.EIO
    assert info.value.strerror == "write() wrote 0 of 3 bytes"


def test_blank_lines_are_skipped_not_the_end(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"\n   \n" + json.dumps(_undo()).encode() + b"\n")
    state = read_journal(path)
    assert [a.id for a in state.pending] == ["a1"] and state.problems == ()


def test_proc_stat_fields_start_after_the_last_parenthesis(
        monkeypatch: pytest.MonkeyPatch) -> None:
    stat = "4242 (odd) name) (x) S 1 " + " ".join(str(i) for i in range(30))
    monkeypatch.setattr(Path, "read_text", lambda self: stat)
    fields = jmod._proc_stat(4242)
    assert fields is not None and fields[:3] == ["S", "1", "0"]


# --- quarantine_records: exactly what moves, what stays, and when nothing does ----------------

DONE_A = b'{"op": "done", "id": "a1"}\n'
DONE_B = b'{"op": "done", "id": "b2"}\n'
TORN = b'{"op": "done", "id": "c3"'  # a last line still being written: no newline yet


def test_quarantine_records_moves_every_bad_line_and_keeps_the_rest_byte_for_byte(
        tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(DONE_A + b"not json\n" + DONE_B + b"[1]\n" + TORN)
    dest, moved = jmod.quarantine_records(path)
    assert (dest, moved) == (tmp_path / "quarantine" / "run.jsonl.quarantined", 2)
    assert dest.read_bytes() == b"not json\n[1]\n"
    assert path.read_bytes() == DONE_A + DONE_B + TORN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quarantine", "run.jsonl"]


def test_quarantine_records_appends_to_an_earlier_quarantine(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(DONE_A + b"first\n")
    jmod.quarantine_records(path)
    path.write_bytes(path.read_bytes() + b"second\n")
    dest, moved = jmod.quarantine_records(path)
    assert moved == 1 and dest.read_bytes() == b"first\nsecond\n"
    assert path.read_bytes() == DONE_A


def test_quarantine_records_of_a_clean_journal_moves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(DONE_A + TORN)
    assert jmod.quarantine_records(path) == (path, 0)
    assert path.read_bytes() == DONE_A + TORN and not (tmp_path / "quarantine").exists()


def test_quarantine_records_leaves_a_journal_replaced_while_it_waited_for_the_lock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"bad\n")
    real = jmod.fcntl

    class Replacing:  # the lock is granted only after another session rewrote the file
        LOCK_EX = real.LOCK_EX

        @staticmethod
        def flock(fd: int, op: int) -> None:
            fresh = tmp_path / "fresh"
            fresh.write_bytes(b"also bad\n")
            os.replace(fresh, path)
            real.flock(fd, op)

    monkeypatch.setattr(jmod, "fcntl", Replacing)
    assert jmod.quarantine_records(path) == (path, 0)
    assert path.read_bytes() == b"also bad\n" and not (tmp_path / "quarantine").exists()
