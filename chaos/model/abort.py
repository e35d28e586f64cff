"""Abort guards (``spec.abort``) and the cluster-wide halt marker: what may stop a run early.

A guard is evaluated at least once a second while faults are active; the first breach undoes
every fault at once and the verdict is ``aborted``. Immutable and free of I/O; the parser builds
these, ``chaos.plan.guards`` judges readings against them, ``chaos.engine.monitor`` does
the reading.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from chaos.model import values as v
from chaos.model.fields import option

OnError = Literal["abort", "ignore"]

# consecutive evaluations that could not read anything (Prometheus down, API error) before a
# guard with onError: abort breaches: a guard that cannot see is no guard, but one blip is not
# a reason to stop a game day
ERROR_LIMIT = 3
DEFAULT_INTERVAL_S = 1.0
MAX_INTERVAL_S = 1.0  # "at least once a second"
MIN_INTERVAL_S = 0.1
# always allowed for HTTP and Prometheus guards; anything else needs --chaos-allow-host
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# the value kinds only guards read
GUARD_NAME_PATTERN = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
GUARD_URL = v.Value("guard-url", {"type": "string",
                                  "pattern": "^https?://[^\\s/?#@]+([/?][^\\s#]*)?$"})
_STATUS = {"type": "integer", "minimum": 100, "maximum": 599}
STATUS_CODES = v.Value("status-codes", {"anyOf": [
    _STATUS, {"type": "array", "minItems": 1, "uniqueItems": True, "items": _STATUS}]})
THRESHOLD = v.Value("threshold", {"type": "number", "minimum": -v.MAX_THRESHOLD,
                                  "maximum": v.MAX_THRESHOLD})
TIMEOUT_DOC = "per request, at most spec.abort.interval (default: the interval)"


@dataclass(frozen=True, slots=True)
class Guard:
    """What every guard has: a name for the report, what to do when it cannot read."""

    type: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    # extra JSON Schema keywords for rules between fields (the parser enforces them in check())
    schema_rules: ClassVar[Mapping[str, Any]] = {}
    name: str = option("name", v.Value("guard-name", {
        "type": "string", "pattern": f"^{GUARD_NAME_PATTERN}$", "not": {"const": "halt"}}),
        "the guard's name in the report (default: its type, numbered when repeated)",
        reader="own", required=False)
    on_error: OnError = option("onError", v.enum("abort", "ignore"), f"abort (default): "
                               f"{ERROR_LIMIT} evaluations in a row that cannot read anything "
                               "breach", "abort")

    def check(self) -> list[tuple[str, str]]:
        """Rules between fields: (YAML field name, problem) pairs; empty when consistent."""
        return []


@dataclass(frozen=True, slots=True)
class OutageGuard(Guard):
    """The live load's current outage (consecutive unserved requests, and requests hanging
    for longer than the stall threshold) must stay at or below ``max_s``."""

    type: ClassVar[str] = "outage"
    summary: ClassVar[str] = "the live load's current outage must stay at or below max"
    max_s: float = option("max", v.POSITIVE_DURATION, "longest outage allowed while faults "
                          "are active", 0.0, required=True)


@dataclass(frozen=True, slots=True)
class ErrorRateGuard(Guard):
    """Failed / all requests started in the last ``window_s`` must stay at or below ``max``
    (judged once the window holds ``min_requests``)."""

    type: ClassVar[str] = "error-rate"
    summary: ClassVar[str] = "failed/all requests of the live load over the last window"
    max: float = option("max", v.RATIO, "the share of failed requests allowed", 0.0,
                        required=True)
    window_s: float = option("window", v.POSITIVE_DURATION, "default 5s", 5.0)
    min_requests: int = option("minRequests", v.at_most(v.POSITIVE_INT, v.MAX_MIN_REQUESTS,
                                                        "1 to 1000000"),
                               "judged once the window holds this many (default 5)", 5)


@dataclass(frozen=True, slots=True)
class HttpGuard(Guard):
    """GET ``url`` (no proxy, no redirects); a status outside ``status`` (default: any 2xx), a
    timeout or a refused connection is a failed check; ``failures`` in a row breach."""

    type: ClassVar[str] = "http"
    summary: ClassVar[str] = ("GET url (no proxy, no redirects); failures checks in a row that "
                              "fail breach")
    url: str = option("url", GUARD_URL, "http(s) URL; hosts other than 127.0.0.1/localhost "
                      "need --chaos-allow-host", "", required=True)
    timeout_s: float = option("timeout", v.POSITIVE_DURATION, TIMEOUT_DOC, 1.0)
    status: tuple[int, ...] = option("status", STATUS_CODES, "accepted status codes (default: "
                                     "any 2xx)", ())
    failures: int = option("failures", v.COUNT, "default 1", 1)


@dataclass(frozen=True, slots=True)
class PrometheusGuard(Guard):
    """An instant PromQL query against ``url``'s HTTP API; every sample must lie within
    [min, max]. An empty result breaches only with ``no_data: abort``."""

    type: ClassVar[str] = "prometheus"
    summary: ClassVar[str] = "instant PromQL query; every sample must lie within [min, max]"
    schema_rules: ClassVar[Mapping[str, Any]] = {
        "anyOf": [{"required": ["min"]}, {"required": ["max"]}]}
    url: str = option("url", GUARD_URL, "Prometheus base URL (its /api/v1/query is used)", "",
                      required=True)
    query: str = option("query", v.STRING, "the PromQL query", "", required=True)
    min: float | None = option("min", THRESHOLD, "the lowest value a sample may have", None)
    max: float | None = option("max", THRESHOLD, "the highest value a sample may have", None)
    timeout_s: float = option("timeout", v.POSITIVE_DURATION, TIMEOUT_DOC, 1.0)
    no_data: Literal["ignore", "abort"] = option(
        "noData", v.enum("ignore", "abort"), "an empty result: ignore (default) or abort",
        "ignore")

    def check(self) -> list[tuple[str, str]]:
        if self.min is None and self.max is None:
            return [("max", "give min, max or both: the bounds every sample of the query must "
                     "stay within")]
        if self.min is not None and self.max is not None and self.min > self.max:
            return [("max", f"{self.max:g} is below min ({self.min:g})")]
        return []


# kind -> (namespaced?) for the kubernetes guard; chaos.k8s reads each through its typed API
CONDITION_KINDS: dict[str, bool] = {
    "Pod": True,
    "Node": False,
    "Deployment": True,
    "StatefulSet": True,
    "DaemonSet": True,
    "ReplicaSet": True,
    "Job": True,
}
CONDITION_STATUSES = ("True", "False", "Unknown")
_CLUSTER_WIDE = [k for k, namespaced in CONDITION_KINDS.items() if not namespaced]


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardObject:
    """A kubernetes guard's ``object``: the one object whose condition it reads."""

    schema_rules: ClassVar[Mapping[str, Any]] = {
        "if": {"properties": {"kind": {"const": _CLUSTER_WIDE[0]} if len(_CLUSTER_WIDE) == 1
                              else {"enum": _CLUSTER_WIDE}}},
        "then": {"not": {"required": ["namespace"]}}}

    kind: str = option("kind", v.enum(*CONDITION_KINDS), "the object's kind")
    namespace: str | None = option("namespace", v.DNS_LABEL, "default: the run's namespace",
                                   None)
    name: str = option("name", v.DNS_SUBDOMAIN, "the object's name")


@dataclass(frozen=True, slots=True)
class KubernetesGuard(Guard):
    """The condition ``condition`` of one object must have ``status``; a different status, a
    missing condition or a missing object breaches."""

    type: ClassVar[str] = "kubernetes"
    summary: ClassVar[str] = "the object's condition must have status"
    # read from ``object`` (GuardObject) by the parser
    kind: str = option("object", v.section(GuardObject), "the object whose condition is read",
                       "", reader="section", required=True)
    object_name: str = ""
    namespace: str | None = None  # None: the run's namespace (namespaced kinds only)
    condition: str = option("condition", v.Value("condition-type", {
        "type": "string", "pattern": "^[A-Za-z][A-Za-z0-9.]*$"}), "the condition's type, "
        "such as Ready or Available", "", required=True)
    status: str = option("status", v.Value("condition-status", {"anyOf": [
        {"enum": list(CONDITION_STATUSES)}, {"type": "boolean"}]}),
        "the status the condition must have (default True)", "True")


@dataclass(frozen=True, slots=True)
class HaltGuard(Guard):
    """Built into every run: the cluster's halt marker (``kube-chaos halt``) must be absent.
    Cannot-read is ignored: a control-plane fault must not abort itself through it."""

    type: ClassVar[str] = "halt"
    on_error: OnError = "ignore"


GUARD_TYPES: dict[str, type[Guard]] = {
    g.type: g for g in (OutageGuard, ErrorRateGuard, HttpGuard, PrometheusGuard, KubernetesGuard)
}


@dataclass(frozen=True, slots=True)
class AbortSpec:
    """``spec.abort``: every guard is evaluated every ``interval_s`` while faults are active."""

    schema_rules: ClassVar[Mapping[str, Any]] = {}

    guards: tuple[Guard, ...] = option("guards", v.items({"$ref": "#/$defs/guard"}, "guards"),
                                       "the guards, each by its type", (), reader="own",
                                       required=True)
    interval_s: float = option("interval", v.POSITIVE_DURATION, "how often each guard is "
                               "evaluated: 100ms..1s (default 1s)", DEFAULT_INTERVAL_S)

    def urls(self) -> list[tuple[str, str]]:
        """(guard name, URL) of every guard that makes HTTP requests."""
        return [(g.name, g.url) for g in self.guards if isinstance(g, HttpGuard | PrometheusGuard)]


@dataclass(frozen=True, slots=True)
class Breach:
    """Why a run was aborted: the guard, what it read, its threshold, and when (epoch s)."""

    guard: str  # the guard's name (its type unless the experiment named it)
    type: str  # outage, error-rate, http, prometheus, kubernetes, halt
    value: float | str | None  # what it read; None when nothing could be read
    threshold: float | str | None
    detail: str
    at: float  # wall time the breach was seen

    def describe(self) -> str:
        shown = "-" if self.value is None else _fmt(self.value)
        limit = "" if self.threshold is None else f" (threshold {_fmt(self.threshold)})"
        return f"guard {self.guard} ({self.type}) breached: {shown}{limit}: {self.detail}"


def _fmt(value: float | str) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


@dataclass(frozen=True, slots=True)
class GuardStats:
    """How one guard was evaluated during a run, for the report: that it really ran at least
    once a second (``max_gap_s``) and what it read last."""

    name: str
    type: str
    evaluations: int
    max_gap_s: float | None  # longest time between the starts of two evaluations
    last_status: str | None
    last_value: float | str | None
    errors: int = 0  # evaluations that could not read anything


@dataclass(frozen=True, slots=True)
class HaltMarker:
    """The cluster-wide kill switch: while it exists, runs abort and new runs refuse to start."""

    by: str  # user@host (pid) that ran `kube-chaos halt`
    at: float  # epoch seconds, on the halting machine's clock
    reason: str = ""

    def describe(self) -> str:
        from datetime import UTC, datetime

        when = datetime.fromtimestamp(self.at, UTC).isoformat(timespec="seconds")
        why = f": {self.reason}" if self.reason else ""
        return f"halted by {self.by} at {when}{why}"
