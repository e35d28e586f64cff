"""The JSON Schema's fault section and docs/faults.md, generated from the fault declarations.

``python -m chaos.model.schema`` rewrites both shipped files; tests fail when either differs
from what the declarations in ``chaos.model.faults`` generate (so nobody edits them by hand).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from chaos.model import values as v
from chaos.model.faults import FAULT_TYPES, FaultSpec, FieldInfo

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schema" / "experiment.schema.json"
DOCS_PATH = Path(__file__).resolve().parents[2] / "docs" / "faults.md"
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


def experiment_schema(shipped: dict[str, Any]) -> dict[str, Any]:
    """The shipped schema with its fault section generated anew."""
    out: dict[str, Any] = json.loads(json.dumps(shipped))
    out["$defs"]["fault"] = fault_schema()
    return out


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
    shipped = json.loads(SCHEMA_PATH.read_text())
    SCHEMA_PATH.write_text(json.dumps(experiment_schema(shipped), indent=2) + "\n")
    DOCS_PATH.write_text(faults_markdown())
    print(f"wrote {SCHEMA_PATH} and {DOCS_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
