"""Kinds of values an experiment field can hold: how the parser reads one and how the JSON
Schema describes it, named once so both come from the same declaration.

The parser maps each ``Value.kind`` to its converter (``chaos.model.parse``); the schema
generator (``chaos.model.schema``) emits ``Value.schema``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SIGNALS = ("KILL", "TERM", "INT", "HUP", "QUIT", "ABRT", "USR1", "USR2")


@dataclass(frozen=True, slots=True)
class Value:
    kind: str  # the parser's converter for it
    schema: Mapping[str, Any]
    choices: tuple[str, ...] = field(default=())


DURATION_REF = {"$ref": "#/$defs/duration"}
SELECTOR_REF = {"$ref": "#/$defs/selector"}

POSITIVE_INT = Value("positive-int", {"type": "integer", "minimum": 1})
NON_NEGATIVE_INT = Value("non-negative-int", {"type": "integer", "minimum": 0})
DURATION = Value("duration", DURATION_REF)
POSITIVE_DURATION = Value("positive-duration", DURATION_REF)  # zero is refused by the parser
WHOLE_SECONDS = Value("whole-seconds", {
    "anyOf": [{"type": "integer", "minimum": 0},
              {"type": "string", "pattern": "^[0-9]+(s|m|h)?$"}],
    "description": "whole seconds; 0 kills immediately"})
PERCENT = Value("percent", {"type": "number", "exclusiveMinimum": 0, "maximum": 100})
RATIO = Value("ratio", {"type": "number", "minimum": 0, "maximum": 1})
STRING = Value("string", {"type": "string", "minLength": 1})
SIGNAL = Value("signal", {"type": "string",
                          "pattern": f"^(SIG)?({'|'.join(SIGNALS)})$"})
SELECTOR = Value("selector", SELECTOR_REF)
ARRIVAL_RATE = Value("arrival-rate", {"anyOf": [
    {"type": "string", "pattern": "^\\s*\\d+(\\.\\d+)?(\\s*/\\s*(s|m|h|sec|min))?\\s*$"},
    {"type": "number", "exclusiveMinimum": 0}]})
RATE = Value("rate", {"type": "string",
                      "pattern": "^[0-9]+(\\.[0-9]+)?\\s*(bit|kbit|mbit|gbit)$"})
PEER = Value("peer", {
    "type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
    "properties": {
        "selector": SELECTOR_REF,
        "service": {"type": "string", "minLength": 1},
        "cidr": {"anyOf": [{"type": "string", "minLength": 1},
                           {"type": "array", "items": {"type": "string", "minLength": 1},
                            "minItems": 1}]},
    },
    "description": "exactly one of selector, service, cidr"})
NODE_NAMES = Value("node-names", {"type": "array", "items": {"type": "string", "minLength": 1},
                                  "minItems": 1, "uniqueItems": True})


CONTROLLER_KINDS = {"Deployment": "Deployment", "deployment": "Deployment",
                    "deploy": "Deployment", "StatefulSet": "StatefulSet",
                    "statefulset": "StatefulSet", "sts": "StatefulSet"}
CONTROLLER_REF = Value("controller-ref", {
    "type": "string",
    "pattern": f"^({'|'.join(CONTROLLER_KINDS)})/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
    "description": "Deployment/<name> or StatefulSet/<name> (kubectl's deploy/ and sts/ too)"})
IMAGE = Value("image", {"type": "string", "minLength": 1,
                        "description": "an image reference, e.g. myteam/api:1.4"})
ENV_MAP = Value("env-map", {
    "type": "object", "minProperties": 1,
    "propertyNames": {"pattern": "^[-._a-zA-Z][-._a-zA-Z0-9]*$"},
    "additionalProperties": {"type": "string"},
    "description": "variable name: value (a string; quote numbers)"})
STRING_LIST = Value("string-list", {"type": "array", "items": {"type": "string"}})


def enum(*choices: str) -> Value:
    return Value("enum", {"enum": list(choices)}, choices)
