"""The bounded YAML reader at its exact edges: an alias's expanded depth, a merged mapping's
height, names and values cut at 40 characters, the field trail cut after 12 steps, the size
cap itself; and the nodes it builds are the ones PyYAML's own composer builds."""

from __future__ import annotations

import pytest
import yaml

from chaos.errors import ExperimentInvalid
from chaos.model.yamlsafe import MAX_BYTES, MAX_DEPTH, compose_documents, decode


def _error(text: str) -> str:
    with pytest.raises(ExperimentInvalid) as info:
        compose_documents(text, "f.yaml")
    return str(info.value)


def _nested(levels: int, inner: str) -> str:
    return "[" * levels + inner + "]" * levels


# `b:`'s value is at depth 2, so an alias inside `levels` lists sits at depth 2 + levels


def test_an_alias_may_expand_to_exactly_the_depth_limit() -> None:
    anchor = "a: &a [1]\n"  # height 2: the list and its item
    assert len(compose_documents(anchor + "b: " + _nested(MAX_DEPTH - 3, "*a"), None)) == 1
    assert _error(anchor + "b: " + _nested(MAX_DEPTH - 2, "*a")) == (
        "f.yaml:2: b" + "[0]" * 11 + "...: alias *a nests deeper than 64 levels once expanded")


def test_a_merged_list_of_mappings_adds_no_level_of_its_own() -> None:
    # m's pairs sit at m's level whether merged from a mapping or a list of mappings: height 2
    merged = "base: &b {k: 1}\nm: &m {<<: [*b]}\n"
    assert len(compose_documents(merged + "c: " + _nested(MAX_DEPTH - 3, "*m"), None)) == 1
    assert _error(merged + "c: " + _nested(MAX_DEPTH - 2, "*m")) == (
        "f.yaml:3: c" + "[0]" * 11 + "...: alias *m nests deeper than 64 levels once expanded")


def test_a_value_that_cannot_be_read_is_quoted_up_to_40_characters() -> None:
    assert _error("a: !!int " + "x" * 40) == f"f.yaml:1: a: cannot read '{'x' * 40}' as !!int"
    assert _error("a: !!int " + "x" * 41) == f"f.yaml:1: a: cannot read '{'x' * 37}...' as !!int"


def test_an_anchor_name_is_shown_up_to_40_characters() -> None:
    assert _error("a: *" + "x" * 40) == (
        f"f.yaml:1: a: alias *{'x' * 40} has no anchor &{'x' * 40} before it")
    cut = "x" * 40 + "..."
    assert _error("a: *" + "x" * 41) == f"f.yaml:1: a: alias *{cut} has no anchor &{cut} before it"


def test_a_key_in_the_field_is_shown_up_to_40_characters() -> None:
    assert _error(f"{'k' * 40}: *nope") == (
        f"f.yaml:1: {'k' * 40}: alias *nope has no anchor &nope before it")
    assert _error(f"{'k' * 41}: *nope") == (
        f"f.yaml:1: {'k' * 40}...: alias *nope has no anchor &nope before it")


def _keys(depth: int) -> str:
    return "".join("{" + f"k{i}: " for i in range(depth)) + "*nope" + "}" * depth


def test_the_field_names_twelve_steps_and_marks_any_more() -> None:
    twelve = ".".join(f"k{i}" for i in range(12))
    assert _error(_keys(12)) == f"f.yaml:1: {twelve}: alias *nope has no anchor &nope before it"
    assert _error(_keys(13)) == (
        f"f.yaml:1: {twelve}...: alias *nope has no anchor &nope before it")


def test_a_merge_of_something_else_than_mappings_is_refused_whole() -> None:
    assert _error("a: {<<: [1]}") == (
        "f.yaml:1: a.<<: a merge key (<<) takes a mapping or a list of mappings, "
        "e.g. <<: *defaults")


def test_an_error_before_any_key_is_in_the_document() -> None:
    assert _error("]") == "f.yaml:1: document: invalid YAML: did not find expected node content"
    with pytest.raises(ExperimentInvalid) as info:
        decode(b"a\xffb", "f.yaml")
    assert str(info.value) == ("f.yaml:1: document: not UTF-8: byte 0xFF at column 2 cannot be "
                               "decoded (save the file as UTF-8)")


def test_text_of_exactly_the_cap_is_read() -> None:
    text = "#" + "a" * (MAX_BYTES - 2) + "\n"
    assert len(text) == MAX_BYTES
    assert compose_documents(text, None) == []


def _style(key: yaml.Node, value: yaml.Node) -> tuple[object, ...]:
    # a plain scalar's style is None from PyYAML's parser, '' from libyaml's
    shown = (value.style or None if isinstance(value, yaml.ScalarNode)
             else getattr(value, "flow_style", None))
    return key.value, value.tag, shown


def test_the_nodes_keep_the_style_pyyaml_gives_them() -> None:
    text = "a: 'q'\nb: \"d\"\nc: plain\nd: {e: 1}\nf:\n  g: [1]\nh:\n  - 2\n"
    ours = compose_documents(text, None)[0]
    theirs = yaml.compose(text, Loader=yaml.SafeLoader)
    assert isinstance(ours, yaml.MappingNode) and isinstance(theirs, yaml.MappingNode)
    assert ours.flow_style == theirs.flow_style
    assert [_style(k, v) for k, v in ours.value] == [_style(k, v) for k, v in theirs.value]
    assert [_style(k, v)[2] for k, v in ours.value] == ["'", '"', None, True, False, False]


@pytest.mark.parametrize(("text", "expected"), [
    ("a: !!python/name:os.system x\n",
     "f.yaml:1: a: unsupported YAML tag '!!python/name:os.system' (plain YAML only: !!binary, "
     "!!bool, !!float, !!int, !!null, !!str, !!timestamp here)"),
    ("a: !!set {x: null}\n",
     "f.yaml:1: a: unsupported YAML tag '!!set' (plain YAML only: !!map here)"),
    ("a: !!omap [x]\n",
     "f.yaml:1: a: unsupported YAML tag '!!omap' (plain YAML only: !!seq here)"),
    ("a:\n  ? [1]\n  : x\n", "f.yaml:2: a: a key must be a plain value, not a list"),
    ("a:\n  ? {b: 1}\n  : x\n", "f.yaml:2: a: a key must be a plain value, not a mapping"),
    ("a: &x 1\nb: &x 2\n", "f.yaml:2: b: duplicate anchor &x (first defined at line 1)"),
    ("a: &x [1, *x]\n",
     "f.yaml:1: a[1]: alias *x refers to a node that contains it (recursive YAML is not "
     "allowed)"),
    ("a: b\u0007\n", "f.yaml:1: a: control character U+0007 at column 5 is not allowed in YAML"),
], ids=["scalar-tag", "map-tag", "seq-tag", "list-key", "map-key", "duplicate-anchor",
        "recursive", "control"])
def test_each_refusal_of_the_composer_is_whole(text: str, expected: str) -> None:
    assert _error(text) == expected


def test_a_byte_order_mark_of_another_encoding_is_named() -> None:
    with pytest.raises(ExperimentInvalid) as info:
        decode(b"\xff\xfea\x00", "f.yaml")
    assert str(info.value) == (
        "f.yaml:1: document: UTF-16 text (byte-order mark FF FE): save the file as UTF-8")
    assert decode(b"\xef\xbb\xbfa: 1\n", "f.yaml") == "a: 1\n"
