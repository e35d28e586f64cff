"""The generic reader: a section read from its field declarations (chaos.model.fields), with the
errors, bounds and defaults the declarations give; and the schema generated from the same."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from chaos.errors import ExperimentInvalid
from chaos.model import reader as r
from chaos.model import values as v
from chaos.model.fields import field_infos, option
from chaos.model.schema import section_schema


@dataclass(frozen=True, kw_only=True)
class Toy:
    schema_rules: ClassVar[dict[str, Any]] = {"not": {"required": ["note", "wait"]}}

    count: int = option("count", v.COUNT, "how many")
    wait: float = option("wait", v.DURATION, "how long", 3.0)
    mode: str = option("mode", v.enum("fast", "slow"), "which way", "fast")
    note: str | None = option("note", v.STRING, "read by its section's own code", None,
                              reader="own")
    port: int | None = option("port", v.NODE_PORT, "optional here, required by some callers",
                              required=False)
    hidden: str = "not in the YAML"


def _map(text: str) -> r.Map:
    node = yaml.compose("other: 1\ntoy:\n" + text, Loader=yaml.SafeLoader).value[1][1]
    return r.section_map(r.Ctx(Path("x.yaml")), node, "spec.toy", Toy)


def _error(text: str, **kw: Any) -> str:
    with pytest.raises(ExperimentInvalid) as info:
        r.read_fields(_map(text), Toy, **kw)
    return str(info.value)


def test_declared_fields_are_read_in_order_with_their_defaults() -> None:
    read = r.read_fields(_map("  count: 3\n  mode: slow\n  note: x\n"), Toy)
    assert read == {"count": 3, "wait": 3.0, "mode": "slow", "port": None}  # note: its own
    assert list(read) == ["count", "wait", "mode", "port"]
    assert [f.yaml for f in field_infos(Toy)] == ["count", "wait", "mode", "note", "port"]


def test_errors_name_file_line_field_and_the_declared_bound() -> None:
    assert _error("  wait: 1s\n") == "x.yaml:3: spec.toy.count: required field missing"
    assert _error("  count: 10001\n") == "x.yaml:3: spec.toy.count: at most 10000, got 10001"
    assert _error("  count: 1\n  mode: fats\n") == (
        "x.yaml:4: spec.toy.mode: expected one of 'fast', 'slow', got 'fats' (did you mean "
        "'fast'?)")
    with pytest.raises(ExperimentInvalid) as info:
        _map("  count: 1\n  hiden: x\n")
    assert str(info.value) == ("x.yaml:4: spec.toy.hiden: unknown field; allowed: count, "
                               "mode, note, port, wait")


def test_callers_choose_defaults_requirements_and_fields() -> None:
    m = _map("  count: 2\n")
    assert r.read_fields(m, Toy, defaults={"wait": 9.0})["wait"] == 9.0
    assert r.read_fields(m, Toy, only=("mode",)) == {"mode": "fast"}
    assert "count" not in r.read_fields(m, Toy, skip=("count",))
    assert _error("  count: 2\n", require=("port",)) == (
        "x.yaml:3: spec.toy.port: required field missing")


def test_a_section_converter_builds_the_dataclass() -> None:
    node = yaml.compose("toy: {count: 4, port: 30001}", Loader=yaml.SafeLoader).value[0][1]
    toy = r.section(Toy)(r.Ctx(None), node, "toy")
    assert toy == Toy(count=4, wait=3.0, mode="fast", note=None, port=30001)


def test_the_schema_of_a_section_comes_from_the_same_declarations() -> None:
    schema = section_schema(Toy)
    assert schema["required"] == ["count"]  # port: required=False, though it has no default
    assert list(schema["properties"]) == ["count", "wait", "mode", "note", "port"]
    assert schema["properties"]["count"] == {**v.COUNT.schema, "description": "how many"}
    assert schema["additionalProperties"] is False
    assert schema["not"] == {"required": ["note", "wait"]}
