"""SLAs, each declared once: its YAML key, the kind of value with its bounds, how it is judged
(comparator), the figure of the run record it reads, and what it means.

The parser reads ``spec.slas`` from these declarations (``chaos.model.sections``), the JSON
Schema's slas section and docs/experiments.md's SLA table are generated from them
(``chaos.model.schema``), and ``chaos.plan.slas.evaluate`` judges each one the same way.
Adding an SLA means one field here and, when it reads a new figure, that figure in
``chaos.plan.slas.Observation`` and where the run measures it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from chaos.model import values as v
from chaos.model.timeline import DEFAULT_OUTAGE_BOUND_S

Comparator = Literal["<=", ">=", "=="]


def sla(yaml: str, value: v.Value, doc: str, *, check: Comparator, reads: str, unit: str,
        scale: float = 1.0, default: Any = None, bound: str | None = None) -> Any:
    """An SLA field. ``reads`` names the figure it judges: ``load.<LoadFigures field>`` or an
    ``Observation`` field; ``scale`` turns both the YAML value and that figure into ``unit``
    (a latency given as a duration, judged in ms). An SLA is declared when its value differs
    from ``default`` (``None``, or False for a claim that only means something when true).
    ``bound``: a figure the result records as the bound it was measured with."""
    return dataclasses.field(default=default, metadata={
        "yaml": yaml, "value": value, "doc": doc, "check": check, "reads": reads,
        "unit": unit, "scale": scale, "bound": bound})


def setting(yaml: str, value: v.Value, doc: str, default: Any) -> Any:
    """A field of ``spec.slas`` that is not itself judged: it says how figures are measured."""
    return dataclasses.field(default=default, metadata={
        "yaml": yaml, "value": value, "doc": doc, "check": None, "reads": None,
        "unit": "", "scale": 1.0, "bound": None})


@dataclass(frozen=True, slots=True)
class SLAInfo:
    attr: str
    yaml: str
    value: v.Value
    doc: str
    check: Comparator | None  # None: a setting, not an SLA
    reads: str | None
    unit: str
    scale: float
    bound: str | None
    default: Any


@dataclass(frozen=True, slots=True)
class SLASpec:
    """Thresholds; a field at its default (``None``, or False for ``steady_state_restored``)
    is not declared."""

    max_error_rate: float | None = sla(
        "maxErrorRate", v.RATIO, "the share of requests in the fault window that failed",
        check="<=", reads="load.error_rate", unit="ratio")
    max_failed_requests: int | None = sla(
        "maxFailedRequests", v.COUNT_OR_ZERO, "at most this many requests in the fault window "
        "failed: an error budget in requests rather than a share (0: not one may fail)",
        check="<=", reads="load.failed_requests", unit="count")
    max_outage_s: float | None = sla(
        "maxOutage", v.DURATION, "the longest stretch in the fault window without a request "
        "served (answered successfully within outageBound)", check="<=",
        reads="load.longest_outage_s", unit="s", bound="load.outage_bound_s")
    p95_latency_ms: float | None = sla(
        "p95Latency", v.DURATION, "95th percentile latency in the fault window", check="<=",
        reads="load.p95_s", unit="ms", scale=1000.0)
    p99_latency_ms: float | None = sla(
        "p99Latency", v.DURATION, "99th percentile latency in the fault window", check="<=",
        reads="load.p99_s", unit="ms", scale=1000.0)
    max_recovery_s: float | None = sla(
        "maxRecovery", v.DURATION, "from a fault's end to the workload back in steady state",
        check="<=", reads="recovery_seconds", unit="s")
    expected_restarts: int | None = sla(
        "expectedRestarts", v.COUNT_OR_ZERO, "at least this many container restarts observed",
        check=">=", reads="restarts", unit="count")
    max_restarts: int | None = sla(
        "maxRestarts", v.COUNT_OR_ZERO, "at most this many container restarts observed",
        check="<=", reads="restarts", unit="count")
    steady_state_restored: bool = sla(
        "steadyStateRestored", v.BOOL, "true: the steady state holds again after the faults",
        check="==", reads="steady_state_restored", unit="bool", default=False)
    expect_blocked: bool | None = sla(
        "expectBlocked", v.BOOL, "drains: true asserts a drain was blocked (e.g. by a "
        "PodDisruptionBudget), false that every drain got through", check="==",
        reads="drain_blocked", unit="bool")
    expect_stalled: bool | None = sla(
        "expectStalled", v.BOOL, "rollouts: true asserts a rollout stalled (progress deadline "
        "exceeded, or incomplete at its wait), false that every rollout finished", check="==",
        reads="rollout_stalled", unit="bool")
    max_api_outage_s: float | None = sla(
        "maxApiOutage", v.DURATION, "longest run of failed API-server probes (one every 100 ms "
        "through the kubeconfig's server) while the faults act; runs with a "
        "control-plane-loss fault or this SLA", check="<=", reads="api_longest_outage_s",
        unit="s")
    # autoscaling: from the first fault's start to the first added pod Ready, and from the end
    # of the last fault's hold to the pod count back where it was before the faults
    max_scale_out_s: float | None = sla(
        "maxScaleOutTime", v.POSITIVE_DURATION, "autoscaling: from the first fault's start (a "
        "load-spike's) to the first pod added after it Ready; no pod added fails it",
        check="<=", reads="scale_out_s", unit="s")
    max_scale_in_s: float | None = sla(
        "maxScaleInTime", v.POSITIVE_DURATION, "autoscaling: from the end of the last fault's "
        "hold to the workload's pod count back at its value before the faults", check="<=",
        reads="scale_in_s", unit="s")
    # not an SLA: how soon a request must be answered to count as served for maxOutage (and
    # the outage figures and guards); a request answered later, or never, is unserved
    outage_bound_s: float = setting(
        "outageBound", v.POSITIVE_DURATION, "not an SLA: how soon a request must be answered "
        "successfully to count as served for maxOutage and the report's outages, in both load "
        "modes and whatever load.timeout is (above zero; default 1s); a request answered "
        "later, or never, is unserved", DEFAULT_OUTAGE_BOUND_S)

    @classmethod
    def field_infos(cls) -> Iterator[SLAInfo]:
        for f in dataclasses.fields(cls):
            m = f.metadata
            yield SLAInfo(attr=f.name, yaml=m["yaml"], value=m["value"], doc=m["doc"],
                          check=m["check"], reads=m["reads"], unit=m["unit"],
                          scale=m["scale"], bound=m["bound"], default=f.default)

    def judged(self) -> Iterator[tuple[SLAInfo, Any]]:
        """Each declared SLA with its threshold, in declaration order."""
        for info in SLA_INFOS:
            value = getattr(self, info.attr)
            if value != info.default:  # expectBlocked: false is a real claim
                yield info, value

    def declared(self) -> bool:
        return any(True for _ in self.judged())


SETTINGS = tuple(f for f in SLASpec.field_infos() if f.check is None)
SLA_INFOS = tuple(f for f in SLASpec.field_infos() if f.check is not None)
