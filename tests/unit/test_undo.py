"""Undo replay: order, idempotence, error collection, and the rollback command, with fakes."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from chaos.cli import rollback as cli_rollback
from chaos.errors import RollbackFailed
from chaos.faults import undo
from chaos.journal.store import Journal, UndoAction, pending_in

_stamp = itertools.count(1000)


def action(kind: str, **params: str) -> UndoAction:
    return UndoAction(kind=kind, params=params, target={"context": "kind-x"},
                      created=float(next(_stamp)))


class FakeCluster:
    """Node and probe state the fake handlers act on, idempotently like the real ones."""

    def __init__(self) -> None:
        self.cordoned = {"n1", "n2"}
        self.containers = {"n3": "exited", "n4": "paused"}
        self.tables = {"t1"}
        self.calls: list[str] = []

    def handlers(self) -> dict[str, undo.Handler]:
        def uncordon(a: UndoAction) -> None:
            self.calls.append(f"uncordon {a.params['node']}")
            self.cordoned.discard(a.params["node"])

        def start(a: UndoAction) -> None:
            self.calls.append(f"start {a.params['node']}")
            if self.containers.get(a.params["node"]) != "running":
                self.containers[a.params["node"]] = "running"

        def unblock(a: UndoAction) -> None:
            self.calls.append(f"unblock {a.params['table']}")
            self.tables.discard(a.params["table"])

        def broken(a: UndoAction) -> None:
            self.calls.append("broken")
            raise RuntimeError("API server unreachable")

        return {"uncordon": uncordon, "start-node": start, "unpause-node": start,
                "unblock-probe": unblock, "none": lambda a: None, "broken": broken}


def test_rollback_runs_pending_newest_first_and_marks_done(tmp_path: Path) -> None:
    j = Journal(tmp_path / "run.jsonl")
    first = j.record(action("uncordon", node="n1"))
    second = j.record(action("start-node", node="n3"))
    third = j.record(action("unblock-probe", table="t1"))
    cluster = FakeCluster()

    results = undo.rollback_all([j], cluster.handlers())

    assert [o.action.id for o in results] == [third.id, second.id, first.id]
    assert [o.status for o in results] == ["undone"] * 3
    assert all(o.settled for o in results)
    assert cluster.calls == ["unblock t1", "start n3", "uncordon n1"]
    assert pending_in(j.path) == []
    assert "n1" not in cluster.cordoned and cluster.containers["n3"] == "running"


def test_order_is_global_across_journals(tmp_path: Path) -> None:
    a, b = Journal(tmp_path / "a.jsonl"), Journal(tmp_path / "b.jsonl")
    a.record(action("uncordon", node="n1"))
    b.record(action("uncordon", node="n2"))
    a.record(action("start-node", node="n3"))
    cluster = FakeCluster()
    undo.rollback_all([a.path, b], cluster.handlers())
    assert cluster.calls == ["start n3", "uncordon n2", "uncordon n1"]


def test_done_entries_are_not_replayed(tmp_path: Path) -> None:
    j = Journal(tmp_path / "run.jsonl")
    undone = j.record(action("uncordon", node="n1"))
    j.record(action("uncordon", node="n2"))
    j.done(undone)
    cluster = FakeCluster()
    undo.rollback_all([j], cluster.handlers())
    assert cluster.calls == ["uncordon n2"]


def test_second_rollback_is_a_no_op(tmp_path: Path) -> None:
    j = Journal(tmp_path / "run.jsonl")
    j.record(action("uncordon", node="n1"))
    cluster = FakeCluster()
    undo.rollback_all([j], cluster.handlers())
    assert undo.rollback_all([j], cluster.handlers()) == []
    assert cluster.calls == ["uncordon n1"]


def test_handlers_are_idempotent_when_replayed_without_journal(tmp_path: Path) -> None:
    cluster = FakeCluster()
    acts = [action("uncordon", node="n1"), action("start-node", node="n4"),
            action("unblock-probe", table="t1"), action("none")]
    for _ in range(2):  # e.g. a crash between acting and writing `done`
        for a in acts:
            undo.run_undo(a, cluster.handlers())
    assert cluster.cordoned == {"n2"} and cluster.containers["n4"] == "running"
    assert cluster.tables == set()


def test_a_failure_does_not_stop_the_others_and_stays_pending(tmp_path: Path) -> None:
    j = Journal(tmp_path / "run.jsonl")
    j.record(action("uncordon", node="n1"))
    bad = j.record(action("broken"))
    j.record(action("uncordon", node="n2"))
    cluster = FakeCluster()

    results = undo.rollback_all([j], cluster.handlers())

    outcomes = {o.action.kind: o for o in results}
    assert outcomes["broken"].status == "failed"
    assert outcomes["broken"].reason == "API server unreachable"
    assert [o.status for o in results] == ["undone", "failed", "undone"]
    assert cluster.cordoned == set()
    assert [a.id for a in pending_in(j.path)] == [bad.id]


def test_unknown_kind_is_a_rollback_failure() -> None:
    with pytest.raises(RollbackFailed, match="unknown undo action 'teleport'"):
        undo.run_undo(action("teleport"), {})


def test_handler_exceptions_become_rollback_failed() -> None:
    def boom(a: UndoAction) -> str | None:
        raise OSError("docker: not found")

    with pytest.raises(RollbackFailed, match="docker: not found") as info:
        undo.run_undo(action("start-node", node="n3"), {"start-node": boom})
    assert isinstance(info.value.__cause__, OSError)


def test_dry_run_runs_and_marks_nothing(tmp_path: Path) -> None:
    j = Journal(tmp_path / "run.jsonl")
    j.record(action("uncordon", node="n1"))
    cluster = FakeCluster()
    results = undo.rollback_all([j], cluster.handlers(), dry_run=True)
    assert [o.status for o in results] == ["skipped"] and cluster.calls == []
    assert len(pending_in(j.path)) == 1


@pytest.mark.source_rules
def test_every_journaled_kind_has_a_real_handler() -> None:
    """Every undo kind the code journals (record_undo("...") or UndoAction(kind="...")) can be
    replayed by `kube-chaos rollback`."""
    import re

    pkg = Path(undo.__file__).resolve().parents[1]
    journaled = {m.group(1) for path in pkg.rglob("*.py")
                 for m in re.finditer(r'(?:record_undo\(|kind=)\s*"([a-z-]+)"',
                                      path.read_text())}
    journaled |= {"start-node", "unpause-node"}  # chosen by mode: undo_kind = "..." if ...
    assert {"uncordon", "delete-namespace", "unblock-probe"} <= journaled
    assert journaled <= set(undo.HANDLERS), journaled - set(undo.HANDLERS)


def test_rollback_command_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     dead_writer: None,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    cluster = FakeCluster()
    monkeypatch.setattr(undo, "HANDLERS", cluster.handlers())
    j = Journal(tmp_path / "run.jsonl")
    j.record(action("uncordon", node="n1"))
    assert cli_rollback.main(["--journal", str(j.path), "--dry-run"]) == 0
    assert "would run" in capsys.readouterr().out and cluster.calls == []
    assert cli_rollback.main(["--journal", str(j.path)]) == 0
    assert "uncordon(node=n1)" in capsys.readouterr().out
    j.record(action("broken"))
    assert cli_rollback.main(["--journal", str(j.path)]) == 1
    assert "FAILED" in capsys.readouterr().out
    assert cli_rollback.main(["--journal", str(tmp_path / "nope.jsonl")]) == 1


def test_rollback_command_defaults_to_the_journal_dir(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      dead_writer: None) -> None:
    monkeypatch.setenv("KUBE_CHAOS_STATE", str(tmp_path))
    cluster = FakeCluster()
    monkeypatch.setattr(undo, "HANDLERS", cluster.handlers())
    Journal.for_run("r1").record(action("uncordon", node="n1"))
    Journal.for_run("r2").record(action("uncordon", node="n2"))
    assert cli_rollback.main([]) == 0
    assert sorted(cluster.calls) == ["uncordon n1", "uncordon n2"]
