"""The generic reader: YAML nodes -> values, each error naming file:line: field: reason.

``Ctx`` is one file being read, ``Map`` one mapping read field by field with its allowed
names checked up front; the converters read one value each (a duration, a selector, a URL...)
and ``converter(value)`` is the one for a declared ``Value`` kind with its bound.
``read_fields`` reads a section's fields from their declarations (``chaos.model.fields``);
``chaos.model.parse`` assembles the sections and checks them against each other.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, cast
from urllib.parse import urlsplit

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from chaos.errors import ExperimentInvalid, excerpt
from chaos.model.abort import CONDITION_STATUSES
from chaos.model.credentials import redact_url
from chaos.model.duration import parse_duration
from chaos.model.faults import ControllerRef
from chaos.model.fields import field_infos
from chaos.model.loadmodes import LOAD_MODES
from chaos.model.manifests import ManifestObject
from chaos.model.netvalues import RATE_HINT, Peer, parse_cidr, parse_rate
from chaos.model.rate import ARRIVAL_RATE_HINT, parse_arrival_rate
from chaos.model.selector import Selector
from chaos.model.tags import marker_name, tag_problem
from chaos.model.values import (
    CONTROLLER_KINDS,
    DNS_LABEL_PATTERN,
    LABEL_VALUE_PATTERN,
    MAX_ARRIVAL_RATE,
    MAX_COUNT,
    MAX_DURATION_S,
    MAX_IN_FLIGHT,
    MAX_REQUESTS,
    MAX_SPAWN_RATE,
    MAX_THRESHOLD,
    MAX_USERS,
    NODE_PORT_RANGE,
    SIGNALS,
    Value,
)

DURATION_HINT = "a non-negative duration such as 30s, 1m30s or 500ms"
DNS_LABEL = re.compile(DNS_LABEL_PATTERN)
_LABEL_KEY = re.compile(
    r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
)
_LABEL_VALUE = re.compile(LABEL_VALUE_PATTERN)
# an image reference as Docker parses it, loosely: [host[:port]/]path[:tag][@digest]
_IMAGE_REF = re.compile(
    r"([a-zA-Z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._/-][a-z0-9]+)*(:[\w][\w.-]{0,127})?"
    r"(@sha256:[0-9a-f]{64})?"
)

T = TypeVar("T")
N = TypeVar("N", int, float)


class Ctx:
    __slots__ = ("allowed", "base", "objects", "path", "shown")

    def __init__(self, path: Path | None,
                 allow_paths: Sequence[str | os.PathLike[str]] = ()) -> None:
        self.path = path
        self.shown = str(path) if path is not None else None
        base = path.parent if path is not None else Path.cwd()
        self.base = Path(os.path.normpath(base.absolute()))
        # where the files an experiment names may be: its own folder and what the user allowed,
        # each with its symlinks resolved, as the files' paths are before they are compared
        self.allowed: tuple[Path, ...] = tuple(dict.fromkeys(
            Path(p).expanduser().resolve() for p in (self.base, *allow_paths)))
        self.objects: tuple[ManifestObject, ...] = ()  # what the workload manifests create

    def error(self, node: Node, field: str | None, reason: str) -> ExperimentInvalid:
        return ExperimentInvalid(
            reason, path=self.shown, line=node.start_mark.line + 1, field=field
        )

    def resolve(self, raw: str) -> Path:
        return Path(os.path.normpath(self.base / raw))


_constructor = yaml.SafeLoader("")


def value_of(node: Node) -> object:
    """The Python value of a scalar node, as PyYAML's safe loader would build it."""
    try:
        return _constructor.construct_object(node, deep=True)
    finally:  # the shared constructor must not keep every node it ever saw alive
        _constructor.constructed_objects.clear()


def got(node: Node) -> str:
    """What the file says there, in a short excerpt."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    value = value_of(node)
    if value is None:
        return "null"
    if isinstance(value, str):
        return excerpt(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    raw = str(node.value) if isinstance(node, ScalarNode) else repr(value)
    # a number as written: short, and never quoted past 40 characters (10e100 spelled out)
    if not raw.isprintable():
        return excerpt(raw)
    return raw if len(raw) <= 40 else raw[:37] + "..."


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Map:
    """A YAML mapping read field by field, with the allowed names checked up front."""

    def __init__(
        self, ctx: Ctx, node: Node, where: str, allowed: Sequence[str], what: str = "field"
    ) -> None:
        self.ctx = ctx
        self.node = node
        self.where = where
        if not isinstance(node, MappingNode):
            raise ctx.error(node, where or "document", f"expected a mapping, got {got(node)}")
        _constructor.flatten_mapping(node)
        self.items: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = value_of(key_node) if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                raise ctx.error(
                    key_node,
                    where or "document",
                    f"field names must be strings, got {got(key_node)}",
                )
            if key in self.items:
                raise ctx.error(key_node, self.path(key), "duplicate field")
            if key not in allowed:
                raise ctx.error(
                    key_node,
                    self.path(key),
                    f"unknown {what}{suggest(key, allowed)}; "
                    f"allowed: {', '.join(sorted(allowed))}",
                )
            self.items[key] = (key_node, value_node)

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        return key in self.items and not is_null(self.items[key][1])

    def node_of(self, key: str) -> Node:
        return self.items[key][1]

    def key_node(self, key: str) -> Node:
        return self.items[key][0]

    def require(self, key: str) -> Node:
        if not self.has(key):
            if key in self.items:
                raise self.ctx.error(self.node_of(key), self.path(key), "required field is null")
            raise self.ctx.error(self.node, self.path(key), "required field missing")
        return self.node_of(key)

    def get(self, key: str, conv: Callable[[Ctx, Node, str], T], default: T) -> T:
        if not self.has(key):
            return default
        return conv(self.ctx, self.node_of(key), self.path(key))

    def req(self, key: str, conv: Callable[[Ctx, Node, str], T]) -> T:
        return conv(self.ctx, self.require(key), self.path(key))


# --------------------------------------------------------------------------- converters


def scalar(ctx: Ctx, node: Node, where: str, expected: str) -> object:
    if not isinstance(node, ScalarNode):
        raise ctx.error(node, where, f"expected {expected}, got {got(node)}")
    return value_of(node)


def string(ctx: Ctx, node: Node, where: str) -> str:
    value = scalar(ctx, node, where, "a string")
    if not isinstance(value, str) or not value.strip():
        raise ctx.error(node, where, f"expected a non-empty string, got {got(node)}")
    return value


def dns_name(ctx: Ctx, node: Node, where: str) -> str:
    value = string(ctx, node, where)
    if not DNS_LABEL.fullmatch(value):
        raise ctx.error(
            node,
            where,
            "expected a lowercase DNS label (a-z, 0-9, '-', at most 63 characters), got "
            + excerpt(value),
        )
    return value


def int_in(low: int, high: int | None, expected: str) -> Callable[[Ctx, Node, str], int]:
    def conv(ctx: Ctx, node: Node, where: str) -> int:
        value = scalar(ctx, node, where, expected)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < low
            or (high is not None and value > high)
        ):
            raise ctx.error(node, where, f"expected {expected}, got {got(node)}")
        return value

    return conv


positive_int = int_in(1, None, "a positive integer")
non_negative_int = int_in(0, None, "a non-negative integer")


def figure(number: float, unit: str) -> str:
    """A bound as the docs write it: 100000, 1000000/s, 60s, 7d (604800s)."""
    shown = f"{int(number)}" if float(number).is_integer() else f"{number:g}"
    if unit == "s" and number >= 86400 and number % 86400 == 0:
        return f"{number / 86400:g}d ({shown}s)"
    return shown + unit


def bounded(conv: Callable[[Ctx, Node, str], N], high: float,
             unit: str = "") -> Callable[[Ctx, Node, str], N]:
    """``conv`` with an upper bound: the one rule behind every bound of the format (the
    bounds themselves are in chaos.model.values, documented in docs/experiments.md)."""
    def at_most(ctx: Ctx, node: Node, where: str) -> N:
        value = conv(ctx, node, where)
        if not value <= high:  # NaN included
            raise ctx.error(node, where, f"at most {figure(high, unit)}, got {got(node)}")
        return value

    return at_most


count = bounded(positive_int, MAX_COUNT)  # pods, nodes, replicas, rounds, failures
count_or_zero = bounded(non_negative_int, MAX_COUNT)  # restarts, ready replicas
node_port = int_in(
    NODE_PORT_RANGE[0],
    NODE_PORT_RANGE[1],
    f"a NodePort between {NODE_PORT_RANGE[0]} and {NODE_PORT_RANGE[1]}",
)


def node_port_or_auto(ctx: Ctx, node: Node, where: str) -> int | Literal["auto"]:
    """A fixed NodePort, or ``auto`` (the run picks a free one of the published ports)."""
    expected = f"a NodePort between {NODE_PORT_RANGE[0]} and {NODE_PORT_RANGE[1]}, or auto"
    value = scalar(ctx, node, where, expected)
    if value == "auto":
        return "auto"
    if isinstance(value, str):
        raise ctx.error(node, where, f"expected {expected}, got {got(node)}"
                        f"{suggest(value, ['auto'])}")
    return node_port(ctx, node, where)


def number_in(
    low: float, high: float | None, expected: str, *, low_open: bool = False
) -> Callable[[Ctx, Node, str], float]:
    def conv(ctx: Ctx, node: Node, where: str) -> float:
        value = scalar(ctx, node, where, expected)
        bad = isinstance(value, bool) or not isinstance(value, int | float)
        if not bad:
            number = float(value)  # type: ignore[arg-type]
            bad = (
                math.isnan(number)
                or number < low
                or (low_open and number == low)
                or (high is not None and number > high)
            )
        if bad:
            raise ctx.error(node, where, f"expected {expected}, got {got(node)}")
        return float(value)  # type: ignore[arg-type]

    return conv


ratio = number_in(0.0, 1.0, "a ratio between 0 and 1")
positive_number = number_in(0.0, None, "a positive number", low_open=True)
percent = number_in(0.0, 100.0, "a percentage above 0 and at most 100", low_open=True)


def parsed(ctx: Ctx, node: Node, where: str, hint: str,
            parse: Callable[[object], float]) -> float:
    """A scalar read by one of the model's parsers; its ValueError becomes the hint."""
    value = scalar(ctx, node, where, hint)
    try:
        return parse(value)
    except ValueError:
        raise ctx.error(node, where, f"expected {hint}, got {got(node)}") from None


def any_duration(ctx: Ctx, node: Node, where: str) -> float:
    return parsed(ctx, node, where, DURATION_HINT, parse_duration)


duration = bounded(any_duration, MAX_DURATION_S, "s")  # every duration of the format


def positive_duration(ctx: Ctx, node: Node, where: str) -> float:
    seconds = duration(ctx, node, where)
    if seconds <= 0:
        raise ctx.error(node, where, f"expected a duration above zero, got {got(node)}")
    return seconds


def whole_seconds(ctx: Ctx, node: Node, where: str) -> int:
    seconds = duration(ctx, node, where)
    if seconds != int(seconds):
        raise ctx.error(
            node, where, f"expected whole seconds (e.g. 0, 30 or 30s), got {got(node)}"
        )
    return int(seconds)


def boolean(ctx: Ctx, node: Node, where: str) -> bool:
    value = scalar(ctx, node, where, "true or false")
    if not isinstance(value, bool):
        raise ctx.error(node, where, f"expected true or false, got {got(node)}")
    return value


def enum(*choices: str) -> Callable[[Ctx, Node, str], str]:
    listed = ", ".join(repr(c) for c in choices)

    def conv(ctx: Ctx, node: Node, where: str) -> str:
        value = scalar(ctx, node, where, f"one of {listed}")
        if not isinstance(value, str) or value not in choices:
            hint = suggest(value, choices) if isinstance(value, str) else ""
            raise ctx.error(node, where, f"expected one of {listed}, got {got(node)}{hint}")
        return value

    return conv


def items_of(ctx: Ctx, node: Node, where: str, *, nonempty: bool = True) -> list[Node]:
    if not isinstance(node, SequenceNode):
        raise ctx.error(node, where, f"expected a list, got {got(node)}")
    if nonempty and not node.value:
        raise ctx.error(node, where, "expected a non-empty list")
    return list(node.value)


def type_tag(ctx: Ctx, node: Node, where: str, kinds: Sequence[str], noun: str) -> str:
    """The ``type`` of a tagged section (a fault, a guard), read before the rest: it says which
    fields the section may hold. Missing, unknown or misspelt types name the known ones."""
    if not isinstance(node, MappingNode):
        raise ctx.error(node, where, f"expected a mapping with a 'type', got {got(node)}")
    known = ", ".join(kinds)
    type_node = next(
        (v for k, v in node.value if isinstance(k, ScalarNode) and k.value == "type"), None
    )
    if type_node is None or is_null(type_node):
        raise ctx.error(node, f"{where}.type", f"required field missing; known types: {known}")
    kind = string(ctx, type_node, f"{where}.type")
    if kind not in kinds:
        raise ctx.error(type_node, f"{where}.type", f"unknown {noun} type {excerpt(kind)}"
                        f"{suggest(kind, list(kinds))}; known types: {known}")
    return kind


def string_list(ctx: Ctx, node: Node, where: str) -> tuple[str, ...]:
    return tuple(string(ctx, n, f"{where}[{i}]") for i, n in enumerate(items_of(ctx, node, where)))


def pairs_of(ctx: Ctx, node: Node, where: str, shape: str,
             noun: str) -> list[tuple[Node, Node]]:
    """The key/value node pairs of a non-empty mapping (labels, environment variables)."""
    if not isinstance(node, MappingNode):
        raise ctx.error(node, where, f"expected a mapping of {shape}, got {got(node)}")
    if not node.value:
        raise ctx.error(node, where, f"expected at least one {noun}")
    return list(node.value)


def selector(ctx: Ctx, node: Node, where: str) -> Selector:
    labels: dict[str, str] = {}
    for key_node, value_node in pairs_of(ctx, node, where, "label: value", "label"):
        key = value_of(key_node)
        if not isinstance(key, str) or not _LABEL_KEY.fullmatch(key):
            raise ctx.error(key_node, where, f"expected a label name, got {got(key_node)}")
        value = value_of(value_node) if isinstance(value_node, ScalarNode) else None
        sub = f"{where}.{key}"
        if not isinstance(value, str):
            raise ctx.error(
                value_node,
                sub,
                f"expected a label value string (quote numbers), got {got(value_node)}",
            )
        if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
            raise ctx.error(value_node, sub, f"not a valid label value: {excerpt(value)}")
        if key in labels:
            raise ctx.error(key_node, sub, "duplicate label")
        labels[key] = value
    return Selector.of(labels)


def image(ctx: Ctx, node: Node, where: str) -> str:
    image = string(ctx, node, where)
    if not _IMAGE_REF.fullmatch(image):
        raise ctx.error(node, where, f"not an image reference: {excerpt(image)} (expected e.g. "
                        "myteam/api:1.4 or registry.local:5000/api@sha256:...)")
    return image


def controller_ref(ctx: Ctx, node: Node, where: str) -> ControllerRef:
    raw = string(ctx, node, where)
    kind, _, name = raw.partition("/")
    canonical = CONTROLLER_KINDS.get(kind)
    if canonical is None or not name:
        raise ctx.error(node, where, f"expected Deployment/<name> or StatefulSet/<name>, got "
                        f"{excerpt(raw)}")
    if len(name) > 253 or not all(DNS_LABEL.fullmatch(p) for p in name.split(".")):
        raise ctx.error(node, where, f"expected a Kubernetes object name (lowercase DNS "
                        f"subdomain) after {kind}/, got {excerpt(name)}")
    return ControllerRef(cast(Literal["Deployment", "StatefulSet"], canonical), name)


def env_map(ctx: Ctx, node: Node, where: str) -> tuple[tuple[str, str], ...]:
    seen: dict[str, str] = {}
    for key_node, value_node in pairs_of(ctx, node, where, "NAME: value", "variable"):
        key = value_of(key_node) if isinstance(key_node, ScalarNode) else None
        if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
            raise ctx.error(key_node, where, f"expected an environment variable name (letters, "
                            f"digits, '_', '-', '.'; not starting with a digit), got "
                            f"{got(key_node)}")
        sub = f"{where}.{key}"
        value = value_of(value_node) if isinstance(value_node, ScalarNode) else None
        if not isinstance(value, str):
            raise ctx.error(value_node, sub, f"expected a string (quote numbers and booleans: "
                            f"the container gets text), got {got(value_node)}")
        if key in seen:
            raise ctx.error(key_node, sub, "duplicate variable")
        seen[key] = value
    return tuple(seen.items())


def args(ctx: Ctx, node: Node, where: str) -> tuple[str, ...]:
    out = []
    for i, item in enumerate(items_of(ctx, node, where, nonempty=False)):
        value = scalar(ctx, item, f"{where}[{i}]", "a string")
        if not isinstance(value, str):
            raise ctx.error(item, f"{where}[{i}]", f"expected a string (quote numbers and "
                            f"booleans: the container gets text), got {got(item)}")
        out.append(value)
    return tuple(out)


def url_path(ctx: Ctx, node: Node, where: str) -> str:
    value = string(ctx, node, where)
    parts = urlsplit(value)
    if (
        not value.startswith("/")
        or value.startswith("//")
        or parts.scheme
        or parts.netloc
        or parts.fragment
        or any(c.isspace() or c == "\\" or ord(c) < 32 for c in value)
    ):
        raise ctx.error(
            node,
            where,
            "expected a URL path starting with '/' (load always targets "
            f"http://127.0.0.1:<nodePort>), got {excerpt(value)}",
        )
    return value


def existing_file(ctx: Ctx, node: Node, where: str) -> Path:
    """A file the experiment names (a manifest it deploys, a locustfile locust executes): it
    must resolve, symlinks included, inside the experiment's folder or an allowed path.
    Checked before its existence, so nothing is told about files outside. The path returned
    is the resolved one: what was checked is what is read and run."""
    raw = string(ctx, node, where)
    shown = repr(raw) if len(raw) <= 400 and raw.isprintable() else excerpt(raw)
    try:
        real = ctx.resolve(raw).resolve()  # symlinks followed as far as they exist
    except (OSError, ValueError, RuntimeError) as exc:  # a loop, a NUL, a name too long
        raise ctx.error(node, where, f"cannot use path {shown}: "
                        f"{getattr(exc, 'strerror', None) or excerpt(str(exc))}") from None
    if not any(real.is_relative_to(root) for root in ctx.allowed):
        others = ctx.allowed[1:]
        extra = f" or the allowed paths {', '.join(map(str, others))}" if others else ""
        raise ctx.error(node, where, f"path {shown} resolves outside the experiment's "
                        f"folder {ctx.allowed[0]}{extra} (allow it with --chaos-allow-path)")
    try:
        found = real.is_file()
    except (OSError, ValueError):
        found = False
    if not found:
        full = str(ctx.resolve(raw))
        if len(full) > 400 or not full.isprintable():  # the path is the file's own text
            full = excerpt(full)
        raise ctx.error(node, where, f"file not found: {full} (paths are relative to the "
                        "experiment file)")
    return real  # it exists: resolved in full, as resolve(strict=True) would



def tags(ctx: Ctx, node: Node, where: str) -> tuple[str, ...]:
    """Tags become pytest markers, so each must be a name pytest can take, once."""
    seen: dict[str, int] = {}
    tags: list[str] = []
    for i, item in enumerate(items_of(ctx, node, where)):
        sub = f"{where}[{i}]"
        tag = string(ctx, item, sub)
        problem = tag_problem(tag)
        if problem is not None:
            raise ctx.error(item, sub, problem)
        name = marker_name(tag)
        if name in seen:
            raise ctx.error(
                item, sub, f"{excerpt(tag)} is the same marker ({name}) as {where}[{seen[name]}]"
            )
        seen[name] = i
        tags.append(tag)
    return tuple(tags)



def dns_subdomain(ctx: Ctx, node: Node, where: str) -> str:
    value = string(ctx, node, where)
    if len(value) > 253 or not all(DNS_LABEL.fullmatch(p) for p in value.split(".")):
        raise ctx.error(node, where, f"expected a Kubernetes object name (lowercase DNS "
                        f"subdomain), got {excerpt(value)}")
    return value



def image_list(ctx: Ctx, node: Node, where: str) -> tuple[str, ...]:
    images = []
    for i, item in enumerate(items_of(ctx, node, where)):
        image = string(ctx, item, f"{where}[{i}]")
        if not _IMAGE_REF.fullmatch(image):
            raise ctx.error(item, f"{where}[{i}]", f"not an image reference: {excerpt(image)} "
                            "(expected e.g. myteam/api:1.4 or registry.local:5000/api@sha256:...)")
        images.append(image)
    return tuple(images)


def check_matches(ctx: Ctx, node: Node, where: str, selector: Selector,
                   manifests: tuple[Path, ...]) -> None:
    """A selector that matches no pod the manifests create is an error at collection time.

    Only when the manifests have labelled pod templates at all (an operator's custom resource,
    say, creates pods we cannot see here: then the selector is checked at run time instead).
    """
    labels = [o.template.labels for o in ctx.objects if o.template and o.template.labels]
    if not labels or any(selector.matches(lab) for lab in labels):
        return
    have = "; ".join(lab.to_label_selector() for lab in labels)
    raise ctx.error(node, where, f"{selector.to_label_selector()!r} matches no pod the "
                                 f"workload manifests create (their pod labels: {have})")



workers = int_in(1, 64, "a number of worker processes from 1 to 64")
users = bounded(positive_int, MAX_USERS)
spawn_rate = bounded(positive_number, MAX_SPAWN_RATE, "/s")
in_flight = bounded(positive_int, MAX_IN_FLIGHT)
max_requests = bounded(positive_int, MAX_REQUESTS)


def load_mode(ctx: Ctx, node: Node, where: str) -> str:
    value = string(ctx, node, where)
    if value not in LOAD_MODES:
        raise ctx.error(node, where, f"expected {' or '.join(LOAD_MODES)}, got "
                        f"{excerpt(value)}{suggest(value, list(LOAD_MODES))}")
    return value


def any_arrival_rate(ctx: Ctx, node: Node, where: str) -> float:
    return parsed(ctx, node, where, ARRIVAL_RATE_HINT, parse_arrival_rate)


arrival_rate = bounded(any_arrival_rate, MAX_ARRIVAL_RATE, "/s")


def load_url(ctx: Ctx, node: Node, where: str) -> str:
    """A base URL: http(s), a host, an optional port; no path, query or credentials (the path
    is spec.load.path; credentials come from headersFromEnv)."""
    value = string(ctx, node, where)
    parts = urlsplit(value)
    problem = None
    if parts.scheme not in ("http", "https"):
        problem = "the scheme must be http or https"
    elif not parts.hostname:
        problem = "it names no host"
    elif parts.username or parts.password:
        problem = "credentials do not belong in the URL: use headersFromEnv"
    elif parts.path not in ("", "/") or parts.query or parts.fragment:
        problem = "give the path in spec.load.path, not in the URL"
    else:
        try:
            port = parts.port  # raises ValueError on a malformed port, or one above 65535
        except ValueError:
            port = 0
        if port == 0:  # ":0" reads as port 0, which nothing listens on
            problem = "the port must be a number from 1 to 65535"
    if problem:
        raise ctx.error(node, where, f"not a usable load URL ({problem}): {excerpt(value)}")
    return value.rstrip("/")


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# environment variable names (env maps and headersFromEnv): what a POSIX shell accepts
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def headers_from_env(ctx: Ctx, node: Node, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(node, MappingNode) or not node.value:
        raise ctx.error(node, where, "expected a mapping of header: ENVIRONMENT_VARIABLE, e.g. "
                        "{Authorization: STAGING_TOKEN}")
    out = []
    for k, v in node.value:
        header = string(ctx, k, where)
        if not _HEADER_NAME.fullmatch(header):
            raise ctx.error(k, f"{where}.{header}", "not an HTTP header name")
        var = string(ctx, v, f"{where}.{header}")
        if not _ENV_NAME.fullmatch(var):
            raise ctx.error(v, f"{where}.{header}", "expected the name of an environment "
                            "variable holding the value (not the value itself), got "
                            + excerpt(var))
        out.append((header, var))
    return tuple(out)



def bit_rate(ctx: Ctx, node: Node, where: str) -> int:
    value = scalar(ctx, node, where, RATE_HINT)
    try:
        return parse_rate(value)
    except ValueError as exc:
        raise ctx.error(node, where, f"expected {RATE_HINT}, got {got(node)}: {exc}") from None


def cidr(ctx: Ctx, node: Node, where: str) -> str:
    raw = string(ctx, node, where)
    try:
        return parse_cidr(raw)
    except ValueError:
        raise ctx.error(node, where, f"expected an IP address or CIDR such as 10.0.0.0/8, "
                                     f"got {excerpt(raw)}") from None


def peer(ctx: Ctx, node: Node, where: str) -> Peer:
    """Exactly one of selector (checked against the manifests' pods), service (against their
    Services, when they define any) or cidr (one, or a list)."""
    keys = ("selector", "service", "cidr")
    m = Map(ctx, node, where, keys)
    given = [k for k in keys if m.has(k)]
    if len(given) != 1:
        raise ctx.error(m.key_node(given[1]) if len(given) > 1 else node, where,
                        f"give exactly one of selector, service, cidr (found "
                        f"{', '.join(given) or 'none'})")
    if given == ["selector"]:
        labels = m.req("selector", selector)
        check_matches(ctx, m.node_of("selector"), m.path("selector"), labels, ())
        return Peer(selector=labels)
    if given == ["service"]:
        name = m.req("service", dns_name)
        services = sorted(o.ref.name for o in ctx.objects if o.service is not None)
        if services and name not in services:
            raise ctx.error(m.node_of("service"), m.path("service"),
                            f"no Service {name!r} in the workload manifests"
                            f"{suggest(name, services)}; they define: {', '.join(services)}")
        return Peer(service=name)
    raw = m.node_of("cidr")
    items = items_of(ctx, raw, m.path("cidr")) if isinstance(raw, SequenceNode) else [raw]
    path = m.path("cidr")
    cidrs = [cidr(ctx, n, f"{path}[{i}]" if isinstance(raw, SequenceNode) else path)
             for i, n in enumerate(items)]
    return Peer(cidrs=tuple(dict.fromkeys(cidrs)))


def signal(ctx: Ctx, node: Node, where: str) -> str:
    raw = string(ctx, node, where)
    name = raw.upper().removeprefix("SIG")
    if name not in SIGNALS:
        raise ctx.error(
            node,
            where,
            f"expected one of {', '.join(SIGNALS)} (optionally SIG-prefixed), got {excerpt(raw)}",
        )
    return name



GUARD_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")


def condition_status(ctx: Ctx, node: Node, where: str) -> str:
    value = scalar(ctx, node, where, "True, False or Unknown")
    if isinstance(value, bool):  # an unquoted True/False is read as a YAML bool
        value = "True" if value else "False"
    if value not in CONDITION_STATUSES:
        raise ctx.error(node, where, f"expected True, False or Unknown, got {got(node)}")
    return str(value)


def guard_url(ctx: Ctx, node: Node, where: str) -> str:
    """An absolute http(s) URL with a host; the host is checked against the allow-list
    (--chaos-allow-host) when the run starts."""
    value = string(ctx, node, where)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ctx.error(node, where, f"not a valid URL: {exc}") from None
    problem = None
    if parts.scheme not in ("http", "https"):
        problem = "expected an http:// or https:// URL"
    elif not parts.hostname:
        problem = "the URL names no host"
    elif parts.username is not None or parts.password is not None:
        problem = ("credentials in the URL are not allowed (they would sit in the experiment "
                   "file and travel with every check)")
    elif parts.fragment or any(c.isspace() or ord(c) < 32 for c in value):
        problem = "expected a URL without fragment or whitespace"
    elif port == 0:
        problem = "the port must be a number from 1 to 65535"
    if problem:
        raise ctx.error(node, where, f"{problem}, got {excerpt(redact_url(value))}")
    return value


def status_codes(ctx: Ctx, node: Node, where: str) -> tuple[int, ...]:
    codes = int_in(100, 599, "an HTTP status code (100-599)")
    if isinstance(node, SequenceNode):
        found = tuple(codes(ctx, n, f"{where}[{i}]")
                      for i, n in enumerate(items_of(ctx, node, where)))
        if len(set(found)) != len(found):
            raise ctx.error(node, where, "status codes must be unique")
        return found
    return (codes(ctx, node, where),)


def threshold(ctx: Ctx, node: Node, where: str) -> float:
    value = scalar(ctx, node, where, "a number")
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ctx.error(node, where, f"expected a finite number, got {got(node)}")
    if not -MAX_THRESHOLD <= value <= MAX_THRESHOLD:
        raise ctx.error(node, where, f"expected a number from -{MAX_THRESHOLD:g} to "
                        f"{MAX_THRESHOLD:g}, got {got(node)}")
    return float(value)


def condition_type(ctx: Ctx, node: Node, where: str) -> str:
    value = string(ctx, node, where)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9.]*", value):
        raise ctx.error(node, where, f"expected a condition type such as Ready or Available, "
                        f"got {excerpt(value)}")
    return value


def files(ctx: Ctx, node: Node, where: str) -> tuple[Path, ...]:
    return tuple(existing_file(ctx, n, f"{where}[{i}]")
                 for i, n in enumerate(items_of(ctx, node, where)))


# --------------------------------------------------------------------------- declarations

CONVERTERS: dict[str, Callable[[Ctx, Node, str], object]] = {
    "positive-int": positive_int,
    "non-negative-int": non_negative_int,
    "duration": duration,
    "positive-duration": positive_duration,
    "whole-seconds": whole_seconds,
    "percent": percent,
    "ratio": ratio,
    "string": string,
    "bool": boolean,
    "selector": selector,
    "node-names": string_list,
    "image": image,
    "controller-ref": controller_ref,
    "env-map": env_map,
    "string-list": args,
    "rate": bit_rate,
    "arrival-rate": arrival_rate,
    "peer": peer,
    "signal": signal,
    "dns-label": dns_name,
    "dns-subdomain": dns_subdomain,
    "node-port": node_port,
    "node-port-or-auto": node_port_or_auto,
    "url-path": url_path,
    "files": files,
    "image-list": image_list,
    "tags": tags,
    "guard-url": guard_url,
    "status-codes": status_codes,
    "threshold": threshold,
    "condition-status": condition_status,
    "condition-type": condition_type,
}


def converter(value: Value) -> Callable[[Ctx, Node, str], object]:
    """The converter of a declared value kind, with the value's upper bound."""
    if value.kind == "enum":
        return enum(*value.choices)
    conv = CONVERTERS[value.kind]
    if value.high is None:
        return conv
    return bounded(cast(Callable[[Ctx, Node, str], float], conv), value.high, value.unit)


def section_map(ctx: Ctx, node: Node, where: str, cls: type, *extra: str) -> Map:
    """``node`` as the mapping of the fields ``cls`` declares (and ``extra`` keys)."""
    return Map(ctx, node, where, (*extra, *(f.yaml for f in field_infos(cls))))


def read_fields(m: Map, cls: type, *, only: Sequence[str] | None = None,
                skip: Sequence[str] = (), defaults: dict[str, object] | None = None,
                require: Sequence[str] = ()) -> dict[str, Any]:
    """The fields ``cls`` declares with ``reader="value"``, read from ``m`` in declaration order:
    attribute name -> value (typed by the declarations it is read from). A required field
    missing is an error; an absent optional one takes ``defaults[attr]`` or its declared
    default. ``only``/``skip`` choose the attributes; ``require`` makes optional ones required."""
    out: dict[str, Any] = {}
    for f in field_infos(cls):
        if f.reader != "value" or f.attr in skip or (only is not None and f.attr not in only):
            continue
        conv = converter(f.value)
        if f.required or f.attr in require:
            out[f.attr] = m.req(f.yaml, conv)
        else:
            default = f.default if defaults is None else defaults.get(f.attr, f.default)
            out[f.attr] = m.get(f.yaml, conv, None if default is dataclasses.MISSING else default)
    return out


def section(cls: Callable[..., T]) -> Callable[[Ctx, Node, str], T]:
    """The converter of a mapping whose fields the dataclass ``cls`` declares, all read as
    values: an instance of ``cls``."""
    def conv(ctx: Ctx, node: Node, where: str) -> T:
        kind = cast(type, cls)
        return cls(**read_fields(section_map(ctx, node, where, kind), kind))

    return conv
