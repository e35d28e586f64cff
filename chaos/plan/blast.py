"""Blast-radius rules: may this fault hit these targets? Pure, over resolved targets."""

from __future__ import annotations

import math
from collections.abc import Sequence

from chaos.model.experiment import BlastRadius


def pod_violations(limits: BlastRadius, fault: str, targets: Sequence[str],
                   replicas: int) -> list[str]:
    problems = []
    if limits.max_pods is not None and len(targets) > limits.max_pods:
        problems.append(f"{fault} would hit {len(targets)} pods ({', '.join(targets)}); the "
                        f"blast radius allows {limits.max_pods}")
    if limits.max_percent is not None and replicas > 0:
        share = 100.0 * len(targets) / replicas
        if share > limits.max_percent + 1e-9:
            allowed = math.floor(limits.max_percent * replicas / 100.0)
            problems.append(f"{fault} would hit {len(targets)} of {replicas} pods "
                            f"({share:.0f} %); the blast radius allows {limits.max_percent:g} % "
                            f"({allowed} pod(s))")
    return problems


def node_violations(limits: BlastRadius, fault: str, targets: Sequence[str],
                    control_plane: Sequence[str], named: Sequence[str]) -> list[str]:
    """``control_plane``: which of ``targets`` are control-plane nodes; ``named``: the nodes the
    experiment lists by name (the only way a control-plane node may be hit)."""
    problems = []
    if len(targets) > limits.max_nodes:
        problems.append(f"{fault} would hit {len(targets)} nodes ({', '.join(targets)}); the "
                        f"blast radius allows {limits.max_nodes} at a time (raise maxNodes to "
                        "allow more)")
    unnamed = [n for n in control_plane if n not in named]
    if unnamed:
        problems.append(f"{fault} would hit control-plane node(s) {', '.join(unnamed)}, which "
                        "only an experiment naming them in nodes: may do")
    return problems
