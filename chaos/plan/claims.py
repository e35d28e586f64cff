"""What an experiment holds while it runs, so that two whose faults could touch each other never
overlap (the scheduler in chaos.plugin.parallel takes these as locks).

The rule is read from the declarations, not from a list of names: a fault type says whether it
needs the cluster to itself (``FaultSpec.exclusive``, with ``exclusive_why``), and the workload
names what else only one run may hold at a time: a fixed NodePort (a ``nodePort: auto`` run
picks a free one instead), a cluster-scoped object its manifests create, an existing workload
a game day points at.
"""

from __future__ import annotations

from dataclasses import dataclass

from chaos.model.experiment import Experiment


@dataclass(frozen=True, slots=True)
class Claims:
    # why the run needs the cluster to itself, one line per fault type that does; empty: it
    # shares the cluster with other experiments that share it
    exclusive: tuple[str, ...]
    # named things only one run may hold at a time ("nodePort-30080", "ClusterRole/reader")
    keys: frozenset[str]

    @property
    def shares_cluster(self) -> bool:
        return not self.exclusive

    def describe(self) -> str:
        """One line for the log and the report: what this run held and why."""
        held = "the cluster alone" if self.exclusive else "the cluster shared"
        parts = [held, *sorted(self.keys)]
        why = f" ({'; '.join(self.exclusive)})" if self.exclusive else ""
        return ", ".join(parts) + why


def claims_of(exp: Experiment) -> Claims:
    exclusive: list[str] = []
    for fault in exp.faults:
        line = f"{fault.type}: {fault.exclusive_why}"
        if fault.exclusive and line not in exclusive:
            exclusive.append(line)
    keys: set[str] = set()
    workload = exp.workload
    if isinstance(workload.node_port, int) and exp.load.url is None:
        keys.add(node_port_key(workload.node_port))
    keys.update(f"{o.kind}/{o.name}" for o in workload.cluster_objects)
    if workload.existing is not None:
        # two game-day experiments on one running workload would each see the other's faults
        keys.add(f"existing/{workload.existing.namespace}/"
                 f"{workload.selector.to_label_selector()}")
    return Claims(exclusive=tuple(exclusive), keys=frozenset(keys))


def conflict(a: Claims, b: Claims) -> str | None:
    """Why two runs may not overlap, or None when they may."""
    if a.exclusive or b.exclusive:
        return "; ".join((*a.exclusive, *b.exclusive))
    common = sorted(a.keys & b.keys)
    return f"both hold {', '.join(common)}" if common else None


def node_port_key(port: int) -> str:
    """The key a fixed ``nodePort`` holds, and an ``auto`` pick of the same port too."""
    return f"nodePort-{port}"
