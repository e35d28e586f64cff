"""YAML experiment files -> ``Experiment``: the only place that reads experiment YAML.

The document is composed once, by the bounded reader (``chaos.model.yamlsafe``), so every node
keeps its ``start_mark``; every problem is reported as ``ExperimentInvalid`` with file, 1-based
line and dotted field path. The workload manifests are read here too (``chaos.model.manifests``),
so that what the experiment says and what the manifests create are checked against each other
before anything is deployed.
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
from chaos.model import yamlsafe
from chaos.model.abort import (
    CONDITION_KINDS,
    CONDITION_STATUSES,
    GUARD_TYPES,
    MAX_INTERVAL_S,
    MIN_INTERVAL_S,
    AbortSpec,
    ErrorRateGuard,
    Guard,
    HttpGuard,
    KubernetesGuard,
    OutageGuard,
    PrometheusGuard,
)
from chaos.model.credentials import cleartext_headers, redact_url
from chaos.model.duration import parse_duration
from chaos.model.experiment import (
    FAULT_TYPES,
    PROTECTED_NAMESPACES,
    ROLLOUT_KINDS,
    BlastRadius,
    ControllerRef,
    ExistingWorkload,
    Experiment,
    FaultSpec,
    LoadProfile,
    NodeSelection,
    Selector,
    SLASpec,
    SteadyState,
    WorkloadSpec,
)
from chaos.model.faults import ControllerFault, PodFault
from chaos.model.loadmodes import LOAD_FIELDS, LOAD_MODES
from chaos.model.manifests import (
    ManifestObject,
    cluster_scoped_refused,
    matching,
    pod_count,
    read_manifest,
)
from chaos.model.netvalues import RATE_HINT, Peer, parse_cidr, parse_rate
from chaos.model.rate import ARRIVAL_RATE_HINT, parse_arrival_rate
from chaos.model.tags import marker_name, tag_problem
from chaos.model.values import (
    CONTROLLER_KINDS,
    MAX_ARRIVAL_RATE,
    MAX_COUNT,
    MAX_DURATION_S,
    MAX_IN_FLIGHT,
    MAX_MIN_REQUESTS,
    MAX_REQUESTS,
    MAX_SEED,
    MAX_SPAWN_RATE,
    MAX_THRESHOLD,
    MAX_USERS,
    SIGNALS,
    Value,
)

API_VERSION = "kube-chaos/v1"
KIND = "Experiment"
DURATION_HINT = "a non-negative duration such as 30s, 1m30s or 500ms"
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_LABEL_KEY = re.compile(
    r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
)
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
# an image reference as Docker parses it, loosely: [host[:port]/]path[:tag][@digest]
_IMAGE_REF = re.compile(
    r"([a-zA-Z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._/-][a-z0-9]+)*(:[\w][\w.-]{0,127})?"
    r"(@sha256:[0-9a-f]{64})?"
)
NODE_PORT_RANGE = (30000, 32767)

T = TypeVar("T")
N = TypeVar("N", int, float)


def load_experiment(path: str | os.PathLike[str], *,
                    allow_paths: Sequence[str | os.PathLike[str]] = ()) -> Experiment:
    """Read and parse one experiment file (size, encoding and YAML bounds included).

    The files it names (``spec.workload.manifests``, ``spec.load.locustfile``, which locust
    executes) must resolve, symlinks included, inside the experiment file's folder or one of
    ``allow_paths`` (--chaos-allow-path)."""
    p = Path(path)
    return parse_experiment(yamlsafe.read_text(p), p, allow_paths=allow_paths)


def parse_experiment(text: str, path: str | os.PathLike[str] | None = None, *,
                     allow_paths: Sequence[str | os.PathLike[str]] = ()) -> Experiment:
    """Parse experiment YAML; relative manifests/locustfile resolve against ``path``'s folder
    (the working directory without a path), and must stay inside it or ``allow_paths``."""
    p = Path(path) if path is not None else None
    ctx = _Ctx(p, allow_paths)
    docs = yamlsafe.compose_documents(text, ctx.shown)
    if len(docs) > 1:
        raise ctx.error(
            docs[1], "document", "an experiment file holds one YAML document; a second starts here"
        )
    if not docs or _is_null(docs[0]):
        raise ExperimentInvalid(
            f"empty; expected apiVersion: {API_VERSION}, kind: {KIND}",
            path=ctx.shown,
            line=docs[0].start_mark.line + 1 if docs else 1,
            field="document",
        )
    return _experiment(ctx, docs[0])


# --------------------------------------------------------------------------- plumbing


class _Ctx:
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


def _value(node: Node) -> object:
    """The Python value of a scalar node, as PyYAML's safe loader would build it."""
    try:
        return _constructor.construct_object(node, deep=True)
    finally:  # the shared constructor must not keep every node it ever saw alive
        _constructor.constructed_objects.clear()


def _got(node: Node) -> str:
    """What the file says there, in a short excerpt."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    value = _value(node)
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


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Map:
    """A YAML mapping read field by field, with the allowed names checked up front."""

    def __init__(
        self, ctx: _Ctx, node: Node, where: str, allowed: Sequence[str], what: str = "field"
    ) -> None:
        self.ctx = ctx
        self.node = node
        self.where = where
        if not isinstance(node, MappingNode):
            raise ctx.error(node, where or "document", f"expected a mapping, got {_got(node)}")
        _constructor.flatten_mapping(node)
        self.items: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = _value(key_node) if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                raise ctx.error(
                    key_node,
                    where or "document",
                    f"field names must be strings, got {_got(key_node)}",
                )
            if key in self.items:
                raise ctx.error(key_node, self.path(key), "duplicate field")
            if key not in allowed:
                raise ctx.error(
                    key_node,
                    self.path(key),
                    f"unknown {what}{_suggest(key, allowed)}; "
                    f"allowed: {', '.join(sorted(allowed))}",
                )
            self.items[key] = (key_node, value_node)

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        return key in self.items and not _is_null(self.items[key][1])

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

    def get(self, key: str, conv: Callable[[_Ctx, Node, str], T], default: T) -> T:
        if not self.has(key):
            return default
        return conv(self.ctx, self.node_of(key), self.path(key))

    def req(self, key: str, conv: Callable[[_Ctx, Node, str], T]) -> T:
        return conv(self.ctx, self.require(key), self.path(key))


# --------------------------------------------------------------------------- converters


def _scalar(ctx: _Ctx, node: Node, where: str, expected: str) -> object:
    if not isinstance(node, ScalarNode):
        raise ctx.error(node, where, f"expected {expected}, got {_got(node)}")
    return _value(node)


def _string(ctx: _Ctx, node: Node, where: str) -> str:
    value = _scalar(ctx, node, where, "a string")
    if not isinstance(value, str) or not value.strip():
        raise ctx.error(node, where, f"expected a non-empty string, got {_got(node)}")
    return value


def _dns_name(ctx: _Ctx, node: Node, where: str) -> str:
    value = _string(ctx, node, where)
    if not _DNS_LABEL.fullmatch(value):
        raise ctx.error(
            node,
            where,
            "expected a lowercase DNS label (a-z, 0-9, '-', at most 63 characters), got "
            + excerpt(value),
        )
    return value


def _int_in(low: int, high: int | None, expected: str) -> Callable[[_Ctx, Node, str], int]:
    def conv(ctx: _Ctx, node: Node, where: str) -> int:
        value = _scalar(ctx, node, where, expected)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < low
            or (high is not None and value > high)
        ):
            raise ctx.error(node, where, f"expected {expected}, got {_got(node)}")
        return value

    return conv


_positive_int = _int_in(1, None, "a positive integer")
_non_negative_int = _int_in(0, None, "a non-negative integer")


def _figure(number: float, unit: str) -> str:
    """A bound as the docs write it: 100000, 1000000/s, 60s, 7d (604800s)."""
    shown = f"{int(number)}" if float(number).is_integer() else f"{number:g}"
    if unit == "s" and number >= 86400 and number % 86400 == 0:
        return f"{number / 86400:g}d ({shown}s)"
    return shown + unit


def _at_most(conv: Callable[[_Ctx, Node, str], N], high: float,
             unit: str = "") -> Callable[[_Ctx, Node, str], N]:
    """``conv`` with an upper bound: the one rule behind every bound of the format (the
    bounds themselves are in chaos.model.values, documented in docs/experiments.md)."""
    def bounded(ctx: _Ctx, node: Node, where: str) -> N:
        value = conv(ctx, node, where)
        if not value <= high:  # NaN included
            raise ctx.error(node, where, f"at most {_figure(high, unit)}, got {_got(node)}")
        return value

    return bounded


_count = _at_most(_positive_int, MAX_COUNT)  # pods, nodes, replicas, rounds, failures
_count_or_zero = _at_most(_non_negative_int, MAX_COUNT)  # restarts, ready replicas
_node_port = _int_in(
    NODE_PORT_RANGE[0],
    NODE_PORT_RANGE[1],
    f"a NodePort between {NODE_PORT_RANGE[0]} and {NODE_PORT_RANGE[1]}",
)


def _number_in(
    low: float, high: float | None, expected: str, *, low_open: bool = False
) -> Callable[[_Ctx, Node, str], float]:
    def conv(ctx: _Ctx, node: Node, where: str) -> float:
        value = _scalar(ctx, node, where, expected)
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
            raise ctx.error(node, where, f"expected {expected}, got {_got(node)}")
        return float(value)  # type: ignore[arg-type]

    return conv


_ratio = _number_in(0.0, 1.0, "a ratio between 0 and 1")
_positive_number = _number_in(0.0, None, "a positive number", low_open=True)
_percent = _number_in(0.0, 100.0, "a percentage above 0 and at most 100", low_open=True)


def _parsed(ctx: _Ctx, node: Node, where: str, hint: str,
            parse: Callable[[object], float]) -> float:
    """A scalar read by one of the model's parsers; its ValueError becomes the hint."""
    value = _scalar(ctx, node, where, hint)
    try:
        return parse(value)
    except ValueError:
        raise ctx.error(node, where, f"expected {hint}, got {_got(node)}") from None


def _any_duration(ctx: _Ctx, node: Node, where: str) -> float:
    return _parsed(ctx, node, where, DURATION_HINT, parse_duration)


_duration = _at_most(_any_duration, MAX_DURATION_S, "s")  # every duration of the format


def _positive_duration(ctx: _Ctx, node: Node, where: str) -> float:
    seconds = _duration(ctx, node, where)
    if seconds <= 0:
        raise ctx.error(node, where, f"expected a duration above zero, got {_got(node)}")
    return seconds


def _whole_seconds(ctx: _Ctx, node: Node, where: str) -> int:
    seconds = _duration(ctx, node, where)
    if seconds != int(seconds):
        raise ctx.error(
            node, where, f"expected whole seconds (e.g. 0, 30 or 30s), got {_got(node)}"
        )
    return int(seconds)


def _bool(ctx: _Ctx, node: Node, where: str) -> bool:
    value = _scalar(ctx, node, where, "true or false")
    if not isinstance(value, bool):
        raise ctx.error(node, where, f"expected true or false, got {_got(node)}")
    return value


def _enum(*choices: str) -> Callable[[_Ctx, Node, str], str]:
    listed = ", ".join(repr(c) for c in choices)

    def conv(ctx: _Ctx, node: Node, where: str) -> str:
        value = _scalar(ctx, node, where, f"one of {listed}")
        if not isinstance(value, str) or value not in choices:
            hint = _suggest(value, choices) if isinstance(value, str) else ""
            raise ctx.error(node, where, f"expected one of {listed}, got {_got(node)}{hint}")
        return value

    return conv


def _list(ctx: _Ctx, node: Node, where: str, *, nonempty: bool = True) -> list[Node]:
    if not isinstance(node, SequenceNode):
        raise ctx.error(node, where, f"expected a list, got {_got(node)}")
    if nonempty and not node.value:
        raise ctx.error(node, where, "expected a non-empty list")
    return list(node.value)


def _string_list(ctx: _Ctx, node: Node, where: str) -> tuple[str, ...]:
    return tuple(_string(ctx, n, f"{where}[{i}]") for i, n in enumerate(_list(ctx, node, where)))


def _selector(ctx: _Ctx, node: Node, where: str) -> Selector:
    if not isinstance(node, MappingNode):
        raise ctx.error(node, where, f"expected a mapping of label: value, got {_got(node)}")
    if not node.value:
        raise ctx.error(node, where, "expected at least one label")
    labels: dict[str, str] = {}
    for key_node, value_node in node.value:
        key = _value(key_node)
        if not isinstance(key, str) or not _LABEL_KEY.fullmatch(key):
            raise ctx.error(key_node, where, f"expected a label name, got {_got(key_node)}")
        value = _value(value_node) if isinstance(value_node, ScalarNode) else None
        sub = f"{where}.{key}"
        if not isinstance(value, str):
            raise ctx.error(
                value_node,
                sub,
                f"expected a label value string (quote numbers), got {_got(value_node)}",
            )
        if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
            raise ctx.error(value_node, sub, f"not a valid label value: {excerpt(value)}")
        if key in labels:
            raise ctx.error(key_node, sub, "duplicate label")
        labels[key] = value
    return Selector.of(labels)


def _image(ctx: _Ctx, node: Node, where: str) -> str:
    image = _string(ctx, node, where)
    if not _IMAGE_REF.fullmatch(image):
        raise ctx.error(node, where, f"not an image reference: {excerpt(image)} (expected e.g. "
                        "myteam/api:1.4 or registry.local:5000/api@sha256:...)")
    return image


def _controller_ref(ctx: _Ctx, node: Node, where: str) -> ControllerRef:
    raw = _string(ctx, node, where)
    kind, _, name = raw.partition("/")
    canonical = CONTROLLER_KINDS.get(kind)
    if canonical is None or not name:
        raise ctx.error(node, where, f"expected Deployment/<name> or StatefulSet/<name>, got "
                        f"{excerpt(raw)}")
    if len(name) > 253 or not all(_DNS_LABEL.fullmatch(p) for p in name.split(".")):
        raise ctx.error(node, where, f"expected a Kubernetes object name (lowercase DNS "
                        f"subdomain) after {kind}/, got {excerpt(name)}")
    return ControllerRef(cast(Literal["Deployment", "StatefulSet"], canonical), name)


def _env_map(ctx: _Ctx, node: Node, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(node, MappingNode):
        raise ctx.error(node, where, f"expected a mapping of NAME: value, got {_got(node)}")
    if not node.value:
        raise ctx.error(node, where, "expected at least one variable")
    seen: dict[str, str] = {}
    for key_node, value_node in node.value:
        key = _value(key_node) if isinstance(key_node, ScalarNode) else None
        if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
            raise ctx.error(key_node, where, f"expected an environment variable name (letters, "
                            f"digits, '_', '-', '.'; not starting with a digit), got "
                            f"{_got(key_node)}")
        sub = f"{where}.{key}"
        value = _value(value_node) if isinstance(value_node, ScalarNode) else None
        if not isinstance(value, str):
            raise ctx.error(value_node, sub, f"expected a string (quote numbers and booleans: "
                            f"the container gets text), got {_got(value_node)}")
        if key in seen:
            raise ctx.error(key_node, sub, "duplicate variable")
        seen[key] = value
    return tuple(seen.items())


def _args(ctx: _Ctx, node: Node, where: str) -> tuple[str, ...]:
    out = []
    for i, item in enumerate(_list(ctx, node, where, nonempty=False)):
        value = _scalar(ctx, item, f"{where}[{i}]", "a string")
        if not isinstance(value, str):
            raise ctx.error(item, f"{where}[{i}]", f"expected a string (quote numbers and "
                            f"booleans: the container gets text), got {_got(item)}")
        out.append(value)
    return tuple(out)


def _url_path(ctx: _Ctx, node: Node, where: str) -> str:
    value = _string(ctx, node, where)
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


def _existing_file(ctx: _Ctx, node: Node, where: str) -> Path:
    """A file the experiment names (a manifest it deploys, a locustfile locust executes): it
    must resolve, symlinks included, inside the experiment's folder or an allowed path.
    Checked before its existence, so nothing is told about files outside. The path returned
    is the resolved one: what was checked is what is read and run."""
    raw = _string(ctx, node, where)
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


# --------------------------------------------------------------------------- sections


def _experiment(ctx: _Ctx, root: Node) -> Experiment:
    top = _Map(ctx, root, "", ("apiVersion", "kind", "metadata", "spec"))
    api = top.req("apiVersion", _string)
    if api != API_VERSION:
        raise ctx.error(
            top.node_of("apiVersion"), "apiVersion", f"expected {API_VERSION!r}, got {excerpt(api)}"
        )
    kind = top.req("kind", _string)
    if kind != KIND:
        raise ctx.error(top.node_of("kind"), "kind", f"expected {KIND!r}, got {excerpt(kind)}")

    meta = _Map(ctx, top.require("metadata"), "metadata", ("name", "description", "tags"))
    name = meta.req("name", _dns_name)
    description = meta.get("description", _string, "")
    no_tags: tuple[str, ...] = ()
    tags = meta.get("tags", _tags, no_tags)

    spec = _Map(
        ctx,
        top.require("spec"),
        "spec",
        ("workload", "load", "steadyState", "faults", "slas", "timeout", "expect", "seed",
         "blastRadius", "abort"),
    )
    load_node = spec.node_of("load") if spec.has("load") else None
    url_given = isinstance(load_node, MappingNode) and any(
        isinstance(k, ScalarNode) and k.value == "url" for k, _ in load_node.value)
    workload = _workload(ctx, spec.require("workload"), "spec.workload", url_given)
    load = (
        _load(ctx, spec.node_of("load"), "spec.load", workload)
        if spec.has("load")
        else LoadProfile(path=workload.url_path)
    )
    steady = (
        _steady(ctx, spec.node_of("steadyState"), "spec.steadyState", workload)
        if spec.has("steadyState")
        else SteadyState(ready_replicas=workload.replicas)
    )
    faults_node = spec.require("faults")
    faults = tuple(
        _fault(ctx, n, f"spec.faults[{i}]", workload)
        for i, n in enumerate(_list(ctx, faults_node, "spec.faults"))
    )
    load = _with_spike(ctx, load, load_node, faults, _list(ctx, faults_node, "spec.faults"))
    slas = _slas(ctx, spec.require("slas"), "spec.slas")
    timeout = spec.get("timeout", _positive_duration, 300.0)
    if timeout < load.max_duration_s:
        raise ctx.error(
            spec.node_of("timeout"),
            "spec.timeout",
            f"{timeout:g}s is shorter than spec.load.maxDuration ({load.max_duration_s:g}s)",
        )
    expect = spec.get("expect", _enum("pass", "fail"), "pass")
    seed = spec.get("seed", _at_most(_non_negative_int, MAX_SEED), None)
    blast = spec.get("blastRadius", _blast_radius, BlastRadius())
    _check_blast_radius(ctx, faults_node, faults, blast, workload)
    abort = spec.get("abort", _abort, AbortSpec())
    experiment = Experiment(
        name=name,
        description=description,
        path=ctx.path,
        workload=workload,
        load=load,
        steady_state=steady,
        faults=faults,
        slas=slas,
        timeout_s=timeout,
        expect=cast(Literal["pass", "fail"], expect),
        tags=tags,
        seed=seed,
        blast_radius=blast,
        abort=abort,
    )
    _check_contradictions(ctx, spec, experiment)
    return experiment


def _blast_radius(ctx: _Ctx, node: Node, where: str) -> BlastRadius:
    m = _Map(ctx, node, where, ("maxPods", "maxPercent", "maxNodes"))
    return BlastRadius(max_pods=m.get("maxPods", _count, None),
                       max_percent=m.get("maxPercent", _percent, None),
                       max_nodes=m.get("maxNodes", _count, 1))


def _with_spike(ctx: _Ctx, load: LoadProfile, load_node: Node | None,
                faults: tuple[FaultSpec, ...], fault_nodes: list[Node]) -> LoadProfile:
    """A load-spike fault written into the open-loop schedule: the base rate through warm-up
    and the spike's delay, the ramp, the hold, then the base rate again."""
    spikes = [(i, f) for i, f in enumerate(faults) if f.shapes_load]
    if not spikes:
        return load
    index, spike = spikes[0]
    where = f"spec.faults[{index}]"
    if len(spikes) > 1:
        raise ctx.error(fault_nodes[spikes[1][0]], f"spec.faults[{spikes[1][0]}]",
                        "only one load-spike per experiment: the load's schedule is fixed "
                        "before the run")
    if index != 0:
        raise ctx.error(fault_nodes[index], where, "a load-spike must be the first fault: its "
                        "place in the load's schedule is fixed before the run, which only the "
                        "first fault's start allows")
    if not load.loop.schedules_arrivals:
        raise ctx.error(load_node or fault_nodes[index], "spec.load.mode",
                        "a load-spike raises the open-loop arrival rate: set mode: open and "
                        "the base rate (e.g. rate: 5/s)")
    if len(load.rate_segments) != 1:
        shaped = (_field_node(load_node, "steps", "rampUp") if load_node is not None
                  else None)
        raise ctx.error(shaped or load_node or fault_nodes[index], "spec.load.steps",
                        f"{where} (load-spike) writes the load's schedule itself: give "
                        "spec.load only the base rate, without steps or rampUp")
    base = load.rate_segments[-1][0]
    segments = spike.load_schedule(base, load.warmup_s + spike.delay_s)
    assert segments is not None  # every fault that shapes_load gives its schedule
    return dataclasses.replace(load, rate_segments=segments)


def _check_blast_radius(ctx: _Ctx, faults_node: Node, faults: tuple[FaultSpec, ...],
                        blast: BlastRadius, workload: WorkloadSpec) -> None:
    """What is known before any cluster is seen, for every fault family whose targets the file
    counts: a node fault's or control-plane-loss's ``count`` against maxNodes; a pod fault's
    ``count`` (or its ``percent`` of the workload's own pods) against maxPods and maxPercent,
    the way the run checks the resolved targets (chaos.plan.blast)."""
    replicas = workload.replicas
    for i, (fault, node) in enumerate(zip(faults, _list(ctx, faults_node, "spec.faults"),
                                          strict=True)):
        where = f"spec.faults[{i}]"
        problem = None
        nodes = fault.nodes_hit()
        if nodes is not None:
            key = "count"
            if nodes > blast.max_nodes:
                problem = (f"{nodes} nodes exceeds the blast radius (maxNodes: "
                           f"{blast.max_nodes}); raise spec.blastRadius to allow it")
        elif isinstance(fault, PodFault):
            key = "count" if fault.percent is None else "percent"
            pods = fault.count
            if fault.percent is not None and fault.selector == workload.selector:
                pods = max(1, math.ceil(replicas * fault.percent / 100 - 1e-9))
            if pods is None:
                continue  # a share of pods only the cluster knows the number of
            what = f"{pods} pods" + (f" ({fault.percent:g} % of {replicas})"
                                     if fault.percent is not None else "")
            if blast.max_pods is not None and pods > blast.max_pods:
                problem = (f"{what} exceeds the blast radius (maxPods: {blast.max_pods}); raise "
                           "spec.blastRadius to allow it")
            elif blast.max_percent is not None and \
                    100.0 * pods / replicas > blast.max_percent + 1e-9:
                problem = (f"{what} exceeds the blast radius (maxPercent: "
                           f"{blast.max_percent:g} % of spec.workload.replicas, {replicas}); "
                           "raise spec.blastRadius to allow it")
        if problem is not None:
            at = _field_node(node, key)
            raise ctx.error(at if at is not None else node, f"{where}.{key}", problem)


def _tags(ctx: _Ctx, node: Node, where: str) -> tuple[str, ...]:
    """Tags become pytest markers, so each must be a name pytest can take, once."""
    seen: dict[str, int] = {}
    tags: list[str] = []
    for i, item in enumerate(_list(ctx, node, where)):
        sub = f"{where}[{i}]"
        tag = _string(ctx, item, sub)
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


def _workload(ctx: _Ctx, node: Node, where: str, url_given: bool = False) -> WorkloadSpec:
    m = _Map(
        ctx,
        node,
        where,
        (
            "manifests",
            "selector",
            "service",
            "nodePort",
            "path",
            "replicas",
            "namespaceScoped",
            "clusterScoped",
            "images",
            "existing",
        ),
    )
    existing = None
    if m.has("existing"):
        if m.has("manifests"):
            raise ctx.error(m.key_node("existing"), m.path("existing"),
                            "give either manifests (deploy a workload) or existing (use one "
                            "that is already running), not both")
        existing = m.req("existing", _existing_workload)
        manifests: tuple[Path, ...] = ()
    else:
        if not m.has("manifests") and "manifests" not in m.items:
            raise ctx.error(node, m.path("manifests"), "required field missing (or give "
                            "existing: {namespace: ..} for a workload that is already running)")
        manifests_node = m.require("manifests")
        manifests = tuple(
            _existing_file(ctx, n, f"{where}.manifests[{i}]")
            for i, n in enumerate(_list(ctx, manifests_node, f"{where}.manifests"))
        )
    selector = m.req("selector", _selector)
    cluster_scoped = m.get("clusterScoped", _enum("refuse", "allow"), "refuse")
    ctx.objects = _read_manifests(ctx, manifests, cluster_scoped == "allow")
    _check_matches(ctx, m.node_of("selector"), f"{where}.selector", selector, manifests)
    workload = WorkloadSpec(
        manifests=manifests,
        selector=selector,
        service=m.req("service", _dns_name),
        node_port=(m.get("nodePort", _node_port, None) if url_given
                   else m.req("nodePort", _node_port)),
        replicas=m.req("replicas", _count),
        url_path=m.get("path", _url_path, "/"),
        namespace_scoped=m.get("namespaceScoped", _bool, True),
        images=m.get("images", _image_list, ()),
        cluster_scoped=cast(Literal["refuse", "allow"], cluster_scoped),
        cluster_objects=tuple(o.ref for o in ctx.objects if o.cluster_scoped),
        existing=existing,
    )
    if existing is not None and workload.images:
        raise ctx.error(m.node_of("images"), m.path("images"), "an existing workload already "
                        "runs its images: kube-chaos loads images only for manifests it deploys")
    _check_service(ctx, m, workload)
    _check_replicas(ctx, m, workload)
    return workload


def _existing_workload(ctx: _Ctx, node: Node, where: str) -> ExistingWorkload:
    m = _Map(ctx, node, where, ("namespace", "kind", "name"))
    kind = m.get("kind", _enum(*ROLLOUT_KINDS), None)
    name = m.get("name", _dns_subdomain, None)
    if (kind is None) != (name is None):
        missing = "name" if name is None else "kind"
        raise ctx.error(node, m.path(missing), "give kind and name together (the controller "
                        "whose rollout must be complete before any fault), or neither")
    namespace = m.req("namespace", _dns_name)
    if namespace in PROTECTED_NAMESPACES:
        raise ctx.error(m.node_of("namespace"), m.path("namespace"),
                        f"{namespace} is a protected namespace: no experiment may target it")
    return ExistingWorkload(namespace=namespace, kind=kind, name=name)


def _dns_subdomain(ctx: _Ctx, node: Node, where: str) -> str:
    value = _string(ctx, node, where)
    if len(value) > 253 or not all(_DNS_LABEL.fullmatch(p) for p in value.split(".")):
        raise ctx.error(node, where, f"expected a Kubernetes object name (lowercase DNS "
                        f"subdomain), got {excerpt(value)}")
    return value


def _read_manifests(
    ctx: _Ctx, manifests: tuple[Path, ...], allow_cluster: bool
) -> tuple[ManifestObject, ...]:
    """Every object the manifests create; errors name the manifest's own file and line."""
    objects: list[ManifestObject] = []
    first: dict[tuple[str, str], ManifestObject] = {}
    for path in dict.fromkeys(manifests):
        for obj in read_manifest(path):
            key = (obj.ref.kind, obj.ref.name)
            if obj.ref.name and key in first:
                raise ExperimentInvalid(
                    f"{obj.ref} is defined twice (first at {first[key].where}); the second "
                    "create would fail with AlreadyExists",
                    path=str(obj.path), line=obj.name_line, field=f"{obj.prefix}metadata.name")
            first[key] = obj
            if obj.cluster_scoped and not allow_cluster:
                raise cluster_scoped_refused(
                    obj, "To create it and have it deleted after the run, set "
                    f"spec.workload.clusterScoped: allow in {ctx.shown or 'the experiment'}")
            objects.append(obj)
    return tuple(objects)


def _image_list(ctx: _Ctx, node: Node, where: str) -> tuple[str, ...]:
    images = []
    for i, item in enumerate(_list(ctx, node, where)):
        image = _string(ctx, item, f"{where}[{i}]")
        if not _IMAGE_REF.fullmatch(image):
            raise ctx.error(item, f"{where}[{i}]", f"not an image reference: {excerpt(image)} "
                            "(expected e.g. myteam/api:1.4 or registry.local:5000/api@sha256:...)")
        images.append(image)
    return tuple(images)


def _check_matches(ctx: _Ctx, node: Node, where: str, selector: Selector,
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


def _check_service(ctx: _Ctx, m: _Map, workload: WorkloadSpec) -> None:
    """The load goes to 127.0.0.1:<nodePort> through ``service``: the manifests must agree.

    Skipped when the manifests define no Service at all (something else creates it).
    """
    services = {o.ref.name: o for o in ctx.objects if o.service is not None}
    if not services:
        return
    name = workload.service
    svc = services.get(name)
    if svc is None or svc.service is None:
        raise ctx.error(
            m.node_of("service"),
            m.path("service"),
            f"no Service {name!r} in the workload manifests{_suggest(name, list(services))}; "
            f"they define: {', '.join(sorted(services))}",
        )
    facts = svc.service
    if workload.node_port is None:
        return  # spec.load.url says where the load goes; the Service may be of any type
    if facts.type not in ("NodePort", "LoadBalancer"):
        raise ctx.error(
            m.node_of("service"),
            m.path("service"),
            f"Service {name!r} ({svc.where}) is of type {facts.type}; the load reaches it on "
            f"127.0.0.1:{workload.node_port}, so it needs type: NodePort",
        )
    if workload.node_port not in facts.node_ports:
        declared = (
            f"declares nodePort {', '.join(str(p) for p in facts.node_ports)}"
            if facts.node_ports
            else "declares no nodePort, so the cluster would pick one at random"
        )
        raise ctx.error(
            m.node_of("nodePort"),
            m.path("nodePort"),
            f"Service {name!r} ({svc.where}) {declared}, not {workload.node_port}",
        )
    templates = [o.template.labels for o in ctx.objects if o.template and o.template.labels]
    if facts.selector and templates and not any(facts.selector.matches(t) for t in templates):
        raise ctx.error(
            m.node_of("service"),
            m.path("service"),
            f"Service {name!r} ({svc.where}) selects "
            f"{excerpt(facts.selector.to_label_selector())}, which matches no pod the workload "
            "manifests create: it would have no endpoints",
        )


def _check_replicas(ctx: _Ctx, m: _Map, workload: WorkloadSpec) -> None:
    """``replicas`` is the Ready count steady state waits for: it must be what the manifests run."""
    matched = matching(ctx.objects, workload.selector)
    count = pod_count(matched) if matched else None
    if count is None or count == workload.replicas:
        return
    parts = ", ".join(f"{o.ref}: {o.template.pods}" for o in matched if o.template)
    raise ctx.error(
        m.node_of("replicas"),
        m.path("replicas"),
        f"{workload.replicas}, but the manifests run {count} pod(s) matching "
        f"{workload.selector.to_label_selector()!r} ({parts})",
    )


def _load(ctx: _Ctx, node: Node, where: str, workload: WorkloadSpec) -> LoadProfile:
    m = _Map(
        ctx,
        node,
        where,
        tuple(f.yaml for f in LOAD_FIELDS),
    )
    d = LoadProfile()
    url = m.get("url", _load_url, None)
    if url is None and m.has("tlsVerify"):
        raise ctx.error(m.key_node("tlsVerify"), m.path("tlsVerify"),
                        "only meaningful with url: the NodePort load is plain http")
    mode = m.get("mode", _load_mode, "closed")
    loop = LOAD_MODES[mode]
    for other in LOAD_MODES.values():
        for key in other.keys if other is not loop else ():
            if key in m.items:
                raise ctx.error(m.key_node(key), m.path(key),
                                f"only meaningful with mode: {other.name}{loop.foreign_hint}")
    segments: tuple[tuple[float, float, float | None], ...] = ()
    if loop.schedules_arrivals:
        segments = _rate_segments(ctx, m)
    in_cluster = m.get("inCluster", _in_cluster, 0)
    if in_cluster:
        _check_in_cluster(ctx, m)
    no_headers: tuple[tuple[str, str], ...] = ()
    headers = m.get("headersFromEnv", _headers_from_env, no_headers)
    clear = cleartext_headers(url, [h for h, _ in headers], all_secret=True) if url else []
    if clear:
        raise ctx.error(m.key_node("headersFromEnv"), m.path("headersFromEnv"),
                        f"{', '.join(clear)} would travel in clear text: {url} is plain http to "
                        "another machine than this one; use https (plain http only to "
                        "127.0.0.1, localhost or ::1)")
    return LoadProfile(
        in_cluster_workers=in_cluster,
        mode=mode,
        rate_segments=segments,
        max_in_flight=m.get("maxInFlight", _in_flight, d.max_in_flight),
        drop_after_s=m.get("dropAfter", _positive_duration, d.drop_after_s),
        timeout_s=m.get("timeout", _positive_duration, d.timeout_s),
        workers=m.get("workers", _workers, d.workers),
        url=url,
        headers_from_env=headers,
        tls_verify=m.get("tlsVerify", _bool, True),
        users=m.get("users", _users, d.users),
        spawn_rate=m.get("spawnRate", _spawn_rate, d.spawn_rate),
        warmup_s=m.get("warmup", _duration, d.warmup_s),
        tail_s=m.get("tail", _duration, d.tail_s),
        max_duration_s=m.get("maxDuration", _positive_duration, d.max_duration_s),
        max_requests=m.get("maxRequests", _max_requests, None),
        locustfile=m.get("locustfile", _existing_file, None),
        path=m.get("path", _url_path, workload.url_path),
        wait_ms=m.get("wait", _duration, d.wait_ms / 1000.0) * 1000.0,
        keep_alive=m.get("keepAlive", _bool, d.keep_alive),
    )


def _in_cluster(ctx: _Ctx, node: Node, where: str) -> int:
    m = _Map(ctx, node, where, ("workers",))
    workers: int = m.req("workers", _workers)
    return workers


# what in-cluster workers cannot do, and why
_NOT_IN_CLUSTER = {
    "workers": "local worker processes and in-cluster workers are one or the other: the pods "
               "are the workers (give inCluster.workers)",
    "url": "in-cluster workers reach spec.workload.service by its cluster DNS name; url is "
           "for load from this machine to a service elsewhere",
    "locustfile": "the worker image holds kube-chaos's own locustfiles only",
    "headersFromEnv": "the header values would be written into the worker pods' specs",
}


def _check_in_cluster(ctx: _Ctx, m: _Map) -> None:
    for key, why in _NOT_IN_CLUSTER.items():
        if key in m.items:
            raise ctx.error(m.key_node(key), m.path(key), f"not with inCluster: {why}")


_workers = _int_in(1, 64, "a number of worker processes from 1 to 64")
_users = _at_most(_positive_int, MAX_USERS)
_spawn_rate = _at_most(_positive_number, MAX_SPAWN_RATE, "/s")
_in_flight = _at_most(_positive_int, MAX_IN_FLIGHT)
_max_requests = _at_most(_positive_int, MAX_REQUESTS)


def _load_mode(ctx: _Ctx, node: Node, where: str) -> str:
    value = _string(ctx, node, where)
    if value not in LOAD_MODES:
        raise ctx.error(node, where, f"expected {' or '.join(LOAD_MODES)}, got "
                        f"{excerpt(value)}{_suggest(value, list(LOAD_MODES))}")
    return value


def _any_arrival_rate(ctx: _Ctx, node: Node, where: str) -> float:
    return _parsed(ctx, node, where, ARRIVAL_RATE_HINT, parse_arrival_rate)


_arrival_rate = _at_most(_any_arrival_rate, MAX_ARRIVAL_RATE, "/s")


def _rate_segments(ctx: _Ctx, m: _Map) -> tuple[tuple[float, float, float | None], ...]:
    """rampUp (from 0 to the first rate), then each step, then ``rate`` (or the last step's)
    for as long as the load runs."""
    if not m.has("rate") and not m.has("steps"):
        raise ctx.error(m.node, m.path("rate"), "mode: open needs an arrival rate (e.g. "
                        "rate: 200/s) or steps")
    steps: list[tuple[float, float]] = []
    if m.has("steps"):
        for i, item in enumerate(_list(ctx, m.node_of("steps"), m.path("steps"))):
            sm = _Map(ctx, item, f"{m.path('steps')}[{i}]", ("rate", "duration"))
            steps.append((sm.req("rate", _arrival_rate), sm.req("duration", _positive_duration)))
        if not steps:
            raise ctx.error(m.node_of("steps"), m.path("steps"), "expected a non-empty list")
    final = m.get("rate", _arrival_rate, steps[-1][0] if steps else 0.0)
    first = steps[0][0] if steps else final
    segments: list[tuple[float, float, float | None]] = []
    ramp = m.get("rampUp", _duration, 0.0)
    if ramp > 0:
        segments.append((0.0, first, ramp))
    segments += [(rate, rate, seconds) for rate, seconds in steps]
    segments.append((final, final, None))
    return tuple(segments)


def _load_url(ctx: _Ctx, node: Node, where: str) -> str:
    """A base URL: http(s), a host, an optional port; no path, query or credentials (the path
    is spec.load.path; credentials come from headersFromEnv)."""
    value = _string(ctx, node, where)
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
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _headers_from_env(ctx: _Ctx, node: Node, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(node, MappingNode) or not node.value:
        raise ctx.error(node, where, "expected a mapping of header: ENVIRONMENT_VARIABLE, e.g. "
                        "{Authorization: STAGING_TOKEN}")
    out = []
    for k, v in node.value:
        header = _string(ctx, k, where)
        if not _HEADER_NAME.fullmatch(header):
            raise ctx.error(k, f"{where}.{header}", "not an HTTP header name")
        var = _string(ctx, v, f"{where}.{header}")
        if not _ENV_NAME.fullmatch(var):
            raise ctx.error(v, f"{where}.{header}", "expected the name of an environment "
                            "variable holding the value (not the value itself), got "
                            + excerpt(var))
        out.append((header, var))
    return tuple(out)


def _steady(ctx: _Ctx, node: Node, where: str, workload: WorkloadSpec) -> SteadyState:
    m = _Map(ctx, node, where, ("maxErrorRate", "readyReplicas", "window"))
    ready = m.get("readyReplicas", _count_or_zero, workload.replicas)
    if ready is not None and ready > workload.replicas:
        raise ctx.error(
            m.node_of("readyReplicas"),
            m.path("readyReplicas"),
            f"{ready} is more than spec.workload.replicas ({workload.replicas}): the steady "
            "state could never be reached",
        )
    return SteadyState(
        max_error_rate=m.get("maxErrorRate", _ratio, 0.0),
        ready_replicas=ready,
        window_s=m.get("window", _duration, 3.0),
    )


def _rate(ctx: _Ctx, node: Node, where: str) -> int:
    value = _scalar(ctx, node, where, RATE_HINT)
    try:
        return parse_rate(value)
    except ValueError as exc:
        raise ctx.error(node, where, f"expected {RATE_HINT}, got {_got(node)}: {exc}") from None


def _cidr(ctx: _Ctx, node: Node, where: str) -> str:
    raw = _string(ctx, node, where)
    try:
        return parse_cidr(raw)
    except ValueError:
        raise ctx.error(node, where, f"expected an IP address or CIDR such as 10.0.0.0/8, "
                                     f"got {excerpt(raw)}") from None


def _peer(ctx: _Ctx, node: Node, where: str) -> Peer:
    """Exactly one of selector (checked against the manifests' pods), service (against their
    Services, when they define any) or cidr (one, or a list)."""
    keys = ("selector", "service", "cidr")
    m = _Map(ctx, node, where, keys)
    given = [k for k in keys if m.has(k)]
    if len(given) != 1:
        raise ctx.error(m.key_node(given[1]) if len(given) > 1 else node, where,
                        f"give exactly one of selector, service, cidr (found "
                        f"{', '.join(given) or 'none'})")
    if given == ["selector"]:
        selector = m.req("selector", _selector)
        _check_matches(ctx, m.node_of("selector"), m.path("selector"), selector, ())
        return Peer(selector=selector)
    if given == ["service"]:
        name = m.req("service", _dns_name)
        services = sorted(o.ref.name for o in ctx.objects if o.service is not None)
        if services and name not in services:
            raise ctx.error(m.node_of("service"), m.path("service"),
                            f"no Service {name!r} in the workload manifests"
                            f"{_suggest(name, services)}; they define: {', '.join(services)}")
        return Peer(service=name)
    raw = m.node_of("cidr")
    items = _list(ctx, raw, m.path("cidr")) if isinstance(raw, SequenceNode) else [raw]
    path = m.path("cidr")
    cidrs = [_cidr(ctx, n, f"{path}[{i}]" if isinstance(raw, SequenceNode) else path)
             for i, n in enumerate(items)]
    return Peer(cidrs=tuple(dict.fromkeys(cidrs)))


_CONVERTERS: dict[str, Callable[[_Ctx, Node, str], object]] = {
    "positive-int": _positive_int,
    "non-negative-int": _non_negative_int,
    "duration": _duration,
    "positive-duration": _positive_duration,
    "whole-seconds": _whole_seconds,
    "percent": _percent,
    "ratio": _ratio,
    "string": _string,
    "bool": _bool,
    "selector": _selector,
    "node-names": _string_list,
    "image": _image,
    "controller-ref": _controller_ref,
    "env-map": _env_map,
    "string-list": _args,
    "rate": _rate,
    "arrival-rate": _arrival_rate,
    "peer": _peer,
}
_NODE_SELECTION_KEYS = ("nodes", "nodeSelector", "podsOf")


def _converter(value: Value) -> Callable[[_Ctx, Node, str], object]:
    if value.kind == "enum":
        return _enum(*value.choices)
    if value.kind == "signal":
        return _signal
    conv = _CONVERTERS[value.kind]
    if value.high is None:
        return conv
    return _at_most(cast(Callable[[_Ctx, Node, str], float], conv), value.high, value.unit)


def _yaml_keys(cls: type[FaultSpec]) -> tuple[str, ...]:
    keys: list[str] = []
    for f in cls.field_infos():
        keys += _NODE_SELECTION_KEYS if f.reader == "node-selection" else (f.yaml,)
    return tuple(keys)


def _fault(ctx: _Ctx, node: Node, where: str, workload: WorkloadSpec) -> FaultSpec:
    """One fault, read field by field as its class in chaos.model.faults declares."""
    if not isinstance(node, MappingNode):
        raise ctx.error(node, where, f"expected a mapping with a 'type', got {_got(node)}")
    known = ", ".join(sorted(FAULT_TYPES))
    type_node = next(
        (v for k, v in node.value if isinstance(k, ScalarNode) and k.value == "type"), None
    )
    if type_node is None or _is_null(type_node):
        raise ctx.error(node, f"{where}.type", f"required field missing; known types: {known}")
    ftype = _string(ctx, type_node, f"{where}.type")
    if ftype not in FAULT_TYPES:
        raise ctx.error(
            type_node,
            f"{where}.type",
            f"unknown fault type {excerpt(ftype)}{_suggest(ftype, list(FAULT_TYPES))}; "
            f"known types: {known}",
        )
    cls = FAULT_TYPES[ftype]
    m = _Map(ctx, node, where, ("type", *_yaml_keys(cls)))
    kwargs: dict[str, Any] = {}  # typed by the field declarations it is read from
    for f in cls.field_infos():
        if f.reader == "value":
            conv = _converter(f.value)
            kwargs[f.attr] = (m.req(f.yaml, conv) if f.default is dataclasses.MISSING
                              else m.get(f.yaml, conv, f.default))
        elif f.reader == "pod-selector":
            selector = m.get(f.yaml, _selector, workload.selector)
            if m.has(f.yaml):
                _check_matches(ctx, m.node_of(f.yaml), m.path(f.yaml), selector,
                               workload.manifests)
            kwargs[f.attr] = selector
        elif f.reader == "count-or-percent":
            kwargs["count"], kwargs["percent"] = _count_or_percent(m)
        elif f.reader == "node-selection":
            kwargs[f.attr] = _node_selection(m, workload)
    selection = kwargs.get("nodes")
    count = kwargs.get("count")
    if isinstance(selection, NodeSelection) and selection.nodes and isinstance(count, int) \
            and count > len(selection.nodes):
        raise ctx.error(
            m.node_of("count"),
            m.path("count"),
            f"{count} exceeds the {len(selection.nodes)} node(s) listed in {m.path('nodes')}",
        )
    spec = cls(**kwargs)
    for name, problem in spec.check():
        raise ctx.error(m.node_of(name) if name in m.items else node, m.path(name), problem)
    return spec


def _signal(ctx: _Ctx, node: Node, where: str) -> str:
    raw = _string(ctx, node, where)
    name = raw.upper().removeprefix("SIG")
    if name not in SIGNALS:
        raise ctx.error(
            node,
            where,
            f"expected one of {', '.join(SIGNALS)} (optionally SIG-prefixed), got {excerpt(raw)}",
        )
    return name


def _count_or_percent(m: _Map) -> tuple[int | None, float | None]:
    if m.has("count") and m.has("percent"):
        raise m.ctx.error(
            m.key_node("percent"), m.path("percent"), "give either count or percent, not both"
        )
    if m.has("percent"):
        return None, m.get("percent", _percent, None)
    return m.get("count", _count, 1), None


def _node_selection(m: _Map, workload: WorkloadSpec) -> NodeSelection:
    given = [k for k in ("nodes", "nodeSelector", "podsOf") if m.has(k)]
    if len(given) > 1:
        raise m.ctx.error(
            m.key_node(given[1]),
            m.path(given[1]),
            f"give only one of nodes, nodeSelector, podsOf (found {', '.join(given)})",
        )
    if given == ["nodes"]:
        names = m.req("nodes", _string_list)
        if len(set(names)) != len(names):
            raise m.ctx.error(m.node_of("nodes"), m.path("nodes"), "node names must be unique")
        return NodeSelection(nodes=names)
    if given == ["nodeSelector"]:
        return NodeSelection(node_selector=m.req("nodeSelector", _selector))
    return NodeSelection(pods_of=m.get("podsOf", _selector, workload.selector))


def _slas(ctx: _Ctx, node: Node, where: str) -> SLASpec:
    """spec.slas, read field by field as chaos.model.slas declares."""
    infos = tuple(SLASpec.field_infos())
    m = _Map(ctx, node, where, tuple(f.yaml for f in infos))
    read: dict[str, Any] = {}  # typed by the field declarations it is read from
    for f in infos:
        value = m.get(f.yaml, _converter(f.value), f.default)
        read[f.attr] = value * f.scale if value is not None and f.scale != 1.0 else value
    slas = SLASpec(**read)
    if not slas.declared():
        raise ctx.error(
            node, where, "declare at least one SLA (an experiment without SLAs cannot fail)"
        )
    if (
        slas.expected_restarts is not None
        and slas.max_restarts is not None
        and slas.expected_restarts > slas.max_restarts
    ):
        raise ctx.error(
            m.node_of("maxRestarts"),
            m.path("maxRestarts"),
            f"{slas.max_restarts} is below expectedRestarts ({slas.expected_restarts})",
        )
    return slas


# --------------------------------------------------------------------------- abort guards

_GUARD_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_GUARD_KEYS: dict[str, tuple[str, ...]] = {
    "outage": ("max",),
    "error-rate": ("max", "window", "minRequests"),
    "http": ("url", "timeout", "status", "failures"),
    "prometheus": ("url", "query", "min", "max", "timeout", "noData"),
    "kubernetes": ("object", "condition", "status"),
}


def _abort(ctx: _Ctx, node: Node, where: str) -> AbortSpec:
    m = _Map(ctx, node, where, ("interval", "guards"))
    interval = m.get("interval", _positive_duration, AbortSpec().interval_s)
    if not MIN_INTERVAL_S <= interval <= MAX_INTERVAL_S:
        raise ctx.error(m.node_of("interval"), m.path("interval"),
                        f"{interval:g}s: guards are evaluated at least once a second, at most "
                        f"every {MIN_INTERVAL_S:g}s (give {MIN_INTERVAL_S * 1000:g}ms..1s)")
    items = _list(ctx, m.require("guards"), m.path("guards"))
    guards: list[Guard] = []
    names: dict[str, int] = {}
    for i, item in enumerate(items):
        guard = _guard(ctx, item, f"{where}.guards[{i}]", interval, names)
        names[guard.name] = i
        guards.append(guard)
    return AbortSpec(guards=tuple(guards), interval_s=interval)


def _guard(ctx: _Ctx, node: Node, where: str, interval: float,
           names: dict[str, int]) -> Guard:
    """One guard, by its type; its name must be unique (the report names the guard)."""
    if not isinstance(node, MappingNode):
        raise ctx.error(node, where, f"expected a mapping with a 'type', got {_got(node)}")
    known = ", ".join(GUARD_TYPES)
    type_node = next(
        (v for k, v in node.value if isinstance(k, ScalarNode) and k.value == "type"), None
    )
    if type_node is None or _is_null(type_node):
        raise ctx.error(node, f"{where}.type", f"required field missing; known types: {known}")
    gtype = _string(ctx, type_node, f"{where}.type")
    if gtype not in GUARD_TYPES:
        raise ctx.error(type_node, f"{where}.type",
                        f"unknown guard type {excerpt(gtype)}{_suggest(gtype, list(GUARD_TYPES))}; "
                        f"known types: {known}")
    keys = _GUARD_KEYS[gtype]
    own = "name"
    m = _Map(ctx, node, where, ("type", own, "onError", *keys))
    if m.has(own):
        name = m.req(own, _string)
        if not _GUARD_NAME.fullmatch(name) or name == "halt":
            raise ctx.error(m.node_of(own), m.path(own),
                            "expected letters, digits, '-', '_' or '.' (at most 63, not "
                            f"'halt', the built-in kill switch), got {excerpt(name)}")
        if name in names:
            raise ctx.error(m.node_of(own), m.path(own),
                            f"{excerpt(name)} already names spec.abort.guards[{names[name]}]")
    else:
        name, n = gtype, 1
        while name in names:
            n += 1
            name = f"{gtype}-{n}"
    on_error = cast(Literal["abort", "ignore"], m.get("onError", _enum("abort", "ignore"),
                                                      "abort"))
    if gtype == "outage":
        return OutageGuard(name=name, on_error=on_error, max_s=m.req("max", _positive_duration))
    if gtype == "error-rate":
        return ErrorRateGuard(name=name, on_error=on_error, max=m.req("max", _ratio),
                              window_s=m.get("window", _positive_duration, 5.0),
                              min_requests=m.get("minRequests",
                                                 _at_most(_positive_int, MAX_MIN_REQUESTS), 5))
    if gtype == "kubernetes":
        return _kubernetes_guard(ctx, m, name, on_error)
    timeout = m.get("timeout", _positive_duration, interval)
    if timeout > interval:
        raise ctx.error(m.node_of("timeout"), m.path("timeout"),
                        f"{timeout:g}s is longer than spec.abort.interval ({interval:g}s): a "
                        "hanging check would leave the guard unevaluated for longer than that")
    if gtype == "http":
        return HttpGuard(name=name, on_error=on_error, url=m.req("url", _guard_url),
                         timeout_s=timeout, status=m.get("status", _status_codes, ()),
                         failures=m.get("failures", _count, 1))
    low = m.get("min", _threshold, None)
    high = m.get("max", _threshold, None)
    if low is None and high is None:
        raise ctx.error(node, m.path("max"), "give min, max or both: the bounds every sample "
                        "of the query must stay within")
    if low is not None and high is not None and low > high:
        raise ctx.error(m.node_of("max"), m.path("max"), f"{high:g} is below min ({low:g})")
    return PrometheusGuard(
        name=name, on_error=on_error, url=m.req("url", _guard_url),
        query=m.req("query", _string), min=low, max=high, timeout_s=timeout,
        no_data=cast(Literal["ignore", "abort"],
                     m.get("noData", _enum("ignore", "abort"), "ignore")))


def _kubernetes_guard(ctx: _Ctx, m: _Map, name: str,
                      on_error: Literal["abort", "ignore"]) -> KubernetesGuard:
    obj = _Map(ctx, m.require("object"), m.path("object"), ("kind", "name", "namespace"))
    kind = obj.req("kind", _enum(*CONDITION_KINDS))
    namespace = obj.get("namespace", _dns_name, None)
    if namespace is not None and not CONDITION_KINDS[kind]:
        raise ctx.error(obj.node_of("namespace"), obj.path("namespace"),
                        f"a {kind} is not namespaced")
    condition = m.req("condition", _string)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9.]*", condition):
        raise ctx.error(m.node_of("condition"), m.path("condition"),
                        f"expected a condition type such as Ready or Available, got "
                        f"{excerpt(condition)}")
    return KubernetesGuard(name=name, on_error=on_error, kind=kind,
                           object_name=obj.req("name", _dns_subdomain), namespace=namespace,
                           condition=condition,
                           status=m.get("status", _condition_status, "True"))


def _condition_status(ctx: _Ctx, node: Node, where: str) -> str:
    value = _scalar(ctx, node, where, "True, False or Unknown")
    if isinstance(value, bool):  # an unquoted True/False is read as a YAML bool
        value = "True" if value else "False"
    if value not in CONDITION_STATUSES:
        raise ctx.error(node, where, f"expected True, False or Unknown, got {_got(node)}")
    return str(value)


def _guard_url(ctx: _Ctx, node: Node, where: str) -> str:
    """An absolute http(s) URL with a host; the host is checked against the allow-list
    (--chaos-allow-host) when the run starts."""
    value = _string(ctx, node, where)
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


def _status_codes(ctx: _Ctx, node: Node, where: str) -> tuple[int, ...]:
    codes = _int_in(100, 599, "an HTTP status code (100-599)")
    if isinstance(node, SequenceNode):
        found = tuple(codes(ctx, n, f"{where}[{i}]")
                      for i, n in enumerate(_list(ctx, node, where)))
        if len(set(found)) != len(found):
            raise ctx.error(node, where, "status codes must be unique")
        return found
    return (codes(ctx, node, where),)


def _threshold(ctx: _Ctx, node: Node, where: str) -> float:
    value = _scalar(ctx, node, where, "a number")
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ctx.error(node, where, f"expected a finite number, got {_got(node)}")
    if not -MAX_THRESHOLD <= value <= MAX_THRESHOLD:
        raise ctx.error(node, where, f"expected a number from -{MAX_THRESHOLD:g} to "
                        f"{MAX_THRESHOLD:g}, got {_got(node)}")
    return float(value)


# --------------------------------------------------------------------------- cross-field checks


def _check_contradictions(ctx: _Ctx, spec: _Map, exp: Experiment) -> None:
    """What the sections say about each other, checked once every fault is parsed: each of these
    would otherwise surface only on the cluster, minutes in, or as a silently cut-short run."""
    fault_nodes = list(cast(SequenceNode, spec.node_of("faults")).value)
    _check_timeline(ctx, spec, exp, fault_nodes)
    for i, (fault, node) in enumerate(zip(exp.faults, fault_nodes, strict=True)):
        if {"pod-count", "container", "probe"} & set(fault.manifest_checks):
            _check_pod_fault(ctx, exp.workload, fault, node, f"spec.faults[{i}]")
        if "controller" in fault.manifest_checks and isinstance(fault, ControllerFault):
            _check_controller_fault(ctx, exp.workload, fault, node, f"spec.faults[{i}]")
    _check_questions(ctx, cast(MappingNode, spec.node_of("slas")), exp)


def _check_questions(ctx: _Ctx, slas: MappingNode, exp: Experiment) -> None:
    """An SLA expecting the answer to a fault type's question (expectBlocked: was a drain
    blocked?) needs a fault of such a type: without one it would judge nothing."""
    asked: dict[str, tuple[str, list[str]]] = {}  # SLA -> (what it says, the types answering)
    for cls in FAULT_TYPES.values():
        if cls.question is not None:
            asked.setdefault(cls.question.sla, (cls.question.asks, []))[1].append(cls.type)
    for sla, (asks, types) in asked.items():
        key = _field_node(slas, sla)
        if key is not None and not any(f.question is not None and f.question.sla == sla
                                       for f in exp.faults):
            raise ctx.error(key, f"spec.slas.{sla}",
                            f"says {asks}, but no fault is " + " or ".join(f"a {t}"
                                                                          for t in types))


def _check_controller_fault(
    ctx: _Ctx, workload: WorkloadSpec, fault: ControllerFault, node: Node, where: str
) -> None:
    """A rollout or rollback against the manifests: its target exists (or, unnamed, is the one
    Deployment or StatefulSet running the workload's pods), and so does its container."""
    controllers = [o for o in ctx.objects if o.ref.kind in ("Deployment", "StatefulSet")]
    if not controllers:
        return  # an existing workload, or one an operator makes: checked at run time
    listed = ", ".join(str(o.ref) for o in controllers)
    if fault.target is not None:
        found = [o for o in controllers if o.ref.kind == fault.target.kind
                 and o.ref.name == fault.target.name]
        if not found:
            raise ctx.error(_field_node(node, "target") or node, f"{where}.target",
                            f"no {fault.target} in the workload manifests; they define: "
                            f"{listed}")
    else:
        if not any(o.template and o.template.labels for o in controllers):
            return  # no pod labels to match against: resolved at run time
        found = [o for o in controllers if o.template and o.template.labels
                 and workload.selector.matches(o.template.labels)]
        if len(found) != 1:
            what = "none of" if not found else f"{len(found)} of"
            raise ctx.error(node, f"{where}.target", f"{what} the Deployments/StatefulSets "
                            f"({listed}) run pods matching the workload's selector "
                            f"{workload.selector.to_label_selector()!r}: name one with target")
    container = getattr(fault, "container", None)
    template = found[0].template
    if isinstance(container, str) and template and template.containers and \
            container not in template.containers:
        raise ctx.error(_field_node(node, "container") or node, f"{where}.container",
                        f"no container {excerpt(container)} in {found[0].ref}"
                        f"{_suggest(container, list(template.containers))}; it has: "
                        f"{', '.join(template.containers)}")


def _field_node(node: Node, *keys: str) -> Node | None:
    """The key node of the first of ``keys`` that the mapping sets (for the error's line)."""
    if isinstance(node, MappingNode):
        for key in keys:
            for k, v in node.value:
                if isinstance(k, ScalarNode) and k.value == key and not _is_null(v):
                    return cast(Node, k)
    return None


def _check_timeline(ctx: _Ctx, spec: _Map, exp: Experiment, fault_nodes: list[Node]) -> None:
    """Warm-up, then each fault's delay and hold in turn, then the tail: all within timeout."""
    warmup, timeout = exp.load.warmup_s, exp.timeout_s
    elapsed = warmup
    for i, (fault, node) in enumerate(zip(exp.faults, fault_nodes, strict=True)):
        elapsed += fault.delay_s + fault.hold_s()
        if elapsed > timeout:
            key = _field_node(node, "duration", "interval", "repeat", "delay")
            field = f"spec.faults[{i}]" + (f".{cast(ScalarNode, key).value}" if key else "")
            raise ctx.error(
                key or node,
                field,
                f"this fault would end {elapsed:g}s into the run (warm-up {warmup:g}s, then each "
                f"fault's delay and duration in turn), after spec.timeout ({timeout:g}s)",
            )
    # timeout >= maxDuration is checked already, so this also keeps the run within timeout
    total = elapsed + exp.load.tail_s
    if total > exp.load.max_duration_s:
        load = spec.node_of("load") if spec.has("load") else None
        raise ctx.error(
            (load is not None and _field_node(load, "maxDuration")) or load or spec.node,
            "spec.load.maxDuration",
            f"the load stops after {exp.load.max_duration_s:g}s, before warm-up ({warmup:g}s), "
            f"the faults ({elapsed - warmup:g}s) and the tail ({exp.load.tail_s:g}s) are over "
            f"({total:g}s): the end of the run would have no requests to measure",
        )


def _check_pod_fault(
    ctx: _Ctx, workload: WorkloadSpec, fault: FaultSpec, node: Node, where: str
) -> None:
    """A pod fault against what its pods are: enough of them, the container, the probe."""
    selector = getattr(fault, "selector", None)
    if not isinstance(selector, Selector):
        return
    matched = matching(ctx.objects, selector)
    count = getattr(fault, "count", None)
    count_key = _field_node(node, "count")
    if "pod-count" in fault.manifest_checks and isinstance(count, int) and count_key is not None:
        if all(selector.get(k) == v for k, v in workload.selector.items()):
            bound: int | None = workload.replicas
            what = f"the {workload.replicas} pod(s) of spec.workload.replicas"
        else:
            bound = pod_count(matched) if matched else None
            what = f"the {bound} pod(s) the manifests run matching {selector.to_label_selector()!r}"
        if bound is not None and count > bound:
            raise ctx.error(count_key, f"{where}.count", f"{count} is more than {what}")
    templates = [o for o in matched if o.template is not None and o.template.containers]
    if not templates or len(templates) != len(matched):
        return  # nothing (or not everything) known about the containers: checked at run time
    container = getattr(fault, "container", None)
    if "container" in fault.manifest_checks and isinstance(container, str):
        names = sorted({c for o in templates if o.template for c in o.template.containers})
        if container not in names:
            raise ctx.error(
                _field_node(node, "container") or node,
                f"{where}.container",
                f"no container {excerpt(container)} in the pods matching "
                f"{selector.to_label_selector()!r}{_suggest(container, names)}; "
                f"they have: {', '.join(names)}",
            )
    probe = getattr(fault, "probe", None)
    if "probe" in fault.manifest_checks and isinstance(probe, str) and not any(
        o.template and probe in o.template.probes for o in templates
    ):
        shown = ", ".join(f"{o.ref} at {o.where}" for o in templates)
        raise ctx.error(
            _field_node(node, "probe") or node,
            f"{where}.probe",
            f"no container of the pods matching {selector.to_label_selector()!r} defines a "
            f"{probe}Probe ({shown}): there is nothing to break",
        )
