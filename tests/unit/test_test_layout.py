"""pytest imports test modules by basename (rootdir-relative, no packages): two test files with
one name in different folders break collection of the whole `make test`, though each folder
alone collects fine (as a developer running one folder sees it)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_module_has_its_own_basename() -> None:
    names = Counter(p.name for p in TESTS.rglob("test_*.py") if "corpus" not in p.parts)
    assert [n for n, count in names.items() if count > 1] == []
