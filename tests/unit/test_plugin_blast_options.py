"""--chaos-max-pods/-percent/-nodes (or their ini names) into the session's blast-radius limits
(chaos.plugin.options.blast_limits): each bound, each default, each refusal."""

from __future__ import annotations

from typing import Any

import pytest

from chaos.model.experiment import BlastRadius
from chaos.plugin.options import blast_limits


class Config:
    """What blast_limits reads of a pytest config: command-line values, then the ini's."""

    def __init__(self, opts: dict[str, Any] | None = None, ini: dict[str, Any] | None = None):
        self.opts, self.ini = opts or {}, ini or {}

    def getoption(self, name: str) -> object:
        return self.opts.get(name)

    def getini(self, name: str) -> object:
        return self.ini.get(name, "")


def _limits(**opts: Any) -> BlastRadius | None:
    return blast_limits(Config({f"chaos_max_{k}": v for k, v in opts.items()}))  # type: ignore[arg-type]


def test_no_limit_given_is_none_and_empty_values_count_as_not_given() -> None:
    assert _limits() is None
    assert _limits(pods="", percent=None, nodes="") is None


@pytest.mark.parametrize(("opts", "limits"), [
    ({"pods": "2"}, BlastRadius(max_pods=2, max_percent=None, max_nodes=10**6)),
    ({"percent": "50"}, BlastRadius(max_pods=None, max_percent=50.0, max_nodes=10**6)),
    ({"percent": "100"}, BlastRadius(max_pods=None, max_percent=100.0, max_nodes=10**6)),
    ({"nodes": "1"}, BlastRadius(max_pods=None, max_percent=None, max_nodes=1)),
    ({"pods": "1", "percent": "0.5", "nodes": "3"},
     BlastRadius(max_pods=1, max_percent=0.5, max_nodes=3)),
])
def test_each_given_limit_is_kept_and_nodes_alone_default_to_no_limit(
        opts: dict[str, str], limits: BlastRadius) -> None:
    assert _limits(**opts) == limits


@pytest.mark.parametrize("opts", [
    {"pods": "0"}, {"pods": "-1"}, {"percent": "0"}, {"percent": "100.5"}, {"percent": "-5"},
    {"nodes": "0"}, {"pods": "1", "nodes": "0"},
])
def test_a_limit_that_is_not_positive_is_refused(opts: dict[str, str]) -> None:
    with pytest.raises(pytest.UsageError) as info:
        _limits(**opts)
    assert str(info.value) == "blast-radius limits must be positive (percent: 0 < p <= 100)"


@pytest.mark.parametrize(("opts", "limits"), [
    ({"pods": "", "percent": "", "nodes": "2"},
     BlastRadius(max_pods=None, max_percent=None, max_nodes=2)),
    ({"pods": "3", "percent": "", "nodes": ""},
     BlastRadius(max_pods=3, max_percent=None, max_nodes=10**6)),
    ({"pods": "", "percent": "25", "nodes": ""},
     BlastRadius(max_pods=None, max_percent=25.0, max_nodes=10**6)),
])
def test_an_empty_limit_beside_a_given_one_is_no_limit(opts: dict[str, str],
                                                        limits: BlastRadius) -> None:
    assert _limits(**opts) == limits


@pytest.mark.parametrize(("opts", "why"), [
    ({"pods": "two"}, "invalid literal for int() with base 10: 'two'"),
    ({"percent": "half"}, "could not convert string to float: 'half'"),
    ({"nodes": "1.5"}, "invalid literal for int() with base 10: '1.5'"),
])
def test_a_limit_that_is_not_a_number_is_refused_naming_the_options(opts: dict[str, str],
                                                                    why: str) -> None:
    with pytest.raises(pytest.UsageError) as info:
        _limits(**opts)
    assert str(info.value) == f"--chaos-max-pods/--chaos-max-percent/--chaos-max-nodes: {why}"


def test_the_ini_gives_the_limits_the_command_line_leaves_out() -> None:
    config = Config({}, {"chaos_max_pods": "3", "chaos_max_nodes": "2"})
    assert blast_limits(config) == BlastRadius(  # type: ignore[arg-type]
        max_pods=3, max_percent=None, max_nodes=2)
