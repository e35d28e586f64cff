"""Run locust in a subprocess against a local target and collect its per-request records.

locust is never imported here: importing it monkey-patches the whole process with gevent.  The
subprocess is bounded three ways: ``--run-time``, a request budget (``max_requests``, enforced
inside the locust process), and the harness-side deadline in :meth:`LoadRun.wait`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, TypedDict

from chaos.clock import SYSTEM_CLOCK, Deadline
from chaos.errors import ChaosError
from chaos.load.arrivals import check_segments
from chaos.load.records import CaptureReader, CaptureRecords, RequestRecord
from chaos.load.schedstat import CpuWatch
from chaos.load.target import LOCAL_HOSTS, TargetRefused, check_target
from chaos.model.credentials import cleartext_headers
from chaos.model.loadmodes import load_mode
from chaos.plan.generator import CpuTimes

if TYPE_CHECKING:
    from chaos.model.experiment import LoadProfile

HERE = Path(__file__).resolve().parent
DEFAULT_LOCUSTFILE = HERE / "locustfile.py"
OPEN_LOOP_LOCUSTFILE = HERE / "openloop.py"
CAPTURE_MODULE = HERE / "kube_chaos_capture.py"

# Contract with locustfile.py / kube_chaos_capture.py (which cannot import this package).
ENV_CAPTURE = "KUBE_CHAOS_CAPTURE"
ENV_MAX_REQUESTS = "KUBE_CHAOS_MAX_REQUESTS"
ENV_PATH = "KUBE_CHAOS_PATH"
ENV_WAIT_S = "KUBE_CHAOS_WAIT_S"
ENV_TIMEOUT_S = "KUBE_CHAOS_TIMEOUT_S"
ENV_ALLOWED_HOSTS = "KUBE_CHAOS_ALLOWED_HOSTS"
ENV_SEGMENTS = "KUBE_CHAOS_SEGMENTS"
ENV_RUN_S = "KUBE_CHAOS_RUN_S"
ENV_WORKER = "KUBE_CHAOS_WORKER"
ENV_WORKERS = "KUBE_CHAOS_WORKERS"
ENV_MAX_IN_FLIGHT = "KUBE_CHAOS_MAX_IN_FLIGHT"
ENV_DROP_AFTER_S = "KUBE_CHAOS_DROP_AFTER_S"

CAPTURE_FILE = "requests.tsv"  # one locust process; with workers, requests-w<i>.tsv each
LOG_FILE = "locust.log"
ENV_KEEPALIVE = "KUBE_CHAOS_KEEPALIVE"
ENV_HEADERS = "KUBE_CHAOS_HEADERS"  # JSON object of request headers
ENV_TLS_VERIFY = "KUBE_CHAOS_TLS_VERIFY"
# live readers (steady state, abort guards) see the records that ended in the last RECENT_S;
# longer windows are read from the capture files after the run (chaos.plan.stream)
RECENT_S = 120.0
STATS_PREFIX = "locust-stats"  # locust appends ".json"
ENV_STREAM = "KUBE_CHAOS_STREAM"  # "1": a worker in a pod streams its records to the master
ENV_COLLECT = "KUBE_CHAOS_COLLECT"  # the master writes streamed records into this directory
ENV_FINAL_WAIT_S = "KUBE_CHAOS_FINAL_WAIT_S"
# Exactly what a worker pod reads (locustfile.py, openloop.py, kube_chaos_capture.py as a
# streaming worker): nothing else of this machine's environment is written into a pod spec,
# where anyone who may read pods in the namespace sees it. KUBE_CHAOS_HEADERS is not among
# them: header values may be secrets, and in-cluster load refuses headers (LoadRun.start).
POD_ENV = frozenset({
    ENV_PATH, ENV_WAIT_S, ENV_TIMEOUT_S, ENV_MAX_REQUESTS, ENV_KEEPALIVE, ENV_TLS_VERIFY,
    ENV_ALLOWED_HOSTS, ENV_SEGMENTS, ENV_RUN_S, ENV_WORKER, ENV_WORKERS, ENV_MAX_IN_FLIGHT,
    ENV_DROP_AFTER_S, ENV_STREAM,
})
OFFSETS_FILE = "clock-offsets.json"  # written by the master: each pod worker's clock
POD_MODULES_DIR = "/opt/kube-chaos"  # where chaos.cluster.locust_image puts our modules
POD_CONNECT_WAIT_S = 90  # the master gives up when the pods have not all connected by then


class PodLauncher(Protocol):
    """Starts locust worker pods (chaos.engine.incluster.LoadPods is the real one)."""

    def launch(self, index: int, args: Sequence[str], env: Mapping[str, str]) -> None: ...

    def remove(self) -> None:
        """Delete every pod launched; idempotent; never raises."""
        ...


@dataclass(frozen=True)
class InCluster:
    """Load from ``workers`` locust worker pods inside the target cluster; the master runs
    here, listening on ``bind_host`` only (the cluster's network gateway: the one address the
    pods reach this machine at, so the master's unauthenticated port is not offered on any
    other network)."""

    workers: int
    bind_host: str
    launcher: PodLauncher


@dataclass(frozen=True)
class StreamedWorker:
    """One pod worker as the master saw it (from clock-offsets.json)."""

    index: int
    worker: str  # locust's client id: the pod's hostname and a random suffix
    offset_s: float | None  # its clock minus the master's; None: never measured
    error_bound_s: float | None  # +- half the round trip of the sample used
    samples: int
    offset_last_s: float | None  # the last sample: offset_last_s - offset_s is the drift
    records: int  # received by the master
    sent: int | None  # what the worker said it sent, with its final batch (None: no final)


class LoadError(ChaosError):
    """The load generator failed; the message names its log file."""


class LocustStatsEntry(TypedDict):
    """The fields we read from one entry of locust's ``--json-file`` output."""

    name: str
    method: str
    num_requests: int
    num_failures: int


@dataclass(frozen=True)
class LoadResult:
    returncode: int
    stop_reason: str  # "run-time" | "max-requests" | "stopped" (by us) | "killed" (by us)
    # streamed from the capture files at each iteration: nothing held (len() and .last are
    # known without reading them again)
    records: CaptureRecords
    locust_requests: int  # locust's own count, from its JSON stats (0 if unavailable)
    locust_failures: int
    started_at: float  # wall clock, epoch seconds
    ended_at: float
    out_dir: Path
    capture_path: Path | None  # the first (with one load process, the only) capture file
    log_path: Path
    mode: str = "closed"
    capture_paths: tuple[Path, ...] = ()  # one per load process that sends requests
    # per capture file: its process's (wall - monotonic) clock minus the first one's, seconds.
    # Processes on one machine share both clocks, so this is ~0 (the read jitter); a value
    # that is not says the wall clock was stepped between the processes' starts.
    clock_offsets_s: tuple[float | None, ...] = ()
    streamed: tuple[StreamedWorker, ...] = ()  # in-cluster workers: clocks and counts
    failures: int = 0  # counted while the files were read
    dropped: int = 0
    # what the processes sending from this machine got of its CPUs while they sent
    # (chaos.load.schedstat); None: not measured (in-cluster workers, no /proc, too short)
    cpu: CpuTimes | None = None

    @property
    def generators(self) -> tuple[dict[str, float | int | str | None], ...]:
        """The in-cluster workers as report.json states them (offsets in seconds)."""
        return tuple({"worker": w.worker, "index": w.index, "clock_offset_s": w.offset_s,
                      "clock_error_bound_s": w.error_bound_s, "clock_samples": w.samples,
                      "clock_offset_last_s": w.offset_last_s, "records_received": w.records,
                      "records_sent": w.sent} for w in self.streamed)


@dataclass(frozen=True)
class _Proc:
    """One locust process to launch: its role, its extra arguments and environment."""

    role: str  # "single" | "master" | "worker-<i>"
    args: tuple[str, ...]
    env: Mapping[str, str]
    capture: Path | None


def _has_record(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return any(line and not line.startswith(b"#") for line in head.split(b"\n")[:-1])


def _free_port(host: str = "127.0.0.1") -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def worker_pod_env(env: Mapping[str, str]) -> dict[str, str]:
    """A worker pod's environment: the POD_ENV settings of ``env`` (a local worker's), and
    streaming on. Nothing else: not this machine's other KUBE_CHAOS_* variables, no header."""
    return {k: v for k, v in env.items() if k in POD_ENV} | {ENV_STREAM: "1"}


def worker_shares(total: int | None, workers: int) -> list[int | None]:
    """Each worker's part of a request budget (arrivals i, i + n, ... for worker i)."""
    if total is None:
        return [None] * workers
    return [max(0, -(-(total - i) // workers)) for i in range(workers)]


class LoadRun:
    """One running load: a locust process, or a master with its local workers. Create it with
    :meth:`start`; use as a context manager so every process is stopped on any error."""

    def __init__(
        self,
        procs: Sequence[subprocess.Popen[bytes]],
        *,
        out_dir: Path,
        log_path: Path,
        capture_paths: Sequence[Path],
        max_duration_s: float,
        max_requests: int | None,
        started_at: float,
        mode: str = "closed",
        pods: PodLauncher | None = None,
        senders: Sequence[int] = (),
    ) -> None:
        self._pods = pods
        self._procs = list(procs)  # [0] decides the run (the single process, or the master)
        self._proc = self._procs[0]
        self.out_dir = out_dir
        self.log_path = log_path
        self.capture_paths = tuple(capture_paths)
        self.capture_path = self.capture_paths[0] if self.capture_paths else None
        self.max_duration_s = max_duration_s
        self.max_requests = max_requests
        self.started_at = started_at
        self.mode = mode
        self._started_mono = time.monotonic()
        # read incrementally and kept only for RECENT_S (live readers need no more); the
        # whole run stays on disk, streamed again by LoadResult.records
        self._readers = [CaptureReader(p, keep=False) for p in self.capture_paths]
        self.recent_s = RECENT_S  # raised by callers whose live readers look further back
        self._recent: deque[RequestRecord] = deque()
        self._lasts: list[RequestRecord | None] = [None] * len(self._readers)
        self._count = self._failures = self._dropped = 0
        # the guard monitor reads records from its own thread while the run reads them too
        self._reader_lock = threading.Lock()
        self._stop_reason: str | None = None
        self._result: LoadResult | None = None
        # the local processes that send (``senders``: pids), sampled from their first record
        self._sent = False
        self._cpu = CpuWatch(senders, self._sending)
        self._cpu.start()

    @classmethod
    def start(
        cls,
        target_base_url: str,
        *,
        users: int,
        spawn_rate: float,
        max_duration_s: float,
        out_dir: Path,
        max_requests: int | None = None,
        path: str = "/",
        wait_s: float = 0.1,
        locustfile: Path | None = None,
        request_timeout_s: float = 5.0,
        stop_timeout_s: float = 2.0,
        capture: bool = True,
        keep_alive: bool = True,
        allowed_hosts: Iterable[str] = LOCAL_HOSTS,
        headers: Mapping[str, str] | None = None,
        tls_verify: bool = True,
        mode: str = "closed",
        rate_segments: Sequence[tuple[float, float, float | None]] = (),
        max_in_flight: int = 1000,
        drop_after_s: float = 0.5,
        workers: int = 1,
        in_cluster: InCluster | None = None,
    ) -> LoadRun:
        """Launch locust headless against ``target_base_url``, whose host must be local or in
        ``allowed_hosts``; every request, redirects included, is held to the same hosts.

        ``mode="closed"``: ``users`` users, each pausing ``wait_s`` after every answer;
        ``locustfile`` defaults to our GET-one-path locustfile. ``mode="open"``: arrivals at
        ``rate_segments`` (see ``chaos.load.arrivals``), at most ``max_in_flight`` at once per
        process, an arrival not sent within ``drop_after_s`` recorded as dropped.
        ``workers`` > 1 runs a locust master and that many local worker processes, each
        capturing to its own file. Per-request capture is loaded next to whichever locustfile
        is used; ``capture=False`` exists only for benchmarking it. ``headers`` (values already
        resolved; they go to the subprocess's environment, never to a log) are sent with every
        request of our locustfiles. ``in_cluster``: the workers are pods instead (see
        :class:`InCluster`), running the same modules from their image and streaming their
        records to the master, which writes them here on its own clock.
        """
        allowed = frozenset(h.lower() for h in allowed_hosts) | LOCAL_HOSTS
        host = check_target(target_base_url, allowed)
        if in_cluster is not None and headers:  # whatever the scheme: never into a pod spec
            raise LoadError(f"in-cluster load cannot send headers ({', '.join(headers)}): "
                            "their values would be written into the worker pods' specs; "
                            "send them with load from this machine")
        clear = cleartext_headers(host, list(headers or {}), all_secret=True)
        if clear:
            raise TargetRefused(f"load target {host!r}: refusing to send header(s) "
                                f"{', '.join(clear)} in clear text over plain http to another "
                                "machine than this one; use https (plain http only to "
                                "127.0.0.1, localhost or ::1)")
        if users < 1 or spawn_rate <= 0 or max_duration_s <= 0 or wait_s < 0:
            raise ValueError(
                f"bad load profile: users={users} spawn_rate={spawn_rate} "
                f"max_duration_s={max_duration_s} wait_s={wait_s}"
            )
        if max_requests is not None and max_requests < 1:
            raise ValueError(f"bad load profile: max_requests={max_requests} (must be >= 1)")
        if not path.startswith("/"):
            raise ValueError(f"bad load profile: path {path!r} must start with '/'")
        loop = load_mode(mode)
        if workers < 1 or max_in_flight < 1 or drop_after_s <= 0 or request_timeout_s <= 0:
            raise ValueError(f"bad load profile: workers={workers} max_in_flight="
                             f"{max_in_flight} drop_after_s={drop_after_s} "
                             f"request_timeout_s={request_timeout_s}")
        if locustfile is not None and not loop.user_locustfile:
            raise ValueError(f"bad load profile: {loop.name} mode runs its own locustfile")
        if loop.schedules_arrivals:
            check_segments(rate_segments)
        if in_cluster is not None:
            if workers != 1 or in_cluster.workers < 1:
                raise ValueError(f"bad load profile: in-cluster workers={in_cluster.workers} "
                                 f"with local workers={workers} (one or the other)")
            if locustfile is not None:
                raise ValueError("bad load profile: in-cluster workers run kube-chaos's own "
                                 "locustfiles only (their image holds no other)")
            workers = in_cluster.workers
        user_file = (locustfile or HERE / loop.locustfile_name).resolve()
        if not user_file.is_file() or user_file.suffix != ".py":
            raise ValueError(f"locustfile {user_file} is not an existing .py file")

        out_dir = out_dir.resolve()
        out_dir.mkdir(parents=True, exist_ok=True)
        log_path = out_dir / LOG_FILE
        for old in [*out_dir.glob("requests*.tsv"), out_dir / f"{STATS_PREFIX}.json"]:
            old.unlink(missing_ok=True)

        files = [str(user_file)] + ([str(CAPTURE_MODULE)] if capture else [])
        n_users = loop.locust_users(users, workers)
        common = [sys.executable, "-m", "locust", "-f", ",".join(files)]
        run_args = [
            "--headless",
            "--host", host,
            "-u", str(n_users),
            "-r", repr(float(loop.locust_spawn_rate(n_users, spawn_rate))),
            "--run-time", f"{max(1, math.ceil(max_duration_s))}s",
            "--stop-timeout", f"{max(0, math.ceil(stop_timeout_s))}s",
            "--only-summary",
            "--exit-code-on-error", "0",  # failed requests are data, not a locust failure
            "--json-file", str(out_dir / STATS_PREFIX),
        ]  # fmt: skip
        # Hermetic: no LOCUST_* settings from the caller's environment leak in, and the cwd
        # (where locust looks for locust.conf / pyproject.toml) is our own out_dir.
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
        env |= {
            ENV_PATH: path,
            ENV_WAIT_S: repr(float(wait_s)),
            ENV_TIMEOUT_S: repr(float(request_timeout_s)),
            ENV_ALLOWED_HOSTS: ",".join(sorted(allowed)),
            ENV_HEADERS: json.dumps(dict(headers or {})),
            ENV_TLS_VERIFY: "1" if tls_verify else "0",
            ENV_KEEPALIVE: "1" if keep_alive else "0",
            ENV_SEGMENTS: json.dumps([list(seg) for seg in rate_segments]),
            ENV_RUN_S: repr(float(max_duration_s)),
            ENV_MAX_IN_FLIGHT: str(max_in_flight),
            ENV_DROP_AFTER_S: repr(float(drop_after_s)),
            "PYTHONUNBUFFERED": "1",
        }
        for name in (ENV_CAPTURE, ENV_MAX_REQUESTS, ENV_WORKER, ENV_WORKERS, ENV_STREAM,
                     ENV_COLLECT):
            env.pop(name, None)

        def share_env(index: int, share: int | None, capture_file: Path | None) -> dict[str, str]:
            out = dict(env, **{ENV_WORKER: str(index), ENV_WORKERS: str(workers)})
            if capture_file is not None:
                out[ENV_CAPTURE] = str(capture_file)
            if share is not None:
                out[ENV_MAX_REQUESTS] = str(share)
            return out

        procs: list[_Proc] = []
        shares = worker_shares(max_requests, workers)
        pod_captures: list[Path] = []
        if in_cluster is not None:
            port = _free_port(in_cluster.bind_host)
            procs.append(_Proc("master", (
                *run_args, "--master", "--master-bind-host", in_cluster.bind_host,
                "--master-bind-port", str(port), "--expect-workers", str(workers),
                "--expect-workers-max-wait", str(POD_CONNECT_WAIT_S)),
                dict(env, **{ENV_COLLECT: str(out_dir),
                             ENV_FINAL_WAIT_S: repr(float(stop_timeout_s) + 5.0)}), None))
            pod_captures = [out_dir / f"requests-p{i}.tsv" for i in range(workers)]
        elif workers == 1:
            capture_file = out_dir / CAPTURE_FILE if capture else None
            procs.append(_Proc("single", tuple(run_args), share_env(0, max_requests,
                                                                     capture_file),
                               capture_file))
        else:
            port = _free_port()
            master_env = dict(env)
            procs.append(_Proc("master", (*run_args, "--master", "--master-bind-host",
                                          "127.0.0.1", "--master-bind-port", str(port),
                                          "--expect-workers", str(workers)), master_env, None))
            for i in range(workers):
                capture_file = out_dir / f"requests-w{i}.tsv" if capture else None
                procs.append(_Proc(f"worker-{i}", ("--worker", "--master-host", "127.0.0.1",
                                                   "--master-port", str(port)),
                                   share_env(i, shares[i], capture_file), capture_file))

        started_at = time.time()
        popens: list[subprocess.Popen[bytes]] = []
        try:
            for spec in procs:
                proc_log = log_path if spec.role in ("single", "master") else \
                    out_dir / f"locust-{spec.role}.log"
                cmd = [*common, *spec.args]
                with proc_log.open("wb") as log:
                    log.write(("$ " + " ".join(cmd) + "\n").encode())
                    log.flush()
                    popens.append(subprocess.Popen(
                        cmd,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        cwd=out_dir,
                        env=spec.env,
                        start_new_session=True,  # a terminal Ctrl-C reaches the harness
                    ))
            if in_cluster is not None:
                pod_files = ",".join(f"{POD_MODULES_DIR}/{Path(f).name}" for f in files)
                for i in range(workers):
                    pod_env = worker_pod_env(share_env(i, shares[i], None))
                    in_cluster.launcher.launch(i, ("-f", pod_files, "--worker", "--master-host",
                                                   in_cluster.bind_host, "--master-port",
                                                   str(port)), pod_env)
        except BaseException:
            for proc in popens:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            if in_cluster is not None:
                in_cluster.launcher.remove()
            raise
        return cls(
            popens,
            out_dir=out_dir,
            log_path=log_path,
            capture_paths=[spec.capture for spec in procs if spec.capture is not None]
            + pod_captures,
            # the pods must start and connect before locust's --run-time begins
            max_duration_s=max_duration_s + (POD_CONNECT_WAIT_S if in_cluster else 0),
            max_requests=max_requests,
            started_at=started_at,
            mode=mode,
            pods=in_cluster.launcher if in_cluster else None,
            senders=[p.pid for p, spec in zip(popens, procs, strict=True)
                     if spec.capture is not None],
        )

    @classmethod
    def from_profile(cls, target_base_url: str, profile: LoadProfile, out_dir: Path,
                     allowed_hosts: Iterable[str] = LOCAL_HOSTS,
                     environ: Mapping[str, str] | None = None,
                     in_cluster: InCluster | None = None) -> LoadRun:
        """Start the load an experiment describes; ``max_duration_s`` bounds the whole run.
        Header values named by ``profile.headers_from_env`` are read from ``environ``."""
        env = os.environ if environ is None else environ
        missing = [var for _, var in profile.headers_from_env if var not in env]
        if missing:
            raise LoadError(f"spec.load.headersFromEnv names environment variable(s) that are "
                            f"not set: {', '.join(missing)}")
        return cls.start(
            target_base_url,
            users=profile.users,
            spawn_rate=profile.spawn_rate,
            max_duration_s=profile.max_duration_s,
            max_requests=profile.max_requests,
            path=profile.path,
            wait_s=profile.wait_ms / 1000.0,
            locustfile=profile.locustfile,
            out_dir=out_dir,
            keep_alive=profile.keep_alive,
            allowed_hosts=allowed_hosts,
            headers={header: env[var] for header, var in profile.headers_from_env},
            tls_verify=profile.tls_verify,
            request_timeout_s=profile.timeout_s,
            mode=profile.mode,
            rate_segments=profile.rate_segments,
            max_in_flight=profile.max_in_flight,
            drop_after_s=profile.drop_after_s,
            workers=profile.workers,
            in_cluster=in_cluster,
        )

    def cpu_times(self) -> CpuTimes | None:
        """What the sending processes got of the CPUs so far (all of it once they stopped)."""
        return self._cpu.figures()

    def _sending(self) -> bool:
        """Whether a capture file holds a record yet (its head has a line that is not a
        comment); read from the watcher's thread, without the readers' lock."""
        if not self._sent:
            self._sent = self._count > 0 or any(_has_record(p) for p in self.capture_paths)
        return self._sent

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc.poll() is None

    def _poll(self) -> None:
        """Read what every capture file gained; count it, remember each file's last record and
        keep the last ``recent_s`` seconds (by end) for the live readers, nothing more."""
        newest = -math.inf
        for i, reader in enumerate(self._readers):
            new = reader.poll()
            if not new:
                continue
            self._count += len(new)
            self._failures += sum(1 for r in new if not r.ok)
            self._dropped += sum(1 for r in new if r.dropped)
            self._lasts[i] = new[-1]
            self._recent.extend(new)
            newest = max(newest, max(r.end for r in new))
        while self._recent and self._recent[0].end < newest - self.recent_s:
            self._recent.popleft()

    def records(self) -> CaptureRecords:
        """All records captured so far (also while running), streamed from the capture files
        in completion order at each iteration (see ``chaos.load.records.iter_captures``)."""
        with self._reader_lock:
            self._poll()
            return self._snapshot()

    def _snapshot(self) -> CaptureRecords:
        lasts = [r for r in self._lasts if r is not None]
        return CaptureRecords(self.capture_paths, self._count,
                              max(lasts, key=lambda r: r.end) if lasts else None)

    def wait_first_record(self, timeout_s: float, poll_s: float = 0.2) -> bool:
        """Wait until some record arrived (the in-cluster workers have connected and are
        sending), the run ended, or ``timeout_s`` passed; whether a record arrived."""
        deadline = Deadline(SYSTEM_CLOCK, timeout_s)
        while not deadline.expired() and self.running:
            with self._reader_lock:
                self._poll()  # counts what it reads: nothing read here is lost to the run
                if self._count:
                    return True
            deadline.sleep(poll_s)
        return bool(len(self.records()))

    def records_since(self, t: float) -> list[RequestRecord]:
        """Records of requests that started (open loop: were due) at or after wall time ``t``,
        among those that ended in the last ``recent_s`` seconds, merged in completion order;
        reads incrementally, so it is cheap to call repeatedly while the load runs (flush lag
        is ~0.2 s)."""
        with self._reader_lock:
            self._poll()
            recent = [r for r in self._recent if r.t >= t]
        if len(self._readers) > 1:
            recent.sort(key=lambda r: r.end)
        return recent

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop gracefully (SIGTERM: locust flushes capture and stats), SIGKILL after grace_s;
        then delete the worker pods, if any (the master has collected their records)."""
        try:
            self._stop(grace_s)
        finally:
            self._cpu.stop()
            if self._pods is not None:
                self._pods.remove()

    def _stop(self, grace_s: float) -> None:
        if all(p.poll() is not None for p in self._procs):
            return
        if self._proc.poll() is None:
            self._stop_reason = "stopped"
        for proc in self._procs:
            self._signal(proc, signal.SIGTERM)
        deadline = Deadline(SYSTEM_CLOCK, grace_s)
        for proc in self._procs:
            try:
                proc.wait(timeout=max(0.1, deadline.remaining()))
            except subprocess.TimeoutExpired:
                if proc is self._proc:
                    self._stop_reason = "killed"
                self._signal(proc, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):  # cleanup must not raise
                    proc.wait(timeout=10)

    @staticmethod
    def _signal(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)  # its own session: reaches any children too

    def wait(self, timeout: float | None = None) -> LoadResult:
        """Wait for the run to end (by default its run-time plus a margin), stopping it if it
        overruns; raise :class:`LoadError` if locust failed or captured nothing."""
        if self._result is not None:
            return self._result
        if timeout is None:
            elapsed = time.monotonic() - self._started_mono
            timeout = max(0.0, self.max_duration_s - elapsed) + 30.0
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
        if any(p.poll() is None for p in self._procs[1:]):
            # the master is done: its workers quit with it, or are stopped now
            deadline = Deadline(SYSTEM_CLOCK, 10.0)
            for proc in self._procs[1:]:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=max(0.1, deadline.remaining()))
            self.stop(grace_s=5.0)
        if self._pods is not None:
            self._pods.remove()  # the master is done with them
        self._cpu.stop()  # every process has exited: its last sample is in
        returncode = self._proc.returncode
        ended_at = time.time()
        with self._reader_lock:
            self._poll()
            records = self._snapshot()
            failures, dropped = self._failures, self._dropped
        locust_requests, locust_failures = self._locust_totals()
        reason = self._stop_reason or "run-time"
        if reason == "run-time" and self.max_requests and len(records) >= self.max_requests:
            reason = "max-requests"
        # After our own SIGTERM locust exits through its normal shutdown with code 0, unless
        # the signal came before locust had installed its handler (-SIGTERM): not a failure.
        ours = reason == "killed" or (reason == "stopped" and returncode == -signal.SIGTERM)
        if returncode != 0 and not ours:
            raise LoadError(
                f"locust exited with code {returncode}; see {self.log_path}\n{self._log_tail()}"
            )
        if self.capture_paths and not records:
            raise LoadError(
                f"locust produced no request records ({', '.join(map(str, self.capture_paths))}"
                f"); see {self.log_path}\n{self._log_tail()}"
            )
        self._result = LoadResult(
            returncode=returncode,
            stop_reason=reason,
            records=records,
            locust_requests=locust_requests,
            locust_failures=locust_failures,
            started_at=self.started_at,
            ended_at=ended_at,
            out_dir=self.out_dir,
            capture_path=self.capture_path,
            log_path=self.log_path,
            mode=self.mode,
            capture_paths=self.capture_paths,
            clock_offsets_s=self.clock_offsets(),
            streamed=self.streamed(),
            failures=failures,
            dropped=dropped,
            cpu=self._cpu.figures(),
        )
        return self._result

    def streamed(self) -> tuple[StreamedWorker, ...]:
        """The pod workers' clocks and record counts, as the master wrote them down."""
        if self._pods is None:
            return ()
        try:
            data = json.loads((self.out_dir / OFFSETS_FILE).read_text())
            return tuple(StreamedWorker(
                index=int(w["index"]), worker=str(w["worker"]), offset_s=w["offset_s"],
                error_bound_s=w["error_bound_s"], samples=int(w["samples"]),
                offset_last_s=w["offset_last_s"], records=int(w["records"]), sent=w["sent"])
                for w in data["workers"])
        except (OSError, ValueError, KeyError, TypeError):
            return ()

    def clock_offsets(self) -> tuple[float | None, ...]:
        """Each capture file's clock offset from the first one's (see ``LoadResult``); for pod
        workers, each one's measured offset from the master's clock (already applied to its
        records)."""
        if self._pods is not None:
            by_index = {w.index: w.offset_s for w in self.streamed()}
            return tuple(by_index.get(i) for i in range(len(self.capture_paths)))
        marks = [reader.wall_minus_monotonic for reader in self._readers]
        ref = marks[0] if marks else None
        return tuple(None if m is None or ref is None else m - ref for m in marks)

    def _locust_totals(self) -> tuple[int, int]:
        stats_path = self.out_dir / f"{STATS_PREFIX}.json"
        try:
            entries: list[LocustStatsEntry] = json.loads(stats_path.read_text())
        except (OSError, ValueError):
            return 0, 0
        return (
            sum(e.get("num_requests", 0) for e in entries),
            sum(e.get("num_failures", 0) for e in entries),
        )

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join("  | " + ln for ln in text.splitlines()[-lines:])

    def __enter__(self) -> LoadRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
