"""The sections of an experiment file, each read from its declarations by the generic reader
(``chaos.model.reader``) with the rules that hold inside the section: spec.workload.existing,
spec.load, spec.steadyState, each fault, spec.slas, spec.abort and its guards.

``chaos.model.parse`` assembles them and checks them against each other and the manifests.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from yaml.nodes import Node

from chaos.errors import excerpt
from chaos.model import reader as r
from chaos.model.abort import (
    CONDITION_KINDS,
    GUARD_TYPES,
    MAX_INTERVAL_S,
    MIN_INTERVAL_S,
    AbortSpec,
    Guard,
    GuardObject,
    KubernetesGuard,
)
from chaos.model.credentials import cleartext_headers
from chaos.model.experiment import (
    FAULT_TYPES,
    PROTECTED_NAMESPACES,
    ExistingWorkload,
    FaultSpec,
    LoadProfile,
    NodeSelection,
    SLASpec,
    SteadyState,
    WorkloadSpec,
)
from chaos.model.loadmodes import LOAD_FIELDS, LOAD_MODES


def existing_workload(ctx: r.Ctx, node: Node, where: str) -> ExistingWorkload:
    m = r.section_map(ctx, node, where, ExistingWorkload)
    read = r.read_fields(m, ExistingWorkload)
    if (read["kind"] is None) != (read["name"] is None):
        missing = "name" if read["name"] is None else "kind"
        raise ctx.error(node, m.path(missing), "give kind and name together (the controller "
                        "whose rollout must be complete before any fault), or neither")
    if read["namespace"] in PROTECTED_NAMESPACES:
        raise ctx.error(m.node_of("namespace"), m.path("namespace"),
                        f"{read['namespace']} is a protected namespace: no experiment may "
                        "target it")
    return ExistingWorkload(**read)


def load(ctx: r.Ctx, node: Node, where: str, workload: WorkloadSpec) -> LoadProfile:
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
        max_generator_lag_s=m.get("maxGeneratorLag", r.positive_duration,
                                  d.max_generator_lag_s),
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



def steady_state(ctx: r.Ctx, node: Node, where: str, workload: WorkloadSpec) -> SteadyState:
    m = r.section_map(ctx, node, where, SteadyState)
    read = r.read_fields(m, SteadyState, defaults={"ready_replicas": workload.replicas})
    if read["ready_replicas"] > workload.replicas:
        raise ctx.error(
            m.node_of("readyReplicas"),
            m.path("readyReplicas"),
            f"{read['ready_replicas']} is more than spec.workload.replicas ({workload.replicas}): "
            "the steady state could never be reached",
        )
    return SteadyState(**read)


_NODE_SELECTION_KEYS = ("nodes", "nodeSelector", "podsOf")



def _yaml_keys(cls: type[FaultSpec]) -> tuple[str, ...]:
    keys: list[str] = []
    for f in cls.field_infos():
        keys += _NODE_SELECTION_KEYS if f.reader == "node-selection" else (f.yaml,)
    return tuple(keys)


def fault(ctx: r.Ctx, node: Node, where: str, workload: WorkloadSpec) -> FaultSpec:
    """One fault, read field by field as its class in chaos.model.faults declares."""
    ftype = r.type_tag(ctx, node, where, sorted(FAULT_TYPES), "fault")
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


def slas(ctx: r.Ctx, node: Node, where: str) -> SLASpec:
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


def abort(ctx: r.Ctx, node: Node, where: str) -> AbortSpec:
    m = r.section_map(ctx, node, where, AbortSpec)
    interval = r.read_fields(m, AbortSpec)["interval_s"]
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
    """One guard, read as its type declares; its name must be unique (the report names it)."""
    gtype = r.type_tag(ctx, node, where, list(GUARD_TYPES), "guard")
    cls = GUARD_TYPES[gtype]
    m = r.section_map(ctx, node, where, cls, "type")
    if m.has("name"):
        name = m.req("name", r.string)
        if not r.GUARD_NAME.fullmatch(name) or name == "halt":
            raise ctx.error(m.node_of("name"), m.path("name"),
                            "expected letters, digits, '-', '_' or '.' (at most 63, not "
                            f"'halt', the built-in kill switch), got {excerpt(name)}")
        if name in names:
            raise ctx.error(m.node_of("name"), m.path("name"),
                            f"{excerpt(name)} already names spec.abort.guards[{names[name]}]")
    else:
        name, n = gtype, 1
        while name in names:
            n += 1
            name = f"{gtype}-{n}"
    read = _guard_object(ctx, m) if cls is KubernetesGuard else {}
    read.update(r.read_fields(m, cls, defaults={"timeout_s": interval}))
    if read.get("timeout_s", 0.0) > interval:
        raise ctx.error(m.node_of("timeout"), m.path("timeout"),
                        f"{read['timeout_s']:g}s is longer than spec.abort.interval "
                        f"({interval:g}s): a hanging check would leave the guard unevaluated "
                        "for longer than that")
    guard = cls(name=name, **read)
    for key, problem in guard.check():
        raise ctx.error(m.node_of(key) if m.has(key) else node, m.path(key), problem)
    return guard


def _guard_object(ctx: r.Ctx, m: r.Map) -> dict[str, Any]:
    """A kubernetes guard's object: its kind, name and (for a namespaced kind) namespace."""
    obj = r.section_map(ctx, m.require("object"), m.path("object"), GuardObject)
    read = r.read_fields(obj, GuardObject)
    if read["namespace"] is not None and not CONDITION_KINDS[read["kind"]]:
        raise ctx.error(obj.node_of("namespace"), obj.path("namespace"),
                        f"a {read['kind']} is not namespaced")
    return {"kind": read["kind"], "namespace": read["namespace"], "object_name": read["name"]}
