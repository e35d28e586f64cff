"""The pure layers must never import the cluster client or locust (house style rule 1)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

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


# --- the package's layers and cycles (the import-linter contracts of pyproject.toml) -----------


def _layers_contract() -> list[str]:
    import tomllib

    config = tomllib.loads((PKG.parent / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    [layers] = [c for c in contracts if c["name"].startswith("Layers:")]
    return [name.strip() for line in layers["layers"] for name in line.split("|")]


def test_every_package_of_chaos_is_in_a_layer() -> None:
    """A new package (or top-level module) must be placed: the contract covers them all."""
    here = {p.stem if p.is_file() else p.name for p in PKG.iterdir()
            if (p.is_dir() and (p / "__init__.py").exists())
            or (p.suffix == ".py" and p.name != "__init__.py")}
    placed = {name.removeprefix("chaos.") for name in _layers_contract()}
    assert here - placed == set(), "add them to the layers contract in pyproject.toml"
    assert placed - here == set(), "the contract names packages that do not exist"


def sibling_cycles(graph: Any, top: str) -> list[list[str]]:
    """Cycles among siblings at every level under ``top`` (each sibling with everything below
    it): a cycle hidden by a function-level import counts, as it does at run time."""
    found: list[list[str]] = []
    parents = [top, *sorted(m for m in graph.find_descendants(top) if graph.find_children(m))]
    for parent in parents:
        kids = sorted(graph.find_children(parent))
        edges = {a: [b for b in kids if b != a and graph.direct_import_exists(
            importer=a, imported=b, as_packages=True)] for a in kids}
        found += [sorted(c) for c in _components(edges) if len(c) > 1]
    return found


def _components(edges: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan), iteration order fixed by ``edges``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: list[str] = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            out.append(component)

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_chaos_has_no_import_cycle_between_siblings() -> None:
    """No two modules or packages side by side import each other, directly or round a loop
    (kind <-> metrics_server and cli <-> cli_run were two, hidden in functions). Imports only
    the type checker follows (under TYPE_CHECKING) run nothing and are left out."""
    import grimp

    graph = grimp.build_graph("chaos", cache_dir=None, exclude_type_checking_imports=True)
    assert sibling_cycles(graph, "chaos") == []


def test_a_cycle_hidden_in_a_function_is_found(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import grimp

    pkg = tmp_path / "cyclic"
    (pkg / "inner").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "inner" / "__init__.py").write_text("")
    (pkg / "inner" / "up.py").write_text("def f():\n    from cyclic.inner import down\n")
    (pkg / "inner" / "down.py").write_text("from cyclic.inner import up\n")
    (pkg / "leaf.py").write_text("import cyclic.inner.up\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("cyclic", cache_dir=None)
    assert sibling_cycles(graph, "cyclic") == [["cyclic.inner.down", "cyclic.inner.up"]]
    (pkg / "inner" / "up.py").write_text("def f():\n    return 1\n")  # broken: no cycle left
    graph = grimp.build_graph("cyclic", cache_dir=None)
    assert sibling_cycles(graph, "cyclic") == []


def test_run_time_code_cannot_reach_provisioning() -> None:
    """The engine gets the in-cluster workers' image through a port (RunEnv.worker_image):
    no chain of imports leads from it, the faults or the load to chaos.cluster."""
    import grimp

    graph = grimp.build_graph("chaos", cache_dir=None)
    for package in ("chaos.engine", "chaos.faults", "chaos.load", "chaos.k8s"):
        assert graph.find_shortest_chain(importer=package, imported="chaos.cluster",
                                         as_packages=True) is None, package
