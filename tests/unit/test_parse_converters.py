"""The value converters the parser builds its tables from, called directly.

The module-level converters of chaos.model.reader (``ratio``, ``node_port`` ...) are built
once at import; these tests build them again so their range checks and messages are exercised
on their own, with the bounds at the edges where off-by-one mistakes live.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from chaos.errors import ExperimentInvalid
from chaos.model import reader as p
from chaos.model import values as v
from chaos.model.fields import option

CTX = p.Ctx(Path("x.yaml"))


def node(text: str) -> yaml.Node:
    """The value of ``f`` in a two-line document, so errors point at line 2."""
    root = yaml.compose(f"other: 1\nf: {text}\n", Loader=yaml.SafeLoader)
    assert isinstance(root, yaml.MappingNode)
    return root.value[1][1]


def error(conv: Callable[[p.Ctx, yaml.Node, str], object], text: str) -> str:
    with pytest.raises(ExperimentInvalid) as info:
        conv(CTX, node(text), "spec.f")
    assert (info.value.path, info.value.line, info.value.field) == ("x.yaml", 2, "spec.f")
    return info.value.reason


def test_int_in_accepts_its_closed_range_only() -> None:
    conv = p.int_in(1, 5, "one to five")
    assert [conv(CTX, node(t), "spec.f") for t in ("1", "3", "5")] == [1, 3, 5]
    for bad, got in (("0", "0"), ("6", "6"), ("2.5", "2.5"), ("true", "true"),
                     ("'3'", "'3'"), ("[1]", "a list")):
        assert error(conv, bad) == f"expected one to five, got {got}"
    unbounded = p.int_in(0, None, "a count")
    assert unbounded(CTX, node("0"), "f") == 0
    assert unbounded(CTX, node("1000000"), "f") == 1000000
    assert error(unbounded, "-1") == "expected a count, got -1"


def test_number_in_accepts_its_range_and_returns_floats() -> None:
    ratio = p.number_in(0.0, 1.0, "a ratio")
    values = [ratio(CTX, node(t), "spec.f") for t in ("0", "0.5", "1")]
    assert values == [0.0, 0.5, 1.0] and all(type(x) is float for x in values)
    for bad, got in (("1.01", "1.01"), ("-0.1", "-0.1"), (".nan", ".nan"), ("true", "true"),
                     ("'0.5'", "'0.5'"), ("{a: 1}", "a mapping")):
        assert error(ratio, bad) == f"expected a ratio, got {got}"
    positive = p.number_in(0.0, None, "a positive number", low_open=True)
    assert positive(CTX, node("0.001"), "f") == 0.001
    assert positive(CTX, node("1.0e+9"), "f") == 1e9
    assert error(positive, "0") == "expected a positive number, got 0"


def test_bool_is_a_yaml_boolean_only() -> None:
    assert p.boolean(CTX, node("true"), "f") is True
    assert p.boolean(CTX, node("false"), "f") is False
    assert error(p.boolean, "1") == "expected true or false, got 1"
    assert error(p.boolean, "'true'") == "expected true or false, got 'true'"
    assert error(p.boolean, "[true]") == "expected true or false, got a list"


def test_enum_names_the_choices_and_suggests_the_closest() -> None:
    conv = p.enum("always", "never", "on-failure")
    assert conv(CTX, node("never"), "f") == "never"
    assert error(conv, "nevr") == ("expected one of 'always', 'never', 'on-failure', got 'nevr' "
                                   "(did you mean 'never'?)")
    assert error(conv, "3") == "expected one of 'always', 'never', 'on-failure', got 3"
    assert error(conv, "[a]") == "expected one of 'always', 'never', 'on-failure', got a list"


def test_values_enum_is_a_schema_enum_with_its_choices() -> None:
    assert v.enum("a", "b") == v.Value("enum", {"enum": ["a", "b"]}, ("a", "b"))


def test_option_declares_a_field_with_its_yaml_name_kind_doc_and_reader() -> None:
    required = option("gracePeriod", v.WHOLE_SECONDS, "how long")
    assert required.default is dataclasses.MISSING
    assert dict(required.metadata) == {"yaml": "gracePeriod", "value": v.WHOLE_SECONDS,
                                       "doc": "how long", "reader": "value"}
    grouped = option("count", v.POSITIVE_INT, "how many", 1, reader="count-or-percent")
    assert grouped.default == 1
    assert dict(grouped.metadata) == {"yaml": "count", "value": v.POSITIVE_INT,
                                      "doc": "how many", "reader": "count-or-percent"}


URL_HINT = "expected a URL path starting with '/' (load always targets http://127.0.0.1:<nodePort>)"


@pytest.mark.parametrize("bad", ["a", "//", "//host/x", "/x#top", "'/a b'", "'/a\\\\b'",
                                 "\"/a\\x01\""])
def test_url_path_is_a_plain_path(bad: str) -> None:
    value = yaml.safe_load(bad)
    assert error(p.url_path, bad) == f"{URL_HINT}, got {value!r}"


def test_url_path_may_carry_a_query() -> None:
    assert p.url_path(CTX, node("/health?deep=1"), "f") == "/health?deep=1"


@pytest.mark.parametrize(("text", "field", "reason"), [
    ("{}", "spec.f", "expected at least one label"),
    ("{-x: a}", "spec.f", "expected a label name, got '-x'"),
    ("{app: [a]}", "spec.f.app", "expected a label value string (quote numbers), got a list"),
    ("{app: 'a b'}", "spec.f.app", "not a valid label value: 'a b'"),
    ("{app: " + "v" * 64 + "}", "spec.f.app", f"not a valid label value: {'v' * 64!r}"),
    ("{app: a, app: b}", "spec.f.app", "duplicate label"),
])
def test_selector_errors(text: str, field: str, reason: str) -> None:
    with pytest.raises(ExperimentInvalid) as info:
        p.selector(CTX, node(text), "spec.f")
    assert (info.value.line, info.value.field, info.value.reason) == (2, field, reason)


def test_a_label_value_may_have_63_characters() -> None:
    assert p.selector(CTX, node("{app: " + "v" * 63 + "}"), "f") == {"app": "v" * 63}


def test_booleans_are_shown_as_yaml_writes_them() -> None:
    assert error(p.int_in(0, None, "a count"), "false") == "expected a count, got false"


def test_small_print_of_values() -> None:
    assert error(p.int_in(0, None, "a count"), "null") == "expected a count, got null"
    assert error(p.string, "[a]") == "expected a string, got a list"
    assert error(p.positive_duration, "0s") == "expected a duration above zero, got '0s'"
    assert p.positive_duration(CTX, node("500ms"), "f") == 0.5
