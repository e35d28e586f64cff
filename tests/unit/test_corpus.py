"""Hostile input, bounded: every file of the corpus fails cleanly, quickly and in little memory.

Each ``corpus/*.yaml`` is an experiment file that is wrong in one way (its YAML, its bytes, an
expansion bomb, a section, a tag, a contradiction, or a manifest it deploys from
``corpus/manifests/``). Its first line says which error it must produce::

    # expect: <file relative to corpus>:<line>: <field>: <fragment of the reason>

(UTF-16/32 files carry that line in their own encoding.) The corpus refuses a value of every
field of the format: each field of the schema is named by some file's expectation, and each
fault or guard type's fields by files named ``fault-<type>-<field>*.yaml`` /
``guard-<type>-<field>*.yaml``; ``style-*.yaml`` are experiments in the YAML styles the plugin
once skipped (JSON, ``apiVersion :``, after a 4 KiB header). Loading it must raise
``ExperimentInvalid`` and nothing else, with a ``file:line: field: reason`` message, within
100 MB (an expansion bomb is a correctness failure). The 1 s time bound is a speed figure, so it
lives in benchmarks/bench_hostile_input.py, not in a timed test.
"""

from __future__ import annotations

import json
import re
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaos.errors import ExperimentInvalid
from chaos.model.parse import load_experiment
from chaos.model.sniff import is_experiment
from chaos.model.yamlsafe import MAX_BYTES

CORPUS = Path(__file__).resolve().parent / "corpus"
FILES = sorted(CORPUS.glob("*.yaml"))
MESSAGE = re.compile(r"(?P<path>.+?):(?P<line>[0-9]+): (?P<field>\S+): (?P<reason>.+)", re.S)
EXPECT = re.compile(r"# expect: " + MESSAGE.pattern, re.S)
MAX_PEAK_BYTES = 100 * 1024 * 1024
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16-be"))


def _expectation(path: Path) -> re.Match[str]:
    raw = path.read_bytes()[:4096].removeprefix(b"\xef\xbb\xbf")
    encoding = next((enc for bom, enc in _BOMS if raw.startswith(bom)), "utf-8")
    if encoding == "utf-16-be":
        raw = raw[2:]
    else:
        raw = raw.split(b"\n", 1)[0] if encoding == "utf-8" else raw
    first = raw.decode(encoding, errors="replace").lstrip("\ufeff").split("\n", 1)[0]
    match = EXPECT.fullmatch(first)
    assert match, f"{path.name}: first line must be '# expect: <file>:<line>: <field>: <text>'"
    return match


def test_the_corpus_is_large_and_covers_manifests() -> None:
    assert len(FILES) >= 200
    manifests = sorted((CORPUS / "manifests").glob("m-*.yaml"))
    named = {_expectation(p)["path"] for p in FILES}
    assert len(manifests) >= 15
    assert {f"manifests/{m.name}" for m in manifests} - named <= {
        # these break the experiment's cross-checks, not the manifest's own reading
        "manifests/m-service-clusterip.yaml",
        "manifests/m-service-no-nodeport.yaml",
        "manifests/m-service-selects-nothing.yaml",
        "manifests/m-hpa-pods-unknown.yaml",
    }
    assert any(p.stat().st_size > MAX_BYTES for p in FILES), "one file must exceed the size cap"


def _schema_fields(schema: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Every field path the schema declares, indices left out (``spec.load.steps.rate``); the
    faults' and guards' own fields are left to the per-type check below."""
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        yield path
        for part in (sub, sub.get("items", {})):
            if "$ref" not in part:
                yield from _schema_fields(part, path + ".")


def _covered(field: str) -> str:
    return re.sub(r"\[[0-9]+\]", "", field)


def test_the_corpus_refuses_a_value_of_every_field_of_the_format() -> None:
    """Each field of the schema (so of the format: the schema and the parser agree, see
    test_schema.py) has a corpus file whose error names it; each fault type's and guard type's
    fields have one each, named ``fault-<type>-<field>*.yaml`` / ``guard-<type>-<field>*.yaml``."""
    schema = json.loads((Path(__file__).resolve().parents[2] / "chaos" / "schema"
                         / "experiment.schema.json").read_text())
    expected = {p.name: _expectation(p) for p in FILES}
    named = {_covered(e["field"]) for e in expected.values()}
    required = set(_schema_fields(schema)) | {
        f"spec.abort.guards.{k}" for k in ("type", "name", "onError")}
    assert required - named == set()

    missing = []
    for kind, variants in (("fault", schema["$defs"]["fault"]["oneOf"]),
                           ("guard", schema["$defs"]["guard"]["oneOf"])):
        where = "spec.faults[0]" if kind == "fault" else "spec.abort.guards[0]"
        for variant in variants:
            type_ = variant["properties"]["type"]["const"]
            for key in set(variant["properties"]) - {"type", "name", "onError"}:
                if not any(name.startswith(f"{kind}-{type_}-{key}")
                           and e["field"].startswith(f"{where}.{key}")
                           for name, e in expected.items()):
                    missing.append(f"{kind}-{type_}-{key}")
    assert missing == []


def test_the_plugin_collects_every_corpus_file_claiming_to_be_an_experiment() -> None:
    """So each of these errors reaches the user of a directory run, none vanishes. The few
    files that do not say they are experiments (no apiVersion: kube-chaos/...) are any YAML to
    the plugin; loading them directly still refuses them."""
    not_claiming = {"empty.yaml", "only-null.yaml", "root-list.yaml", "root-scalar.yaml",
                    "too-many-documents.yaml", "wrong-apiversion.yaml"}
    assert {p.name for p in FILES if not is_experiment(p)} == not_claiming


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_corpus_file_fails_with_file_line_field_within_bounds(path: Path) -> None:
    expected = _expectation(path)

    with pytest.raises(ExperimentInvalid) as info:  # anything else escapes and fails the test
        load_experiment(path)

    message = str(info.value)
    got = MESSAGE.fullmatch(message)
    assert got, f"not '<file>:<line>: <field>: <reason>': {message}"
    assert Path(got["path"]) == CORPUS / expected["path"], message
    assert int(got["line"]) >= 1
    assert (got["line"], got["field"]) == (expected["line"], expected["field"]), message
    assert expected["reason"] in got["reason"], message
    assert info.value.__traceback__ is not None and "Traceback" not in message

    tracemalloc.start()
    try:
        with pytest.raises(ExperimentInvalid):
            load_experiment(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MAX_PEAK_BYTES, f"{peak / 1e6:.1f} MB"
