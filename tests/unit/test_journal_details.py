"""The journal's small print: where it lives, how it names things in messages and in
report.json. Users read these strings (rollback output, report.json), so they are exact."""

from __future__ import annotations

import errno
import os
import re
import socket
from pathlib import Path

import pytest

from chaos import journal as jmod
from chaos.errors import JournalWriteFailed
from chaos.journal import (
    Journal,
    JournalProblem,
    UndoAction,
    UndoOutcome,
    Writer,
    all_journals,
    journal_dir,
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
