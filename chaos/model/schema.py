"""The whole JSON Schema, docs/faults.md and the SLA table of docs/experiments.md, generated
from the declarations.

Every section of the schema comes from the fields its dataclass declares (``chaos.model.fields``:
experiment.py, abort.py, faults.py, slas.py; loadmodes.py for spec.load) and the shared
``$defs`` from chaos.model.values. ``python -m chaos.model.schema`` rewrites the shipped files;
tests fail when any differs from what the declarations generate (so nobody edits them by hand).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from chaos.model import values as v
from chaos.model.abort import GUARD_TYPES, Guard
from chaos.model.experiment import API_VERSION, KIND, Experiment, LoadProfile
from chaos.model.faults import FAULT_TYPES, FaultSpec
from chaos.model.fields import At, FieldInfo, field_infos
from chaos.model.loadmodes import LOAD_FIELDS, LOAD_MODES, LoadField
from chaos.model.slas import SLASpec

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schema" / "experiment.schema.json"
DOCS_PATH = Path(__file__).resolve().parents[2] / "docs" / "faults.md"
EXPERIMENTS_DOC = Path(__file__).resolve().parents[2] / "docs" / "experiments.md"
SLA_TABLE_BEGIN = ("<!-- SLA table: generated from chaos/model/slas.py by python -m "
                   "chaos.model.schema -->")
SLA_TABLE_END = "<!-- end of the generated SLA table -->"
_NODE_KEYS = {"nodes": v.NODE_NAMES.schema, "nodeSelector": v.SELECTOR_REF,
              "podsOf": v.SELECTOR_REF}


def _variant(cls: type[FaultSpec]) -> dict[str, Any]:
    props: dict[str, Any] = {"type": {"const": cls.type}}
    readers = set()
    for f in cls.field_infos():
        readers.add(f.reader)
        if f.reader == "node-selection":
            props.update({k: dict(s) for k, s in _NODE_KEYS.items()})
        else:
            props[f.yaml] = {**f.value.schema, "description": f.doc}
    out: dict[str, Any] = {"type": "object", "description": cls.summary,
                           "additionalProperties": False, "properties": props,
                           "required": ["type"]}
    if "count-or-percent" in readers:
        out["not"] = {"required": ["count", "percent"]}
    if "node-selection" in readers:
        keys = list(_NODE_KEYS)
        out["not"] = {"anyOf": [{"required": [a, b]} for i, a in enumerate(keys)
                                for b in keys[i + 1:]]}
    out.update(cls.schema_rules)
    return out


def fault_schema() -> dict[str, Any]:
    return {"type": "object", "required": ["type"],
            "properties": {"type": {"enum": list(FAULT_TYPES)}},
            "oneOf": [_variant(cls) for cls in FAULT_TYPES.values()]}


def slas_schema() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False,
            "properties": {f.yaml: {**f.value.schema, "description": f.doc}
                           for f in SLASpec.field_infos()},
            "minProperties": 1}


def _field(f: LoadField) -> dict[str, Any]:
    return {**f.value.schema, **({"description": f.doc} if f.doc else {})}


def load_schema() -> dict[str, Any]:
    """spec.load: every mode's fields, each allowed only in its own mode."""
    default = next(iter(LOAD_MODES.values()))
    rules = []
    for mode in LOAD_MODES.values():
        others = [k for m in LOAD_MODES.values() if m is not mode for k in m.keys]
        is_mode: dict[str, Any] = {"properties": {"mode": {"const": mode.name}}}
        if mode is not default:  # an absent mode is the default one
            is_mode = {"required": ["mode"], **is_mode}
        rules.append({"if": is_mode, "then": {
            **mode.schema_rules, "not": {"anyOf": [{"required": [k]} for k in others]}}})
    return {"type": "object", "additionalProperties": False,
            "properties": {f.yaml: _field(f) for f in LOAD_FIELDS},
            "dependentRequired": {"tlsVerify": ["url"]}, "allOf": rules}


def value_schema(f: FieldInfo) -> dict[str, Any]:
    """A declared field's schema: its value's (a section's, for a mapping of declared fields),
    with its doc as the description."""
    body = section_schema(f.value.section) if f.value.section is not None else dict(f.value.schema)
    return {**body, **({"description": f.doc} if f.doc else {})}


def section_schema(cls: type) -> dict[str, Any]:
    """A mapping of the fields ``cls`` declares, with its ``schema_rules``."""
    if cls is LoadProfile:
        return load_schema()
    if cls is SLASpec:
        return slas_schema()
    infos = list(field_infos(cls))
    out: dict[str, Any] = {"type": "object", "additionalProperties": False,
                           "properties": {f.yaml: value_schema(f) for f in infos}}
    required = [f.yaml for f in infos if f.required]
    if required:
        out["required"] = required
    out.update(getattr(cls, "schema_rules", {}))
    return out


def _guard_variant(cls: type[Guard]) -> dict[str, Any]:
    infos = list(field_infos(cls))
    out: dict[str, Any] = {
        "type": "object", "description": cls.summary, "additionalProperties": False,
        "properties": {"type": {"const": cls.type}, **{f.yaml: value_schema(f) for f in infos}},
        "required": ["type", *(f.yaml for f in infos if f.required)]}
    out.update(cls.schema_rules)
    return out


def guard_schema() -> dict[str, Any]:
    return {"type": "object", "required": ["type"],
            "properties": {"type": {"enum": list(GUARD_TYPES)}},
            "oneOf": [_guard_variant(cls) for cls in GUARD_TYPES.values()]}


def _part(at: At) -> dict[str, Any]:
    """metadata or spec: the Experiment's fields declared there."""
    infos = [f for f in field_infos(Experiment) if f.at == at]
    return {"type": "object", "additionalProperties": False,
            "properties": {f.yaml: value_schema(f) for f in infos},
            "required": [f.yaml for f in infos if f.required]}


def experiment_schema() -> dict[str, Any]:
    """The whole schema, from the declarations."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/kube-chaos/kube-chaos/chaos/schema/experiment.schema.json",
        "title": "kube-chaos Experiment",
        "description": "A chaos experiment: workload, load, faults and SLAs. See "
                       "docs/experiments.md.",
        "$defs": {**{k: dict(d) for k, d in v.DEFS.items()}, "fault": fault_schema(),
                  "guard": guard_schema()},
        "type": "object", "additionalProperties": False,
        "properties": {"apiVersion": {"const": API_VERSION}, "kind": {"const": KIND},
                       "metadata": _part("metadata"),
                       "spec": {**_part("spec"), **Experiment.schema_rules}},
        "required": ["apiVersion", "kind", "metadata", "spec"]}


def sla_table() -> str:
    """docs/experiments.md's SLA table, markers included."""
    lines = [SLA_TABLE_BEGIN, "| field | allowed | passes when | meaning |", "|---|---|---|---|"]
    for f in SLASpec.field_infos():
        allowed = f.value.bounds or ("true or false" if f.value.kind == "bool" else "—")
        if f.check is None:
            judged = "not judged"
        elif f.check == "==":
            judged = "what the run did is what it says"
        else:
            judged = f"measured {f.check} it ({f.unit})"
        lines.append(f"| `{f.yaml}` | {allowed} | {judged} | {f.doc} |")
    return "\n".join([*lines, SLA_TABLE_END])


def experiments_doc(text: str) -> str:
    """``text`` (docs/experiments.md) with its SLA table generated anew."""
    start = text.index(SLA_TABLE_BEGIN)
    end = text.index(SLA_TABLE_END) + len(SLA_TABLE_END)
    return text[:start] + sla_table() + text[end:]


def _default(f: FieldInfo) -> str:
    if f.reader == "pod-selector":
        return "the workload's selector"
    if f.reader == "node-selection":
        return "podsOf: the workload's selector"
    if f.default is dataclasses.MISSING:
        return "required"
    if f.default is None:
        return "—"
    if isinstance(f.default, float) and f.value.kind.endswith("duration"):
        return f"{f.default:g}s"
    return f"`{f.default}`"


_ACTS_ON = {"pods": "the workload's pods", "nodes": "nodes",
            "control-plane": "the control plane's nodes",
            "controller": "the workload's Deployment or StatefulSet",
            "nothing": "nothing in the cluster (the load)"}


def _facets(cls: type[FaultSpec]) -> list[str]:
    """What else the fault's type declares: what it hits, whether it needs the cluster to itself,
    the permissions it adds to the Role, the SLA it answers."""
    yaml = {f.attr: f.yaml for f in cls.field_infos()}
    needs = "; ".join(a.describe() + (f" (with {yaml[a.when[0]]}: {a.when[1]})" if a.when else "")
                      for a in cls.rbac) or "none beyond every run's"
    lines = [f"- acts on: {_ACTS_ON[cls.acts_on]}",
             f"- needs the cluster to itself: {'yes' if cls.exclusive else 'no'}, "
             f"{cls.exclusive_why}",
             f"- permissions it adds (`kube-chaos rbac`): {needs}"]
    if cls.question is not None:
        lines.append(f"- answers `slas.{cls.question.sla}`: {cls.question.asks}")
    return lines


def faults_markdown() -> str:
    lines = ["# Fault reference", "",
             "Generated from `chaos/model/faults.py` by `python -m chaos.model.schema`; do not "
             "edit by hand. Every number has the bounds its `allowed` column gives (a value "
             "outside them is a collection error naming the field); docs/experiments.md, "
             "\"Bounds\", lists those of the other sections.", ""]
    for cls in FAULT_TYPES.values():
        lines += [f"## `{cls.type}`", "", cls.summary[0].upper() + cls.summary[1:] + ".", "",
                  *_facets(cls), "",
                  "| field | default | allowed | meaning |", "|---|---|---|---|"]
        for f in cls.field_infos():
            name = ("`nodes` / `nodeSelector` / `podsOf`" if f.reader == "node-selection"
                    else f"`{f.yaml}`")
            if f.value.choices:
                name += " (" + ", ".join(f"`{c}`" for c in f.value.choices) + ")"
            lines.append(f"| {name} | {_default(f)} | {f.value.bounds or '—'} | {f.doc} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    SCHEMA_PATH.write_text(json.dumps(experiment_schema(), indent=2) + "\n")
    DOCS_PATH.write_text(faults_markdown())
    EXPERIMENTS_DOC.write_text(experiments_doc(EXPERIMENTS_DOC.read_text()))
    print(f"wrote {SCHEMA_PATH}, {DOCS_PATH} and {EXPERIMENTS_DOC}'s SLA table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
