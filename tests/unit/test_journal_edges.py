"""The journal at its limits, each pinned on both sides: a parameter as long as the describe
limit, a line as long as the line limit, a file as large as the file limit, a host name of 255
characters, a pid start of 0; the writer's lock that keeps losing its file; what loading says
when the malformed records moved (or could not); where a journal warning points; a directory
another process made first; a live writer looked at, never signalled."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from chaos.journal import store as jmod
from chaos.journal.store import (
    JournalProblem,
    JournalWarning,
    UndoAction,
    Writer,
    load_journal,
    pending_in,
    read_journal,
)


def _undo(**over: object) -> dict[str, object]:
    record: dict[str, object] = {"op": "undo", "id": "a1", "kind": "uncordon",
                                 "params": {"node": "w1"}, "target": {}, "created": 1.0}
    record.update(over)
    return record


def _journal(tmp_path: Path, *lines: bytes) -> Path:
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"".join(lines))
    return path


GOOD = json.dumps(_undo()).encode() + b"\n"


def test_a_parameter_as_long_as_the_limit_is_described_whole() -> None:
    action = UndoAction("restore-template", {"t": "x" * jmod.DESCRIBE_LIMIT,
                                             "u": "y" * (jmod.DESCRIBE_LIMIT + 1)})
    assert action.describe() == f"restore-template(t={'x' * 80}, u=<81 chars>)"


# --- the writer's open and lock -------------------------------------------------------------------


@pytest.fixture
def umask_022() -> object:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_journal_is_created_for_its_owner_before_a_byte_is_written(
        tmp_path: Path, umask_022: object) -> None:
    fd, created = jmod._open_locked(tmp_path / "run.jsonl")
    try:
        assert created is True
        assert (os.fstat(fd).st_mode & 0o777, os.fstat(fd).st_size) == (0o600, 0)
    finally:
        os.close(fd)


def test_a_journal_that_vanished_between_two_opens_is_created_for_its_owner(
        tmp_path: Path, umask_022: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """The exclusive create finds the file; a quarantine moves it away before the plain
    open, which then creates it."""
    real_open = os.open

    def racing_open(path: object, flags: int, *mode: int) -> int:
        if flags & os.O_EXCL:
            raise FileExistsError(errno.EEXIST, "File exists")
        return real_open(path, flags, *mode)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", racing_open)
    fd, created = jmod._open_locked(tmp_path / "run.jsonl")
    monkeypatch.undo()
    try:
        assert created is False
        assert os.fstat(fd).st_mode & 0o777 == 0o600
    finally:
        os.close(fd)


def test_the_writer_gives_up_after_ten_files_replaced_under_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "run.jsonl"
    looks: list[int] = []

    def replaced(fd: int, p: Path) -> bool:
        looks.append(fd)
        return False

    monkeypatch.setattr(jmod, "_same_file", replaced)
    with pytest.raises(OSError) as raised:
        jmod._open_locked(path)
    assert len(looks) == 10
    assert (raised.value.errno, raised.value.strerror) == (
        errno.EAGAIN, f"{path} keeps being replaced under the writer")
    assert jmod._os_reason(raised.value) == (f"{path} keeps being replaced under the writer "
                                             "(EAGAIN)")


def test_a_file_written_afresh_is_never_one_that_exists(tmp_path: Path) -> None:
    path = tmp_path / "quarantined"
    jmod._write_private(path, b"a\n", append=False)
    jmod._write_private(path, b"b\n", append=True)
    with pytest.raises(FileExistsError):
        jmod._write_private(path, b"c\n", append=False)
    assert path.read_bytes() == b"a\nb\n"


# --- reading at the limits ------------------------------------------------------------------------


def test_a_record_as_long_as_the_line_limit_is_read(tmp_path: Path) -> None:
    bare = len(json.dumps(_undo(params={"t": ""})).encode())
    line = json.dumps(_undo(params={"t": "A" * (jmod.MAX_LINE_BYTES - bare)})).encode()
    assert len(line) == jmod.MAX_LINE_BYTES
    state = read_journal(_journal(tmp_path, line + b"\n"))
    assert state.problems == ()
    assert [len(a.params["t"]) for a in state.pending] == [jmod.MAX_LINE_BYTES - bare]


def test_a_journal_as_large_as_the_file_limit_is_read_one_byte_more_is_not(
        tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with path.open("wb") as fh:
        fh.truncate(jmod.MAX_JOURNAL_BYTES)  # sparse: nothing is written
    assert len(jmod._read_bounded(path)) == jmod.MAX_JOURNAL_BYTES
    with path.open("ab") as fh:
        fh.truncate(jmod.MAX_JOURNAL_BYTES + 1)
    assert read_journal(path).unusable == ("cannot read it: larger than 67108864 bytes "
                                           "(EFBIG)")


class _Endless:
    """/dev/zero linked as a journal: a file without an end, of which only a bounded read
    ever returns."""

    def __enter__(self) -> _Endless:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            raise AssertionError("read to the end of a file that has none")
        return bytes(size)


def test_an_endless_journal_is_refused_after_the_file_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: _Endless())
    state = read_journal(tmp_path / "zero.jsonl")
    monkeypatch.undo()
    assert state.unusable == "cannot read it: larger than 67108864 bytes (EFBIG)"


@pytest.mark.parametrize(("fields", "writer"), [
    ({"pid": 12, "host": "h" * 255}, Writer(12, "h" * 255, None)),
    ({"pid": 12, "pid_start": 0}, Writer(12, "", 0)),
])
def test_a_writer_at_the_field_limits_is_read(tmp_path: Path, fields: dict[str, object],
                                              writer: Writer) -> None:
    state = read_journal(_journal(tmp_path, json.dumps(_undo(**fields)).encode() + b"\n"))
    assert state.problems == () and state.writers == (writer,)


@pytest.mark.parametrize(("fields", "reason"), [
    ({"pid": 12, "host": "h" * 256}, f"field 'host' is '{'h' * 56}..., not a host name"),
    ({"pid_start": 5}, "missing field 'pid'"),  # a writer named by its start time alone
])
def test_a_writer_past_the_field_limits_is_refused(tmp_path: Path, fields: dict[str, object],
                                                   reason: str) -> None:
    state = read_journal(_journal(tmp_path, json.dumps(_undo(**fields)).encode() + b"\n"))
    assert state.pending == () and state.writers == ()
    [problem] = state.problems
    assert problem.reason.split("; record skipped")[0] == reason


# --- loading: malformed records moved aside, or not -----------------------------------------------


def test_loading_says_where_the_malformed_records_went(tmp_path: Path) -> None:
    path = _journal(tmp_path, GOOD, b"junk\n")
    state = load_journal(path)
    dest = tmp_path / "quarantine" / "run.jsonl.quarantined"
    assert state.quarantined_records == dest
    assert [str(p) for p in state.problems] == [
        f"{path}:2: not JSON (Expecting value at column 1); record skipped: b'junk'",
        f"{path}: 1 malformed record(s) moved to {dest} (not replayed: inspect by hand)"]
    assert path.read_bytes() == GOOD


def test_loading_says_when_the_malformed_records_could_not_move(tmp_path: Path) -> None:
    path = _journal(tmp_path, GOOD, b"junk\n")
    (tmp_path / "quarantine").write_text("")  # a file where the folder would go
    state = load_journal(path)
    assert state.quarantined_records is None
    assert state.problems[-1] == JournalProblem(
        path, None, "could not move 1 malformed record(s) to quarantine/: Not a directory "
                    "(ENOTDIR)")
    assert len(state.problems) == 2 and path.read_bytes() == GOOD + b"junk\n"


def test_a_journal_warning_points_at_the_caller_of_the_reader(tmp_path: Path) -> None:
    path = _journal(tmp_path, GOOD, b"junk\n")
    with pytest.warns(JournalWarning) as caught:
        pending_in(path)
    [warning] = caught
    assert str(warning.message) == (f"{path}:2: not JSON (Expecting value at column 1); "
                                    "record skipped: b'junk'")
    # at the code that asked for the journal (pending_in's caller: this test, or mutmut's
    # trampoline around it), never inside the journal module itself
    assert warning.filename != jmod.__file__


# --- a directory made by someone else meanwhile ---------------------------------------------------


class _Racing:
    """``os`` as chaos.journal.store sees it, with ``raced`` made by another process between
    the look and the mkdir (the look still says it is missing)."""

    def __init__(self, raced: Path) -> None:
        self.raced = raced
        self.path = SimpleNamespace(lexists=lambda p: Path(p) != raced and os.path.lexists(p))

    def __getattr__(self, name: str) -> object:
        return getattr(os, name)


def test_a_parent_another_process_made_first_is_taken_and_the_rest_made(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parent = tmp_path / "state"
    parent.mkdir()
    monkeypatch.setattr(jmod, "os", _Racing(parent))
    jmod.make_private_dir(parent / "journal")
    monkeypatch.undo()
    assert (parent / "journal").is_dir()
    assert os.stat(parent / "journal").st_mode & 0o777 == 0o700


def test_missing_directories_are_made_even_when_no_ancestor_could_be_seen(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The look finds nothing up to the root (each ancestor is then met by a mkdir that finds
    it): the ones really missing are still made, the existing ones left alone."""
    monkeypatch.setattr(jmod, "os", SimpleNamespace(
        **{n: getattr(os, n) for n in ("mkdir", "chmod", "open", "fsync", "close", "O_RDONLY",
                                       "O_DIRECTORY")},
        path=SimpleNamespace(lexists=lambda p: False)))
    mode = os.stat(tmp_path).st_mode
    jmod.make_private_dir(tmp_path / "state" / "journal")
    monkeypatch.undo()
    assert os.stat(tmp_path / "state" / "journal").st_mode & 0o777 == 0o700
    assert os.stat(tmp_path / "state").st_mode & 0o777 == 0o700
    assert os.stat(tmp_path).st_mode == mode


# --- a live writer --------------------------------------------------------------------------------


def test_a_live_writer_is_looked_at_never_signalled() -> None:
    child = subprocess.Popen(["sleep", "60"])
    try:
        assert jmod.writer_running(Writer(child.pid)) == f"pid {child.pid} is still running"
    finally:
        child.terminate()
        child.wait()
    assert child.returncode == -signal.SIGTERM  # the first signal it got was ours
