"""Only the node runtime's Docker implementation (chaos/node/kind.py) runs docker at run time:
faults, undo handlers and probes reach nodes through chaos.node.runtime.NodeRuntime, so that
another way to reach nodes (the in-cluster agent) needs no change outside chaos/node.
Provisioning (chaos/cluster/) keeps its own docker use."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "chaos"
ALLOWED = {"node/kind.py"}
MODULES = sorted(p for p in PKG.rglob("*.py")
                 if p.relative_to(PKG).parts[0] != "cluster"
                 and str(p.relative_to(PKG)) not in ALLOWED)


def _is_docker(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value == "docker"


def docker_runs(source: str) -> list[str]:
    """Where ``source`` runs docker: a call of a ``docker`` helper, a call handed the
    ``"docker"`` argument (``which("docker")``, ``run(["docker", ...])``), or an argv list that
    starts with it."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "docker":
                found.append(f"line {node.lineno}: docker helper {name}()")
            args = [*node.args, *(k.value for k in node.keywords)]
            if any(_is_docker(a.value if isinstance(a, ast.Starred) else a) for a in args):
                found.append(f"line {node.lineno}: {name}() handed 'docker'")
        elif isinstance(node, ast.List | ast.Tuple) and node.elts and _is_docker(node.elts[0]):
            found.append(f"line {node.lineno}: argv starting with 'docker'")
    return sorted(found)


@pytest.mark.source_rules
@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_only_the_docker_node_runtime_runs_docker(path: Path) -> None:
    assert docker_runs(path.read_text()) == []


def test_the_check_catches_each_way_of_running_docker() -> None:
    source = (
        "import shutil, subprocess\n"
        "def f(node, rt):\n"
        "    subprocess.run(['docker', 'exec', node, 'true'], check=False)\n"
        "    knodes.docker('pause', node)\n"
        "    argv = ('docker', 'start', node)\n"
        "    shutil.which('docker')\n"
        "    subprocess.run(args=['docker', 'ps'])\n"
    )
    assert docker_runs(source) == [
        "line 3: argv starting with 'docker'", "line 4: docker helper docker()",
        "line 5: argv starting with 'docker'", "line 6: which() handed 'docker'",
        "line 7: argv starting with 'docker'"]


def test_naming_the_access_path_is_not_running_docker() -> None:
    source = ('ACCESS = "docker"\n'
              'def f(rt):\n'
              '    return rt.access == "docker" or rt.exec("w1", "true")\n'
              '"""docker exec, in a docstring"""\n')
    assert docker_runs(source) == []


def test_the_rule_reads_every_run_time_package() -> None:
    read = {p.relative_to(PKG).parts[0] for p in MODULES}
    assert {"faults", "k8s", "node", "engine", "plugin", "cli", "load"} <= read
    assert "cluster" not in read and (PKG / "node" / "kind.py") not in MODULES
