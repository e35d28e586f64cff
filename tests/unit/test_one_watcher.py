"""The Observer is the only watcher of pods, endpoints and nodes: faults read its snapshot and
wait on its changes, never poll those resources themselves (a second watcher once
double-counted restarts)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FAULTS = Path(__file__).resolve().parents[2] / "chaos" / "faults"
# chaos.k8s readers of what the Observer watches (the workload's pods, EndpointSlices, nodes)
WATCHED_READS = frozenset({
    "read_pod", "restart_count", "ready_endpoint_pods", "list_pods", "running_pods",
    "get_node", "list_nodes", "wait_node_change", "wait_node_ready",
})


def polling_calls(source: str) -> list[str]:
    """Calls of WATCHED_READS inside a while loop: polling, where a wait on the Observer
    belongs."""
    found = []
    for loop in (n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.While)):
        for node in ast.walk(loop):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in WATCHED_READS:
                    found.append(f"line {node.lineno}: {name}()")
    return found


@pytest.mark.source_rules
@pytest.mark.parametrize("path", sorted(FAULTS.glob("*.py")), ids=lambda p: p.name)
def test_faults_do_not_poll_what_the_observer_watches(path: Path) -> None:
    assert polling_calls(path.read_text()) == []


def test_the_check_catches_a_polling_loop() -> None:
    source = (
        "def observe(ctx):\n"
        "    while True:\n"
        "        ready = kprobes.ready_endpoint_pods(ctx.kube, ctx.namespace)\n"
        "        ctx.clock.sleep(0.5)\n"
    )
    assert polling_calls(source) == ["line 3: ready_endpoint_pods()"]
