"""Which pods or nodes a fault hits: one seeded choice, used by the fault when it acts and by
`kube-chaos plan` (and the blast-radius check) before it does, so both see the same targets."""

from __future__ import annotations

from dataclasses import dataclass

from chaos.errors import NotEnoughTargets
from chaos.k8s import nodes as knodes
from chaos.k8s import pods as kpods
from chaos.k8s.client import Kube
from chaos.model.faults import FaultSpec, NodeFault, NodeSelection, PodFault
from chaos.model.selector import Selector
from chaos.plan.select import choose


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a fault's targets are chosen from, and with which seed."""

    kube: Kube
    namespace: str
    seed: int
    index: int  # the fault's position in the experiment (salts its choice)
    workload_selector: Selector


@dataclass(frozen=True, slots=True)
class Targets:
    kind: str  # "Pod" | "Node"
    names: tuple[str, ...]
    control_plane: tuple[str, ...] = ()  # the control-plane nodes among names


def pod_targets(scope: Scope, spec: PodFault, round_no: int = 0) -> tuple[str, ...]:
    running = kpods.running_pods(scope.kube, scope.namespace, spec.selector)
    return choose([p.name for p in running], seed=scope.seed,
                  salt=spec.salt(scope.index, round_no), count=spec.count,
                  percent=spec.percent)


def candidate_nodes(scope: Scope, selection: NodeSelection) -> list[str]:
    """Names of the nodes a node fault may hit.

    Explicit names are taken as given (the control plane too, since someone asked for it);
    label selection and ``pods_of`` (the default, with the workload's selector) never offer the
    control-plane node.
    """
    if selection.nodes:
        known = {n.name for n in knodes.list_nodes(scope.kube)}
        missing = [n for n in selection.nodes if n not in known]
        if missing:
            raise NotEnoughTargets(f"no such node(s): {', '.join(missing)}")
        return list(selection.nodes)
    if selection.node_selector is not None:
        found = knodes.list_nodes(scope.kube, selection.node_selector.to_label_selector())
        return [n.name for n in found if not n.control_plane]
    selector: Selector = selection.pods_of or scope.workload_selector
    workers = {n.name for n in knodes.list_nodes(scope.kube) if not n.control_plane}
    hosting = {p.node for p in kpods.list_pods(scope.kube, scope.namespace, selector)
               if p.node and not p.deleting}
    return sorted(hosting & workers)


def node_targets(scope: Scope, spec: NodeFault) -> tuple[str, ...]:
    return choose(candidate_nodes(scope, spec.nodes), seed=scope.seed,
                  salt=spec.salt(scope.index), count=spec.count)


def control_plane_targets(scope: Scope, spec: FaultSpec
                          ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the chosen control-plane nodes, all of them), for a fault that ``acts_on`` the control
    plane: its type is the request to hit it, so every control-plane node is a candidate."""
    members = tuple(sorted(n.name for n in knodes.list_nodes(scope.kube) if n.control_plane))
    return choose(members, seed=scope.seed, salt=spec.salt(scope.index),
                  count=spec.nodes_hit() or 1), members


def resolve(scope: Scope, spec: FaultSpec) -> Targets | None:
    """The targets ``spec`` would hit now (by what its type ``acts_on``); None for a fault
    type that targets neither pods nor nodes."""
    if isinstance(spec, PodFault):
        return Targets("Pod", pod_targets(scope, spec))
    if isinstance(spec, NodeFault):
        names = node_targets(scope, spec)
        control = {n.name for n in knodes.list_nodes(scope.kube) if n.control_plane}
        return Targets("Node", names, tuple(n for n in names if n in control))
    if spec.acts_on == "control-plane":
        names, _ = control_plane_targets(scope, spec)
        return Targets("Node", names, names)
    return None
