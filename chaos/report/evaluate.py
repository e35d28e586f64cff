"""Judging one run: everything it observed in (``RunRecord``), the report's data out.

Pure: no cluster, no clock, no files written. The runner gathers the observations (the
Observer's events, the capture files as a re-iterable, the faults' outcomes, the guards'
record, the manifest read while the workload still existed) and hands them here; which
figures count, which error wins, whether the SLAs are judged at all and the verdict are
decided in this module alone, and unit-tested without a cluster (tests/unit/test_evaluate.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from chaos.errors import SteadyStateFailed
from chaos.model.apiprobe import ApiProbeData
from chaos.model.experiment import Experiment
from chaos.model.faults import declared
from chaos.model.hold import Hold
from chaos.model.timeline import ClusterEvent, RequestRecord, SLAResult
from chaos.plan import apiprobe as papi
from chaos.plan import autoscale as pscale
from chaos.plan import recovery as prec
from chaos.plan import slas as pslas
from chaos.plan import timeline as ptl
from chaos.plan.generator import CpuTimes, GeneratorFigures, overload_error
from chaos.plan.stream import RunFigures, RunWindows, last_record, run_figures
from chaos.report.data import AbortRecord, FaultRecord, ReportData
from chaos.report.types import ManifestDict


class Capture(Protocol):
    """The run's request records, re-iterable, read up to the first malformed capture line;
    ``problem`` names that line once a pass has reached it (chaos.load.records.UpToMalformed)."""

    def __iter__(self) -> Iterator[RequestRecord]: ...

    @property
    def problem(self) -> Exception | None: ...


class Outcome(Protocol):
    """What one fault did (chaos.faults.base.FaultOutcome), as far as judging reads it."""

    @property
    def type(self) -> str: ...
    @property
    def targets(self) -> Sequence[str]: ...
    @property
    def started_at(self) -> float: ...
    @property
    def ended_at(self) -> float | None: ...
    @property
    def lifted_at(self) -> float | None: ...
    @property
    def answer(self) -> bool | None: ...
    @property
    def details(self) -> Mapping[str, object]: ...
    @property
    def holds(self) -> Sequence[Hold]: ...


@dataclass(frozen=True)
class RunRecord:
    """Everything one run observed, as data (times are wall-clock epoch seconds)."""

    experiment: Experiment
    seed: int
    started_at: float
    ended_at: float
    records: Capture  # the capture, read up to its first malformed line
    kept: Iterable[RequestRecord]  # the records as the run read them (the report keeps these)
    events: tuple[ClusterEvent, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    fault_t: float | None = None  # the first fault's start; None: no fault was reached
    initial_ready: frozenset[str] = frozenset()
    initial_endpoints: frozenset[str] = frozenset()
    steady_restored: bool | None = None
    shortfalls: tuple[str, ...] = ()  # what did not run as declared (the budget ran out)
    aborted: bool = False  # the abort signal was set (a guard breach or a halt)
    abort: AbortRecord | None = None
    api_data: ApiProbeData | None = None
    undo_failures: tuple[str, ...] = ()  # undos left pending in the journal
    undo: tuple[Mapping[str, object], ...] = ()  # every undo's outcome, in order
    error: str | None = None  # the run's own error (a ChaosError or LoadError), if any
    timings: Mapping[str, float] = field(default_factory=dict)  # seconds per phase so far
    cluster: Mapping[str, str | int | float | bool | list[str] | None] = field(
        default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    manifest: ManifestDict | None = None
    load_generators: tuple[Mapping[str, float | int | str | None], ...] = ()
    load_cpu: CpuTimes | None = None  # the local load processes' CPU counters, while they sent


def evaluate(run: RunRecord) -> ReportData:
    """Judge the SLAs over what was observed: the report's data, verdict included."""
    exp = run.experiment
    records = run.records
    error = run.error
    breach = run.abort.breach if run.abort is not None else None
    fault_window = None
    last = last_record(records)
    if run.fault_t is not None:
        fault_window = (run.fault_t, max(last.end if last else run.ended_at, run.fault_t))
    # every load figure of the run in one pass over its capture files, in bounded memory
    figs = run_figures(records, RunWindows(
        origin=run.started_at, fault_window=fault_window,
        lifts=tuple(o.lifted_at for o in run.outcomes if o.lifted_at is not None)),
        stall_s=exp.slas.outage_bound_s)
    generator = GeneratorFigures(exp.load.max_generator_lag_s, figs.send_lag_p99_s,
                                 figs.requests_dropped_late, run.load_cpu)
    # the generator's lateness comes before anything read from the load or its timing: a
    # steady state that failed on its figures (late drops are failures) is not the service's
    # failure, and a load that ran out of time may have run out of it for the same reason
    if generator.overload is not None and breach is None and (
            error is None or error.startswith(f"{SteadyStateFailed.__name__}:")):
        error = overload_error(generator.overload)
    if run.shortfalls and error is None and not run.aborted:
        error = cut_short(run.shortfalls, exp.timeout_s, run.timings)
    if run.undo_failures and error is None:
        error = ("undo not confirmed (still pending in the journal; run `kube-chaos rollback`): "
                 + "; ".join(run.undo_failures))
    events = run.events
    desired = exp.steady_state.ready_replicas or exp.workload.replicas
    recovery_s = (prec.recovery_seconds(events, run.fault_t, desired, set(run.initial_ready),
                                        set(run.initial_endpoints))
                  if run.fault_t is not None and not error and not run.aborted else None)
    restarts = prec.restarts(events, since=run.fault_t) if run.fault_t is not None else None
    # the API server's figures count from the control plane's own lift
    lifts = [o.lifted_at for o in run.outcomes
             if _acts_on(o) == "control-plane" and o.lifted_at]
    api = (papi.figures(run.api_data, fault_window, min(lifts) if lifts else None)
           if run.api_data is not None else None)
    scaled = (_autoscaling(exp, events, records, run.fault_t, run.outcomes, run.initial_ready)
              if run.fault_t is not None else None)
    if records.problem is not None and error is None:
        error, recovery_s = f"{type(records.problem).__name__}: {records.problem}", None
    kept = run.kept if records.problem is None else records  # as read, unless cut short
    if fault_window is not None and not error and breach is None and figs.fault is not None \
            and not figs.fault.requests:
        # the steady state needed at least one answer; an SLA over none judges nothing
        error = cut_short(["no request started during the fault window"], exp.timeout_s,
                          run.timings)
    sla_results: list[SLAResult] = []
    if fault_window is not None and not error and breach is None:
        obs = pslas.Observation(records=(), load=figs.fault, fault_window=fault_window,
                                recovery_seconds=recovery_s, restarts=restarts,
                                steady_state_restored=run.steady_restored,
                                drain_blocked=_drain_blocked(run.outcomes),
                                rollout_stalled=_rollout_stalled(run.outcomes),
                                api_longest_outage_s=api["longest_outage_s"] if api else None,
                                scale_out_s=scaled[0].scale_out_s if scaled else None,
                                scale_in_s=scaled[0].scale_in_s if scaled else None)
        sla_results = pslas.evaluate(exp.slas, obs)
    verdict = pslas.verdict(sla_results, exp.expect, errored=error is not None,
                            aborted=breach is not None)
    return ReportData(
        experiment=exp, seed=run.seed, started_at=run.started_at, ended_at=run.ended_at,
        verdict=verdict, records=kept, events=tuple(events),
        faults=tuple(_fault_record(i, exp, o, figs) for i, o in enumerate(run.outcomes)),
        fault_window=fault_window, slas=tuple(sla_results), recovery_seconds=recovery_s,
        restarts=restarts, cluster=run.cluster, versions=run.versions, error=error,
        undo=run.undo, abort=run.abort, manifest=run.manifest, api_server=api,
        load_generators=run.load_generators, load=figs, generator=generator,
        autoscaling=scaled[1] if scaled else None)


def cut_short(shortfalls: Sequence[str], timeout_s: float, timings: Mapping[str, float]) -> str:
    """Why a run is not judged: what fell short, and where the budget went (the phases that
    took the longest first), e.g. "load-spike held 0.0s of 100s: ... deploy took 179.5s"."""
    spent = sorted(((t, name) for name, t in timings.items() if name != "setup" and t >= 1.0),
                   reverse=True)[:3]
    where = ", ".join(f"{name} took {t:.1f}s" for t, name in spent)
    return (f"the run did not happen as declared, so no SLA was judged: {'; '.join(shortfalls)}"
            f" (the experiment's timeout is {timeout_s:g}s" + (f"; {where}" if where else "")
            + "). Give it the time it declares: raise spec.timeout (and load.maxDuration, for "
            "the load), or shorten what it must hold")


def _autoscaling(exp: Experiment, events: Sequence[ClusterEvent],
                 records: Iterable[RequestRecord], start: float,
                 outcomes: Sequence[Outcome], initial: Iterable[str]
                 ) -> tuple[pscale.Scaling, dict[str, object]] | None:
    """Scale-out and scale-in figures, for runs with a load-spike or a scaling SLA."""
    spikes = [f for f in exp.faults if f.shapes_load]
    if not spikes and exp.slas.max_scale_out_s is None and exp.slas.max_scale_in_s is None:
        return None
    ends = [t for o in outcomes for t in (o.lifted_at or o.ended_at,) if t is not None]
    hold_end = max(ends, default=start)
    names = sorted(initial)
    fig = pscale.scaling(events, start, hold_end, names, names)

    # one pass over the capture files: only the records of the spike's windows are held
    first, last = start - exp.load.warmup_s, hold_end + exp.load.tail_s
    spiked = [r for r in records if first <= r.t < last]

    def p(q: float, a: float, b: float) -> float | None:
        v = ptl.latency_percentile(spiked, q, a, b)
        return None if v is None else round(v * 1000.0, 1)

    ramp_end = start + (spikes[0].ramp_s() if spikes else 0.0)
    windows = {"before": (start - exp.load.warmup_s, start), "ramp": (start, ramp_end),
               "hold": (ramp_end, hold_end), "after": (hold_end, hold_end + exp.load.tail_s)}
    latency = {name: {"p50_ms": p(50, a, b), "p95_ms": p(95, a, b), "p99_ms": p(99, a, b),
                      "requests": len(ptl.in_window(spiked, a, b))}
               for name, (a, b) in windows.items() if b > a}
    out: dict[str, object] = {
        # every time in seconds since the faults' start (report.json's fault window start)
        "hold_end_s": _rounded(hold_end - start),
        "initial_pods": fig.initial_pods, "peak_pods": fig.peak_pods,
        "first_rescale_s": _rounded(fig.first_rescale_s),
        "first_pod_added_s": _rounded(fig.first_pod_added_s),
        "scale_out_s": _rounded(fig.scale_out_s), "scale_in_s": _rounded(fig.scale_in_s),
        "rescales": [{"t_s": t, "message": m} for t, m in fig.rescales],
        "latency_ms": latency,
        "series": [{"t_s": round(pt.t - start, 3), "pods": pt.pods, "ready": pt.ready}
                   for pt in fig.series],
    }
    return fig, out


def _acts_on(o: Outcome) -> str | None:
    cls = declared(o.type)
    return cls.acts_on if cls is not None else None


def _answer(outcomes: Sequence[Outcome], sla: str) -> bool | None:
    """The answer the run gives the question ``sla`` expects one for (expectBlocked: was a
    drain blocked?): yes when any fault asked it answered yes; None when no fault whose type
    asks it ran, or none could tell. Each outcome's own typed ``answer``, else its type's
    answer for a run that recorded none."""
    told: list[bool] = []
    for o in outcomes:
        cls = declared(o.type)
        question = cls.question if cls is not None else None
        if question is None or question.sla != sla:
            continue
        answer = question.unrecorded if o.answer is None else o.answer
        if answer is not None:
            told.append(answer)
    return any(told) if told else None


def _drain_blocked(outcomes: Sequence[Outcome]) -> bool | None:
    """Whether any drain was blocked (expectBlocked); None when no drain ran."""
    return _answer(outcomes, "expectBlocked")


def _rollout_stalled(outcomes: Sequence[Outcome]) -> bool | None:
    """Whether any rollout stalled (expectStalled); None when no rollout ran or none could
    tell."""
    return _answer(outcomes, "expectStalled")


def _fault_record(index: int, exp: Experiment, o: Outcome,
                  figs: RunFigures | None = None) -> FaultRecord:
    figures: dict[str, float | None] = {}
    lift = figs.lifts.get(o.lifted_at) if figs and o.lifted_at is not None else None
    if lift is not None and figs is not None and figs.requests_total:
        # how long errors outlast a fault that lifted itself: new requests, and every error
        figures["errors_stop_after_lift_s"] = _rounded(lift.errors_stop_after_s)
        figures["last_unserved_after_lift_s"] = round(lift.last_unserved_after_s, 3)
    for key, value in o.details.items():
        if isinstance(value, int | float):  # bool is an int: blocked -> 1.0
            figures[key] = float(value)
        elif isinstance(value, dict):  # per-target figures, e.g. time_to_notready_s[node]
            for sub, v in value.items():
                if isinstance(v, int | float) or v is None:
                    figures[f"{key}[{sub}]"] = None if v is None else float(v)
    spec = exp.faults[index] if index < len(exp.faults) else exp.faults[-1]
    return FaultRecord(index=index, spec=spec, targets=tuple(o.targets), started_at=o.started_at,
                       ended_at=o.ended_at, figures=figures, details=dict(o.details),
                       holds=tuple(o.holds))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
