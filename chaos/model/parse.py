"""YAML experiment files -> ``Experiment``: the only place that reads experiment YAML.

The document is composed once, by the bounded reader (``chaos.model.yamlsafe``), so every node
keeps its ``start_mark``; every problem is reported as ``ExperimentInvalid`` with file, 1-based
line and dotted field path. Each section is read from its declarations (``chaos.model.sections``
through the generic reader, ``chaos.model.reader``); this module assembles them and checks what
they say about each other. The workload manifests are read here too
(``chaos.model.manifests``), so that what the experiment says and what the manifests create are
checked against each other before anything is deployed.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, cast

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from chaos.errors import ExperimentInvalid, excerpt
from chaos.model import reader as r
from chaos.model import sections, yamlsafe
from chaos.model.abort import AbortSpec
from chaos.model.experiment import (
    API_VERSION,
    FAULT_TYPES,
    KIND,
    BlastRadius,
    Experiment,
    FaultSpec,
    LoadProfile,
    Selector,
    SteadyState,
    WorkloadSpec,
)
from chaos.model.faults import ControllerFault, PodFault
from chaos.model.fields import field_infos
from chaos.model.manifests import (
    ManifestObject,
    cluster_scoped_refused,
    matching,
    pod_count,
    read_manifest,
)


def load_experiment(path: str | os.PathLike[str], *,
                    allow_paths: Sequence[str | os.PathLike[str]] = ()) -> Experiment:
    """Read and parse one experiment file (size, encoding and YAML bounds included).

    The files it names (``spec.workload.manifests``, ``spec.load.locustfile``, which locust
    executes) must resolve, symlinks included, inside the experiment file's folder or one of
    ``allow_paths`` (--chaos-allow-path)."""
    p = Path(path)
    return parse_experiment(yamlsafe.read_text(p), p, allow_paths=allow_paths)


def parse_experiment(text: str, path: str | os.PathLike[str] | None = None, *,
                     allow_paths: Sequence[str | os.PathLike[str]] = ()) -> Experiment:
    """Parse experiment YAML; relative manifests/locustfile resolve against ``path``'s folder
    (the working directory without a path), and must stay inside it or ``allow_paths``."""
    p = Path(path) if path is not None else None
    ctx = r.Ctx(p, allow_paths)
    docs = yamlsafe.compose_documents(text, ctx.shown)
    if len(docs) > 1:
        raise ctx.error(
            docs[1], "document", "an experiment file holds one YAML document; a second starts here"
        )
    if not docs or r.is_null(docs[0]):
        raise ExperimentInvalid(
            f"empty; expected apiVersion: {API_VERSION}, kind: {KIND}",
            path=ctx.shown,
            line=docs[0].start_mark.line + 1 if docs else 1,
            field="document",
        )
    return _experiment(ctx, docs[0])



# --------------------------------------------------------------------------- sections


def _experiment(ctx: r.Ctx, root: Node) -> Experiment:
    top = r.Map(ctx, root, "", ("apiVersion", "kind", "metadata", "spec"))
    api = top.req("apiVersion", r.string)
    if api != API_VERSION:
        raise ctx.error(
            top.node_of("apiVersion"), "apiVersion", f"expected {API_VERSION!r}, got {excerpt(api)}"
        )
    kind = top.req("kind", r.string)
    if kind != KIND:
        raise ctx.error(top.node_of("kind"), "kind", f"expected {KIND!r}, got {excerpt(kind)}")
    declared = list(field_infos(Experiment))
    meta = r.Map(ctx, top.require("metadata"), "metadata",
                 [f.yaml for f in declared if f.at == "metadata"])
    about = r.read_fields(meta, Experiment, only=("name", "description", "tags"))
    spec = r.Map(ctx, top.require("spec"), "spec", [f.yaml for f in declared if f.at == "spec"])

    load_node = spec.node_of("load") if spec.has("load") else None
    url_given = isinstance(load_node, MappingNode) and any(
        isinstance(k, ScalarNode) and k.value == "url" for k, _ in load_node.value)
    workload = _workload(ctx, spec.require("workload"), "spec.workload", url_given)
    load = (
        sections.load(ctx, spec.node_of("load"), "spec.load", workload)
        if spec.has("load")
        else LoadProfile(path=workload.url_path)
    )
    steady = (
        sections.steady_state(ctx, spec.node_of("steadyState"), "spec.steadyState", workload)
        if spec.has("steadyState")
        else SteadyState(ready_replicas=workload.replicas)
    )
    faults_node = spec.require("faults")
    faults = tuple(
        sections.fault(ctx, n, f"spec.faults[{i}]", workload)
        for i, n in enumerate(r.items_of(ctx, faults_node, "spec.faults"))
    )
    load = _with_spike(ctx, load, load_node, faults, r.items_of(ctx, faults_node, "spec.faults"))
    slas = sections.slas(ctx, spec.require("slas"), "spec.slas")
    timeout = r.read_fields(spec, Experiment, only=("timeout_s",))["timeout_s"]
    if timeout < load.max_duration_s:
        raise ctx.error(
            spec.node_of("timeout"),
            "spec.timeout",
            f"{timeout:g}s is shorter than spec.load.maxDuration ({load.max_duration_s:g}s)",
        )
    run = r.read_fields(spec, Experiment, only=("expect", "seed"))
    blast = spec.get("blastRadius", r.section(BlastRadius), BlastRadius())
    _check_blast_radius(ctx, faults_node, faults, blast, workload)
    abort = spec.get("abort", sections.abort, AbortSpec())
    experiment = Experiment(**about, **run, path=ctx.path, workload=workload, load=load,
                            steady_state=steady, faults=faults, slas=slas, timeout_s=timeout,
                            blast_radius=blast, abort=abort)
    _check_contradictions(ctx, spec, experiment)
    return experiment


def _with_spike(ctx: r.Ctx, load: LoadProfile, load_node: Node | None,
                faults: tuple[FaultSpec, ...], fault_nodes: list[Node]) -> LoadProfile:
    """A load-spike fault written into the open-loop schedule: the base rate through warm-up
    and the spike's delay, the ramp, the hold, then the base rate again."""
    spikes = [(i, f) for i, f in enumerate(faults) if f.shapes_load]
    if not spikes:
        return load
    index, spike = spikes[0]
    where = f"spec.faults[{index}]"
    if len(spikes) > 1:
        raise ctx.error(fault_nodes[spikes[1][0]], f"spec.faults[{spikes[1][0]}]",
                        "only one load-spike per experiment: the load's schedule is fixed "
                        "before the run")
    if index != 0:
        raise ctx.error(fault_nodes[index], where, "a load-spike must be the first fault: its "
                        "place in the load's schedule is fixed before the run, which only the "
                        "first fault's start allows")
    if not load.loop.schedules_arrivals:
        raise ctx.error(load_node or fault_nodes[index], "spec.load.mode",
                        "a load-spike raises the open-loop arrival rate: set mode: open and "
                        "the base rate (e.g. rate: 5/s)")
    if len(load.rate_segments) != 1:
        shaped = (_field_node(load_node, "steps", "rampUp") if load_node is not None
                  else None)
        raise ctx.error(shaped or load_node or fault_nodes[index], "spec.load.steps",
                        f"{where} (load-spike) writes the load's schedule itself: give "
                        "spec.load only the base rate, without steps or rampUp")
    base = load.rate_segments[-1][0]
    segments = spike.load_schedule(base, load.warmup_s + spike.delay_s)
    assert segments is not None  # every fault that shapes_load gives its schedule
    return dataclasses.replace(load, rate_segments=segments)


def _check_blast_radius(ctx: r.Ctx, faults_node: Node, faults: tuple[FaultSpec, ...],
                        blast: BlastRadius, workload: WorkloadSpec) -> None:
    """What is known before any cluster is seen, for every fault family whose targets the file
    counts: a node fault's or control-plane-loss's ``count`` against maxNodes; a pod fault's
    ``count`` (or its ``percent`` of the workload's own pods) against maxPods and maxPercent,
    the way the run checks the resolved targets (chaos.plan.blast)."""
    replicas = workload.replicas
    for i, (fault, node) in enumerate(zip(faults, r.items_of(ctx, faults_node, "spec.faults"),
                                          strict=True)):
        where = f"spec.faults[{i}]"
        problem = None
        nodes = fault.nodes_hit()
        if nodes is not None:
            key = "count"
            if nodes > blast.max_nodes:
                problem = (f"{nodes} nodes exceeds the blast radius (maxNodes: "
                           f"{blast.max_nodes}); raise spec.blastRadius to allow it")
        elif isinstance(fault, PodFault):
            key = "count" if fault.percent is None else "percent"
            pods = fault.count
            if fault.percent is not None and fault.selector == workload.selector:
                pods = max(1, math.ceil(replicas * fault.percent / 100 - 1e-9))
            if pods is None:
                continue  # a share of pods only the cluster knows the number of
            what = f"{pods} pods" + (f" ({fault.percent:g} % of {replicas})"
                                     if fault.percent is not None else "")
            if blast.max_pods is not None and pods > blast.max_pods:
                problem = (f"{what} exceeds the blast radius (maxPods: {blast.max_pods}); raise "
                           "spec.blastRadius to allow it")
            elif blast.max_percent is not None and \
                    100.0 * pods / replicas > blast.max_percent + 1e-9:
                problem = (f"{what} exceeds the blast radius (maxPercent: "
                           f"{blast.max_percent:g} % of spec.workload.replicas, {replicas}); "
                           "raise spec.blastRadius to allow it")
        if problem is not None:
            at = _field_node(node, key)
            raise ctx.error(at if at is not None else node, f"{where}.{key}", problem)



def _workload(ctx: r.Ctx, node: Node, where: str, url_given: bool = False) -> WorkloadSpec:
    m = r.section_map(ctx, node, where, WorkloadSpec)
    existing = None
    if m.has("existing"):
        if m.has("manifests"):
            raise ctx.error(m.key_node("existing"), m.path("existing"),
                            "give either manifests (deploy a workload) or existing (use one "
                            "that is already running), not both")
        existing = m.req("existing", sections.existing_workload)
        manifests: tuple[Path, ...] = ()
    else:
        if not m.has("manifests") and "manifests" not in m.items:
            raise ctx.error(node, m.path("manifests"), "required field missing (or give "
                            "existing: {namespace: ..} for a workload that is already running)")
        manifests = m.req("manifests", r.files)
    first = r.read_fields(m, WorkloadSpec, only=("selector", "cluster_scoped"))
    ctx.objects = _read_manifests(ctx, manifests, first["cluster_scoped"] == "allow")
    r.check_matches(ctx, m.node_of("selector"), f"{where}.selector", first["selector"],
                    manifests)
    rest = r.read_fields(m, WorkloadSpec, skip=tuple(first))
    workload = WorkloadSpec(
        manifests=manifests, **first, **rest, existing=existing,
        cluster_objects=tuple(o.ref for o in ctx.objects if o.cluster_scoped))
    if workload.node_port is None and not url_given:
        workload = dataclasses.replace(
            workload, node_port=_default_node_port(ctx, node, m, workload))
    if existing is not None and workload.images:
        raise ctx.error(m.node_of("images"), m.path("images"), "an existing workload already "
                        "runs its images: kube-chaos loads images only for manifests it deploys")
    _check_service(ctx, m, workload)
    _check_replicas(ctx, m, workload)
    return workload


def _read_manifests(
    ctx: r.Ctx, manifests: tuple[Path, ...], allow_cluster: bool
) -> tuple[ManifestObject, ...]:
    """Every object the manifests create; errors name the manifest's own file and line."""
    objects: list[ManifestObject] = []
    first: dict[tuple[str, str], ManifestObject] = {}
    for path in dict.fromkeys(manifests):
        for obj in read_manifest(path):
            key = (obj.ref.kind, obj.ref.name)
            if obj.ref.name and key in first:
                raise ExperimentInvalid(
                    f"{obj.ref} is defined twice (first at {first[key].where}); the second "
                    "create would fail with AlreadyExists",
                    path=str(obj.path), line=obj.name_line, field=f"{obj.prefix}metadata.name")
            first[key] = obj
            if obj.cluster_scoped and not allow_cluster:
                raise cluster_scoped_refused(
                    obj, "To create it and have it deleted after the run, set "
                    f"spec.workload.clusterScoped: allow in {ctx.shown or 'the experiment'}")
            objects.append(obj)
    return tuple(objects)



def _default_node_port(ctx: r.Ctx, node: Node, m: r.Map,
                       workload: WorkloadSpec) -> int | Literal["auto"]:
    """Without ``nodePort`` (and without spec.load.url) the Service in the manifests says:
    the nodePort it declares, or ``auto`` when it declares none (a free published port per
    run). No such Service to read (an existing workload, or one something else creates):
    the field is required."""
    svc = next((o.service for o in ctx.objects
                if o.service is not None and o.ref.name == workload.service), None)
    if svc is None:
        raise ctx.error(node, m.path("nodePort"), "required field missing: the load reaches "
                        "the workload on 127.0.0.1:<nodePort>, and the manifests define no "
                        f"Service {workload.service!r} to take it from (or give spec.load.url)")
    if len(svc.node_ports) > 1:
        raise ctx.error(node, m.path("nodePort"), f"required field missing: Service "
                        f"{workload.service!r} declares nodePorts "
                        f"{', '.join(map(str, svc.node_ports))}; name the one the load uses")
    return svc.node_ports[0] if svc.node_ports else "auto"


def _check_service(ctx: r.Ctx, m: r.Map, workload: WorkloadSpec) -> None:
    """The load goes to 127.0.0.1:<nodePort> through ``service``: the manifests must agree.

    Skipped when the manifests define no Service at all (something else creates it), unless
    ``nodePort: auto``: the run sets the port it picks on that Service, so it must be there.
    """
    services = {o.ref.name: o for o in ctx.objects if o.service is not None}
    auto = workload.node_port == "auto"
    if auto and not services:
        why = ("an existing workload's Service is never changed" if workload.existing
               else "the workload manifests define no Service")
        raise ctx.error(
            m.node_of("nodePort"),
            m.path("nodePort"),
            f"auto sets the port each run picks on Service {workload.service!r} before it is "
            f"created, but {why}: give its fixed nodePort (or spec.load.url)",
        )
    if not services:
        return
    name = workload.service
    svc = services.get(name)
    if svc is None or svc.service is None:
        raise ctx.error(
            m.node_of("service"),
            m.path("service"),
            f"no Service {name!r} in the workload manifests{r.suggest(name, list(services))}; "
            f"they define: {', '.join(sorted(services))}",
        )
    facts = svc.service
    if workload.node_port is None:
        return  # spec.load.url says where the load goes; the Service may be of any type
    if facts.type not in ("NodePort", "LoadBalancer"):
        raise ctx.error(
            m.node_of("service"),
            m.path("service"),
            f"Service {name!r} ({svc.where}) is of type {facts.type}; the load reaches it on "
            f"127.0.0.1:{'<the port it picks>' if auto else workload.node_port}, so it needs "
            "type: NodePort",
        )
    if not auto and workload.node_port not in facts.node_ports:  # auto: the run sets it
        declared = (
            f"declares nodePort {', '.join(str(p) for p in facts.node_ports)}"
            if facts.node_ports
            else "declares no nodePort, so the cluster would pick one at random"
        )
        raise ctx.error(
            m.node_of("nodePort"),
            m.path("nodePort"),
            f"Service {name!r} ({svc.where}) {declared}, not {workload.node_port}",
        )
    templates = [o.template.labels for o in ctx.objects if o.template and o.template.labels]
    if facts.selector and templates and not any(facts.selector.matches(t) for t in templates):
        raise ctx.error(
            m.node_of("service"),
            m.path("service"),
            f"Service {name!r} ({svc.where}) selects "
            f"{excerpt(facts.selector.to_label_selector())}, which matches no pod the workload "
            "manifests create: it would have no endpoints",
        )


def _check_replicas(ctx: r.Ctx, m: r.Map, workload: WorkloadSpec) -> None:
    """``replicas`` is the Ready count steady state waits for: it must be what the manifests run."""
    matched = matching(ctx.objects, workload.selector)
    count = pod_count(matched) if matched else None
    if count is None or count == workload.replicas:
        return
    parts = ", ".join(f"{o.ref}: {o.template.pods}" for o in matched if o.template)
    raise ctx.error(
        m.node_of("replicas"),
        m.path("replicas"),
        f"{workload.replicas}, but the manifests run {count} pod(s) matching "
        f"{workload.selector.to_label_selector()!r} ({parts})",
    )


# --------------------------------------------------------------------------- cross-field checks


def _check_contradictions(ctx: r.Ctx, spec: r.Map, exp: Experiment) -> None:
    """What the sections say about each other, checked once every fault is parsed: each of these
    would otherwise surface only on the cluster, minutes in, or as a silently cut-short run."""
    fault_nodes = list(cast(SequenceNode, spec.node_of("faults")).value)
    _check_timeline(ctx, spec, exp, fault_nodes)
    for i, (fault, node) in enumerate(zip(exp.faults, fault_nodes, strict=True)):
        if {"pod-count", "container", "probe"} & set(fault.manifest_checks):
            _check_pod_fault(ctx, exp.workload, fault, node, f"spec.faults[{i}]")
        if "controller" in fault.manifest_checks and isinstance(fault, ControllerFault):
            _check_controller_fault(ctx, exp.workload, fault, node, f"spec.faults[{i}]")
    _check_questions(ctx, cast(MappingNode, spec.node_of("slas")), exp)


def _check_questions(ctx: r.Ctx, slas: MappingNode, exp: Experiment) -> None:
    """An SLA expecting the answer to a fault type's question (expectBlocked: was a drain
    blocked?) needs a fault of such a type: without one it would judge nothing."""
    asked: dict[str, tuple[str, list[str]]] = {}  # SLA -> (what it says, the types answering)
    for cls in FAULT_TYPES.values():
        if cls.question is not None:
            asked.setdefault(cls.question.sla, (cls.question.asks, []))[1].append(cls.type)
    for sla, (asks, types) in asked.items():
        key = _field_node(slas, sla)
        if key is not None and not any(f.question is not None and f.question.sla == sla
                                       for f in exp.faults):
            raise ctx.error(key, f"spec.slas.{sla}",
                            f"says {asks}, but no fault is " + " or ".join(f"a {t}"
                                                                          for t in types))


def _check_controller_fault(
    ctx: r.Ctx, workload: WorkloadSpec, fault: ControllerFault, node: Node, where: str
) -> None:
    """A rollout or rollback against the manifests: its target exists (or, unnamed, is the one
    Deployment or StatefulSet running the workload's pods), and so does its container."""
    controllers = [o for o in ctx.objects if o.ref.kind in ("Deployment", "StatefulSet")]
    if not controllers:
        return  # an existing workload, or one an operator makes: checked at run time
    listed = ", ".join(str(o.ref) for o in controllers)
    if fault.target is not None:
        found = [o for o in controllers if o.ref.kind == fault.target.kind
                 and o.ref.name == fault.target.name]
        if not found:
            raise ctx.error(_field_node(node, "target") or node, f"{where}.target",
                            f"no {fault.target} in the workload manifests; they define: "
                            f"{listed}")
    else:
        if not any(o.template and o.template.labels for o in controllers):
            return  # no pod labels to match against: resolved at run time
        found = [o for o in controllers if o.template and o.template.labels
                 and workload.selector.matches(o.template.labels)]
        if len(found) != 1:
            what = "none of" if not found else f"{len(found)} of"
            raise ctx.error(node, f"{where}.target", f"{what} the Deployments/StatefulSets "
                            f"({listed}) run pods matching the workload's selector "
                            f"{workload.selector.to_label_selector()!r}: name one with target")
    container = getattr(fault, "container", None)
    template = found[0].template
    if isinstance(container, str) and template and template.containers and \
            container not in template.containers:
        raise ctx.error(_field_node(node, "container") or node, f"{where}.container",
                        f"no container {excerpt(container)} in {found[0].ref}"
                        f"{r.suggest(container, list(template.containers))}; it has: "
                        f"{', '.join(template.containers)}")


def _field_node(node: Node, *keys: str) -> Node | None:
    """The key node of the first of ``keys`` that the mapping sets (for the error's line)."""
    if isinstance(node, MappingNode):
        for key in keys:
            for k, v in node.value:
                if isinstance(k, ScalarNode) and k.value == key and not r.is_null(v):
                    return cast(Node, k)
    return None


def _check_timeline(ctx: r.Ctx, spec: r.Map, exp: Experiment, fault_nodes: list[Node]) -> None:
    """Warm-up, then each fault's delay and hold in turn, then the tail: all within timeout."""
    warmup, timeout = exp.load.warmup_s, exp.timeout_s
    elapsed = warmup
    for i, (fault, node) in enumerate(zip(exp.faults, fault_nodes, strict=True)):
        elapsed += fault.delay_s + fault.hold_s()
        if elapsed > timeout:
            key = _field_node(node, "duration", "interval", "repeat", "delay")
            field = f"spec.faults[{i}]" + (f".{cast(ScalarNode, key).value}" if key else "")
            raise ctx.error(
                key or node,
                field,
                f"this fault would end {elapsed:g}s into the run (warm-up {warmup:g}s, then each "
                f"fault's delay and duration in turn), after spec.timeout ({timeout:g}s)",
            )
    # timeout >= maxDuration is checked already, so this also keeps the run within timeout
    total = elapsed + exp.load.tail_s
    if total > exp.load.max_duration_s:
        load = spec.node_of("load") if spec.has("load") else None
        raise ctx.error(
            (load is not None and _field_node(load, "maxDuration")) or load or spec.node,
            "spec.load.maxDuration",
            f"the load stops after {exp.load.max_duration_s:g}s, before warm-up ({warmup:g}s), "
            f"the faults ({elapsed - warmup:g}s) and the tail ({exp.load.tail_s:g}s) are over "
            f"({total:g}s): the end of the run would have no requests to measure",
        )


def _check_pod_fault(
    ctx: r.Ctx, workload: WorkloadSpec, fault: FaultSpec, node: Node, where: str
) -> None:
    """A pod fault against what its pods are: enough of them, the container, the probe."""
    selector = getattr(fault, "selector", None)
    if not isinstance(selector, Selector):
        return
    matched = matching(ctx.objects, selector)
    count = getattr(fault, "count", None)
    count_key = _field_node(node, "count")
    if "pod-count" in fault.manifest_checks and isinstance(count, int) and count_key is not None:
        if all(selector.get(k) == v for k, v in workload.selector.items()):
            bound: int | None = workload.replicas
            what = f"the {workload.replicas} pod(s) of spec.workload.replicas"
        else:
            bound = pod_count(matched) if matched else None
            what = f"the {bound} pod(s) the manifests run matching {selector.to_label_selector()!r}"
        if bound is not None and count > bound:
            raise ctx.error(count_key, f"{where}.count", f"{count} is more than {what}")
    templates = [o for o in matched if o.template is not None and o.template.containers]
    if not templates or len(templates) != len(matched):
        return  # nothing (or not everything) known about the containers: checked at run time
    container = getattr(fault, "container", None)
    if "container" in fault.manifest_checks and isinstance(container, str):
        names = sorted({c for o in templates if o.template for c in o.template.containers})
        if container not in names:
            raise ctx.error(
                _field_node(node, "container") or node,
                f"{where}.container",
                f"no container {excerpt(container)} in the pods matching "
                f"{selector.to_label_selector()!r}{r.suggest(container, names)}; "
                f"they have: {', '.join(names)}",
            )
    probe = getattr(fault, "probe", None)
    if "probe" in fault.manifest_checks and isinstance(probe, str) and not any(
        o.template and probe in o.template.probes for o in templates
    ):
        shown = ", ".join(f"{o.ref} at {o.where}" for o in templates)
        raise ctx.error(
            _field_node(node, "probe") or node,
            f"{where}.probe",
            f"no container of the pods matching {selector.to_label_selector()!r} defines a "
            f"{probe}Probe ({shown}): there is nothing to break",
        )
