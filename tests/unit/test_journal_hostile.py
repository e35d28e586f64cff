"""Issue 18, item 1: journal records are not trusted as read. A hostile journal (a pid os.kill
cannot take, a pid that is no pid, an unknown undo kind, params that are not a map, truncated
JSON, a huge line) next to a valid one: `kube-chaos rollback`, its --dry-run and the
session-start replay still undo (or list) the valid one, move the hostile record aside and
name it in one line (file, line, field), never the whole record."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from chaos.cli import rollback as cli_rollback
from chaos.faults import undo
from chaos.journal import store as jmod
from chaos.journal.store import Journal, UndoAction, Writer, load_journal, read_journal

HOST = socket.gethostname()
SECRET = "TEMPLATE-SECRET-" + "s" * 200  # deep in a record: must never reach the console


def record(**over: object) -> dict[str, object]:
    """An undo record as a crashed run on this host writes it (the writer is gone)."""
    out: dict[str, object] = {"op": "undo", "id": "h1", "kind": "uncordon",
                              "params": {"node": "evil", "template": SECRET},
                              "target": {"kubeconfig": "/k", "context": "kind-x"},
                              "created": 5.0, "pid": 2**22 + 12345, "host": HOST,
                              "pid_start": 1}
    out.update(over)
    return out


def line(**over: object) -> bytes:
    return json.dumps(record(**over)).encode() + b"\n"


HUGE = b'{"op": "undo", "id": "h1", "params": {"t": "' + b"A" * jmod.MAX_LINE_BYTES + b'"}}\n'
HOSTILE: dict[str, tuple[bytes, str]] = {
    "pid-2-31": (line(pid=2**31), "field 'pid' is 2147483648, not a process id"),
    "pid-minus-1": (line(pid=-1), "field 'pid' is -1, not a process id"),
    "pid-x": (line(pid="x"), "field 'pid' is 'x', not a process id"),
    "unknown-kind": (line(kind="format-disk"), "field 'kind' is 'format-disk', not a known"),
    "params-list": (line(params=["node", "w1"]), "field 'params' is ['node', 'w1'], not an "
                                                 "object of strings"),
    "params-nested": (line(params={"node": {"x": SECRET}}), "field 'params' is "),
    "truncated": (line()[:60] + b"\n", "not JSON ("),
    "huge": (HUGE, f"line of {len(HUGE) - 1} bytes, more than {jmod.MAX_LINE_BYTES}"),
    "created-inf": (line().replace(b'"created": 5.0', b'"created": Infinity'),
                    "field 'created' is inf, not a number"),
}


class Cluster:
    """Fake handlers: what was undone."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def handlers(self) -> dict[str, undo.Handler]:
        def uncordon(a: UndoAction) -> None:
            self.calls.append(f"uncordon {a.params['node']}")

        return {"uncordon": uncordon, "none": lambda a: None}


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Cluster:
    fake = Cluster()
    monkeypatch.setattr(undo, "HANDLERS", fake.handlers())
    return fake


def hostile_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> Path:
    """$KUBE_CHAOS_STATE/journal with a valid crashed journal (uncordon w1), the hostile one,
    and a journal mixing a valid record (uncordon w2) with the same hostile record."""
    monkeypatch.setenv("KUBE_CHAOS_STATE", str(tmp_path))
    folder = tmp_path / "journal"
    folder.mkdir()
    bad, _ = HOSTILE[name]
    (folder / "valid.jsonl").write_bytes(line(id="v1", params={"node": "w1"}))
    (folder / "hostile.jsonl").write_bytes(bad)
    (folder / "mixed.jsonl").write_bytes(line(id="m1", params={"node": "w2"}, created=6.0) + bad)
    return folder


def assert_quarantined(folder: Path, name: str, text: str) -> None:
    _, reason = HOSTILE[name]
    # the hostile file is moved aside whole (nothing in it was usable) ...
    assert not (folder / "hostile.jsonl").exists()
    assert (folder / "quarantine" / "hostile.jsonl").exists()
    # ... the mixed one keeps its valid record and loses the hostile one to quarantine
    assert [json.loads(x)["id"] for x in (folder / "mixed.jsonl").read_bytes().splitlines()
            if b'"op": "undo"' in x] == ["m1"]
    moved = (folder / "quarantine" / "mixed.jsonl.quarantined").read_bytes()
    assert moved == HOSTILE[name][0]
    assert read_journal(folder / "mixed.jsonl").problems == ()
    # named in one line each: file, line, field; never the whole record
    assert f"{folder / 'hostile.jsonl'}:1: {reason}" in text
    assert f"{folder / 'mixed.jsonl'}:2: {reason}" in text
    assert SECRET not in text and "A" * 100 not in text
    assert all(len(x) < 400 for x in text.splitlines()), max(text.splitlines(), key=len)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_rollback_undoes_the_valid_journals_and_quarantines_the_hostile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cluster: Cluster, name: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = hostile_dir(tmp_path, monkeypatch, name)
    assert cli_rollback.main([]) == 1  # 1: something had to be quarantined
    out, err = capsys.readouterr()
    assert sorted(cluster.calls) == ["uncordon w1", "uncordon w2"]
    assert "evil" not in out and cluster.calls.count("uncordon evil") == 0
    assert_quarantined(folder, name, out + err)
    assert read_journal(folder / "valid.jsonl").pending == ()
    assert read_journal(folder / "mixed.jsonl").pending == ()
    assert cli_rollback.main([]) == 0  # quarantined once: the next rollback is clean
    assert sorted(cluster.calls) == ["uncordon w1", "uncordon w2"]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_dry_run_lists_the_valid_journals_and_quarantines_the_hostile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cluster: Cluster, name: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = hostile_dir(tmp_path, monkeypatch, name)
    assert cli_rollback.main(["--dry-run"]) == 1
    out, err = capsys.readouterr()
    assert cluster.calls == []
    assert "2 pending undo action(s) in 2 journal(s)" in out
    assert "uncordon(node=w1)" in out and "uncordon(node=w2)" in out and "evil" not in out
    assert_quarantined(folder, name, out + err)


class Reporter:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write_line(self, text: str, **markup: bool) -> None:
        self.lines.append(text)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_session_start_replay_undoes_the_valid_and_quarantines_the_hostile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cluster: Cluster, name: str) -> None:
    from chaos.plugin.environment import roll_back_orphans

    folder = hostile_dir(tmp_path, monkeypatch, name)
    reporter = Reporter()
    roll_back_orphans("kind-x", reporter)
    text = "\n".join(reporter.lines)
    assert sorted(cluster.calls) == ["uncordon w1", "uncordon w2"]
    assert "undo left by a crashed run on kind-x: 2 of 2 confirmed" in text
    assert_quarantined(folder, name, text)


# --- the pieces -------------------------------------------------------------------------------


def test_writer_running_never_hands_os_kill_a_pid_it_cannot_take() -> None:
    for pid in (2**31, 2**63, -1, 0):
        assert jmod.writer_running(Writer(pid, HOST)) is None  # before: OverflowError


def test_a_hostile_pid_no_longer_crashes_the_liveness_check(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(line(pid=2**31))
    state = load_journal(path)
    assert state.running() is None and state.pending == ()
    assert state.quarantined == tmp_path / "quarantine" / "run.jsonl"


@pytest.mark.parametrize(("over", "reason"), [
    ({"id": "../../etc/passwd"}, "field 'id' is '../../etc/passwd', not up to 64 letters"),
    ({"id": "x" * 65}, "field 'id' is"),
    ({"kind": "Uncordon; rm -rf /"}, "field 'kind' is 'Uncordon; rm -rf /', not a known"),
    ({"target": "kind-x"}, "field 'target' is 'kind-x', not an object of strings"),
    ({"params": {"node": float("nan")}}, "field 'params' is {'node': nan}"),
])
def test_more_field_checks(tmp_path: Path, over: dict[str, object], reason: str) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(line(**over))
    [problem] = read_journal(path).problems
    assert problem.reason.startswith(reason), problem.reason


@pytest.mark.parametrize(("mark", "reason"), [
    ({"op": "done", "id": "h1", "at": float("inf")}, "field 'at' is inf, not a number"),
    ({"op": "failed", "id": "h1", "error": {"x": 1}}, "field 'error' is {'x': 1}, not a string"),
])
def test_marks_are_checked_too(tmp_path: Path, mark: dict[str, object], reason: str) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(line() + json.dumps(mark).encode() + b"\n")
    state = read_journal(path)
    [problem] = state.problems
    assert problem.line == 2 and problem.reason.startswith(reason), problem.reason
    assert [a.id for a in state.pending] == ["h1"]  # a bad done mark settles nothing


def test_known_kinds_are_those_given(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(line(kind="mine"))
    assert [a.kind for a in read_journal(path).pending] == ["mine"]  # no list: any name
    assert read_journal(path, {"uncordon"}).bad_lines == (1,)


def test_a_file_larger_than_any_journal_is_not_read(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jmod, "MAX_JOURNAL_BYTES", 100)
    path = tmp_path / "run.jsonl"
    path.write_bytes(line())
    state = load_journal(path)
    assert state.unusable is not None and "larger than 100 bytes" in state.unusable
    assert state.quarantined == tmp_path / "quarantine" / "run.jsonl"


def test_a_writer_that_waited_for_a_quarantine_appends_to_the_new_file(tmp_path: Path) -> None:
    j = Journal(tmp_path / "run.jsonl")
    kept = j.record(UndoAction("uncordon", {"node": "w1"}, id="k1"))
    with j.path.open("ab") as fh:
        fh.write(b"junk\n")
    old_inode = os.stat(j.path).st_ino
    state = load_journal(j.path)
    assert state.quarantined_records == tmp_path / "quarantine" / "run.jsonl.quarantined"
    assert os.stat(j.path).st_ino != old_inode  # rewritten atomically
    later = j.record(UndoAction("uncordon", {"node": "w2"}, id="k2"))
    assert [a.id for a in read_journal(j.path).pending] == [later.id, kept.id]
    assert read_journal(j.path).problems == ()


def test_a_writer_holding_the_replaced_file_notices(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert jmod._same_file(fd, path)
        (tmp_path / "new").write_bytes(b"")
        os.replace(tmp_path / "new", path)
        assert not jmod._same_file(fd, path)  # _open_locked then reopens the new file
        path.unlink()
        assert not jmod._same_file(fd, path)
    finally:
        os.close(fd)
