"""Bounded YAML reading for experiment files and workload manifests.

A YAML file is hostile input: a few hundred bytes of aliases or nested merge keys expand to
gigabytes, ten thousand ``[`` exhaust the recursion limit, and odd bytes or tags make PyYAML raise
``ValueError`` deep inside a constructor. Everything here turns into ``ExperimentInvalid`` with
file, line and field, and the cost of reading a file is bounded by :data:`MAX_BYTES`,
:data:`MAX_DEPTH` and :data:`MAX_NODES` whatever the file holds.

Events come from libyaml when PyYAML has it (fast enough to scan a full-size file well within the
time bound) and from PyYAML's pure-Python parser otherwise; the composer is ours, so that depth,
alias expansion and merge keys are counted *while* the node graph is built, not after.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser as _PyParser
from yaml.reader import Reader as _PyReader
from yaml.resolver import Resolver
from yaml.scanner import Scanner as _PyScanner

from chaos.errors import ExperimentInvalid, excerpt

MAX_BYTES = 1024 * 1024
"""Largest file read at all; experiment files are a few KiB, workload manifests tens of KiB."""
MAX_DEPTH = 64
"""Deepest nesting, counted through aliases; a Deployment is about 10 levels deep."""
MAX_NODES = 25_000
"""Most YAML nodes per file, counting every use of an alias or merge key as a copy."""

_YAML = "tag:yaml.org,2002:"
STR_TAG = _YAML + "str"
MERGE_TAG = _YAML + "merge"
_VALUE_TAG = _YAML + "value"
_SCALAR_TAGS = {_YAML + t for t in ("str", "int", "float", "bool", "null", "timestamp", "binary")}
_INT_TAG = _YAML + "int"
# implicitly resolved values of these tags always construct (the resolver's patterns see to it)
_SAFE_IMPLICIT = {_YAML + "null", _YAML + "bool", STR_TAG}
_SEQ_TAG = _YAML + "seq"
_MAP_TAG = _YAML + "map"
# YAML's printable set: anything else is a control character or a lone surrogate.
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TOP_KEY = re.compile(r"^(?:---\s*)?([A-Za-z_][-\w.]*)\s*:", re.M)
_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
)
_UTF8_BOM = b"\xef\xbb\xbf"

_binding: Any
try:  # libyaml's event parser: PyYAML's wheels carry it
    _binding = importlib.import_module("yaml._yaml")
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _binding = None


class _PyEvents(_PyReader, _PyScanner, _PyParser):
    """PyYAML's pure-Python event parser: no nesting limit of its own while scanning ahead."""

    def __init__(self, stream: str) -> None:
        _PyReader.__init__(self, stream)
        _PyScanner.__init__(self)
        _PyParser.__init__(self)


# libyaml's parser when PyYAML has it (fast enough to scan a full-size file within the time bound)
_CEvents: Any = _PyEvents if _binding is None else _binding.CParser
# Event and error classes as each parser knows them. libyaml's binding is initialised once per
# process, so after yaml.* is purged from sys.modules and imported again (pytester does this)
# yaml.events holds new classes that the C parser never produces: both sets are matched.
_sources: list[Any] = [yaml] if _binding is None else [_binding, yaml]
AliasEvent = tuple(m.AliasEvent for m in _sources)
ScalarEvent = tuple(m.ScalarEvent for m in _sources)
SequenceStartEvent = tuple(m.SequenceStartEvent for m in _sources)
SequenceEndEvent = tuple(m.SequenceEndEvent for m in _sources)
MappingStartEvent = tuple(m.MappingStartEvent for m in _sources)
MappingEndEvent = tuple(m.MappingEndEvent for m in _sources)
StreamEndEvent = tuple(m.StreamEndEvent for m in _sources)
_SYNTAX_ERRORS: tuple[type[Exception], ...] = (yaml.MarkedYAMLError,) + (
    () if _binding is None else (_binding.ScannerError, _binding.ParserError))
_READER_ERRORS: tuple[type[Exception], ...] = (yaml.reader.ReaderError,) + (
    () if _binding is None else (_binding.ReaderError,))
_ANY_ERRORS: tuple[type[Exception], ...] = (yaml.YAMLError,) + (
    () if _binding is None else (_binding.YAMLError,))
# libyaml (0.2.5 as PyYAML 6.0.4's wheels carry it) refuses more than 1,000 nested flow
# collections while it scans ahead, before our composer has seen a single event of them: the
# text is then read again by the pure-Python parser, so that the error is ours (MAX_DEPTH, with
# the field that went too deep) whichever parser PyYAML came with.
_LIBYAML_DEPTH_LIMIT = "maximum nesting depth"


# --------------------------------------------------------------------------- bytes -> text


def read_text(path: Path, shown: str | None = None) -> str:
    """The file's text: at most MAX_BYTES, UTF-8 (a UTF-8 byte-order mark is allowed)."""
    where = shown if shown is not None else str(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ExperimentInvalid(f"cannot read: {exc.strerror or exc}", path=where) from exc
    if len(data) > MAX_BYTES:
        line = data.count(b"\n", 0, MAX_BYTES) + 1
        try:
            size = f"{path.stat().st_size:,} bytes"
        except OSError:  # pragma: no cover - it was just read
            size = "more"
        raise ExperimentInvalid(
            f"file too large: {size}, the limit is {MAX_BYTES // (1024 * 1024)} MiB "
            f"({MAX_BYTES:,} bytes; line {line} is past it)",
            path=where,
            line=line,
            field=section_at(data[:MAX_BYTES].decode("latin-1"), line),
        )
    return decode(data, where)


def decode(data: bytes, shown: str | None) -> str:
    """UTF-8 bytes to text; any other encoding is an error naming the line of the bad byte."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise ExperimentInvalid(
                f"{name} text (byte-order mark {bom.hex(' ').upper()}): save the file as UTF-8",
                path=shown,
                line=1,
                field="document",
            )
    data = data.removeprefix(_UTF8_BOM)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ExperimentInvalid(
            f"not UTF-8: byte 0x{data[exc.start]:02X} at column {column} cannot be decoded "
            "(save the file as UTF-8)",
            path=shown,
            line=line,
            field=section_at(data[: exc.start].decode("utf-8", "replace"), line),
        ) from None
    return text


def section_at(text: str, line: int) -> str:
    """The top-level key whose block holds ``line`` (best effort, for errors without a node)."""
    head = "\n".join(text.split("\n", line)[:line])
    keys = _TOP_KEY.findall(head)
    return cast(str, keys[-1])[:_KEY_CHARS] if keys else "document"


def check_printable(text: str, shown: str | None) -> None:
    bad = _NOT_PRINTABLE.search(text)
    if bad is None:
        return
    line = text.count("\n", 0, bad.start()) + 1
    column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
    raise ExperimentInvalid(
        f"control character U+{ord(bad.group()):04X} at column {column} is not allowed in YAML",
        path=shown,
        line=line,
        field=section_at(text, line),
    )


# --------------------------------------------------------------------------- text -> nodes


def compose_documents(text: str, shown: str | None) -> list[Node]:
    """Every document of ``text`` as a node graph, within the bounds, or ``ExperimentInvalid``.

    Merge keys (``<<``) are already applied to the returned mappings; aliases are shared nodes.
    """
    if len(text) > MAX_BYTES:  # text handed in directly, not through read_text
        raise ExperimentInvalid(
            f"text too large: {len(text):,} characters, the limit is "
            f"{MAX_BYTES // (1024 * 1024)} MiB",
            path=shown, line=1, field="document")
    check_printable(text, shown)
    try:
        return _compose(_CLoader(text), text, shown)
    except _LibyamlTooDeep:
        return _compose(_PyLoader(text), text, shown)


class _LibyamlTooDeep(Exception):
    """libyaml's own nesting limit, hit before our composer could count the depth."""


def _compose(loader: _Composer, text: str, shown: str | None) -> list[Node]:
    try:
        return loader.documents()
    except _Refused as exc:
        raise ExperimentInvalid(
            exc.reason, path=shown, line=exc.line + 1, field=loader.field()
        ) from None
    except _SYNTAX_ERRORS as exc:
        marked: Any = exc
        mark = marked.problem_mark or marked.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = marked.problem or marked.context or "syntax error"
        if isinstance(loader, _CLoader) and _LIBYAML_DEPTH_LIMIT in str(problem):
            raise _LibyamlTooDeep from None
        raise ExperimentInvalid(
            f"invalid YAML: {problem}",
            path=shown,
            line=line,
            field=loader.field() if loader.trail else section_at(text, line),
        ) from None
    except _READER_ERRORS as exc:  # libyaml: position is a byte offset
        reader: Any = exc
        line = text.encode("utf-8", "replace")[: reader.position].count(b"\n") + 1
        raise ExperimentInvalid(
            f"invalid YAML: {reader.reason}", path=shown, line=line, field=section_at(text, line)
        ) from None
    except _ANY_ERRORS as exc:  # pragma: no cover - every parser error carries a mark
        raise ExperimentInvalid(
            f"invalid YAML: {excerpt(str(exc))}", path=shown, line=1, field="document"
        ) from None
    finally:
        loader.dispose()


def to_python(node: Node, shown: str | None) -> Any:
    """The plain Python value (dicts, lists, scalars) of a node ``compose_documents`` returned."""
    constructor = SafeConstructor()
    try:
        return constructor.construct_document(node)
    except yaml.MarkedYAMLError as exc:  # pragma: no cover - the composer refuses these first
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else node.start_mark.line + 1
        raise ExperimentInvalid(
            f"invalid YAML: {exc.problem or exc}", path=shown, line=line, field="document"
        ) from None


_KEY_CHARS = 40  # of one key of the file, where an error's field names it


def _name(anchor: str) -> str:
    """An anchor's name as an error shows it: the file's own text, so bounded."""
    return anchor if len(anchor) <= _KEY_CHARS else anchor[:_KEY_CHARS] + "..."


class _Refused(Exception):
    def __init__(self, mark: Any, reason: str) -> None:
        super().__init__(reason)
        self.line: int = mark.line
        self.reason = reason


class _Composer(Resolver):
    """Our composer over a YAML event stream, with the bounds checked as nodes are built.

    Each composed node reports (node, weight, height): weight is the node count of the subtree
    with every alias expanded, height its depth. Anchors remember both, so an alias costs what
    it expands to, and an alias to a node still being built (a recursive structure) is refused.
    Each event is fetched once and handed down: the per-node cost is what bounds the time.
    """

    get_event: Callable[[], Any]
    dispose: Callable[[], None]

    def __init__(self) -> None:
        Resolver.__init__(self)
        self.anchors: dict[str, tuple[Node, int, int]] = {}
        self.open: set[str] = set()
        self.nodes = 0
        self.trail: list[str | int] = []
        self.checker = SafeConstructor()
        self.next_event: Callable[[], Any] = self.get_event

    def field(self) -> str:
        parts: list[str] = []
        for step in self.trail[:12]:
            if isinstance(step, int):
                parts.append(f"[{step}]")
            else:  # a key of the file: bounded (ExperimentInvalid escapes the whole field)
                key = step if len(step) <= _KEY_CHARS else step[:_KEY_CHARS] + "..."
                parts.append(f".{key}" if parts else key)
        text = "".join(parts) or "document"
        return text + "..." if len(self.trail) > 12 else text

    def documents(self) -> list[Node]:
        self.next_event()  # stream start
        docs: list[Node] = []
        event = self.next_event()
        while not isinstance(event, StreamEndEvent):  # event is a document start
            self.anchors = {}
            node, _, _ = self._node(self.next_event(), 1)
            docs.append(_plain(node))
            self.next_event()  # document end
            event = self.next_event()
        return docs

    def _count(self, weight: int, mark: Any, alias: str | None = None) -> None:
        self.nodes += weight
        if self.nodes > MAX_NODES:
            what = f"alias *{alias} expands the file to" if alias else "the file has"
            raise _Refused(
                mark,
                f"{what} more than {MAX_NODES} YAML nodes (each use of an alias or merge key "
                "counts as a copy)",
            )

    def _node(self, event: Any, depth: int) -> tuple[Node, int, int]:
        if depth > MAX_DEPTH:
            raise _Refused(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(event, AliasEvent):
            return self._alias(event, depth)
        anchor: str | None = event.anchor
        if anchor is not None:
            if anchor in self.anchors:
                first = self.anchors[anchor][0].start_mark.line + 1
                raise _Refused(event.start_mark, f"duplicate anchor &{_name(anchor)} (first "
                                                 f"defined at line {first})")
            self.open.add(anchor)
        if isinstance(event, ScalarEvent):
            done = self._scalar(event)
        elif isinstance(event, SequenceStartEvent):
            done = self._sequence(event, depth)
        elif isinstance(event, MappingStartEvent):
            done = self._mapping(event, depth)
        else:  # pragma: no cover - the parser only yields node events here
            raise _Refused(event.start_mark, f"unexpected {type(event).__name__}")
        if anchor is not None:
            self.open.discard(anchor)
            self.anchors[anchor] = done
        return done

    def _alias(self, event: Any, depth: int) -> tuple[Node, int, int]:
        anchor: str = event.anchor
        name = _name(anchor)
        if anchor in self.open:
            raise _Refused(
                event.start_mark,
                f"alias *{name} refers to a node that contains it (recursive YAML is not allowed)",
            )
        if anchor not in self.anchors:
            raise _Refused(event.start_mark, f"alias *{name} has no anchor &{name} before it")
        node, weight, height = self.anchors[anchor]
        if depth + height - 1 > MAX_DEPTH:
            raise _Refused(
                event.start_mark,
                f"alias *{name} nests deeper than {MAX_DEPTH} levels once expanded",
            )
        self._count(weight, event.start_mark, name)
        return node, weight, height

    def _tag(self, event: Any, kind: type[Node], allowed: set[str], value: Any) -> str:
        tag: str | None = event.tag
        if tag is None or tag == "!":
            untyped: Any = self.resolve
            return cast(str, untyped(kind, value, event.implicit))
        if tag not in allowed:
            raise _Refused(
                event.start_mark,
                f"unsupported YAML tag {excerpt(tag.replace(_YAML, '!!'))} (plain YAML only: "
                f"{', '.join(sorted(t.replace(_YAML, '!!') for t in allowed))} here)",
            )
        return tag

    def _scalar(self, event: Any) -> tuple[Node, int, int]:
        value: str = event.value
        tag = self._tag(event, ScalarNode, _SCALAR_TAGS, value)
        if tag == _VALUE_TAG:  # a plain '=': only meaningful to YAML 1.1 processors
            tag = STR_TAG
        mark: Any = event.start_mark
        node = ScalarNode(tag, value, mark, mark, event.style)
        self._count(1, mark)
        if tag in _SAFE_IMPLICIT and event.tag is None:
            return node, 1, 1
        if tag == _INT_TAG and value.isascii() and value.isdigit() and len(value) < 100:
            return node, 1, 1
        if tag != STR_TAG and tag != MERGE_TAG:
            self._check_scalar(node)
        return node, 1, 1

    def _check_scalar(self, node: ScalarNode) -> None:
        """Build the value once now, so no converter can fail on it later."""
        try:
            self.checker.construct_object(node)
        except (yaml.YAMLError, ValueError, ArithmeticError, LookupError, TypeError,
                AttributeError):
            shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
            raise _Refused(
                node.start_mark, f"cannot read {shown!r} as {node.tag.replace(_YAML, '!!')}"
            ) from None
        finally:
            self.checker.constructed_objects.clear()
            self.checker.recursive_objects.clear()

    def _sequence(self, event: Any, depth: int) -> tuple[Node, int, int]:
        tag = self._tag(event, SequenceNode, {_SEQ_TAG}, None)
        items: list[Node] = []
        mark: Any = event.start_mark
        node = SequenceNode(tag, items, mark, mark, event.flow_style)
        self._count(1, mark)
        weight, height = 1, 1
        trail = self.trail
        event = self.next_event()
        while not isinstance(event, SequenceEndEvent):
            trail.append(len(items))
            item, w, h = self._node(event, depth + 1)
            trail.pop()
            items.append(_plain(item))
            weight += w
            if h >= height:
                height = h + 1
            event = self.next_event()
        return node, weight, height

    def _mapping(self, event: Any, depth: int) -> tuple[Node, int, int]:
        tag = self._tag(event, MappingNode, {_MAP_TAG}, None)
        pairs: list[tuple[Node, Node]] = []
        mark: Any = event.start_mark
        node = MappingNode(tag, pairs, mark, mark, event.flow_style)
        self._count(1, mark)
        weight, height = 1, 1
        merges: list[Node] = []
        trail = self.trail
        event = self.next_event()
        while not isinstance(event, MappingEndEvent):
            key, kw, _ = self._node(event, depth + 1)
            if not isinstance(key, ScalarNode):
                raise _Refused(
                    key.start_mark,
                    "a key must be a plain value, not a "
                    + ("list" if isinstance(key, SequenceNode) else "mapping"),
                )
            trail.append(key.value)
            value, vw, vh = self._node(self.next_event(), depth + 1)
            trail.pop()
            weight += kw + vw
            if key.tag == MERGE_TAG:
                merges.append(value)
                # merged pairs sit at this level: as deep as the source's own pairs, not deeper
                vh = vh - 1 if isinstance(value, MappingNode) else vh - 2
            else:
                pairs.append((key, _plain(value)))
            if vh >= height:
                height = vh + 1
            event = self.next_event()
        if merges:
            trail.append("<<")
            node.value = _merged(pairs, merges)
            trail.pop()
        return node, weight, height


class _PyLoader(_PyEvents, _Composer):
    def __init__(self, text: str) -> None:
        _PyEvents.__init__(self, text)
        _Composer.__init__(self)


class _CLoader(_CEvents, _Composer):  # type: ignore[misc]
    def __init__(self, text: str) -> None:
        _CEvents.__init__(self, text)
        _Composer.__init__(self)


def _plain(node: Node) -> Node:
    """``<<`` is a merge key only in key position; anywhere else it is the string '<<'."""
    if node.tag == MERGE_TAG:
        node.tag = STR_TAG
    return node


def _merged(own: list[tuple[Node, Node]], merges: Sequence[Node]) -> list[tuple[Node, Node]]:
    """YAML merge keys: own keys win, then earlier sources over later ones; no duplicates are
    copied, so a chain of merges cannot grow the mapping beyond its distinct keys."""
    sources: list[Node] = []
    for value in merges:
        if isinstance(value, SequenceNode):
            sources.extend(value.value)
        else:
            sources.append(value)
    seen = {(k.tag, k.value) for k, _ in own if isinstance(k, ScalarNode)}
    result = list(own)
    for source in sources:
        if not isinstance(source, MappingNode):
            raise _Refused(
                source.start_mark,
                "a merge key (<<) takes a mapping or a list of mappings, e.g. <<: *defaults",
            )
        for key, value in source.value:
            ident = (key.tag, key.value)
            if ident not in seen:
                seen.add(ident)
                result.append((key, value))
    return result
