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


# --- URL, header and condition readers: each refusal's exact message, each accepted form ------


def _node(text: str) -> Any:
    """The YAML node of ``text``, on line 2 of x.yaml."""
    return yaml.compose("other: 1\nv: " + text, Loader=yaml.SafeLoader).value[1][1]


def _refusal(reader: Any, text: str) -> str:
    with pytest.raises(ExperimentInvalid) as info:
        reader(r.Ctx(Path("x.yaml")), _node(text), "spec.f")
    return str(info.value)


@pytest.mark.parametrize(("url", "want"), [
    ("http://web.example:8080", "http://web.example:8080"),
    ("https://web.example/", "https://web.example"),
    ("http://hostX/", "http://hostX"),  # only the slash is stripped, not what precedes it
])
def test_load_url_accepted_without_its_trailing_slash(url: str, want: str) -> None:
    assert r.load_url(r.Ctx(Path("x.yaml")), _node(url), "spec.f") == want


@pytest.mark.parametrize(("url", "problem"), [
    ("ftp://web.example", "the scheme must be http or https"),
    ("http://:80", "it names no host"),
    ("http://user@web.example", "credentials do not belong in the URL: use headersFromEnv"),
    ("http://:secret@web.example", "credentials do not belong in the URL: use headersFromEnv"),
    ("http://web.example/x", "give the path in spec.load.path, not in the URL"),
    ("http://web.example?x=1", "give the path in spec.load.path, not in the URL"),
    ("http://web.example#top", "give the path in spec.load.path, not in the URL"),
    ("http://web.example:0", "the port must be a number from 1 to 65535"),
])
def test_load_url_refusals_name_the_problem_and_quote_the_url(url: str, problem: str) -> None:
    assert _refusal(r.load_url, url) == \
        f"x.yaml:2: spec.f: not a usable load URL ({problem}): {url!r}"


def test_guard_url_is_kept_as_written() -> None:
    url = "http://prom.example:9090/api/v1/query?x=1"
    assert r.guard_url(r.Ctx(Path("x.yaml")), _node(url), "spec.f") == url


@pytest.mark.parametrize(("url", "want"), [
    ("gopher://prom.example", "expected an http:// or https:// URL, got 'gopher://prom.example'"),
    ("http://:9090/x", "the URL names no host, got 'http://:9090/x'"),
    ("http://user@prom.example", "credentials in the URL are not allowed (they would sit in the "
     "experiment file and travel with every check), got 'http://***@prom.example'"),
    ("http://:pw@prom.example", "credentials in the URL are not allowed (they would sit in the "
     "experiment file and travel with every check), got 'http://***@prom.example'"),
    ("http://prom.example/#top", "expected a URL without fragment or whitespace, "
     "got 'http://prom.example/#top'"),
    ("'http://prom.example/a b'", "expected a URL without fragment or whitespace, "
     "got 'http://prom.example/a b'"),
    ('"http://prom.example/a\\x01"', "expected a URL without fragment or whitespace, "
     "got 'http://prom.example/a\\x01'"),
    ("http://prom.example:0", "the port must be a number from 1 to 65535, "
     "got 'http://prom.example:0'"),
])
def test_guard_url_refusals(url: str, want: str) -> None:
    assert _refusal(r.guard_url, url) == f"x.yaml:2: spec.f: {want}"


def test_headers_from_env_reads_header_and_variable_names_in_order() -> None:
    node = _node("{Authorization: STAGING_TOKEN, X-Tenant: _T1}")
    assert r.headers_from_env(r.Ctx(Path("x.yaml")), node, "spec.f") == \
        (("Authorization", "STAGING_TOKEN"), ("X-Tenant", "_T1"))


@pytest.mark.parametrize(("text", "want"), [
    ("[a]", "x.yaml:2: spec.f: expected a mapping of header: ENVIRONMENT_VARIABLE, e.g. "
     "{Authorization: STAGING_TOKEN}"),
    ("{}", "x.yaml:2: spec.f: expected a mapping of header: ENVIRONMENT_VARIABLE, e.g. "
     "{Authorization: STAGING_TOKEN}"),
    ("{'a b': TOKEN}", "x.yaml:2: spec.f.a b: not an HTTP header name"),
    ("{Authorization: Bearer abc}", "x.yaml:2: spec.f.Authorization: expected the name of an "
     "environment variable holding the value (not the value itself), got 'Bearer abc'"),
])
def test_headers_from_env_refusals(text: str, want: str) -> None:
    assert _refusal(r.headers_from_env, text) == want


@pytest.mark.parametrize(("text", "want"), [
    ("True", "True"), ("true", "True"), ("false", "False"), ("'False'", "False"),
    ("Unknown", "Unknown"),
])
def test_condition_status_reads_yaml_booleans_as_the_api_strings(text: str, want: str) -> None:
    assert r.condition_status(r.Ctx(Path("x.yaml")), _node(text), "spec.f") == want


@pytest.mark.parametrize(("text", "want"), [
    ("[True]", "x.yaml:2: spec.f: expected True, False or Unknown, got a list"),
    ("maybe", "x.yaml:2: spec.f: expected True, False or Unknown, got 'maybe'"),
])
def test_condition_status_refusals(text: str, want: str) -> None:
    assert _refusal(r.condition_status, text) == want


def test_a_list_value_is_a_non_empty_array_of_its_items_in_the_schema() -> None:
    assert v.items({"$ref": "#/$defs/x"}, "xs") == v.Value(
        "xs", {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/x"}})
