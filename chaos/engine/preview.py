"""`kube-chaos plan`: resolve everything an experiment would do, change nothing.

For each experiment: the cluster and namespace, the seed, the concrete pods and nodes each fault
would hit (for a workload that is already running), the PodDisruptionBudgets and whether a drain
would be blocked, every permission the run needs that this identity lacks, the blast-radius
verdict and the load target. The resolved content is hashed; `kube-chaos run --plan` resolves it
again and refuses to start when anything differs from what was reviewed.

An experiment is identified by its file's resolved path and its content's hash, never by the
spelling of the path on the command line: `kube-chaos plan gd/` and the pytest run it hands
`gd/x.yaml` to as an absolute path name the same file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaos.errors import ChaosError, SafetyRefused
from chaos.faults.targets import Scope, candidate_nodes, resolve
from chaos.k8s import access
from chaos.k8s import nodes as knodes
from chaos.k8s import pods as kpods
from chaos.k8s.client import Kube
from chaos.k8s.safety import refuse_unless_ours
from chaos.k8s.workload import namespace_labels
from chaos.load.target import allowed_hosts, check_target
from chaos.model.experiment import PROTECTED_LABEL, BlastRadius, Experiment
from chaos.model.faults import NodeFault, PodFault
from chaos.plan import blast, permissions
from chaos.plan.drain import plan_drain

# 2: ``file`` is the experiment file's resolved path (version 1 kept the path as typed, so a
# relative plan never matched the run's absolute path)
PLAN_VERSION = 2


@dataclass(frozen=True)
class FaultPlan:
    index: int
    type: str
    kind: str | None  # "Pod" | "Node"
    candidates: tuple[str, ...] | None  # what the seed chooses from (None: known at run time)
    targets: tuple[str, ...] | None
    note: str = ""
    drain_blocked_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExperimentPlan:
    experiment: str
    file: str | None
    file_sha256: str | None
    context: str
    server: str
    namespace: str
    seed: int
    load_url: str
    faults: tuple[FaultPlan, ...]
    pdbs: tuple[tuple[str, int], ...]  # (name, disruptionsAllowed)
    missing_permissions: tuple[str, ...]
    problems: tuple[str, ...] = field(default=())

    def digest(self) -> str:
        """What was reviewed: everything but the problems list (which is derived)."""
        body = {k: v for k, v in asdict(self).items() if k != "problems"}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _file_digest(path: Path | None) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path and path.is_file() else None


def experiment_identity(path: Path | None) -> tuple[str | None, str | None]:
    """(resolved path, sha256 of the content) of an experiment file: what a plan compares, so
    a relative and an absolute spelling of one file agree, and an edited or another file
    does not. (None, None) for an experiment built in Python."""
    if path is None:
        return None, None
    return str(path.resolve()), _file_digest(path)


def plan_experiment(exp: Experiment, kube: Kube, *, seed: int,
                    allow_contexts: tuple[str, ...] = (), allow_hosts: tuple[str, ...] = (),
                    limits: BlastRadius | None = None) -> ExperimentPlan:
    from chaos.engine.phases import load_url

    seed = exp.seed if exp.seed is not None else seed
    existing = exp.workload.existing
    namespace = existing.namespace if existing else "(a new namespace, created at run time)"
    problems: list[str] = []
    try:
        refuse_unless_ours(kube, allow_contexts)  # the same safety gate a run passes
    except SafetyRefused as exc:
        problems.append(str(exc))
    url = load_url(exp)
    try:
        check_target(url, allowed_hosts(allow_hosts))
    except SafetyRefused as exc:
        problems.append(str(exc))
    if exp.workload.node_port == "auto" and exp.load.url is None:
        url += ":<nodePort: auto, a free published port picked at run time>"
    merged = exp.blast_radius if limits is None else exp.blast_radius.merged(limits)
    faults = []
    for index, spec in enumerate(exp.faults):
        faults.append(_plan_fault(kube, exp, spec, index, seed, merged, problems))
    pdbs: tuple[tuple[str, int], ...] = ()
    if existing is not None:
        pdbs = tuple(_pdbs(kube, existing.namespace))
        if namespace_labels(kube, existing.namespace).get(PROTECTED_LABEL) == "true":
            problems.append(f"namespace {existing.namespace} is labelled {PROTECTED_LABEL}=true: "
                            "no experiment may target it")
    kinds: list[str] = []
    if existing is None:
        from chaos.k8s.workload import read_manifests

        kinds = [str(d.get("kind")) for _, d in read_manifests(exp.workload.manifests)]
    need = permissions.needed(exp, existing.namespace if existing else "default", kinds)
    if existing is None:  # the namespace is created at run time: review cluster-wide
        need = sorted({permissions.Permission(p.verb, p.group, p.resource, None)
                       for p in need}, key=permissions.Permission.key)
    try:
        lacking = tuple(str(p) for p in access.missing(kube, need))
    except ChaosError as exc:
        lacking = (f"(could not review permissions: {exc})",)
    problems += [f"missing permission: {p}" for p in lacking]
    file, file_sha256 = experiment_identity(exp.path)
    return ExperimentPlan(
        experiment=exp.name, file=file, file_sha256=file_sha256, context=kube.context,
        server=str(kube.api.configuration.host), namespace=namespace, seed=seed, load_url=url,
        faults=tuple(faults), pdbs=pdbs, missing_permissions=lacking,
        problems=tuple(problems))


def _plan_fault(kube: Kube, exp: Experiment, spec: Any, index: int, seed: int,
                limits: BlastRadius, problems: list[str]) -> FaultPlan:
    existing = exp.workload.existing
    kind = "Node" if isinstance(spec, NodeFault) else "Pod" if isinstance(spec, PodFault) else None
    if existing is None and not (isinstance(spec, NodeFault) and spec.nodes.nodes):
        among = ("the nodes hosting the pods" if isinstance(spec, NodeFault) else "the pods")
        return FaultPlan(index, spec.type, kind, None, None,
                         note=f"chosen at run time, among {among} the manifests create")
    scope = Scope(kube, existing.namespace if existing else "default", seed, index,
                  exp.workload.selector)
    try:
        targets = resolve(scope, spec)
    except ChaosError as exc:
        problems.append(f"fault {index} ({spec.type}): {exc}")
        return FaultPlan(index, spec.type, kind, None, None, note=str(exc))
    if targets is None:
        return FaultPlan(index, spec.type, kind, None, None, note="no pod or node targets")
    if isinstance(spec, PodFault):
        candidates = tuple(sorted(p.name for p in kpods.running_pods(
            kube, scope.namespace, spec.selector)))
        problems += blast.pod_violations(limits, spec.type, targets.names,
                                         exp.workload.replicas)
    elif isinstance(spec, NodeFault):
        candidates = tuple(sorted(candidate_nodes(scope, spec.nodes)))
        problems += blast.node_violations(limits, spec.type, targets.names,
                                          targets.control_plane, spec.nodes.nodes)
    else:  # control-plane-loss: its type names the control plane, as the run's check says
        candidates = tuple(sorted(targets.control_plane))
        problems += blast.node_violations(limits, spec.type, targets.names,
                                          targets.control_plane, targets.control_plane)
    blocked: tuple[str, ...] = ()
    if spec.evicts:  # PodDisruptionBudgets can block it: show the ones that would
        blocked = tuple(_drain_blockers(kube, targets.names))
    return FaultPlan(index, spec.type, targets.kind, candidates, targets.names,
                     drain_blocked_by=blocked)


def _pdbs(kube: Kube, namespace: str) -> list[tuple[str, int]]:
    items: list[Any] = kube.policy.list_namespaced_pod_disruption_budget(namespace).items
    return sorted((p.metadata.name, int(p.status.disruptions_allowed or 0)) for p in items)


def _drain_blockers(kube: Kube, nodes: tuple[str, ...]) -> list[str]:
    """PDBs that allow no disruption and cover a pod the drain would evict."""
    blockers: set[str] = set()
    for node in nodes:
        for pod in plan_drain(knodes.pods_on_node(kube, node), node).evict:
            budgets: list[Any] = kube.policy.list_namespaced_pod_disruption_budget(
                pod.namespace).items
            labels = _pod_labels(kube, pod.namespace, pod.name)
            for pdb in budgets:
                match = pdb.spec.selector.match_labels or {} if pdb.spec.selector else {}
                if match and all(labels.get(k) == v for k, v in match.items()) \
                        and int(pdb.status.disruptions_allowed or 0) == 0:
                    blockers.add(f"{pdb.metadata.namespace}/{pdb.metadata.name}")
    return sorted(blockers)


def _pod_labels(kube: Kube, namespace: str, name: str) -> dict[str, str]:
    pod: Any = kube.core.read_namespaced_pod(name, namespace)
    return dict(pod.metadata.labels or {})


# -- the reviewed plan file -----------------------------------------------------------------


def plan_document(plans: list[ExperimentPlan]) -> dict[str, Any]:
    return {"version": PLAN_VERSION,
            "experiments": [{**asdict(p), "digest": p.digest()} for p in plans],
            "hash": hashlib.sha256("".join(p.digest() for p in plans).encode()).hexdigest()}


def reviewed_digest(document: dict[str, Any], experiment: str) -> tuple[str, int]:
    """(digest, seed) the reviewed plan recorded for ``experiment``."""
    if document.get("version") != PLAN_VERSION:
        raise SafetyRefused(f"the reviewed plan is version {document.get('version')!r}, this "
                            f"kube-chaos reads version {PLAN_VERSION}: plan it again "
                            "(`kube-chaos plan`)")
    for entry in document.get("experiments", []):
        if entry.get("experiment") == experiment:
            return str(entry["digest"]), int(entry["seed"])
    raise SafetyRefused(f"the reviewed plan has no experiment {experiment!r}: plan it first "
                        "(`kube-chaos plan`)")


def differences(reviewed: dict[str, Any], now: ExperimentPlan) -> list[str]:
    """What changed since the review, field by field."""
    current = asdict(now)
    return [f"{k}: reviewed {reviewed.get(k)!r}, now {current[k]!r}"
            for k in current if k != "problems"
            and json.dumps(reviewed.get(k), sort_keys=True) != json.dumps(current[k],
                                                                          sort_keys=True)]


def format_plan(plan: ExperimentPlan) -> str:
    lines = [f"experiment {plan.experiment}  (seed {plan.seed})",
             f"  cluster    {plan.context} at {plan.server}",
             f"  namespace  {plan.namespace}",
             f"  load       {plan.load_url}"]
    for f in plan.faults:
        hit = ", ".join(f.targets) if f.targets else f.note
        of = f" (of {len(f.candidates)}: {', '.join(f.candidates)})" if f.candidates else ""
        lines.append(f"  fault {f.index}    {f.type} -> {f.kind or '-'}: {hit}{of}")
        if f.drain_blocked_by:
            lines.append(f"             drain would be blocked by {', '.join(f.drain_blocked_by)}")
    for name, allowed in plan.pdbs:
        lines.append(f"  pdb        {name}: {allowed} disruption(s) allowed now")
    lines.append(f"  permissions {'all granted' if not plan.missing_permissions else 'MISSING:'}")
    lines += [f"    - {p}" for p in plan.missing_permissions]
    lines += [f"  PROBLEM    {p}" for p in plan.problems]
    return "\n".join(lines)
