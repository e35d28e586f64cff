"""The pure layers must never import the cluster client or locust (house style rule 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "chaos"
PURE = [
    *sorted((PKG / "model").glob("*.py")),
    *sorted((PKG / "plan").glob("*.py")),
    *sorted((PKG / "report").glob("*.py")),
    PKG / "errors.py",
    PKG / "clock.py",
]
FORBIDDEN = ("kubernetes", "locust", "gevent", "chaos.k8s", "chaos.faults", "chaos.cluster")


@pytest.mark.parametrize("path", PURE, ids=[str(p.relative_to(PKG)) for p in PURE])
def test_pure_module_imports(path: Path) -> None:
    tree = ast.parse(path.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    bad = [m for m in names if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert not bad, f"{path.name} imports {bad}"
