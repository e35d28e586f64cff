"""The agent's dead man's switch (chaos.node.agent_main.Switch) on a fake clock: nothing runs
while the lease holds or when none was taken; once it runs out every armed undo runs, newest
first, is logged and dropped, and the lease with it; a disarmed undo never runs. And the
agent program's subcommands, as the runner execs them."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from chaos.node import agent_main
from chaos.node.agent_main import Switch


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Ran:
    def __init__(self, answers: dict[str, tuple[int, str]] | None = None) -> None:
        self.calls: list[tuple[list[str], str | None]] = []
        self.answers = answers or {}

    def __call__(self, argv: Sequence[str], stdin: str | None) -> tuple[int, str]:
        self.calls.append((list(argv), stdin))
        return self.answers.get(argv[-1], (0, ""))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def switch(tmp_path: Path, clock: Clock) -> Switch:
    return Switch(tmp_path / "state", clock)


def test_nothing_runs_when_no_lease_was_ever_taken(switch: Switch, clock: Clock) -> None:
    switch.arm("a", ["nft", "delete", "table", "netdev", "t"])
    clock.now += 10_000
    ran = Ran()
    assert switch.tick(ran) == []
    assert ran.calls == []


def test_nothing_runs_while_the_lease_holds(switch: Switch, clock: Clock) -> None:
    switch.renew(30)
    switch.arm("a", ["true"])
    clock.now += 30  # the last instant of the lease
    ran = Ran()
    assert switch.tick(ran) == []
    assert ran.calls == []


def test_renewing_pushes_the_end_of_the_lease(switch: Switch, clock: Clock) -> None:
    switch.renew(30)
    switch.arm("a", ["true"])
    for _ in range(10):
        clock.now += 20
        switch.renew(30)
        assert switch.tick(Ran()) == []
    assert switch.lease() == {"until": 1230.0, "seconds": 30, "renewed": 1200.0}


def test_an_expired_lease_runs_every_armed_undo_newest_first_then_drops_them(
        switch: Switch, clock: Clock) -> None:
    switch.renew(30)
    switch.arm("old", ["nsenter", "-t", "7", "-n", "nft", "delete", "table", "netdev", "t1"])
    clock.now += 1
    switch.arm("new", ["nsenter", "-t", "8", "-n", "tc", "qdisc", "del"], stdin="x")
    clock.now += 40.5
    ran = Ran({"del": (2, "RTNETLINK answers: No such file or directory")})
    assert switch.tick(ran) == [
        "lease expired 11.5s ago (not renewed for 30s): undoing 2 fault(s)",
        "undo new: nsenter -t 8 -n tc qdisc del -> exit 2: RTNETLINK answers: No such file or "
        "directory",
        "undo old: nsenter -t 7 -n nft delete table netdev t1 -> exit 0",
    ]
    assert ran.calls == [(["nsenter", "-t", "8", "-n", "tc", "qdisc", "del"], "x"),
                         (["nsenter", "-t", "7", "-n", "nft", "delete", "table", "netdev", "t1"],
                          None)]
    assert switch.armed() == [] and switch.lease() is None
    assert switch.tick(ran) == []  # once: nothing is run again until a lease is taken again


def test_a_disarmed_undo_does_not_run(switch: Switch, clock: Clock) -> None:
    switch.renew(5)
    switch.arm("a", ["a"])
    switch.arm("b", ["b"])
    assert switch.disarm("a") is True
    assert switch.disarm("a") is False
    clock.now += 6
    ran = Ran()
    assert switch.tick(ran) == ["lease expired 1.0s ago (not renewed for 5s): undoing 1 fault(s)",
                                "undo b: b -> exit 0"]
    assert ran.calls == [(["b"], None)]


def test_an_expired_lease_with_nothing_armed_says_so_and_is_dropped(
        switch: Switch, clock: Clock) -> None:
    switch.renew(5)
    clock.now += 7
    assert switch.tick(Ran()) == [
        "lease expired 2.0s ago (not renewed for 5s): undoing 0 fault(s)"]
    assert switch.lease() is None


@pytest.mark.parametrize("key", ["", "../x", ".hidden", "a/b"])
def test_an_undo_id_that_is_not_a_plain_file_name_is_refused(switch: Switch, key: str) -> None:
    with pytest.raises(ValueError, match="bad undo id"):
        switch.arm(key, ["true"])


def test_the_subcommands_arm_renew_disarm_and_report(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(agent_main, "STATE_DIR", tmp_path)
    nft = base64.b64encode(b"table inet t {}\n").decode()
    assert agent_main.main(["arm", "k1", "--stdin-b64", nft, "--", "nft", "-f", "-"]) == 0
    assert agent_main.main(["arm", "k2", "--", "tc", "qdisc", "del"]) == 0
    assert agent_main.main(["disarm", "k2"]) == 0
    assert agent_main.main(["renew", "30"]) == 0
    capsys.readouterr()
    assert agent_main.main(["status"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["lease"]["seconds"] == 30
    assert [(u["id"], u["argv"], u["stdin"]) for u in status["armed"]] == [
        ("k1", ["nft", "-f", "-"], "table inet t {}\n")]


def test_exec_hands_the_decoded_stdin_to_the_command(monkeypatch: pytest.MonkeyPatch,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(agent_main, "HOST", ())  # no nsenter here: run the command itself
    b64 = base64.b64encode(b"flush ruleset\n").decode()
    assert agent_main.main(["exec", "--stdin-b64", b64, "--", "cat"]) == 0
    assert capfd.readouterr().out == "flush ruleset\n"
    assert agent_main.main(["exec", "--", "sh", "-c", "exit 3"]) == 3
