"""Field declarations: each field of an experiment section declared once, on the dataclass that
holds it, with its YAML name, the kind of value with its bounds, its default and its doc text.

``option()`` is a ``dataclasses.field`` carrying that metadata; ``field_infos(cls)`` lists a
section's declared fields (a field without it is not in the YAML). The generic reader
(``chaos.model.reader.read_fields``) reads a section from them, and the JSON Schema
(``chaos.model.schema``) is generated from them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from chaos.model import values as v

# How a field is read. "value": one YAML key read as its ``Value`` by the generic reader. The
# others are read by the section's own code (chaos.model.sections): "own" (one key with rules of
# its own: a guard's name, a list of files), "section" (a mapping read from the declarations of
# ``value.section``); a fault's groups read several keys: "pod-selector" (selector, defaulting to
# the workload's and checked against its manifests), "count-or-percent" (one of the two),
# "node-selection" (one of nodes, nodeSelector, podsOf).
Reader = Literal["value", "own", "section", "pod-selector", "count-or-percent", "node-selection"]
# Where a field of the Experiment itself sits in the document.
At = Literal["metadata", "spec"]


def option(yaml: str, value: v.Value, doc: str, default: Any = dataclasses.MISSING,
           reader: Reader = "value", *, required: bool | None = None,
           at: At | None = None) -> Any:
    """A declared field: its YAML name, how its value is read and described, what it means.
    Required in the YAML when it has no default, unless ``required`` says otherwise (a field the
    domain always holds may be optional in the file: its default then comes from elsewhere)."""
    metadata: dict[str, Any] = {"yaml": yaml, "value": value, "doc": doc, "reader": reader}
    if required is not None:
        metadata["required"] = required
    if at is not None:
        metadata["at"] = at
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True, slots=True)
class FieldInfo:
    attr: str
    yaml: str
    value: v.Value
    doc: str
    reader: Reader
    default: Any  # dataclasses.MISSING when the dataclass has none
    needed: bool | None = None  # ``option(required=...)``; None: required when no default
    at: At | None = None

    @property
    def required(self) -> bool:
        """Whether the YAML must give it."""
        return self.default is dataclasses.MISSING if self.needed is None else self.needed


def field_infos(cls: type) -> Iterator[FieldInfo]:
    """The declared fields of a section's dataclass, in declaration order."""
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if "yaml" in meta:
            yield FieldInfo(attr=f.name, yaml=meta["yaml"], value=meta["value"], doc=meta["doc"],
                            reader=meta["reader"], default=f.default,
                            needed=meta.get("required"), at=meta.get("at"))
