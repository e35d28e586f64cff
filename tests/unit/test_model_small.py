"""Small pieces of the model that users see as text: durations written back, selectors in
messages, defaults in the generated fault reference, and the generator command itself."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from chaos.model import Selector, format_duration, parse_duration
from chaos.model import schema as sch
from chaos.model import values as v
from chaos.model.fields import FieldInfo


@pytest.mark.parametrize(("seconds", "text"), [
    (0.0, "0s"), (0.5, "500ms"), (0.001, "1ms"), (1.0, "1s"), (90.0, "90s"), (1.5, "1.5s"),
])
def test_format_duration_is_the_shortest_spelling_that_reads_back(seconds: float,
                                                                  text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


def test_selector_reads_like_a_mapping_in_messages() -> None:
    sel = Selector.of({"tier": "web", "app": "httpd"})
    assert repr(sel) == "Selector({'app': 'httpd', 'tier': 'web'})"
    assert sel["app"] == "httpd"
    with pytest.raises(KeyError) as info:
        sel["zone"]
    assert info.value.args == ("zone",)
    assert hash(sel) == hash(Selector.of({"app": "httpd", "tier": "web"}))
    assert {sel: 1}[Selector.of({"app": "httpd", "tier": "web"})] == 1


def _field(value: v.Value, default: object, reader: str = "value") -> FieldInfo:
    return FieldInfo(attr="x", yaml="x", value=value, doc="", reader=reader,  # type: ignore[arg-type]
                     default=default)


@pytest.mark.parametrize(("value", "default", "reader", "shown"), [
    (v.STRING, dataclasses.MISSING, "value", "required"),
    (v.STRING, None, "value", "—"),
    (v.DURATION, 30.0, "value", "30s"),
    (v.POSITIVE_DURATION, 0.5, "value", "0.5s"),
    (v.PERCENT, 2.5, "value", "`2.5`"),  # a float that is not a duration
    (v.POSITIVE_INT, 1, "count-or-percent", "`1`"),
    (v.SELECTOR, None, "pod-selector", "the workload's selector"),
    (v.SELECTOR, None, "node-selection", "podsOf: the workload's selector"),
])
def test_fault_reference_defaults(value: v.Value, default: object, reader: str,
                                  shown: str) -> None:
    assert sch._default(_field(value, default, reader)) == shown


def test_the_generator_rewrites_the_schema_and_the_reference(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shipped = json.loads(sch.SCHEMA_PATH.read_text())
    shipped["$defs"]["fault"] = {"stale": True}
    schema_path, docs_path = tmp_path / "experiment.schema.json", tmp_path / "faults.md"
    schema_path.write_text(json.dumps(shipped))
    monkeypatch.setattr(sch, "SCHEMA_PATH", schema_path)
    monkeypatch.setattr(sch, "DOCS_PATH", docs_path)
    guide = tmp_path / "experiments.md"
    guide.write_text(f"# before\n{sch.SLA_TABLE_BEGIN}\n| stale |\n{sch.SLA_TABLE_END}\nafter\n")
    monkeypatch.setattr(sch, "EXPERIMENTS_DOC", guide)
    assert sch.main() == 0
    written = schema_path.read_text()
    assert written == json.dumps(sch.experiment_schema(), indent=2) + "\n"
    assert json.loads(written)["$defs"]["fault"] == sch.fault_schema()
    assert docs_path.read_text() == sch.faults_markdown()
    assert guide.read_text() == f"# before\n{sch.sla_table()}\nafter\n"
    assert "| stale |" not in guide.read_text()
    assert capsys.readouterr().out == (f"wrote {schema_path}, {docs_path} and {guide}'s SLA "
                                       "table\n")


@pytest.mark.parametrize(("value", "message"), [
    (True, "not a duration: True"),
    ("soon", "not a duration: 'soon'"),
    ([1], "not a duration: [1]"),
    (-1, "not a non-negative duration: -1"),
])
def test_parse_duration_errors(value: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(value)
    assert str(info.value) == message


def test_selectors_read_as_the_api_takes_them() -> None:
    assert Selector.of({"tier": "b", "app": "a"}).to_label_selector() == "app=a,tier=b"


def test_an_expect_blocked_sla_alone_is_declared() -> None:
    from chaos.model import SLASpec

    assert SLASpec(expect_blocked=True).declared() is True
    assert SLASpec(expect_blocked=False).declared() is True
    assert SLASpec().declared() is False
