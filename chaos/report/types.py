"""The report.json shape, as TypedDicts (what ``load_report`` hands back)."""

from __future__ import annotations

from typing import TypedDict

SCHEMA_VERSION = 2  # 2: "undo" added; version 1 reports still load (with no undo rows)
READABLE_VERSIONS = (1, 2)
TOP_LEVEL_KEYS = (
    "schema_version",
    "experiment",
    "seed",
    "started_at",
    "ended_at",
    "cluster",
    "fault",
    "load",
    "recovery",
    "slas",
    "verdict",
    "timeline",
    "versions",
    "undo",
)

JSONValue = str | int | float | bool | None | list["JSONValue"] | dict[str, "JSONValue"]


class ExperimentDict(TypedDict):
    name: str
    description: str
    path: str | None
    expect: str
    tags: list[str]
    error: str | None


class WindowDict(TypedDict):
    start: float
    end: float


class FaultDict(TypedDict):
    index: int
    type: str
    targets: list[str]
    started_at: float | None
    ended_at: float | None
    recovery_seconds: float | None
    spec: dict[str, JSONValue]
    details: dict[str, JSONValue]


class FaultSectionDict(TypedDict):
    window: WindowDict | None
    faults: list[FaultDict]


class OutageDict(TypedDict):
    start: float
    end: float
    seconds: float
    failures: int


class LoadDict(TypedDict):
    requests_total: int
    requests_failed: int
    error_rate_during_fault: float | None
    longest_outage_seconds: float | None
    outages: list[OutageDict]
    p95_ms: float | None
    p99_ms: float | None
    rps: float | None


class FaultRecoveryDict(TypedDict):
    index: int
    type: str
    targets: list[str]
    recovery_seconds: float | None
    figures: dict[str, float | None]


class RecoveryDict(TypedDict):
    recovery_seconds: float | None
    errors_stopped_after_seconds: float | None
    restarts: int | None
    faults: list[FaultRecoveryDict]


class SLADict(TypedDict):
    name: str
    threshold: float
    observed: float | None
    passed: bool
    unit: str


class BucketDict(TypedDict):
    t: float
    requests: int
    failures: int
    p95_ms: float | None


class EventDict(TypedDict):
    t: float
    kind: str
    name: str
    detail: str


class TimelineDict(TypedDict):
    origin: float
    bucket_seconds: float
    buckets: list[BucketDict]
    events: list[EventDict]


class ReportDict(TypedDict):
    schema_version: int
    experiment: ExperimentDict
    seed: int
    started_at: str
    ended_at: str
    cluster: dict[str, JSONValue]
    fault: FaultSectionDict
    load: LoadDict
    recovery: RecoveryDict
    slas: list[SLADict]
    verdict: str
    timeline: TimelineDict
    versions: dict[str, str]
    # every undo of the run in order (chaos.journal.UndoOutcome.as_dict): an entry whose status
    # is not "undone" is still pending in the journal
    undo: list[JSONValue]
