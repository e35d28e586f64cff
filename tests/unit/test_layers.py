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


@pytest.mark.source_rules
@pytest.mark.parametrize("path", PURE, ids=[str(p.relative_to(PKG)) for p in PURE])
def test_pure_module_imports(path: Path) -> None:
    tree = ast.parse(path.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    bad = [m for m in names if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert not bad, f"{path.name} imports {bad}"


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    return names + [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]


@pytest.mark.source_rules
def test_only_chaos_k8s_imports_the_kubernetes_client() -> None:
    offenders = {
        str(p.relative_to(PKG)): [m for m in _imports(p) if m.split(".")[0] == "kubernetes"]
        for p in PKG.rglob("*.py") if "k8s" not in p.relative_to(PKG).parts
    }
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.source_rules
def test_only_the_locust_subprocess_files_import_locust() -> None:
    allowed = {"load/locustfile.py", "load/kube_chaos_capture.py", "load/openloop.py"}
    offenders = {
        str(p.relative_to(PKG)): [m for m in _imports(p) if m.split(".")[0] in ("locust", "gevent")]
        for p in PKG.rglob("*.py") if str(p.relative_to(PKG)) not in allowed
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_arrival_schedule_is_loadable_by_path_in_the_locust_process() -> None:
    """openloop.py loads arrivals.py by file path (the subprocess never imports chaos): it must
    import nothing but the standard library."""
    import sys

    names = _imports(PKG / "load" / "arrivals.py")
    assert all(n.split(".")[0] in sys.stdlib_module_names or n == "__future__" for n in names)
