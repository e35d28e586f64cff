"""Kinds of values an experiment field can hold: how the parser reads one and how the JSON
Schema describes it, named once so both come from the same declaration.

The reader maps each ``Value.kind`` to its converter (``chaos.model.reader``); the schema
generator (``chaos.model.schema``) emits ``Value.schema``.
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chaos.model.tags import RESERVED_MARKERS

SIGNALS = ("KILL", "TERM", "INT", "HUP", "QUIT", "ABRT", "USR1", "USR2")

# Bounds on the numbers of the format (docs/experiments.md, "Bounds"): far beyond any real
# experiment, yet small enough that every sum, product and schedule built from them stays exact
# and finite. The parser refuses a number outside them at collection, naming the field.
MAX_DURATION_S = 7 * 24 * 3600.0  # every duration: a week
MAX_COUNT = 10_000  # pods, nodes, replicas, rounds, restarts, failures in a row
MAX_USERS = 100_000
MAX_SPAWN_RATE = 100_000.0  # users started per second
MAX_ARRIVAL_RATE = 1_000_000.0  # open-loop arrivals per second
MAX_IN_FLIGHT = 100_000
MAX_REQUESTS = 1_000_000_000
MAX_MIN_REQUESTS = 1_000_000  # an error-rate guard's minRequests
MAX_LATENCY_S = 60.0  # a latency fault's delay (and jitter) per packet
MAX_SEED = 2**53 - 1  # the largest integer every JSON reader keeps exact (reports record it)
MAX_THRESHOLD = 1e18  # a prometheus guard's min/max, either sign


@dataclass(frozen=True, slots=True)
class Value:
    kind: str  # the parser's converter for it
    schema: Mapping[str, Any]
    choices: tuple[str, ...] = field(default=())
    high: float | None = None  # the largest value allowed (the parser refuses more)
    unit: str = ""  # how ``high`` is shown: "" (a number), "s" (a duration), "/s" (a rate)
    bounds: str = ""  # the allowed range as docs/faults.md shows it
    # kind "section": the dataclass whose field declarations are this mapping's fields
    section: type | None = None


def at_most(value: Value, high: float, bounds: str) -> Value:
    """``value`` with a tighter upper bound of its own, in the parser and in the schema (its
    numeric forms; a duration written as text, such as 2m, is bounded by the parser alone)."""
    schema = dict(value.schema)
    if "anyOf" in schema:
        schema["anyOf"] = [{**s, "maximum": high} if s.get("type") in ("integer", "number")
                           else s for s in schema["anyOf"]]
    else:
        schema["maximum"] = high
    return Value(value.kind, schema, value.choices, high, value.unit, bounds)


# What the reader checks and the schema states, written once (the reader compiles them).
DNS_LABEL_PATTERN = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
LABEL_VALUE_PATTERN = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
# the schema's spelling of chaos.model.duration's rule
DURATION_PATTERN = r"\s*(([0-9]+(\.[0-9]+)?(ms|h|m|s))+|[0-9]+(\.[0-9]+)?)\s*"
NODE_PORT_RANGE = (30000, 32767)

# The schema's $defs: value kinds many fields share, each referred to by "$ref".
DEFS: dict[str, Mapping[str, Any]] = {
    "duration": {
        "description": "30s, 1m30s, 500ms, 1h, or a number of seconds; at most 7 days "
                       f"({int(MAX_DURATION_S)}s)",
        "anyOf": [{"type": "number", "minimum": 0, "maximum": int(MAX_DURATION_S)},
                  {"type": "string", "pattern": f"^{DURATION_PATTERN}$"}]},
    "selector": {"type": "object", "minProperties": 1, "additionalProperties": {
        "type": "string", "maxLength": 63, "pattern": f"^{LABEL_VALUE_PATTERN}$"}},
    "dnsLabel": {"type": "string", "pattern": f"^{DNS_LABEL_PATTERN}$"},
}
DURATION_REF = {"$ref": "#/$defs/duration"}
SELECTOR_REF = {"$ref": "#/$defs/selector"}
DNS_LABEL_REF = {"$ref": "#/$defs/dnsLabel"}

POSITIVE_INT = Value("positive-int", {"type": "integer", "minimum": 1})  # unbounded: prefer COUNT
NON_NEGATIVE_INT = Value("non-negative-int", {"type": "integer", "minimum": 0})
COUNT_OR_ZERO = Value("non-negative-int", {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
                      high=MAX_COUNT, bounds="0 to 10000")
BOOL = Value("bool", {"type": "boolean"})
COUNT = Value("positive-int", {"type": "integer", "minimum": 1, "maximum": MAX_COUNT},
              high=MAX_COUNT, bounds="1 to 10000")
# every duration is at most MAX_DURATION_S: the parser's rule, and $defs/duration's maximum
DURATION = Value("duration", DURATION_REF, high=MAX_DURATION_S, unit="s", bounds="0 to 7d")
POSITIVE_DURATION = Value("positive-duration", DURATION_REF, high=MAX_DURATION_S, unit="s",
                          bounds="above 0, at most 7d")  # zero is refused by the parser
WHOLE_SECONDS = Value("whole-seconds", {
    "anyOf": [{"type": "integer", "minimum": 0, "maximum": int(MAX_DURATION_S)},
              {"type": "string", "pattern": "^[0-9]+(s|m|h)?$"}],
    "description": "whole seconds; 0 kills immediately"}, high=MAX_DURATION_S, unit="s",
    bounds="0 to 7d, whole seconds")
PERCENT = Value("percent", {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
                high=100.0, bounds="above 0, at most 100")
RATIO = Value("ratio", {"type": "number", "minimum": 0, "maximum": 1}, high=1.0,
              bounds="0 to 1")
STRING = Value("string", {"type": "string", "minLength": 1})
SIGNAL = Value("signal", {"type": "string",
                          "pattern": f"^(SIG)?({'|'.join(SIGNALS)})$"})
SELECTOR = Value("selector", SELECTOR_REF)
ARRIVAL_RATE = Value("arrival-rate", {"anyOf": [
    {"type": "string", "pattern": "^\\s*\\d+(\\.\\d+)?(\\s*/\\s*(s|m|h|sec|min))?\\s*$"},
    {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_ARRIVAL_RATE}]},
                     high=MAX_ARRIVAL_RATE, unit="/s", bounds="above 0, at most 1000000/s")
RATE = Value("rate", {"type": "string",
                      "pattern": "^[0-9]+(\\.[0-9]+)?\\s*(bit|kbit|mbit|gbit)$"},
             bounds="8kbit to 100gbit")
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


def section(cls: type) -> Value:
    """A mapping whose fields ``cls`` declares (chaos.model.fields)."""
    return Value("section", {}, section=cls)


def items(of: Mapping[str, Any], kind: str) -> Value:
    """A non-empty list of ``of``."""
    return Value(kind, {"type": "array", "minItems": 1, "items": dict(of)})


TEXT = Value("string", {"type": "string"})
DNS_LABEL = Value("dns-label", DNS_LABEL_REF)
DNS_SUBDOMAIN = Value("dns-subdomain", {"type": "string", "minLength": 1, "maxLength": 253})
NODE_PORT = Value("node-port", {"type": "integer", "minimum": NODE_PORT_RANGE[0],
                                "maximum": NODE_PORT_RANGE[1]})
# ``auto``: each run picks a free port among those the cluster publishes on 127.0.0.1
NODE_PORT_OR_AUTO = Value("node-port-or-auto", {"anyOf": [dict(NODE_PORT.schema),
                                                          {"const": "auto"}]})
URL_PATH = Value("url-path", {"type": "string", "pattern": "^/(?!/)[^\\s\\\\#]*$"})
FILES = Value("files", {"type": "array", "items": {"type": "string", "minLength": 1},
                        "minItems": 1})
IMAGE_LIST = Value("image-list", {"type": "array", "items": {"type": "string", "minLength": 1},
                                  "minItems": 1})
SEED = Value("non-negative-int", {"type": "integer", "minimum": 0, "maximum": MAX_SEED},
             high=MAX_SEED, bounds="0 to 2^53-1")
TAGS = Value("tags", {
    "type": "array", "minItems": 1, "uniqueItems": True,
    "items": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_.-]*$",
              "not": {"enum": sorted({*keyword.kwlist, *RESERVED_MARKERS})}}})
