"""What the session makes of its options (chaos.plugin.options, chaos.plugin.parallel.degree):
the command line first, then the ini; each value read, each default, each usage error whole."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chaos.plugin import options
from chaos.plugin.parallel import degree


class Config:
    """What the option readers read of a pytest config: command-line values, then the ini's."""

    def __init__(self, opts: dict[str, Any] | None = None, ini: dict[str, Any] | None = None,
                 start: Path = Path("/start")) -> None:
        self.opts, self.ini = opts or {}, ini or {}
        self.invocation_params = SimpleNamespace(dir=start)

    def getoption(self, name: str) -> object:
        return self.opts.get(name)

    def getini(self, name: str) -> object:
        return self.ini.get(name, "")


@pytest.mark.parametrize(("opts", "ini", "value"), [
    ({"chaos_seed": "7"}, {"chaos_seed": "8"}, "7"),  # the command line wins
    ({}, {"chaos_seed": "8"}, "8"),
    ({"chaos_seed": None}, {}, None),  # neither: the option's own default
    ({"chaos_keep_cluster": False}, {"chaos_keep_cluster": True}, True),
    ({"chaos_keep_cluster": False}, {}, False),
    ({"chaos_allow_host": []}, {"chaos_allow_host": ["a", "b"]}, ["a", "b"]),
    ({"chaos_allow_host": ["c"]}, {"chaos_allow_host": ["a"]}, ["c"]),
    ({"chaos_allow_host": []}, {"chaos_allow_host": []}, []),
])
def test_an_option_not_given_falls_back_to_its_ini_key(opts: dict[str, Any],
                                                       ini: dict[str, Any], value: Any) -> None:
    name = next(iter(opts or ini))
    assert options.option(Config(opts, ini), name) == value  # type: ignore[arg-type]


def test_allowed_paths_are_resolved_from_where_pytest_started(tmp_path: Path) -> None:
    config = Config({"chaos_allow_path": ["deploy", "../shared"]}, start=tmp_path / "repo")
    assert options.allowed_paths(config) == (  # type: ignore[arg-type]
        (tmp_path / "repo" / "deploy").resolve(), (tmp_path / "shared").resolve())
    assert options.allowed_paths(Config()) == ()  # type: ignore[arg-type]


@pytest.mark.parametrize(("given", "count"), [(None, 1), ("", 1), ("1", 1), ("3", 3)])
def test_repeat_count_defaults_to_one_run(given: str | None, count: int) -> None:
    assert options.repeat_count(Config({"chaos_repeat": given})) == count  # type: ignore[arg-type]


def test_repeat_count_comes_from_the_ini_too() -> None:
    assert options.repeat_count(Config({}, {"chaos_repeat": "2"})) == 2  # type: ignore[arg-type]


@pytest.mark.parametrize(("given", "message"), [
    ("0", "--chaos-repeat must be a positive integer, got 0"),
    ("-2", "--chaos-repeat must be a positive integer, got -2"),
    ("two", "--chaos-repeat must be a positive integer, got 'two'"),
])
def test_a_repeat_count_that_is_not_positive_is_a_usage_error(given: str, message: str) -> None:
    with pytest.raises(pytest.UsageError) as info:
        options.repeat_count(Config({"chaos_repeat": given}))  # type: ignore[arg-type]
    assert str(info.value) == message


@pytest.mark.parametrize(("given", "ports"), [
    ("30000", (30000,)),  # both ends of the NodePort range are NodePorts
    ("32767", (32767,)),
    ("30000-30002", (30000, 30001, 30002)),
    ("30085, 30080-30081,30085", (30085, 30080, 30081)),  # in the order given, once each
    ("30090-30090", (30090,)),
])
def test_node_ports_are_the_ports_and_ranges_given(given: str, ports: tuple[int, ...]) -> None:
    assert options.node_ports(Config({"chaos_node_ports": given})) == ports  # type: ignore[arg-type]


@pytest.mark.parametrize("given", [None, ""])
def test_node_ports_not_given_are_none(given: str | None) -> None:
    assert options.node_ports(Config({"chaos_node_ports": given})) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(("given", "part"), [
    ("29999", "29999"), ("32768", "32768"), ("30000-32768", "30000-32768"),
    ("30080,30090-30085", "30090-30085"), ("30080-", "30080-"), ("x", "x"),
    ("30080, 30090 - 30085", "30090-30085"),  # named without the spaces it was given with
])
def test_a_port_outside_the_nodeport_range_is_a_usage_error(given: str, part: str) -> None:
    with pytest.raises(pytest.UsageError) as info:
        options.node_ports(Config({"chaos_node_ports": given}))  # type: ignore[arg-type]
    assert str(info.value) == (f"--chaos-node-ports: {part!r} is not a NodePort or a range of "
                               "them (30000-32767, e.g. 30080-30099 or 30080,30085)")


def test_a_reviewed_plan_is_read_from_the_plan_option(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"seed": 7, "experiments": []}))
    assert options.reviewed_plan(Config({"chaos_plan": str(plan)})) == {  # type: ignore[arg-type]
        "seed": 7, "experiments": []}
    assert options.reviewed_plan(Config({}, {"chaos_plan": str(plan)})) == {  # type: ignore[arg-type]
        "seed": 7, "experiments": []}
    assert options.reviewed_plan(Config()) is None  # type: ignore[arg-type]


def test_a_plan_that_cannot_be_read_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(pytest.UsageError) as info:
        options.reviewed_plan(Config({"chaos_plan": str(missing)}))  # type: ignore[arg-type]
    assert str(info.value) == (f"--chaos-plan {missing}: cannot read the plan: [Errno 2] No such "
                               f"file or directory: '{missing}'")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(pytest.UsageError) as info:
        options.reviewed_plan(Config({"chaos_plan": str(broken)}))  # type: ignore[arg-type]
    assert str(info.value) == (f"--chaos-plan {broken}: cannot read the plan: Expecting property "
                               "name enclosed in double quotes: line 1 column 2 (char 1)")


@pytest.mark.parametrize(("given", "workers"), [(None, None), ("", None), ("1", 1), ("3", 3)])
def test_parallel_degree_is_the_number_given(given: str | None, workers: int | None) -> None:
    assert degree(Config({"chaos_parallel": given})) == workers  # type: ignore[arg-type]


def test_parallel_auto_is_two_per_core_this_process_may_use(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert degree(Config({"chaos_parallel": "auto"})) == 6  # type: ignore[arg-type]
    assert degree(Config({}, {"chaos_parallel": "auto"})) == 6  # type: ignore[arg-type]


@pytest.mark.parametrize(("given", "shown"), [
    ("0", "'0'"), ("-1", "'-1'"), ("AUTO", "'AUTO'"), ("many" * 10, "'manymanymanymanymany'")])
def test_a_parallel_degree_below_one_is_a_usage_error(given: str, shown: str) -> None:
    with pytest.raises(pytest.UsageError) as info:
        degree(Config({"chaos_parallel": given}))  # type: ignore[arg-type]
    assert str(info.value) == ("--chaos-parallel must be a whole number of at least 1, or auto; "
                               f"got {shown}")
