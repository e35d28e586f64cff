"""YAML experiment files -> ``Experiment``: the only place that reads experiment YAML.

The document is composed once, by the bounded reader (``chaos.model.yamlsafe``), so every node
keeps its ``start_mark``; every problem is reported as ``ExperimentInvalid`` with file, 1-based
line and dotted field path. The workload manifests are read here too (``chaos.model.manifests``),
so that what the experiment says and what the manifests create are checked against each other
before anything is deployed.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, cast

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from chaos.errors import ExperimentInvalid, excerpt
from chaos.model import reader as r
from chaos.model import yamlsafe
from chaos.model.abort import (
    CONDITION_KINDS,
    GUARD_TYPES,
    MAX_INTERVAL_S,
    MIN_INTERVAL_S,
    AbortSpec,
    ErrorRateGuard,
    Guard,
    HttpGuard,
    KubernetesGuard,
    OutageGuard,
    PrometheusGuard,
)
from chaos.model.credentials import cleartext_headers
from chaos.model.experiment import (
    FAULT_TYPES,
    PROTECTED_NAMESPACES,
    ROLLOUT_KINDS,
    BlastRadius,
    ExistingWorkload,
    Experiment,
    FaultSpec,
    LoadProfile,
    NodeSelection,
    Selector,
    SLASpec,
    SteadyState,
    WorkloadSpec,
)
from chaos.model.faults import ControllerFault, PodFault
from chaos.model.loadmodes import LOAD_FIELDS, LOAD_MODES
from chaos.model.manifests import (
    ManifestObject,
    cluster_scoped_refused,
    matching,
    pod_count,
    read_manifest,
)
from chaos.model.values import MAX_MIN_REQUESTS, MAX_SEED

API_VERSION = "kube-chaos/v1"
KIND = "Experiment"


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

    meta = r.Map(ctx, top.require("metadata"), "metadata", ("name", "description", "tags"))
    name = meta.req("name", r.dns_name)
    description = meta.get("description", r.string, "")
    no_tags: tuple[str, ...] = ()
    tags = meta.get("tags", r.tags, no_tags)

    spec = r.Map(
        ctx,
        top.require("spec"),
        "spec",
        ("workload", "load", "steadyState", "faults", "slas", "timeout", "expect", "seed",
         "blastRadius", "abort"),
    )
    load_node = spec.node_of("load") if spec.has("load") else None
    url_given = isinstance(load_node, MappingNode) and any(
        isinstance(k, ScalarNode) and k.value == "url" for k, _ in load_node.value)
    workload = _workload(ctx, spec.require("workload"), "spec.workload", url_given)
    load = (
        _load(ctx, spec.node_of("load"), "spec.load", workload)
        if spec.has("load")
        else LoadProfile(path=workload.url_path)
    )
    steady = (
        _steady(ctx, spec.node_of("steadyState"), "spec.steadyState", workload)
        if spec.has("steadyState")
        else SteadyState(ready_replicas=workload.replicas)
    )
    faults_node = spec.require("faults")
    faults = tuple(
        _fault(ctx, n, f"spec.faults[{i}]", workload)
        for i, n in enumerate(r.items_of(ctx, faults_node, "spec.faults"))
    )
    load = _with_spike(ctx, load, load_node, faults, r.items_of(ctx, faults_node, "spec.faults"))
    slas = _slas(ctx, spec.require("slas"), "spec.slas")
    timeout = spec.get("timeout", r.positive_duration, 300.0)
    if timeout < load.max_duration_s:
        raise ctx.error(
            spec.node_of("timeout"),
            "spec.timeout",
            f"{timeout:g}s is shorter than spec.load.maxDuration ({load.max_duration_s:g}s)",
        )
    expect = spec.get("expect", r.enum("pass", "fail"), "pass")
    seed = spec.get("seed", r.bounded(r.non_negative_int, MAX_SEED), None)
    blast = spec.get("blastRadius", _blast_radius, BlastRadius())
    _check_blast_radius(ctx, faults_node, faults, blast, workload)
    abort = spec.get("abort", _abort, AbortSpec())
    experiment = Experiment(
        name=name,
        description=description,
        path=ctx.path,
        workload=workload,
        load=load,
        steady_state=steady,
        faults=faults,
        slas=slas,
        timeout_s=timeout,
        expect=cast(Literal["pass", "fail"], expect),
        tags=tags,
        seed=seed,
        blast_radius=blast,
        abort=abort,
    )
    _check_contradictions(ctx, spec, experiment)
    return experiment


def _blast_radius(ctx: r.Ctx, node: Node, where: str) -> BlastRadius:
    m = r.Map(ctx, node, where, ("maxPods", "maxPercent", "maxNodes"))
    return BlastRadius(max_pods=m.get("maxPods", r.count, None),
                       max_percent=m.get("maxPercent", r.percent, None),
                       max_nodes=m.get("maxNodes", r.count, 1))


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
    m = r.Map(
        ctx,
        node,
        where,
        (
            "manifests",
            "selector",
            "service",
            "nodePort",
            "path",
            "replicas",
            "namespaceScoped",
            "clusterScoped",
            "images",
            "existing",
        ),
    )
    existing = None
    if m.has("existing"):
        if m.has("manifests"):
            raise ctx.error(m.key_node("existing"), m.path("existing"),
                            "give either manifests (deploy a workload) or existing (use one "
                            "that is already running), not both")
        existing = m.req("existing", _existing_workload)
        manifests: tuple[Path, ...] = ()
    else:
        if not m.has("manifests") and "manifests" not in m.items:
            raise ctx.error(node, m.path("manifests"), "required field missing (or give "
                            "existing: {namespace: ..} for a workload that is already running)")
        manifests_node = m.require("manifests")
        manifests = tuple(
            r.existing_file(ctx, n, f"{where}.manifests[{i}]")
            for i, n in enumerate(r.items_of(ctx, manifests_node, f"{where}.manifests"))
        )
    selector = m.req("selector", r.selector)
    cluster_scoped = m.get("clusterScoped", r.enum("refuse", "allow"), "refuse")
    ctx.objects = _read_manifests(ctx, manifests, cluster_scoped == "allow")
    r.check_matches(ctx, m.node_of("selector"), f"{where}.selector", selector, manifests)
    workload = WorkloadSpec(
        manifests=manifests,
        selector=selector,
        service=m.req("service", r.dns_name),
        node_port=(m.get("nodePort", r.node_port, None) if url_given
                   else m.req("nodePort", r.node_port)),
        replicas=m.req("replicas", r.count),
        url_path=m.get("path", r.url_path, "/"),
        namespace_scoped=m.get("namespaceScoped", r.boolean, True),
        images=m.get("images", r.image_list, ()),
        cluster_scoped=cast(Literal["refuse", "allow"], cluster_scoped),
        cluster_objects=tuple(o.ref for o in ctx.objects if o.cluster_scoped),
        existing=existing,
    )
    if existing is not None and workload.images:
        raise ctx.error(m.node_of("images"), m.path("images"), "an existing workload already "
                        "runs its images: kube-chaos loads images only for manifests it deploys")
    _check_service(ctx, m, workload)
    _check_replicas(ctx, m, workload)
    return workload


def _existing_workload(ctx: r.Ctx, node: Node, where: str) -> ExistingWorkload:
    m = r.Map(ctx, node, where, ("namespace", "kind", "name"))
    kind = m.get("kind", r.enum(*ROLLOUT_KINDS), None)
    name = m.get("name", r.dns_subdomain, None)
    if (kind is None) != (name is None):
        missing = "name" if name is None else "kind"
        raise ctx.error(node, m.path(missing), "give kind and name together (the controller "
                        "whose rollout must be complete before any fault), or neither")
    namespace = m.req("namespace", r.dns_name)
    if namespace in PROTECTED_NAMESPACES:
        raise ctx.error(m.node_of("namespace"), m.path("namespace"),
                        f"{namespace} is a protected namespace: no experiment may target it")
    return ExistingWorkload(namespace=namespace, kind=kind, name=name)



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



def _check_service(ctx: r.Ctx, m: r.Map, workload: WorkloadSpec) -> None:
    """The load goes to 127.0.0.1:<nodePort> through ``service``: the manifests must agree.

    Skipped when the manifests define no Service at all (something else creates it).
    """
    services = {o.ref.name: o for o in ctx.objects if o.service is not None}
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
            f"127.0.0.1:{workload.node_port}, so it needs type: NodePort",
        )
    if workload.node_port not in facts.node_ports:
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


def _load(ctx: r.Ctx, node: Node, where: str, workload: WorkloadSpec) -> LoadProfile:
    m = r.Map(
        ctx,
        node,
        where,
        tuple(f.yaml for f in LOAD_FIELDS),
    )
    d = LoadProfile()
    url = m.get("url", r.load_url, None)
    if url is None and m.has("tlsVerify"):
        raise ctx.error(m.key_node("tlsVerify"), m.path("tlsVerify"),
                        "only meaningful with url: the NodePort load is plain http")
    mode = m.get("mode", r.load_mode, "closed")
    loop = LOAD_MODES[mode]
    for other in LOAD_MODES.values():
        for key in other.keys if other is not loop else ():
            if key in m.items:
                raise ctx.error(m.key_node(key), m.path(key),
                                f"only meaningful with mode: {other.name}{loop.foreign_hint}")
    segments: tuple[tuple[float, float, float | None], ...] = ()
    if loop.schedules_arrivals:
        segments = _rate_segments(ctx, m)
    in_cluster = m.get("inCluster", _in_cluster, 0)
    if in_cluster:
        _check_in_cluster(ctx, m)
    no_headers: tuple[tuple[str, str], ...] = ()
    headers = m.get("headersFromEnv", r.headers_from_env, no_headers)
    clear = cleartext_headers(url, [h for h, _ in headers], all_secret=True) if url else []
    if clear:
        raise ctx.error(m.key_node("headersFromEnv"), m.path("headersFromEnv"),
                        f"{', '.join(clear)} would travel in clear text: {url} is plain http to "
                        "another machine than this one; use https (plain http only to "
                        "127.0.0.1, localhost or ::1)")
    return LoadProfile(
        in_cluster_workers=in_cluster,
        mode=mode,
        rate_segments=segments,
        max_in_flight=m.get("maxInFlight", r.in_flight, d.max_in_flight),
        drop_after_s=m.get("dropAfter", r.positive_duration, d.drop_after_s),
        timeout_s=m.get("timeout", r.positive_duration, d.timeout_s),
        workers=m.get("workers", r.workers, d.workers),
        url=url,
        headers_from_env=headers,
        tls_verify=m.get("tlsVerify", r.boolean, True),
        users=m.get("users", r.users, d.users),
        spawn_rate=m.get("spawnRate", r.spawn_rate, d.spawn_rate),
        warmup_s=m.get("warmup", r.duration, d.warmup_s),
        tail_s=m.get("tail", r.duration, d.tail_s),
        max_duration_s=m.get("maxDuration", r.positive_duration, d.max_duration_s),
        max_requests=m.get("maxRequests", r.max_requests, None),
        locustfile=m.get("locustfile", r.existing_file, None),
        path=m.get("path", r.url_path, workload.url_path),
        wait_ms=m.get("wait", r.duration, d.wait_ms / 1000.0) * 1000.0,
        keep_alive=m.get("keepAlive", r.boolean, d.keep_alive),
    )


def _in_cluster(ctx: r.Ctx, node: Node, where: str) -> int:
    m = r.Map(ctx, node, where, ("workers",))
    workers: int = m.req("workers", r.workers)
    return workers


# what in-cluster workers cannot do, and why
_NOT_IN_CLUSTER = {
    "workers": "local worker processes and in-cluster workers are one or the other: the pods "
               "are the workers (give inCluster.workers)",
    "url": "in-cluster workers reach spec.workload.service by its cluster DNS name; url is "
           "for load from this machine to a service elsewhere",
    "locustfile": "the worker image holds kube-chaos's own locustfiles only",
    "headersFromEnv": "the header values would be written into the worker pods' specs",
}


def _check_in_cluster(ctx: r.Ctx, m: r.Map) -> None:
    for key, why in _NOT_IN_CLUSTER.items():
        if key in m.items:
            raise ctx.error(m.key_node(key), m.path(key), f"not with inCluster: {why}")




def _rate_segments(ctx: r.Ctx, m: r.Map) -> tuple[tuple[float, float, float | None], ...]:
    """rampUp (from 0 to the first rate), then each step, then ``rate`` (or the last step's)
    for as long as the load runs."""
    if not m.has("rate") and not m.has("steps"):
        raise ctx.error(m.node, m.path("rate"), "mode: open needs an arrival rate (e.g. "
                        "rate: 200/s) or steps")
    steps: list[tuple[float, float]] = []
    if m.has("steps"):
        for i, item in enumerate(r.items_of(ctx, m.node_of("steps"), m.path("steps"))):
            sm = r.Map(ctx, item, f"{m.path('steps')}[{i}]", ("rate", "duration"))
            steps.append((sm.req("rate", r.arrival_rate), sm.req("duration", r.positive_duration)))
        if not steps:
            raise ctx.error(m.node_of("steps"), m.path("steps"), "expected a non-empty list")
    final = m.get("rate", r.arrival_rate, steps[-1][0] if steps else 0.0)
    first = steps[0][0] if steps else final
    segments: list[tuple[float, float, float | None]] = []
    ramp = m.get("rampUp", r.duration, 0.0)
    if ramp > 0:
        segments.append((0.0, first, ramp))
    segments += [(rate, rate, seconds) for rate, seconds in steps]
    segments.append((final, final, None))
    return tuple(segments)



def _steady(ctx: r.Ctx, node: Node, where: str, workload: WorkloadSpec) -> SteadyState:
    m = r.Map(ctx, node, where, ("maxErrorRate", "readyReplicas", "window"))
    ready = m.get("readyReplicas", r.count_or_zero, workload.replicas)
    if ready is not None and ready > workload.replicas:
        raise ctx.error(
            m.node_of("readyReplicas"),
            m.path("readyReplicas"),
            f"{ready} is more than spec.workload.replicas ({workload.replicas}): the steady "
            "state could never be reached",
        )
    return SteadyState(
        max_error_rate=m.get("maxErrorRate", r.ratio, 0.0),
        ready_replicas=ready,
        window_s=m.get("window", r.duration, 3.0),
    )


_NODE_SELECTION_KEYS = ("nodes", "nodeSelector", "podsOf")



def _yaml_keys(cls: type[FaultSpec]) -> tuple[str, ...]:
    keys: list[str] = []
    for f in cls.field_infos():
        keys += _NODE_SELECTION_KEYS if f.reader == "node-selection" else (f.yaml,)
    return tuple(keys)


def _fault(ctx: r.Ctx, node: Node, where: str, workload: WorkloadSpec) -> FaultSpec:
    """One fault, read field by field as its class in chaos.model.faults declares."""
    if not isinstance(node, MappingNode):
        raise ctx.error(node, where, f"expected a mapping with a 'type', got {r.got(node)}")
    known = ", ".join(sorted(FAULT_TYPES))
    type_node = next(
        (v for k, v in node.value if isinstance(k, ScalarNode) and k.value == "type"), None
    )
    if type_node is None or r.is_null(type_node):
        raise ctx.error(node, f"{where}.type", f"required field missing; known types: {known}")
    ftype = r.string(ctx, type_node, f"{where}.type")
    if ftype not in FAULT_TYPES:
        raise ctx.error(
            type_node,
            f"{where}.type",
            f"unknown fault type {excerpt(ftype)}{r.suggest(ftype, list(FAULT_TYPES))}; "
            f"known types: {known}",
        )
    cls = FAULT_TYPES[ftype]
    m = r.Map(ctx, node, where, ("type", *_yaml_keys(cls)))
    kwargs: dict[str, Any] = {}  # typed by the field declarations it is read from
    for f in cls.field_infos():
        if f.reader == "value":
            conv = r.converter(f.value)
            kwargs[f.attr] = (m.req(f.yaml, conv) if f.default is dataclasses.MISSING
                              else m.get(f.yaml, conv, f.default))
        elif f.reader == "pod-selector":
            selector = m.get(f.yaml, r.selector, workload.selector)
            if m.has(f.yaml):
                r.check_matches(ctx, m.node_of(f.yaml), m.path(f.yaml), selector,
                               workload.manifests)
            kwargs[f.attr] = selector
        elif f.reader == "count-or-percent":
            kwargs["count"], kwargs["percent"] = _count_or_percent(m)
        elif f.reader == "node-selection":
            kwargs[f.attr] = _node_selection(m, workload)
    selection = kwargs.get("nodes")
    count = kwargs.get("count")
    if isinstance(selection, NodeSelection) and selection.nodes and isinstance(count, int) \
            and count > len(selection.nodes):
        raise ctx.error(
            m.node_of("count"),
            m.path("count"),
            f"{count} exceeds the {len(selection.nodes)} node(s) listed in {m.path('nodes')}",
        )
    spec = cls(**kwargs)
    for name, problem in spec.check():
        raise ctx.error(m.node_of(name) if name in m.items else node, m.path(name), problem)
    return spec



def _count_or_percent(m: r.Map) -> tuple[int | None, float | None]:
    if m.has("count") and m.has("percent"):
        raise m.ctx.error(
            m.key_node("percent"), m.path("percent"), "give either count or percent, not both"
        )
    if m.has("percent"):
        return None, m.get("percent", r.percent, None)
    return m.get("count", r.count, 1), None


def _node_selection(m: r.Map, workload: WorkloadSpec) -> NodeSelection:
    given = [k for k in ("nodes", "nodeSelector", "podsOf") if m.has(k)]
    if len(given) > 1:
        raise m.ctx.error(
            m.key_node(given[1]),
            m.path(given[1]),
            f"give only one of nodes, nodeSelector, podsOf (found {', '.join(given)})",
        )
    if given == ["nodes"]:
        names = m.req("nodes", r.string_list)
        if len(set(names)) != len(names):
            raise m.ctx.error(m.node_of("nodes"), m.path("nodes"), "node names must be unique")
        return NodeSelection(nodes=names)
    if given == ["nodeSelector"]:
        return NodeSelection(node_selector=m.req("nodeSelector", r.selector))
    return NodeSelection(pods_of=m.get("podsOf", r.selector, workload.selector))


def _slas(ctx: r.Ctx, node: Node, where: str) -> SLASpec:
    """spec.slas, read field by field as chaos.model.slas declares."""
    infos = tuple(SLASpec.field_infos())
    m = r.Map(ctx, node, where, tuple(f.yaml for f in infos))
    read: dict[str, Any] = {}  # typed by the field declarations it is read from
    for f in infos:
        value = m.get(f.yaml, r.converter(f.value), f.default)
        read[f.attr] = value * f.scale if value is not None and f.scale != 1.0 else value
    slas = SLASpec(**read)
    if not slas.declared():
        raise ctx.error(
            node, where, "declare at least one SLA (an experiment without SLAs cannot fail)"
        )
    if (
        slas.expected_restarts is not None
        and slas.max_restarts is not None
        and slas.expected_restarts > slas.max_restarts
    ):
        raise ctx.error(
            m.node_of("maxRestarts"),
            m.path("maxRestarts"),
            f"{slas.max_restarts} is below expectedRestarts ({slas.expected_restarts})",
        )
    return slas


# --------------------------------------------------------------------------- abort guards

_GUARD_KEYS: dict[str, tuple[str, ...]] = {
    "outage": ("max",),
    "error-rate": ("max", "window", "minRequests"),
    "http": ("url", "timeout", "status", "failures"),
    "prometheus": ("url", "query", "min", "max", "timeout", "noData"),
    "kubernetes": ("object", "condition", "status"),
}


def _abort(ctx: r.Ctx, node: Node, where: str) -> AbortSpec:
    m = r.Map(ctx, node, where, ("interval", "guards"))
    interval = m.get("interval", r.positive_duration, AbortSpec().interval_s)
    if not MIN_INTERVAL_S <= interval <= MAX_INTERVAL_S:
        raise ctx.error(m.node_of("interval"), m.path("interval"),
                        f"{interval:g}s: guards are evaluated at least once a second, at most "
                        f"every {MIN_INTERVAL_S:g}s (give {MIN_INTERVAL_S * 1000:g}ms..1s)")
    items = r.items_of(ctx, m.require("guards"), m.path("guards"))
    guards: list[Guard] = []
    names: dict[str, int] = {}
    for i, item in enumerate(items):
        guard = _guard(ctx, item, f"{where}.guards[{i}]", interval, names)
        names[guard.name] = i
        guards.append(guard)
    return AbortSpec(guards=tuple(guards), interval_s=interval)


def _guard(ctx: r.Ctx, node: Node, where: str, interval: float,
           names: dict[str, int]) -> Guard:
    """One guard, by its type; its name must be unique (the report names the guard)."""
    if not isinstance(node, MappingNode):
        raise ctx.error(node, where, f"expected a mapping with a 'type', got {r.got(node)}")
    known = ", ".join(GUARD_TYPES)
    type_node = next(
        (v for k, v in node.value if isinstance(k, ScalarNode) and k.value == "type"), None
    )
    if type_node is None or r.is_null(type_node):
        raise ctx.error(node, f"{where}.type", f"required field missing; known types: {known}")
    gtype = r.string(ctx, type_node, f"{where}.type")
    if gtype not in GUARD_TYPES:
        raise ctx.error(type_node, f"{where}.type",
                        f"unknown guard type {excerpt(gtype)}"
                        f"{r.suggest(gtype, list(GUARD_TYPES))}; "
                        f"known types: {known}")
    keys = _GUARD_KEYS[gtype]
    own = "name"
    m = r.Map(ctx, node, where, ("type", own, "onError", *keys))
    if m.has(own):
        name = m.req(own, r.string)
        if not r.GUARD_NAME.fullmatch(name) or name == "halt":
            raise ctx.error(m.node_of(own), m.path(own),
                            "expected letters, digits, '-', '_' or '.' (at most 63, not "
                            f"'halt', the built-in kill switch), got {excerpt(name)}")
        if name in names:
            raise ctx.error(m.node_of(own), m.path(own),
                            f"{excerpt(name)} already names spec.abort.guards[{names[name]}]")
    else:
        name, n = gtype, 1
        while name in names:
            n += 1
            name = f"{gtype}-{n}"
    on_error = cast(Literal["abort", "ignore"], m.get("onError", r.enum("abort", "ignore"),
                                                      "abort"))
    if gtype == "outage":
        return OutageGuard(name=name, on_error=on_error, max_s=m.req("max", r.positive_duration))
    if gtype == "error-rate":
        return ErrorRateGuard(name=name, on_error=on_error, max=m.req("max", r.ratio),
                              window_s=m.get("window", r.positive_duration, 5.0),
                              min_requests=m.get("minRequests",
                                                 r.bounded(r.positive_int, MAX_MIN_REQUESTS), 5))
    if gtype == "kubernetes":
        return _kubernetes_guard(ctx, m, name, on_error)
    timeout = m.get("timeout", r.positive_duration, interval)
    if timeout > interval:
        raise ctx.error(m.node_of("timeout"), m.path("timeout"),
                        f"{timeout:g}s is longer than spec.abort.interval ({interval:g}s): a "
                        "hanging check would leave the guard unevaluated for longer than that")
    if gtype == "http":
        return HttpGuard(name=name, on_error=on_error, url=m.req("url", r.guard_url),
                         timeout_s=timeout, status=m.get("status", r.status_codes, ()),
                         failures=m.get("failures", r.count, 1))
    low = m.get("min", r.threshold, None)
    high = m.get("max", r.threshold, None)
    if low is None and high is None:
        raise ctx.error(node, m.path("max"), "give min, max or both: the bounds every sample "
                        "of the query must stay within")
    if low is not None and high is not None and low > high:
        raise ctx.error(m.node_of("max"), m.path("max"), f"{high:g} is below min ({low:g})")
    return PrometheusGuard(
        name=name, on_error=on_error, url=m.req("url", r.guard_url),
        query=m.req("query", r.string), min=low, max=high, timeout_s=timeout,
        no_data=cast(Literal["ignore", "abort"],
                     m.get("noData", r.enum("ignore", "abort"), "ignore")))


def _kubernetes_guard(ctx: r.Ctx, m: r.Map, name: str,
                      on_error: Literal["abort", "ignore"]) -> KubernetesGuard:
    obj = r.Map(ctx, m.require("object"), m.path("object"), ("kind", "name", "namespace"))
    kind = obj.req("kind", r.enum(*CONDITION_KINDS))
    namespace = obj.get("namespace", r.dns_name, None)
    if namespace is not None and not CONDITION_KINDS[kind]:
        raise ctx.error(obj.node_of("namespace"), obj.path("namespace"),
                        f"a {kind} is not namespaced")
    condition = m.req("condition", r.string)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9.]*", condition):
        raise ctx.error(m.node_of("condition"), m.path("condition"),
                        f"expected a condition type such as Ready or Available, got "
                        f"{excerpt(condition)}")
    return KubernetesGuard(name=name, on_error=on_error, kind=kind,
                           object_name=obj.req("name", r.dns_subdomain), namespace=namespace,
                           condition=condition,
                           status=m.get("status", r.condition_status, "True"))



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
