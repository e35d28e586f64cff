"""The undo journal: written before acting, replayed after a crash, orphans detected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.journal.store import Journal, JournalWarning, UndoAction, orphaned, pending_in


def test_pending_is_what_has_no_done_line_newest_first(tmp_path: Path) -> None:
    j = Journal(tmp_path / "run.jsonl")
    a = j.record(UndoAction("uncordon", {"node": "w1"}, created=1.0))
    b = j.record(UndoAction("start-node", {"node": "w2"}, created=2.0))
    j.done(a)
    assert [x.id for x in j.pending()] == [b.id]
    j.done(b, error="docker: no such container")  # a failed undo stays pending
    assert [x.id for x in j.pending()] == [b.id]


def test_a_torn_last_line_from_a_crash_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    j = Journal(path)
    a = j.record(UndoAction("uncordon", {"node": "w1"}))
    with path.open("a") as fh:
        fh.write('{"op": "done", "id": "')
    with pytest.warns(JournalWarning, match=r"run\.jsonl:2: torn last line"):
        assert [x.id for x in pending_in(path)] == [a.id]


def test_orphaned_journals_are_those_whose_writer_died(tmp_path: Path) -> None:
    live = Journal(tmp_path / "live.jsonl")
    live.record(UndoAction("uncordon", {"node": "w1"}))  # written by this (alive) process
    dead = tmp_path / "dead.jsonl"
    dead.write_text(json.dumps({"op": "undo", "id": "x1", "kind": "uncordon",
                                "params": {"node": "w2"}, "target": {}, "created": 1.0,
                                "pid": 2**22 + 12345}) + "\n")
    done = Journal(tmp_path / "done.jsonl")
    done.done(done.record(UndoAction("uncordon", {"node": "w3"})))
    assert orphaned(tmp_path) == [dead]


def test_describe_shows_a_long_parameter_by_its_size(tmp_path: Path) -> None:
    template = json.dumps({"spec": {"containers": [{"name": "web", "image": "x" * 200}]}})
    action = UndoAction(kind="restore-template", params={
        "kind": "Deployment", "name": "web", "template": template})
    assert action.describe() == (f"restore-template(kind=Deployment, name=web, "
                                 f"template=<{len(template)} chars>)")
    journal = Journal(tmp_path / "run.jsonl")
    journal.record(action)
    [back] = pending_in(journal.path)
    assert back.params["template"] == template, "the journal keeps it whole"
