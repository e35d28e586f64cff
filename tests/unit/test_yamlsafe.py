"""The bounded YAML reader: limits at their edges, and what ordinary YAML still does."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chaos.errors import ExperimentInvalid
from chaos.model.yamlsafe import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_NODES,
    compose_documents,
    read_text,
    to_python,
)


def _load(text: str) -> object:
    (doc,) = compose_documents(text, "f.yaml")
    return to_python(doc, "f.yaml")


def _error(text: str) -> str:
    with pytest.raises(ExperimentInvalid) as info:
        compose_documents(text, "f.yaml")
    return str(info.value)


def test_depth_limit_is_exact() -> None:
    assert _load("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert _error("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).endswith(
        f"nested deeper than {MAX_DEPTH} levels")


@pytest.mark.parametrize("levels", [1_001, 5_000, MAX_BYTES // 2 - 20])
def test_flow_nesting_past_libyamls_own_limit_gets_our_error_at_our_depth(levels: int) -> None:
    # libyaml stops at 1,000 nested flows while scanning ahead, before any event reaches our
    # composer; the text is then read by the pure-Python parser, which still stops at MAX_DEPTH
    message = _error("spec:\n  slas: " + "[" * levels + "]" * levels + "\n")
    assert message.startswith("f.yaml:2: spec.slas[0][0]"), message
    assert message.endswith(f"nested deeper than {MAX_DEPTH} levels")


def test_a_libyaml_syntax_error_is_not_read_twice() -> None:
    assert "invalid YAML" in _error("a: [1, 2\nb: }")


def test_node_limit_is_exact() -> None:
    assert len(compose_documents("[" + ", ".join(["1"] * (MAX_NODES - 1)) + "]", None)) == 1
    assert "more than 25000 YAML nodes" in _error("[" + ", ".join(["1"] * MAX_NODES) + "]")


def test_aliases_cost_what_they_expand_to() -> None:
    # 100 uses of a 200-node list: 20 000 nodes, fine; 130 uses: over the limit
    anchor = "a: &a [" + ", ".join(["x"] * 199) + "]\n"
    assert _load(anchor + "b: [" + ", ".join(["*a"] * 100) + "]\n") is not None
    assert "alias *a expands the file" in _error(anchor + "b: [" + ", ".join(["*a"] * 130) + "]\n")


def test_merge_keys_follow_yaml_precedence_without_duplicates() -> None:
    text = """\
base: &base {a: 1, b: 1, c: 1}
more: &more {b: 2, d: 2}
both:
  <<: [*base, *more]
  c: 3
"""
    assert _load(text) == {
        "base": {"a": 1, "b": 1, "c": 1},
        "more": {"b": 2, "d": 2},
        "both": {"a": 1, "b": 1, "c": 3, "d": 2},
    }
    (doc,) = compose_documents(text, None)
    both = doc.value[2][1]
    assert [k.value for k, _ in both.value] == ["c", "a", "b", "d"]  # no key twice


def test_merge_chain_is_not_counted_as_depth() -> None:
    chain = "m0: &m0 {k: 0}\n" + "".join(
        f"m{i}: &m{i} {{<<: *m{i - 1}, k{i}: {i}}}\n" for i in range(1, MAX_DEPTH + 10))
    assert _load(chain) is not None


def test_merge_key_is_only_a_key() -> None:
    assert _load("a: <<\nb: [<<]\n") == {"a": "<<", "b": ["<<"]}


def test_standard_tags_still_work() -> None:
    assert _load("a: !!str 1\nb: !!int '7'\nc: !!float 1\nd: 2024-02-29\n") == {
        "a": "1", "b": 7, "c": 1.0, "d": __import__("datetime").date(2024, 2, 29)}


def test_syntax_error_names_the_deepest_known_field() -> None:
    assert _error("a:\n  b: [1, 2\n  c: 3\n") == (
        "f.yaml:3: a.b: invalid YAML: did not find expected ',' or ']'")


def test_read_text_limits_and_encodings(tmp_path: Path) -> None:
    ok = tmp_path / "ok.yaml"
    ok.write_bytes(b"\xef\xbb\xbfa: caf\xc3\xa9\n")
    assert read_text(ok) == "a: café\n"
    exact = tmp_path / "exact.yaml"
    exact.write_bytes(b"#" * MAX_BYTES)
    assert len(read_text(exact)) == MAX_BYTES
    over = tmp_path / "over.yaml"
    over.write_bytes(b"#" * (MAX_BYTES + 1))
    with pytest.raises(ExperimentInvalid, match="file too large: 1,048,577 bytes"):
        read_text(over)
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"a: 1\nb: \xff\n")
    with pytest.raises(ExperimentInvalid) as info:
        read_text(bad)
    assert str(info.value) == (
        f"{bad}:2: b: not UTF-8: byte 0xFF at column 4 cannot be decoded (save the file as UTF-8)")


def test_nothing_escapes_but_experiment_invalid() -> None:
    hostile = ["*x", "&a [*a]", "!!python/name:os.system ''", "a: !!binary 'abc'", "? [a]\n: b",
               "\x00", "a: 0x_", "- " * 1000 + "x", "{" * 5000, "'unterminated", "a: &a b\nc: &a d"]
    for text in hostile:
        with pytest.raises(ExperimentInvalid):
            compose_documents(text, "f.yaml")
    assert yaml.safe_load("a: 1") == {"a": 1}  # PyYAML itself is untouched


def test_text_handed_in_directly_is_capped_too() -> None:
    assert _error("#" * (MAX_BYTES + 1)).startswith(
        "f.yaml:1: document: text too large: 1,048,577 characters")
