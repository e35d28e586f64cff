"""Replaying journals (`rollback_all`) and the safety gate it passes for each cluster: which
records a replay keeps (those the handler table at hand knows), which journal object it marks,
what the gate counts as one cluster, and the outcome `settle` returns when the journal cannot
record it. Handlers and the gate's cluster check are recording fakes."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from chaos.errors import ClusterError, RollbackFailed, SafetyRefused
from chaos.faults import undo
from chaos.journal.store import Journal, JournalWarning, UndoAction, UndoOutcome, read_journal


def ns_action(name: str, target: dict[str, str]) -> UndoAction:
    return UndoAction("delete-namespace", {"namespace": name}, target=target, created=1.0)


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Each cluster the gate checks, as (kubeconfig, context); kube_for stands for the cluster
    by that pair, and the check refuses the kubeconfig /theirs."""
    seen: list[tuple[str, str]] = []

    def kube_for(action: UndoAction) -> tuple[str, str]:
        return action.target.get("kubeconfig", ""), action.target.get("context", "")

    def refuse_unless_ours(kube: tuple[str, str], allowed: Any, **how: str) -> None:
        seen.append(kube)
        if kube[0] == "/theirs":
            raise SafetyRefused(f"{kube[1]} in {kube[0]} is not ours")

    monkeypatch.setattr(undo, "kube_for", kube_for)
    monkeypatch.setattr(undo, "refuse_unless_ours", refuse_unless_ours)
    return seen


# --- the gate --------------------------------------------------------------------------------


def test_the_gate_tells_two_kubeconfigs_with_the_same_context_name_apart(
        asked: list[tuple[str, str]]) -> None:
    gate = undo.replay_gate()
    gate(ns_action("kc-1", {"kubeconfig": "/mine", "context": "kind-x"}))
    with pytest.raises(RollbackFailed) as info:
        gate(ns_action("kc-2", {"kubeconfig": "/theirs", "context": "kind-x"}))
    assert str(info.value) == "kind-x in /theirs is not ours"
    gate(ns_action("kc-3", {"kubeconfig": "/mine", "context": "kind-x"}))
    assert asked == [("/mine", "kind-x"), ("/theirs", "kind-x")]


@pytest.mark.parametrize(("absent", "empty"), [
    ({"context": "kind-x"}, {"kubeconfig": "", "context": "kind-x"}),
    ({"kubeconfig": "/k"}, {"kubeconfig": "/k", "context": ""}),
])
def test_a_target_key_left_out_or_left_empty_is_one_cluster_to_the_gate(
        monkeypatch: pytest.MonkeyPatch, absent: dict[str, str],
        empty: dict[str, str]) -> None:
    tried: list[UndoAction] = []
    real = undo.kube_for

    def kube_for(action: UndoAction) -> Any:
        tried.append(action)
        return real(action)

    monkeypatch.setattr(undo, "kube_for", kube_for)
    gate = undo.replay_gate()
    first, second = ns_action("kc-1", absent), ns_action("kc-2", empty)
    for act in (first, second):
        with pytest.raises(RollbackFailed, match="refusing to fall back to the default "
                                                 "kubeconfig"):
            gate(act)
    assert tried == [first], "the same (unusable) cluster is asked once"


def test_a_gate_refusal_without_a_message_is_named_by_its_type(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse_unless_ours(kube: Any, allowed: Any, **how: str) -> None:
        raise ClusterError("")

    monkeypatch.setattr(undo, "kube_for", lambda action: object())
    monkeypatch.setattr(undo, "refuse_unless_ours", refuse_unless_ours)
    with pytest.raises(RollbackFailed) as info:
        undo.replay_gate()(ns_action("kc-1", {"kubeconfig": "/k", "context": "kind-x"}))
    assert str(info.value) == "ClusterError"


# --- which records a replay keeps, and which journal it marks --------------------------------


def test_a_replay_keeps_the_records_its_own_handler_table_knows(tmp_path: Path) -> None:
    j = Journal(tmp_path / "run.jsonl")
    j.record(UndoAction("mine", {"pod": "p1"}, id="a1", created=1.0))
    j.record(UndoAction("uncordon", {"node": "w1"}, id="a2", created=2.0))
    ran: list[str] = []
    with pytest.warns(JournalWarning, match="field 'kind' is 'uncordon', not a known undo kind"):
        outcomes = undo.rollback_all([j.path], {"mine": lambda a: ran.append(a.id) and None})
    assert [(o.action.id, o.status, o.reason) for o in outcomes] == [("a1", "undone", "")]
    assert ran == ["a1"]
    assert [a.id for a in read_journal(j.path).pending] == [], "the uncordon was set aside"


def test_a_replay_marks_the_journal_object_it_was_given(tmp_path: Path) -> None:
    marked: list[tuple[str, str | None]] = []

    class Own(Journal):
        def done(self, action: UndoAction, error: str | None = None) -> None:
            marked.append((action.id, error))
            super().done(action, error)

    j = Own(tmp_path / "run.jsonl")
    j.record(UndoAction("mine", {}, id="a1", created=1.0))
    [outcome] = undo.rollback_all([j], {"mine": lambda a: None})
    assert (outcome.status, outcome.journal) == ("undone", j.path)
    assert marked == [("a1", None)]


def test_an_unrecorded_outcome_keeps_the_time_the_undo_settled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = itertools.count(100.0)
    built: list[UndoOutcome] = []

    def outcome(*args: Any, **kwargs: Any) -> UndoOutcome:
        kwargs.setdefault("at", next(clock))  # a fake clock: each outcome built later
        built.append(UndoOutcome(*args, **kwargs))
        return built[-1]

    class Unwritable(Journal):
        def done(self, action: UndoAction, error: str | None = None) -> None:
            raise OSError("disk full")

    monkeypatch.setattr(undo, "UndoOutcome", outcome)
    j = Unwritable(tmp_path / "run.jsonl")
    act = UndoAction("mine", {}, id="a1", created=1.0)
    result = undo.settle(j, act, {"mine": lambda a: "already gone"})
    assert (result.status, result.reason, result.at, result.journal, result.journal_error) == (
        "undone", "already gone", 100.0, j.path, "disk full")
