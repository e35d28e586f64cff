"""The report.json shape, as TypedDicts (what ``load_report`` hands back)."""

from __future__ import annotations

from typing import NotRequired, TypedDict

# 2: "undo" added; 3: "abort" added and the verdict may be "aborted"; 4: "manifest" added (what
# produced the report, and how to rerun it); 5: "api_server" added; 6: "autoscaling" added.
# Older reports still load (with no undo rows, and abort, manifest, api_server and autoscaling
# null).
SCHEMA_VERSION = 7
READABLE_VERSIONS = (1, 2, 3, 4, 5, 6, 7)
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
    "abort",
    "manifest",
    "api_server",
    "autoscaling",
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


class HoldDict(TypedDict):
    planned_s: float
    granted_s: float
    held_s: float | None
    aborted: bool


class FaultDict(TypedDict):
    index: int
    type: str
    targets: list[str]
    started_at: float | None
    ended_at: float | None
    recovery_seconds: float | None
    spec: dict[str, JSONValue]
    details: dict[str, JSONValue]
    # each hold of the fault: its declared seconds, what the run's budget granted, what it held
    holds: list[HoldDict]


class FaultSectionDict(TypedDict):
    window: WindowDict | None
    faults: list[FaultDict]


class OutageDict(TypedDict):
    start: float
    end: float
    seconds: float
    failures: int


class ErrorKindDict(TypedDict):
    error: str  # the failure's message ("HTTP <status>" without one; "(other)": the rest)
    count: int
    first: float  # start of the first and the last such request, from timeline.origin
    last: float


class GeneratorDict(TypedDict):
    """The load generator's own lateness (chaos.plan.generator), milliseconds; None: not
    measured (closed loop has no send lag; in-cluster pods have no local counters)."""

    bound_ms: float
    overloaded: bool
    reason: str | None
    send_lag_p99_ms: float | None
    late_drops: int
    cpu_seconds: float | None
    cpu_wait_seconds: float | None
    mean_cpu_wait_ms: float | None


class LoadDict(TypedDict):
    # "closed" (users) or "open" (arrivals on a schedule); absent in reports written before
    # open-loop load existed, which were all closed
    mode: NotRequired[str]
    requests_total: int
    requests_failed: int
    # open loop: arrivals never sent (counted in requests_failed too), and the p99 of how late
    # the generator sent the others: latency counts from the intended start, so a busy load
    # machine shows up here rather than being blamed on the service
    requests_dropped: NotRequired[int]
    send_lag_p99_ms: NotRequired[float | None]
    # open loop: arrivals sent but unanswered when the load stopped (captured with the error
    # "Unfinished: ..." at their intended start, and left out of every other figure)
    requests_in_flight_at_stop: NotRequired[int]
    # whether the load generator kept its schedule; absent in reports written before it was
    # measured
    generator: NotRequired[GeneratorDict]
    # the failures by message, most frequent first, at most 20 messages (the rest "(other)")
    errors: NotRequired[list[ErrorKindDict]]
    error_rate_during_fault: float | None
    longest_outage_seconds: float | None
    # the outage bound (slas.outageBound) the outages were measured with; absent in reports
    # written before it could be set (then 1 s, and open-loop arrivals counted only failures)
    outage_bound_seconds: NotRequired[float]
    outages: list[OutageDict]
    p95_ms: float | None
    p99_ms: float | None
    rps: float | None
    # in-cluster load only: one entry per worker pod (clock_offset_s: its clock minus the
    # master's, applied to its records; clock_error_bound_s: +- half the ping round trip)
    generators: NotRequired[list[dict[str, float | int | str | None]]]


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
    # maxOutage: requests not answered successfully within this many seconds were unserved
    outage_bound_seconds: NotRequired[float]


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


class GuardStatsDict(TypedDict):
    name: str
    type: str
    evaluations: int
    errors: int
    max_gap_seconds: float | None  # longest time between two evaluations of this guard
    last_status: str | None
    last_value: float | str | None


class AbortDict(TypedDict):
    """The guards of the run; the breach fields are null unless one aborted it."""

    aborted: bool
    guard: str | None
    type: str | None
    value: float | str | None
    threshold: float | str | None
    detail: str | None
    time: str | None  # ISO 8601, when the breach was seen
    t: float | None  # the same, seconds from timeline.origin
    undo_complete_time: str | None
    breach_to_undo_seconds: float | None
    guards: list[GuardStatsDict]


class ManifestFileDict(TypedDict):
    path: str
    sha256: str | None  # null: the file could not be read when the report was written


class RerunDict(TypedDict):
    argv: list[str]
    command: str  # argv, shell-quoted
    exact: bool  # false: the experiment was changed in Python, the file alone differs


class RepeatDict(TypedDict):
    index: int  # 1-based
    count: int


class ManifestDict(TypedDict):
    """Everything that produced the report (schema 4): compare two to explain a difference."""

    kube_chaos: dict[str, JSONValue]  # version, commit (null outside a git checkout), dirty
    python: str
    locust: str | None
    kubernetes_client: str | None
    kubernetes_server: str | None
    seed: int
    experiment_file: ManifestFileDict | None
    workload_manifests: list[ManifestFileDict]
    locustfile: ManifestFileDict | None
    # every container of the workload's pods at the end of the run: pod, node, container,
    # image (as the pod names it) and image_id (the digest the runtime resolved)
    images: list[dict[str, str | None]]
    nodes: list[dict[str, str | None]]  # name, kubelet, container_runtime, os_image
    node_image: JSONValue  # kind: {tag, id} of the node image; null on other clusters
    kind_config: JSONValue  # kind: {text, sha256} of the cluster's kind config
    repeat: RepeatDict | None
    rerun: RerunDict
    errors: list[str]  # pieces that could not be read, and why


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
    # every undo of the run in order (chaos.journal.store.UndoOutcome.as_dict): an entry whose
    # status is not "undone" is still pending in the journal
    undo: list[JSONValue]
    abort: AbortDict | None  # null when no guard ran (the run ended before its first fault)
    manifest: ManifestDict | None  # null in reports older than schema 4
    # the API-server probe's figures (chaos.plan.apiprobe.ApiFiguresDict), null when it did not
    # run (control-plane-loss and maxApiOutage run it)
    api_server: dict[str, JSONValue] | None
    # pods over time and the scale-out/scale-in figures (chaos.plan.autoscale), for runs with a
    # load-spike fault or a maxScaleOutTime/maxScaleInTime SLA; null otherwise
    autoscaling: dict[str, JSONValue] | None
