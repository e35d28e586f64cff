"""Load modes are one class each: the parser, the schema and the runner ask the mode."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chaos.model.experiment import LoadProfile
from chaos.model.loadmodes import LOAD_MODES, ClosedLoop, OpenLoop, load_mode

ROOT = Path(__file__).resolve().parents[2]


def test_each_mode_runs_a_locustfile_that_exists_and_declares_documented_fields() -> None:
    schema = json.loads((ROOT / "chaos" / "schema" / "experiment.schema.json").read_text())
    load = schema["properties"]["spec"]["properties"]["load"]["properties"]
    for mode in LOAD_MODES.values():
        assert (ROOT / "chaos" / "load" / mode.locustfile_name).is_file(), mode.name
        assert mode.keys and set(mode.keys) <= set(load), mode.name
    assert load["mode"]["enum"] == list(LOAD_MODES)
    keys = [k for m in LOAD_MODES.values() for k in m.keys]
    assert len(keys) == len(set(keys))  # a field belongs to one mode


def test_how_each_mode_drives_locust() -> None:
    closed, open_ = ClosedLoop(), OpenLoop()
    assert (closed.locust_users(10, 3), closed.locust_spawn_rate(10, 2.5)) == (10, 2.5)
    assert (open_.locust_users(10, 3), open_.locust_spawn_rate(3, 2.5)) == (3, 3.0)
    assert closed.describe(LoadProfile(users=7)) == "7 users"
    shaped = LoadProfile(mode="open", rate_segments=((0.0, 5.0, 2.0), (5.0, 5.0, None)))
    assert open_.describe(shaped) == "open loop, 5 arrivals/s"
    assert shaped.loop is LOAD_MODES["open"] and LoadProfile().loop is LOAD_MODES["closed"]


def test_an_unknown_mode_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"bad load profile: mode 'burst' \(closed or open\)"):
        load_mode("burst")


@pytest.mark.source_rules
def test_no_module_asks_which_mode_by_name() -> None:
    """The mode's facets answer; `mode == "open"` branches are what this replaced."""
    asked = re.compile(r"""mode\s*[!=]=\s*["'](open|closed)["']""")
    found = [f"{p.relative_to(ROOT)}:{i}" for p in sorted((ROOT / "chaos").rglob("*.py"))
             for i, line in enumerate(p.read_text().splitlines(), 1) if asked.search(line)]
    assert found == []


@pytest.mark.parametrize(("load", "valid"), [
    ({"users": 3, "wait": "1s"}, True),
    ({"mode": "closed", "users": 3}, True),
    ({"mode": "open", "rate": "5/s", "maxInFlight": 10}, True),
    ({"mode": "open", "steps": [{"rate": 5, "duration": "2s"}]}, True),
    ({"rate": "5/s"}, False),  # the default mode is closed: an open-loop field is refused
    ({"mode": "closed", "dropAfter": "1s"}, False),
    ({"mode": "open", "rate": "5/s", "users": 3}, False),
    ({"mode": "open"}, False),  # no rate, no steps
    ({"mode": "burst", "rate": "5/s"}, False),
    ({"tlsVerify": False}, False),  # only with url
])
def test_the_generated_load_schema_holds_each_mode_to_its_fields(load: dict[str, object],
                                                                 valid: bool) -> None:
    import jsonschema

    from chaos.model.schema import load_schema

    schema = {"$defs": json.loads((ROOT / "chaos" / "schema" / "experiment.schema.json")
                                  .read_text())["$defs"], **load_schema()}
    assert jsonschema.Draft202012Validator(schema).is_valid(load) is valid
