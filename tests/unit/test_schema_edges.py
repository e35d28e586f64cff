"""The generated schema and SLA table from their declarations, at the edges: a field without
doc, a section without rules of its own, a doc whose markers appear twice, and what each SLA
declaration reads."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from chaos.model import schema as sch
from chaos.model import values as v
from chaos.model.experiment import BlastRadius
from chaos.model.fields import FieldInfo, option
from chaos.model.slas import SLAInfo, SLASpec


def test_a_field_without_doc_has_no_description() -> None:
    bare = FieldInfo(attr="x", yaml="x", value=v.STRING, doc="", reader="value",
                     default=dataclasses.MISSING)
    assert sch.value_schema(bare) == dict(v.STRING.schema)
    assert sch.value_schema(dataclasses.replace(bare, doc="what x is")) == {
        **v.STRING.schema, "description": "what x is"}


def test_a_section_without_rules_of_its_own_is_its_fields_only() -> None:
    @dataclass(frozen=True)
    class Plain:
        name: str = option("name", v.STRING, "")

    assert sch.section_schema(Plain) == {
        "type": "object", "additionalProperties": False,
        "properties": {"name": dict(v.STRING.schema)}, "required": ["name"]}


def test_a_section_value_names_its_dataclass() -> None:
    assert v.section(BlastRadius) == v.Value("section", {}, section=BlastRadius)


def test_only_the_first_marked_table_is_generated_anew() -> None:
    begin, end = sch.SLA_TABLE_BEGIN, sch.SLA_TABLE_END
    doc = f"intro\n{begin}\nold\n{end}\nmiddle\n{begin}\nquoted\n{end}\nrest\n"
    assert sch.experiments_doc(doc) == (
        f"intro\n{sch.sla_table()}\nmiddle\n{begin}\nquoted\n{end}\nrest\n")


def test_an_sla_declares_the_figure_it_reads_and_the_bound_it_is_measured_with() -> None:
    infos = {f.yaml: f for f in SLASpec.field_infos()}
    assert infos["maxOutage"] == SLAInfo(
        attr="max_outage_s", yaml="maxOutage", value=v.DURATION,
        doc="the longest stretch in the fault window without a request served (answered "
            "successfully within outageBound)",
        check="<=", reads="load.longest_outage_s", unit="s", scale=1.0,
        bound="load.outage_bound_s", default=None)
