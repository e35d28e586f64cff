"""The shortfall rule every budgeted wait shares (faults, the tail, the recovery watch)."""

from __future__ import annotations

from chaos.model.hold import HOLD_SLACK_S, Hold, shortfall


def test_a_wait_within_the_slack_is_no_shortfall() -> None:
    assert shortfall("tail ran", 5.0, 5.0) is None
    assert shortfall("tail ran", 5.0 - HOLD_SLACK_S, 5.0) is None
    assert shortfall("tail ran", 6.0, 5.0) is None


def test_a_wait_cut_past_the_slack_is_recorded_with_both_figures() -> None:
    assert shortfall("tail ran", 5.0 - HOLD_SLACK_S - 0.01, 5.0) == "tail ran 4.7s of 5s"
    assert shortfall("probe-break held", 9.7, 30.0) == "probe-break held 9.7s of 30s"
    assert shortfall("recovery waited", 0.0, 12.5) == "recovery waited 0.0s of 12.5s"


def test_a_hold_is_short_by_the_same_slack_unless_aborted() -> None:
    assert not Hold(30.0, 30.0, 30.0 - HOLD_SLACK_S).short
    assert Hold(30.0, 30.0, 9.7).short
    assert Hold(30.0, 9.7, 9.7).cut_by_budget
    assert not Hold(30.0, 30.0, 9.7, aborted=True).short
