"""Hostile input, bounded: every file of the corpus fails cleanly, quickly and in little memory.

Each ``corpus/*.yaml`` is an experiment file that is wrong in one way (its YAML, its bytes, an
expansion bomb, a section, a tag, a contradiction, or a manifest it deploys from
``corpus/manifests/``). Its first line says which error it must produce::

    # expect: <file relative to corpus>:<line>: <field>: <fragment of the reason>

(UTF-16/32 files carry that line in their own encoding.) Loading it must raise
``ExperimentInvalid`` and nothing else, with a ``file:line: field: reason`` message, within
100 MB (an expansion bomb is a correctness failure). The 1 s time bound is a speed figure, so it
lives in benchmarks/bench_hostile_input.py, not in a timed test.
"""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

import pytest

from chaos.errors import ExperimentInvalid
from chaos.model.parse import load_experiment
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
    assert len(FILES) >= 60
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
