"""Issue 18, item 3: journals and audit trails hold whole pod templates; they were world-readable
(0644). Every file is now 0600 and every directory created for them 0700, whatever the umask,
including a quarantine's moved file, its records file and a journal rewritten without them."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.journal import store as jmod
from chaos.journal.audit import AuditLog, read_audit
from chaos.journal.store import Journal, UndoAction, load_journal

TEMPLATE = json.dumps({"spec": {"containers": [{"name": "web", "env": [{"value": "s3cr3t"}]}]}})


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[0o022, 0o002, 0o000])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_a_journal_and_the_directories_made_for_it_are_private(tmp_path: Path,
                                                               umask: int) -> None:
    os.chmod(tmp_path, 0o755)
    j = Journal.for_run("r1", tmp_path / "state" / "kube-chaos" / "journal")
    j.record(UndoAction("restore-template", {"template": TEMPLATE}))
    assert mode(j.path) == 0o600
    for folder in (tmp_path / "state", tmp_path / "state" / "kube-chaos", j.path.parent):
        assert mode(folder) == 0o700, folder
    assert mode(tmp_path) == 0o755  # a directory we did not create: untouched


def test_an_older_world_readable_journal_is_tightened_on_its_next_write(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    j = Journal(path)
    j.record(UndoAction("none", {}))
    os.chmod(path, 0o644)
    j.done(j.record(UndoAction("none", {})))
    assert mode(path) == 0o600


def test_a_quarantined_journal_is_private(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"junk " + TEMPLATE.encode() + b"\n")
    os.chmod(path, 0o644)  # as an older kube-chaos (or anyone) left it
    state = load_journal(path)
    assert state.quarantined is not None
    assert mode(state.quarantined) == 0o600 and mode(state.quarantined.parent) == 0o700


def test_quarantined_records_and_the_rewritten_journal_are_private(tmp_path: Path,
                                                                   umask: int) -> None:
    j = Journal(tmp_path / "run.jsonl")
    j.record(UndoAction("restore-template", {"template": TEMPLATE}))
    os.chmod(j.path, 0o644)
    with j.path.open("ab") as fh:
        fh.write(b'{"op": "undo", "id": "x", "kind": "restore-template", "params": ' +
                 TEMPLATE.encode() + b"\n")  # params not a map: quarantined
    state = load_journal(j.path)
    assert state.quarantined_records == tmp_path / "quarantine" / "run.jsonl.quarantined"
    assert mode(state.quarantined_records) == 0o600
    assert mode(state.quarantined_records.parent) == 0o700
    assert mode(j.path) == 0o600  # the rewrite (a new file renamed over it) too
    assert len(state.pending) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_an_audit_trail_and_its_new_directory_are_private(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "reports" / "exp" / "audit.jsonl"
    log = AuditLog(path, run="r1")
    log.write("undo", template=TEMPLATE)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700
    assert read_audit(path)[0]["template"] == TEMPLATE


def test_an_older_world_readable_audit_trail_is_tightened(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    path = tmp_path / "audit.jsonl"
    path.write_text("")
    os.chmod(path, 0o644)
    AuditLog(path).write("start")
    assert mode(path) == 0o600
    assert mode(tmp_path) == 0o755  # an existing directory: left as it was


def test_private_dirs_leave_existing_ones_alone(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    jmod.make_private_dir(tmp_path / "a" / "b")
    assert mode(tmp_path) == 0o755
    assert mode(tmp_path / "a") == 0o700 and mode(tmp_path / "a" / "b") == 0o700
