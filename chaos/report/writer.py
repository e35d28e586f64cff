"""report.json: build it from ``ReportData``, write it atomically, read it back.

Load figures other than totals and rps are taken over the fault window (the window SLAs are
judged on), so the report and the SLA results agree; without a window, over the whole run.
Timeline times are seconds relative to ``timeline.origin`` (the run's start, epoch seconds).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from chaos.errors import ReportInvalid
from chaos.model.experiment import FaultSpec, Selector
from chaos.plan.generator import GeneratorFigures
from chaos.plan.stream import RunFigures, RunWindows, run_figures
from chaos.report.data import AbortRecord, ReportData
from chaos.report.types import (
    READABLE_VERSIONS,
    SCHEMA_VERSION,
    TOP_LEVEL_KEYS,
    AbortDict,
    BucketDict,
    EventDict,
    FaultDict,
    FaultRecoveryDict,
    GeneratorDict,
    JSONValue,
    LoadDict,
    OutageDict,
    ReportDict,
    SLADict,
)
from chaos.version import __version__

REPORT_NAME = "report.json"


def _num(value: float | None, digits: int = 6) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return round(value, digits)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def _jsonable(value: object) -> JSONValue:
    if isinstance(value, Selector):
        return dict(value.labels)
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, float):
        return _num(value)
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def fault_spec_dict(spec: FaultSpec) -> dict[str, JSONValue]:
    body = _jsonable(spec)
    assert isinstance(body, dict)
    return {"type": spec.type, **body}


def build_report(data: ReportData) -> ReportDict:
    origin = data.started_at

    def rel(t: float | None) -> float | None:
        return None if t is None else _num(t - origin, 4)

    figs = data.load if data.load is not None else figures_of(data)
    start, end = data.fault_window if data.fault_window else (None, None)
    window = figs.fault
    p95 = window.p95_s if window else None
    p99 = window.p99_s if window else None
    outages: list[OutageDict] = [
        {
            "start": _num(o.start - origin, 4) or 0.0,
            "end": _num(o.end - origin, 4) or 0.0,
            "seconds": _num(o.seconds, 4) or 0.0,
            "failures": o.failures,
        }
        for o in (window.outages if window else ())
    ]
    load: LoadDict = {
        "mode": data.experiment.load.mode,
        "requests_total": figs.requests_total,
        "requests_failed": figs.requests_failed,
        "requests_dropped": figs.requests_dropped,
        "requests_in_flight_at_stop": figs.requests_in_flight_at_stop,
        "send_lag_p99_ms": _num(figs.send_lag_p99_s * 1000.0, 3)
        if figs.send_lag_p99_s is not None else None,
        "error_rate_during_fault": _num(window.error_rate) if window else None,
        "longest_outage_seconds": _num(window.longest_outage_s, 4) if window else None,
        # what "unserved" meant for the outages: not answered successfully within this
        "outage_bound_seconds": window.outage_bound_s if window
        else data.experiment.slas.outage_bound_s,
        "outages": outages,
        "p95_ms": _num(p95 * 1000.0 if p95 is not None else None, 3),
        "p99_ms": _num(p99 * 1000.0 if p99 is not None else None, 3),
        "rps": _num(figs.rps, 3),
        "errors": [{"error": e.error, "count": e.count, "first": _num(e.first_t - origin, 4)
                    or 0.0, "last": _num(e.last_t - origin, 4) or 0.0} for e in figs.errors],
    }
    if data.load_generators:
        load["generators"] = [dict(g) for g in data.load_generators]
    if data.generator is not None:
        load["generator"] = generator_dict(data.generator)
    faults: list[FaultDict] = [
        {
            "index": f.index,
            "type": f.spec.type,
            "targets": list(f.targets),
            "started_at": rel(f.started_at),
            "ended_at": rel(f.ended_at),
            "recovery_seconds": _num(f.recovery_seconds, 4),
            "spec": fault_spec_dict(f.spec),
            "details": {str(k): _jsonable(v) for k, v in f.details.items()},
            "holds": [{"planned_s": h.planned_s, "granted_s": round(h.granted_s, 3),
                       "held_s": h.held_s, "aborted": h.aborted} for h in f.holds],
        }
        for f in data.faults
    ]
    per_fault: list[FaultRecoveryDict] = [
        {
            "index": f.index,
            "type": f.spec.type,
            "targets": list(f.targets),
            "recovery_seconds": _num(f.recovery_seconds, 4),
            "figures": {k: _num(v, 4) for k, v in f.figures.items()},
        }
        for f in data.faults
    ]
    slas: list[SLADict] = []
    for r in data.slas:
        sla: SLADict = {"name": r.name, "threshold": float(r.threshold),
                        "observed": _num(r.observed), "passed": r.passed, "unit": r.unit}
        if r.bound_s is not None:
            sla["outage_bound_seconds"] = r.bound_s
        slas.append(sla)
    buckets: list[BucketDict] = []
    for b in figs.buckets:
        buckets.append(
            {
                "t": _num(b.start - origin, 4) or 0.0,
                "requests": b.requests,
                "failures": b.failures,
                "p95_ms": _num(b.p95_s * 1000.0 if b.p95_s is not None else None, 3),
            }
        )
    events: list[EventDict] = [
        {"t": _num(e.t - origin, 4) or 0.0, "kind": e.kind, "name": e.name, "detail": e.detail}
        for e in sorted(data.events, key=lambda e: e.t)
    ]
    exp = data.experiment
    versions = {"kube-chaos": __version__, "python": platform.python_version()}
    versions.update(data.versions)
    cluster = _jsonable(dict(data.cluster))
    assert isinstance(cluster, dict)
    return {
        "schema_version": SCHEMA_VERSION,
        "experiment": {
            "name": exp.name,
            "description": exp.description,
            "path": str(exp.path) if exp.path is not None else None,
            "expect": exp.expect,
            "tags": list(exp.tags),
            "error": data.error,
        },
        "seed": data.seed,
        "started_at": _iso(data.started_at),
        "ended_at": _iso(data.ended_at),
        "cluster": cluster,
        "fault": {
            "window": {"start": rel(start) or 0.0, "end": rel(end) or 0.0}
            if start is not None and end is not None
            else None,
            "faults": faults,
        },
        "load": load,
        "recovery": {
            "recovery_seconds": _num(data.recovery_seconds, 4),
            "errors_stopped_after_seconds": _num(_errors_stopped_after(data, figs), 4),
            "restarts": data.restarts,
            "faults": per_fault,
        },
        "slas": slas,
        "verdict": data.verdict,
        "timeline": {
            "origin": origin,
            "bucket_seconds": data.bucket_s,
            "buckets": buckets,
            "events": events,
        },
        "versions": versions,
        "undo": [_jsonable(dict(u)) for u in data.undo],
        "abort": _abort(data.abort, origin),
        "manifest": data.manifest,
        "api_server": (cast(dict[str, JSONValue], _jsonable(dict(data.api_server)))
                       if data.api_server is not None else None),
        "autoscaling": (cast(dict[str, JSONValue], _jsonable(dict(data.autoscaling)))
                        if data.autoscaling is not None else None),
    }


def generator_dict(g: GeneratorFigures) -> GeneratorDict:
    cpu = g.cpu
    wait = g.mean_cpu_wait_s
    return {"bound_ms": _num(g.bound_s * 1000.0, 3) or 0.0, "overloaded": g.overload is not None,
            "reason": g.overload,
            "send_lag_p99_ms": _num(g.send_lag_p99_s * 1000.0, 3)
            if g.send_lag_p99_s is not None else None,
            "late_drops": g.late_drops,
            "cpu_seconds": _num(cpu.cpu_s, 3) if cpu is not None else None,
            "cpu_wait_seconds": _num(cpu.wait_s, 3) if cpu is not None else None,
            "mean_cpu_wait_ms": _num(wait * 1000.0, 3) if wait is not None else None}


def figures_of(data: ReportData) -> RunFigures:
    """The load figures of ``data.records`` in one streaming pass (when the caller has not
    computed them already): the fault window's, the per-bucket timeline's and the lifts'."""
    return run_figures(data.records, RunWindows(origin=data.started_at, bucket_s=data.bucket_s,
                                                fault_window=data.fault_window),
                       stall_s=data.experiment.slas.outage_bound_s)


def _value(value: float | str | None) -> float | str | None:
    return _num(value) if isinstance(value, float) else value


def _abort(record: AbortRecord | None, origin: float) -> AbortDict | None:
    if record is None:
        return None
    b = record.breach
    done = record.undo_complete_at
    return {
        "aborted": b is not None,
        "guard": b.guard if b else None,
        "type": b.type if b else None,
        "value": _value(b.value) if b else None,
        "threshold": _value(b.threshold) if b else None,
        "detail": b.detail if b else None,
        "time": _iso(b.at) if b else None,
        "t": _num(b.at - origin, 4) if b else None,
        "undo_complete_time": _iso(done) if done is not None else None,
        "breach_to_undo_seconds": _num(record.breach_to_undo_s, 4),
        "guards": [
            {"name": g.name, "type": g.type, "evaluations": g.evaluations, "errors": g.errors,
             "max_gap_seconds": _num(g.max_gap_s, 4), "last_status": g.last_status,
             "last_value": _value(g.last_value)}
            for g in record.guards
        ],
    }


def _errors_stopped_after(data: ReportData, figs: RunFigures) -> float | None:
    """Seconds from the first fault until the load's errors stopped for good (0.0: the fault
    caused none; None: still failing at the end of the load)."""
    if data.fault_window is None or figs.steady_again_at is None:
        return None
    return max(0.0, figs.steady_again_at - data.fault_window[0])


def write_report(directory: str | os.PathLike[str], data: ReportData) -> Path:
    """Write ``<directory>/report.json`` atomically (a reader never sees half a file)."""
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / REPORT_NAME
    text = json.dumps(build_report(data), indent=2, allow_nan=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".json", dir=out_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load_report(path: str | os.PathLike[str]) -> ReportDict:
    """Read a report.json (or the directory holding one) and check its shape."""
    p = Path(path)
    if p.is_dir():
        p = p / REPORT_NAME
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportInvalid(f"{p}: cannot read: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise ReportInvalid(f"{p}:{exc.lineno}: not JSON: {exc.msg}") from exc
    if not isinstance(raw, dict):
        raise ReportInvalid(f"{p}: expected a JSON object")
    if raw.get("schema_version") == 1:
        raw.setdefault("undo", [])  # written before undo outcomes were reported
    if raw.get("schema_version") in (1, 2):
        raw.setdefault("abort", None)  # written before abort guards existed
    if raw.get("schema_version") in (1, 2, 3):
        raw.setdefault("manifest", None)  # written before the reproducibility manifest
    if raw.get("schema_version") in (1, 2, 3, 4):
        raw.setdefault("api_server", None)  # written before the API-server probe existed
    if raw.get("schema_version") in (1, 2, 3, 4, 5):
        raw.setdefault("autoscaling", None)  # written before autoscaling figures existed
    if raw.get("schema_version") in (1, 2, 3, 4, 5, 6):
        section = raw.get("fault")
        for fault in section.get("faults", []) if isinstance(section, dict) else []:
            if isinstance(fault, dict):
                fault.setdefault("holds", [])  # written before holds were reported
    missing = [k for k in TOP_LEVEL_KEYS if k not in raw]
    if missing:
        raise ReportInvalid(f"{p}: missing keys: {', '.join(missing)}")
    if raw["schema_version"] not in READABLE_VERSIONS:
        raise ReportInvalid(
            f"{p}: schema_version {raw['schema_version']!r} is not one this kube-chaos reads "
            f"({', '.join(map(str, READABLE_VERSIONS))})"
        )
    return cast(ReportDict, raw)
