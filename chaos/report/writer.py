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
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import chaos
from chaos.errors import ReportInvalid
from chaos.model.experiment import FaultSpec, Selector
from chaos.model.timeline import RequestRecord
from chaos.plan import timeline as tl
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
    JSONValue,
    LoadDict,
    OutageDict,
    ReportDict,
    SLADict,
)

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

    records = sorted(data.records, key=lambda r: r.t)
    start, end = data.fault_window if data.fault_window else (None, None)
    window = tl.in_window(records, start, end)
    p95 = tl.latency_percentile(window, 95)
    p99 = tl.latency_percentile(window, 99)
    outages: list[OutageDict] = [
        {
            "start": _num(o.start - origin, 4) or 0.0,
            "end": _num(o.end - origin, 4) or 0.0,
            "seconds": _num(o.seconds, 4) or 0.0,
            "failures": o.failures,
        }
        for o in tl.outages(window)
    ]
    load: LoadDict = {
        "mode": data.experiment.load.mode,
        "requests_total": len(records),
        "requests_failed": sum(1 for r in records if not r.ok),
        "requests_dropped": sum(1 for r in records if r.dropped),
        "send_lag_p99_ms": _send_lag_p99_ms(records),
        "error_rate_during_fault": _num(tl.error_rate(window)),
        "longest_outage_seconds": _num(tl.longest_outage_s(window), 4) if window else None,
        "outages": outages,
        "p95_ms": _num(p95 * 1000.0 if p95 is not None else None, 3),
        "p99_ms": _num(p99 * 1000.0 if p99 is not None else None, 3),
        "rps": _num(tl.throughput_rps(records), 3),
    }
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
    slas: list[SLADict] = [
        {
            "name": r.name,
            "threshold": float(r.threshold),
            "observed": _num(r.observed),
            "passed": r.passed,
            "unit": r.unit,
        }
        for r in data.slas
    ]
    buckets: list[BucketDict] = []
    if records:
        for b in tl.buckets(records, data.bucket_s, start=min(origin, records[0].t)):
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
    versions = {"kube-chaos": chaos.__version__, "python": platform.python_version()}
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
            "errors_stopped_after_seconds": _num(_errors_stopped_after(data), 4),
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


def _send_lag_p99_ms(records: Sequence[RequestRecord]) -> float | None:
    """p99 of (actual - intended start) over the open-loop arrivals that were sent."""
    lags = [r.sent - r.t for r in records if r.scheduled and r.sent is not None]
    p99 = tl.percentile(lags, 99.0)
    return _num(p99 * 1000.0, 3) if p99 is not None else None


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


def _errors_stopped_after(data: ReportData) -> float | None:
    """Seconds from the first fault until the load's errors stopped for good (0.0: the fault
    caused none; None: still failing at the end of the load)."""
    if data.fault_window is None or not data.records:
        return None
    fault_t = data.fault_window[0]
    again = tl.steady_again_at(data.records, fault_t, data.bucket_s)
    return None if again is None else max(0.0, again - fault_t)


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
    missing = [k for k in TOP_LEVEL_KEYS if k not in raw]
    if missing:
        raise ReportInvalid(f"{p}: missing keys: {', '.join(missing)}")
    if raw["schema_version"] not in READABLE_VERSIONS:
        raise ReportInvalid(
            f"{p}: schema_version {raw['schema_version']!r} is not one this kube-chaos reads "
            f"({', '.join(map(str, READABLE_VERSIONS))})"
        )
    return cast(ReportDict, raw)
