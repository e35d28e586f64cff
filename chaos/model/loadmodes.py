"""Load modes, each one class (as locust's LoadTestShape is one class): its ``spec.load.mode``
name, the fields only it reads (YAML name, kind of value, doc text), and how it drives locust
and describes itself. The parser, the JSON Schema's load section and the load runner ask the
mode's facets, never compare its name.

Adding a mode means one class here (listed in ``LOAD_MODES``) and, when it runs its own
locustfile, that file in ``chaos/load``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from chaos.model import values as v

if TYPE_CHECKING:
    from chaos.model.experiment import LoadProfile


@dataclass(frozen=True, slots=True)
class LoadField:
    """A ``spec.load`` field as the schema and docs describe it."""

    yaml: str
    value: v.Value
    doc: str = ""


RATE_DOC = "arrivals per second (a number) or per unit: 200/s, 6000/m; at most 1000000/s"
STEPS = v.Value("steps", {
    "type": "array", "minItems": 1,
    "items": {"type": "object", "additionalProperties": False,
              "required": ["rate", "duration"],
              "properties": {"rate": {**v.ARRIVAL_RATE.schema, "description": RATE_DOC},
                             "duration": v.DURATION_REF}}})
IN_FLIGHT = v.at_most(v.Value("positive-int", {"type": "integer", "minimum": 1}),
                      v.MAX_IN_FLIGHT, "1 to 100000")


class LoadMode:
    """How the load is generated. Instances hold no state: the profile's fields are the data."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    fields: ClassVar[tuple[LoadField, ...]] = ()  # spec.load fields only this mode reads
    # added to "only meaningful with mode: X" when another mode's field is given in this one
    foreign_hint: ClassVar[str] = ""
    locustfile_name: ClassVar[str] = ""  # kube-chaos's own locustfile for it, in chaos/load
    user_locustfile: ClassVar[bool] = True  # may spec.load.locustfile replace it?
    schedules_arrivals: ClassVar[bool] = False  # reads an arrival schedule (rate_segments)
    # JSON Schema keywords that hold for spec.load in this mode (the parser enforces them)
    schema_rules: ClassVar[dict[str, Any]] = {}

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(f.yaml for f in self.fields)

    def locust_users(self, users: int, processes: int) -> int:
        """locust's -u: the users it starts across ``processes`` load processes."""
        raise NotImplementedError

    def locust_spawn_rate(self, users: int, spawn_rate: float) -> float:
        """locust's -r, given the users locust starts."""
        raise NotImplementedError

    def describe(self, load: LoadProfile) -> str:
        """What the run says it sends, in a few words."""
        raise NotImplementedError


class ClosedLoop(LoadMode):
    """``users`` each send, wait for the answer, pause ``wait``, send again: a slow service
    slows the load."""

    name = "closed"
    summary = "users that wait for each answer"
    fields = (
        LoadField("users", v.at_most(v.POSITIVE_INT, v.MAX_USERS, "1 to 100000")),
        LoadField("spawnRate", v.at_most(v.Value("positive-number", {
            "type": "number", "exclusiveMinimum": 0}), v.MAX_SPAWN_RATE, "above 0")),
        LoadField("wait", v.DURATION),
        LoadField("locustfile", v.Value("path", {"anyOf": [
            {"type": "string", "minLength": 1}, {"type": "null"}]})),
    )
    locustfile_name = "locustfile.py"

    def locust_users(self, users: int, processes: int) -> int:
        return users

    def locust_spawn_rate(self, users: int, spawn_rate: float) -> float:
        return spawn_rate

    def describe(self, load: LoadProfile) -> str:
        return f"{load.users} users"


class OpenLoop(LoadMode):
    """Arrivals on a schedule (``rate_segments``), sent whatever the service does; latency
    from each arrival's intended start."""

    name = "open"
    summary = ("arrivals at `rate`, sent whatever the service does, latency from each "
               "arrival's intended start")
    fields = (
        LoadField("rate", v.ARRIVAL_RATE, RATE_DOC),
        LoadField("rampUp", v.DURATION, "open mode: ramp the rate linearly from 0 over this "
                  "long"),
        LoadField("steps", STEPS, "open mode: rates held for a duration each, before `rate` "
                  "(or the last step's rate) for the rest of the run"),
        LoadField("maxInFlight", IN_FLIGHT, "open mode: concurrent requests per load process "
                  "(default 1000)"),
        LoadField("dropAfter", v.DURATION, "open mode: an arrival not sent within this of its "
                  "intended start is recorded as dropped, a failure (default 500ms)"),
    )
    foreign_hint = " (open mode sends arrivals at `rate`, not from users)"
    locustfile_name = "openloop.py"
    user_locustfile = False
    schedules_arrivals = True
    schema_rules = {"anyOf": [{"required": ["rate"]}, {"required": ["steps"]}]}

    def locust_users(self, users: int, processes: int) -> int:
        return processes  # every process runs one scheduler user

    def locust_spawn_rate(self, users: int, spawn_rate: float) -> float:
        return float(users)  # all at once

    def describe(self, load: LoadProfile) -> str:
        return f"open loop, {load.rate_segments[-1][1]:g} arrivals/s"


LOAD_MODES: dict[str, LoadMode] = {m.name: m for m in (ClosedLoop(), OpenLoop())}
MODE_DOC = "; ".join(f"{m.name}{' (default)' if i == 0 else ''}: {m.summary}"
                     for i, m in enumerate(LOAD_MODES.values()))

_WORKERS = {"type": "integer", "minimum": 1, "maximum": 64}
# the spec.load fields every mode reads, in the schema's order around the modes' own
COMMON_FIELDS = (
    LoadField("warmup", v.DURATION),
    LoadField("tail", v.DURATION),
    LoadField("maxDuration", v.DURATION),
    LoadField("maxRequests", v.Value("max-requests", {"anyOf": [
        {"type": "integer", "minimum": 1, "maximum": v.MAX_REQUESTS}, {"type": "null"}]})),
    LoadField("path", v.URL_PATH,
              "path only; load always targets http://127.0.0.1:<nodePort>"),
    LoadField("keepAlive", v.BOOL, "false: a new TCP connection per request (default true)"),
    LoadField("url", v.Value("load-url", {"type": "string", "pattern": (
        "^https?://([^/@?#\\s:\\[\\]]+|\\[[0-9A-Fa-f:.]+\\])(:(6553[0-5]|655[0-2][0-9]|"
        "65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?/?$")}),
        "base URL of the service instead of the NodePort; its host must be allowed with "
        "--chaos-allow-host"),
    LoadField("headersFromEnv", v.Value("headers-from-env", {
        "type": "object", "minProperties": 1,
        "propertyNames": {"pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"},
        "additionalProperties": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}}),
        "request headers whose values are read from environment variables, e.g. "
        "{Authorization: STAGING_TOKEN}"),
    LoadField("tlsVerify", v.BOOL, "verify the server's TLS certificate (default true)"),
    LoadField("mode", v.enum(*LOAD_MODES), MODE_DOC),
    LoadField("timeout", v.DURATION, "per request; unanswered by then is a failure "
              "(default 5s)"),
    LoadField("maxGeneratorLag", v.POSITIVE_DURATION, "the load generator's own lateness the run "
              "tolerates: open-loop send lag p99, and in both modes its processes' mean wait "
              "for a CPU; beyond it the run is an error, `load generator overloaded`, not a "
              "verdict on the service (default 100ms)"),
    LoadField("workers", v.Value("workers", _WORKERS), "locust worker processes on this "
              "machine under one master (default 1: a single process)"),
    LoadField("inCluster", v.Value("in-cluster", {
        "type": "object", "additionalProperties": False, "required": ["workers"],
        "properties": {"workers": {**_WORKERS, "description": "worker pods; open-mode "
                                   "arrivals and maxRequests are split over them"}}}),
        "run the locust workers as pods inside the target kind cluster (the master stays on "
        "this machine); they reach spec.workload.service by its cluster DNS name. Not with "
        "workers, url, locustfile or headersFromEnv"),
)
LOAD_FIELDS = (*COMMON_FIELDS, *(f for m in LOAD_MODES.values() for f in m.fields))


def load_mode(name: str) -> LoadMode:
    """The mode called ``name``; ValueError names the known ones."""
    try:
        return LOAD_MODES[name]
    except KeyError:
        raise ValueError(f"bad load profile: mode {name!r} "
                         f"({' or '.join(LOAD_MODES)})") from None
