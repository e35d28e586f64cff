"""pytest plugin (entry point `pytest11: kube_chaos`).

- options in one `chaos` group, each with an ini fallback;
- the `chaos` marker;
- fixtures users compose: chaos_cluster, chaos_env, chaos_namespace, chaos_deploy,
  chaos_load, chaos_experiment;
- every YAML experiment file is collected as a test item carrying the marker;
- a summary table at the end of the run; SLA figures as JUnit properties.
"""

from __future__ import annotations

import contextlib
import random
import signal
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from chaos.errors import (
    ChaosError,
    ExperimentAborted,
    ExperimentInvalid,
    HaltActive,
    SLAViolated,
)

if TYPE_CHECKING:
    from chaos.load.runner import LoadRun
    from chaos.model.experiment import BlastRadius, Experiment
    from chaos.runner import ExperimentResult, RunEnv

@dataclass
class ChaosState:
    """Per-session plugin state, kept in config.stash."""

    env: RunEnv | None = None
    created_cluster: str | None = None
    results: list[ExperimentResult] = field(default_factory=list)
    seed: int = 0
    run_id: str = ""
    repeat: int = 1  # --chaos-repeat


STATE = pytest.StashKey[ChaosState]()
SINK = pytest.StashKey[Callable[[str], None]]()


# -- options --------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaos", "kube-chaos: chaos experiments on Kubernetes")

    def opt(name: str, help: str, ini_type: Any = "string", ini: str | None = None,
            **kwargs: Any) -> None:
        dest = "chaos_" + name.replace("-", "_")
        ini = ini or dest
        group.addoption(f"--chaos-{name}", dest=dest, help=help + f" (ini: {ini})", **kwargs)
        parser.addini(ini, help, type=ini_type, default=kwargs.get("default"))
        _INI_NAMES[dest] = ini

    opt("kubeconfig", "target an existing cluster through this kubeconfig instead of "
        "provisioning kind", default=None)
    opt("context", "kubeconfig context to use (default: the current one)", default=None)
    opt("cluster-name", "name of the kind cluster to provision or reuse", default="kube-chaos")
    opt("keep-cluster", "keep a kind cluster this run created (default: delete it at the end; "
        "a cluster that already existed is always kept)", ini_type="bool",
        action="store_true", default=False)
    opt("keep-namespace", "keep a test's namespace: never, on-failure or always",
        default="never", choices=("never", "on-failure", "always"))
    opt("reports", "directory for reports (<dir>/<run-id>/<experiment>/report.json)",
        default="reports")
    opt("seed", "random seed for target choice (default: random, recorded in reports)",
        default=None)
    opt("allow-context", "kubeconfig context faults may target although kube-chaos did not "
        "provision it (repeatable; ini: whitespace-separated)", ini_type="args",
        action="append", default=[])
    opt("plan", "a plan.json reviewed with `kube-chaos plan`: each experiment runs only if the "
        "plan resolved at its start is exactly the reviewed one (same seed)", default=None)
    opt("max-pods", "blast radius: no fault may hit more pods than this (on top of each "
        "experiment's spec.blastRadius)", default=None)
    opt("max-percent", "blast radius: no fault may hit more than this percentage of a "
        "workload's replicas", default=None)
    opt("max-nodes", "blast radius: no fault may hit more nodes than this", default=None)
    opt("repeat", "run each experiment N times (items <name>[1] ... <name>[N]); the summary "
        "and the HTML index give the median and a 95-percent bootstrap interval of recovery, "
        "longest outage and error rate", default=None)
    opt("allow-host", "host that load (spec.load.url), HTTP and Prometheus abort guards may "
        "reach besides 127.0.0.1, localhost and ::1 (repeatable; ini: whitespace-separated)",
        ini_type="args", action="append", default=[])
    opt("allow-path", "folder an experiment's manifests and locustfile may be in besides the "
        "experiment file's own folder (repeatable; ini: whitespace-separated, relative to the "
        "ini file)", ini_type="paths", action="append", default=[])


_INI_NAMES: dict[str, str] = {}  # option dest -> its ini name, where they differ


def _option(config: pytest.Config, name: str) -> Any:
    value = config.getoption(name)
    if value in (None, [], False):
        ini = config.getini(_INI_NAMES.get(name, name))
        return ini if ini not in ("", []) else value
    return value


def _allowed_paths(config: pytest.Config) -> tuple[Path, ...]:
    """--chaos-allow-path folders (relative to where pytest was started), or the ini's
    (relative to the ini file, as pytest resolves "paths" options)."""
    given = _option(config, "chaos_allow_path") or []
    if not given:
        return ()
    base = config.invocation_params.dir
    return tuple((base / Path(p).expanduser()).resolve() for p in given)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "chaos: a chaos experiment: needs a Kubernetes cluster (kind is provisioned "
                   "unless --chaos-kubeconfig is given)")
    seed_opt = _option(config, "chaos_seed")
    try:
        seed = int(seed_opt) if seed_opt not in (None, "") else random.SystemRandom().randrange(
            1, 2**31)
    except ValueError as exc:
        raise pytest.UsageError(f"--chaos-seed must be an integer, got {seed_opt!r}") from exc
    run_id = time.strftime("%Y%m%d-%H%M%S") + f"-{seed}"
    if hasattr(config, "workerinput"):  # xdist worker: share the controller's seed and run id
        run_id = config.workerinput.get("chaos_run_id", run_id)
        seed = int(config.workerinput.get("chaos_seed", seed))
    config.stash[STATE] = ChaosState(seed=seed, run_id=run_id, repeat=_repeat(config))
    _undo_on_sigterm(config)
    if not hasattr(config, "workerinput"):
        _live_progress(config)


def _repeat(config: pytest.Config) -> int:
    raw = _option(config, "chaos_repeat")
    try:
        n = int(raw) if raw not in (None, "") else 1
    except ValueError as exc:
        raise pytest.UsageError(f"--chaos-repeat must be a positive integer, got {raw!r}"
                                ) from exc
    if n < 1:
        raise pytest.UsageError(f"--chaos-repeat must be a positive integer, got {n}")
    return n


def _live_progress(config: pytest.Config) -> None:
    """Build and cluster progress (chaos.cluster.progress) reaches the terminal while pytest
    captures a test's output: written through the terminal reporter with capture suspended,
    the way pytest's live logging does, from the heartbeat thread too (hence the lock)."""
    from chaos.cluster import progress

    lock = threading.Lock()

    def write(line: str) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        capman = config.pluginmanager.get_plugin("capturemanager")
        with lock:
            if reporter is None:
                import sys

                print(line, file=sys.stderr, flush=True)
                return
            ctx = capman.global_and_fixture_disabled() if capman is not None \
                else contextlib.nullcontext()
            with ctx:
                reporter.ensure_newline()
                reporter.write_line(line)
                reporter.flush()

    previous = progress.set_sink(write)
    config.stash[SINK] = write

    def restore() -> None:
        progress.set_sink(previous)

    config.add_cleanup(restore)


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt("SIGTERM")


def _undo_on_sigterm(config: pytest.Config) -> None:
    """A cancelled CI job gets SIGTERM, whose default action ends Python without running any
    `finally`: turn it into an interrupt, so faults are undone exactly as on Ctrl-C. Only when
    nobody else handles SIGTERM, and only in the main thread (where signals are delivered)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return
    signal.signal(signal.SIGTERM, _sigterm)

    def restore() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    config.add_cleanup(restore)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:  # pragma: no cover - xdist hook
    state = node.config.stash[STATE]
    node.workerinput["chaos_run_id"] = state.run_id
    node.workerinput["chaos_seed"] = state.seed


def pytest_report_header(config: pytest.Config) -> str:
    state = config.stash[STATE]
    return f"kube-chaos: seed {state.seed}, run {state.run_id}"


# -- session environment --------------------------------------------------------------------


def _environment(config: pytest.Config) -> RunEnv:
    """The cluster and run environment, created on first use (collection stays cheap)."""
    state = config.stash[STATE]
    if state.env is not None:
        return state.env
    from chaos.journal import Journal
    from chaos.k8s.client import connect
    from chaos.runner import RunEnv

    kubeconfig = _option(config, "chaos_kubeconfig")
    context = _option(config, "chaos_context")
    cluster_name: str | None
    reporter = config.pluginmanager.get_plugin("terminalreporter")

    sink = config.stash.get(SINK, None)

    def log(msg: str) -> None:
        if reporter is not None and config.getoption("verbose") > 0:
            if sink is not None:  # live, not captured with the test's output
                sink(f"kube-chaos: {msg}")
            else:
                reporter.write_line(f"kube-chaos: {msg}")

    if kubeconfig is None:
        from chaos.cluster import kind
        from chaos.cluster.config import ClusterConfig

        cfg = ClusterConfig(name=_option(config, "chaos_cluster_name") or "kube-chaos")
        # adopt_shape: e.g. an HA cluster, reused as it is. metrics-server comes with the first
        # experiment that deploys a HorizontalPodAutoscaler (_metrics_provider), not here: a
        # session without one does not wait for its build (7 CPU-minutes cold)
        info = kind.up(cfg, adopt_shape=True)
        if not info.reused:
            state.created_cluster = cfg.name
        kubeconfig, context, cluster_name = str(info.kubeconfig), info.context, cfg.name
    else:
        kubeconfig = str(Path(kubeconfig).expanduser())
        cluster_name = None
    kube = connect(kubeconfig, context)
    if cluster_name is None and kube.context.startswith("kind-"):
        cluster_name = kube.context.removeprefix("kind-")
    allow = _option(config, "chaos_allow_context") or []
    # undoing leftovers is welcome even halted; through the same safety gate as the run
    _roll_back_orphans(kube.context, reporter, tuple(allow))
    _refuse_if_halted(kube)
    state.env = RunEnv(
        kube=kube, kubeconfig=kubeconfig, run_id=state.run_id,
        reports_dir=Path(_option(config, "chaos_reports") or "reports"),
        seed=state.seed, cluster_name=cluster_name,
        journal=Journal.for_run(state.run_id),
        keep_namespace=_option(config, "chaos_keep_namespace") or "never",
        allow_contexts=tuple(allow), log=log,
        allow_hosts=tuple(_option(config, "chaos_allow_host") or ()),
        allow_paths=_allowed_paths(config),
        blast_radius=_blast_limits(config),
        plan=_reviewed_plan(config),
        provide_images=_image_provider(cluster_name) if cluster_name else None,
        provide_metrics=_metrics_provider(cluster_name) if cluster_name else None,
        session_manifest=_session_manifest(cluster_name),
        rerun_options=_rerun_options(config))
    return state.env


def _session_manifest(cluster_name: str | None) -> dict[str, Any]:
    """The session-wide part of every report's manifest, read once."""
    from chaos.provenance import source_revision

    out: dict[str, Any] = {"kube_chaos": source_revision(), "node_image": None,
                           "kind_config": None}
    if cluster_name:
        from chaos.cluster import kind

        out["node_image"] = kind.node_image_identity(cluster_name)
        out["kind_config"] = kind.kind_config_record(cluster_name)
    return out


def _rerun_options(config: pytest.Config) -> tuple[str, ...]:
    """`kube-chaos run` flags that aim a rerun at the same cluster as this session."""
    out: list[str] = []
    for dest, flag in (("chaos_kubeconfig", "--kubeconfig"), ("chaos_context", "--context")):
        value = _option(config, dest)
        if value:
            shown = Path(value).expanduser().resolve() if dest == "chaos_kubeconfig" else value
            out.append(f"{flag}={shown}")
    out += [f"--allow-context={c}" for c in _option(config, "chaos_allow_context") or []]
    out += [f"--allow-host={h}" for h in _option(config, "chaos_allow_host") or []]
    out += [f"--allow-path={p}" for p in _allowed_paths(config)]
    # the blast-radius limits a game day ran under are part of what it was: a rerun keeps them
    for kind in ("pods", "percent", "nodes"):
        value = _option(config, f"chaos_max_{kind}")
        if value not in (None, ""):
            out.append(f"--max-{kind}={value}")
    return tuple(out)


def _reviewed_plan(config: pytest.Config) -> dict[str, Any] | None:
    import json

    path = _option(config, "chaos_plan")
    if not path:
        return None
    try:
        data: dict[str, Any] = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise pytest.UsageError(f"--chaos-plan {path}: cannot read the plan: {exc}") from exc
    return data


def _blast_limits(config: pytest.Config) -> BlastRadius | None:
    from chaos.model.experiment import BlastRadius

    raw = {k: _option(config, f"chaos_max_{k}") for k in ("pods", "percent", "nodes")}
    if all(v in (None, "") for v in raw.values()):
        return None
    try:
        pods = int(raw["pods"]) if raw["pods"] not in (None, "") else None
        percent = float(raw["percent"]) if raw["percent"] not in (None, "") else None
        nodes = int(raw["nodes"]) if raw["nodes"] not in (None, "") else 10**6
    except ValueError as exc:
        raise pytest.UsageError(f"--chaos-max-pods/--chaos-max-percent/--chaos-max-nodes: "
                                f"{exc}") from exc
    if (pods is not None and pods < 1) or (percent is not None and not 0 < percent <= 100) \
            or nodes < 1:
        raise pytest.UsageError("blast-radius limits must be positive (percent: 0 < p <= 100)")
    return BlastRadius(max_pods=pods, max_percent=percent, max_nodes=nodes)


def _refuse_if_halted(kube: Any) -> None:
    """On a halted cluster (`kube-chaos halt`) the session stops before its first experiment,
    naming who halted it, when and why."""
    from chaos.k8s.halt import read_halt

    marker = read_halt(kube)
    if marker is not None:
        raise HaltActive(marker, kube.context)


def _image_provider(cluster_name: str) -> Callable[[Sequence[str], Sequence[str]], None]:
    """Images reach a kind cluster by copying, not pulling: what an experiment lists, plus the
    built-in workload images its manifests run (built here, only when used)."""

    def provide(required: Sequence[str], referenced: Sequence[str]) -> None:
        from chaos.cluster import images
        from chaos.cluster.config import ClusterConfig

        images.provide(ClusterConfig(name=cluster_name),
                       [*required, *images.builtin_among(referenced)])

    return provide


def _metrics_provider(cluster_name: str) -> Callable[[], None]:
    """metrics-server onto a kind cluster kube-chaos made, once per session, when an experiment
    needs it (idempotent: seconds on a cluster that has it; experiments deployed at once from
    threads wait for one install)."""
    lock = threading.Lock()
    done: list[bool] = []

    def provide() -> None:
        from chaos.cluster import kind, metrics_server
        from chaos.cluster.config import ClusterConfig

        with lock:
            if done:
                return
            cfg = ClusterConfig(name=cluster_name)
            nodes = [n for n in kind.node_containers(cluster_name)
                     if not n.endswith("external-load-balancer")]
            metrics_server.install(cfg, nodes=len(nodes))
            done.append(True)

    return provide


def _roll_back_orphans(context: str, reporter: Any, allow_contexts: tuple[str, ...] = ()
                       ) -> None:
    """Undo what a crashed earlier run (e.g. SIGKILLed pytest) left on *this* cluster, before
    its leftovers (a cordoned node, a paused node) spoil this run's experiments. Never raises:
    an unreadable journal or record is named and quarantined, a live run's journal is left
    alone, and every undo that talks to the cluster passes the safety gate first."""
    from chaos.faults.undo import HANDLERS, rollback_all
    from chaos.journal import all_journals, load_journals, warn_problems

    def say(line: str, **markup: bool) -> None:
        if reporter is not None:
            reporter.write_line(line, **markup)

    states = load_journals(all_journals(), set(HANDLERS))
    if reporter is None:
        warn_problems(states)
    for state in states:
        for problem in state.problems:
            say(f"kube-chaos: journal warning: {problem}", yellow=True)
    here = [s for s in states
            if any(a.target.get("context") == context for a in s.pending)]
    mine = []
    for state in here:
        alive = state.running()
        if alive is None:
            mine.append(state)
        else:
            say(f"kube-chaos: leaving {len(state.pending)} pending undo(s) of {state.path} on "
                f"{context} alone: its run may still be alive ({alive})", yellow=True)
    if not mine:
        return
    outcomes = rollback_all(mine, allow_contexts=allow_contexts)
    settled = sum(o.settled for o in outcomes)
    say(f"kube-chaos: undo left by a crashed run on {context}: {settled} of {len(outcomes)} "
        f"confirmed", yellow=True)
    for outcome in outcomes:
        say(f"  {outcome.action.describe()}: {outcome.describe()}", red=not outcome.settled)
    if settled < len(outcomes):
        say("  (what is not confirmed stays pending: `kube-chaos rollback` retries it)",
            yellow=True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(STATE, None)
    if state is None or state.created_cluster is None:
        return
    if _option(session.config, "chaos_keep_cluster"):
        return
    from chaos.cluster import kind
    from chaos.cluster.config import ClusterConfig

    with contextlib.suppress(ChaosError):
        kind.down(ClusterConfig(name=state.created_cluster))


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chaos_env(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> RunEnv:
    """The run environment: cluster connection, seed, reports dir, undo journal."""
    try:
        return _environment(pytestconfig)
    except HaltActive as exc:
        request.session.shouldstop = str(exc)
        pytest.fail(f"kube-chaos: {exc}", pytrace=False)
    except ChaosError as exc:
        pytest.fail(f"kube-chaos could not prepare the cluster: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def chaos_cluster(chaos_env: RunEnv) -> RunEnv:
    """Alias of chaos_env for tests that only need the cluster (kube, kubeconfig, context)."""
    return chaos_env


@pytest.fixture(scope="session")
def chaos_seed(chaos_env: RunEnv) -> int:
    return chaos_env.seed


@pytest.fixture
def chaos_namespace(chaos_env: RunEnv, request: pytest.FixtureRequest) -> Iterator[str]:
    """A unique namespace for this test, deleted afterwards unless kept by option (its
    deletion journaled first, so a killed run's namespace is rolled back too)."""
    from chaos.runner import check_safety, journaled_namespace

    try:
        check_safety(chaos_env)  # a fixture deploys too: the same gate as experiments
    except ChaosError as exc:
        pytest.fail(str(exc), pytrace=False)

    def keep() -> bool:
        rep = getattr(request.node, "rep_call", None)
        failed = rep is not None and rep.failed
        return chaos_env.keep_namespace == "always" or (
            chaos_env.keep_namespace == "on-failure" and failed)

    with journaled_namespace(chaos_env, request.node.name, keep) as ns:
        yield ns


@pytest.fixture
def chaos_deploy(chaos_env: RunEnv, chaos_namespace: str) -> Callable[..., list[str]]:
    """Deploy manifests into the test's namespace (their images loaded first, on kind) and wait
    for every Deployment, StatefulSet and DaemonSet to roll out; returns their names."""
    from chaos.k8s import workload as kw
    from chaos.plan import manifests as pm

    def deploy(*manifests: str | Path, images: Sequence[str] = (),
               timeout_s: float = 120.0) -> list[str]:
        docs = kw.read_manifests([Path(m) for m in manifests])
        if chaos_env.provide_images is not None:
            chaos_env.provide_images(images, pm.referenced_images(d for _, d in docs))
        kw.apply_documents(chaos_env.kube, chaos_namespace, docs)
        refs = pm.rollout_targets(d for _, d in docs)
        kw.wait_rollouts(chaos_env.kube, chaos_namespace, refs, timeout_s)
        return [r.name for r in refs]

    return deploy


@pytest.fixture
def chaos_load(tmp_path: Path) -> Generator[Callable[..., LoadRun], None, None]:
    """Start locust (in a subprocess, bounded in time) against a 127.0.0.1 NodePort."""
    from chaos.load.runner import LoadRun

    runs: list[LoadRun] = []

    def start(node_port: int, *, users: int = 5, duration_s: float = 20.0, path: str = "/",
              wait_s: float = 0.05, max_requests: int | None = None,
              rate: float | None = None) -> LoadRun:
        """``rate`` (arrivals/s): open-loop load instead of ``users`` closed-loop users."""
        run = LoadRun.start(f"http://127.0.0.1:{node_port}", users=users, spawn_rate=users,
                            max_duration_s=duration_s, out_dir=tmp_path / f"load{len(runs)}",
                            path=path, wait_s=wait_s, max_requests=max_requests,
                            mode="closed" if rate is None else "open",
                            rate_segments=() if rate is None else ((rate, rate, None),))
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.stop()


@pytest.fixture
def chaos_experiment(chaos_env: RunEnv, request: pytest.FixtureRequest
                     ) -> Callable[..., ExperimentResult]:
    """Run an experiment (a YAML path or an Experiment) and return its measured result.

    SLA figures are attached to the test's JUnit properties. The result is returned even
    when SLAs were breached; use `chaos.assert_slas(result)` to fail on them.
    """

    def run(experiment: str | Path | Experiment, **overrides: Any) -> ExperimentResult:
        exp = _as_experiment(experiment, overrides, _allowed_paths(request.config))
        return _run_and_record(request.config, request.node, exp, chaos_env)

    return run


def _as_experiment(experiment: str | Path | Experiment, overrides: dict[str, Any],
                   allow_paths: tuple[Path, ...] = ()) -> Experiment:
    from chaos.model.parse import load_experiment

    exp = (load_experiment(experiment, allow_paths=allow_paths)
           if isinstance(experiment, str | Path) else experiment)
    return replace(exp, **overrides) if overrides else exp


def _run_and_record(config: pytest.Config, node: pytest.Item, exp: Experiment,
                    env: RunEnv, repeat: tuple[int, int] | None = None) -> ExperimentResult:
    from chaos.report.summary import junit_properties
    from chaos.report.writer import load_report
    from chaos.runner import run_experiment

    try:
        result = run_experiment(exp, env, repeat=repeat)
    except HaltActive as exc:
        node.session.shouldstop = str(exc)  # the kill switch stops the whole session
        raise
    config.stash[STATE].results.append(result)
    if result.abort is not None and result.abort.breach is not None \
            and result.abort.breach.type == "halt":
        node.session.shouldstop = f"kube-chaos halt: {result.abort.breach.detail}"
    if result.report_path is not None:
        for key, value in junit_properties(load_report(result.report_path)):
            node.user_properties.append((key, value))
        html = _write_html(result.report_path, env.log)
        if html is not None:
            node.user_properties.append(("chaos.html", str(html)))
    return result


def _write_html(report_path: Path, log: Callable[[str], None]) -> Path | None:
    """report.html next to report.json. A report page that cannot be drawn is named in the
    log and never fails the experiment: report.json, the record, is already written."""
    from chaos.report.html import write_experiment_html

    try:
        return write_experiment_html(report_path, index_href="../index.html")
    except Exception as exc:
        log(f"could not write the HTML report of {report_path}: {type(exc).__name__}: {exc}")
        return None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    rep = yield
    if rep.when == "call":
        item.rep_call = rep  # type: ignore[attr-defined]
    return rep


# -- YAML experiments as test items ---------------------------------------------------------


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    from chaos.model.sniff import is_experiment

    # apiVersion: kube-chaos/... in any YAML style, anywhere in the file (UTF-16/32 too, so
    # that such a file fails with a clear error): collected, never skipped in silence
    if not is_experiment(file_path):
        return None  # workload manifests and other YAML are not experiments
    return ExperimentFile.from_parent(parent, path=file_path)


class ExperimentFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from chaos.model.parse import load_experiment
        from chaos.model.tags import marker_name

        # tags are checked there (each can be a marker), and where its files may be
        exp = load_experiment(self.path, allow_paths=_allowed_paths(self.config))
        state = self.config.stash.get(STATE, None)
        count = state.repeat if state is not None else 1
        for index in range(1, count + 1):
            item = ExperimentItem.from_parent(
                self, name=exp.name if count == 1 else f"{exp.name}[{index}]", experiment=exp,
                repeat=(index, count) if count > 1 else None)
            item.add_marker(pytest.mark.chaos)
            for tag in exp.tags:
                name = marker_name(tag)
                _register_marker(self.config, name)
                item.add_marker(getattr(pytest.mark, name))
            yield item

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, ExperimentInvalid):
            return f"invalid experiment: {excinfo.value}"
        return str(super().repr_failure(excinfo))


def _register_marker(config: pytest.Config, name: str) -> None:
    """Tags are only known once a file is collected: register each then, so that
    ``--strict-markers`` accepts it, unless the project's own ini already describes it."""
    known = {line.split(":")[0].split("(")[0].strip() for line in config.getini("markers")}
    if name not in known:
        config.addinivalue_line("markers", f"{name}: kube-chaos experiment tag")


class ExperimentItem(pytest.Item):
    def __init__(self, *, experiment: Experiment, repeat: tuple[int, int] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.experiment = experiment
        self.repeat = repeat

    def runtest(self) -> None:
        try:
            env = _environment(self.config)
        except HaltActive as exc:
            self.session.shouldstop = str(exc)
            raise ExperimentError(f"kube-chaos: {exc}") from exc
        except ChaosError as exc:
            raise ExperimentError(f"kube-chaos could not prepare the cluster: {exc}") from exc
        result = _run_and_record(self.config, self, self.experiment, env, self.repeat)
        if result.verdict == "aborted" and result.abort is not None \
                and result.abort.breach is not None:
            raise ExperimentAborted(result.abort.breach)
        if result.verdict == "error":
            raise ExperimentError(f"experiment errored: {result.error} "
                                  f"(report: {result.report_path})")
        if result.verdict != "pass":
            if self.experiment.expect == "fail":
                raise ExperimentError(
                    "negative control held every SLA, but it was expected to breach at least "
                    f"one: the harness did not detect the failure (report: {result.report_path})")
            raise SLAViolated(result.slas, self.experiment.name)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, ChaosError | ExperimentError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"experiment: {self.name}"


class ExperimentError(Exception):
    """An experiment could not be carried out, or a negative control went undetected."""


# -- public helpers -------------------------------------------------------------------------


def assert_slas(result: ExperimentResult) -> None:
    """Fail with the SLA, threshold and observed value of every breached SLA; an aborted run
    fails naming the guard that stopped it (its SLAs were never judged)."""
    if result.abort is not None and result.abort.breach is not None \
            and result.verdict == "aborted":
        raise ExperimentAborted(result.abort.breach)
    if result.error:
        raise ExperimentError(f"experiment errored: {result.error}")
    failed = result.failed_slas
    if failed:
        raise SLAViolated(result.slas, result.experiment.name)


# -- summary --------------------------------------------------------------------------------


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    state = config.stash.get(STATE, None)
    if state is None or not state.results:
        return
    from chaos.report.repeats import group, repeat_table, summarise
    from chaos.report.summary import summary_row, summary_table
    from chaos.report.writer import load_report

    paths = [r.report_path for r in state.results if r.report_path is not None]
    loaded = [load_report(p) for p in paths]
    rows = [summary_row(r) for r in loaded]
    terminalreporter.write_sep("=", "kube-chaos experiments")
    terminalreporter.write_line(summary_table(rows))
    repeated = [summarise(name, rs) for name, rs in group(loaded).items() if len(rs) > 1]
    if repeated:
        terminalreporter.write_line("")
        terminalreporter.write_line(repeat_table(repeated))
    reports = sorted({p.parent.parent for p in paths})
    terminalreporter.write_line(f"reports: {', '.join(map(str, reports))}  (seed {state.seed})")
    for run_dir in reports:
        index = _write_index(run_dir, [p for p in paths if p.parent.parent == run_dir])
        if index is not None:
            terminalreporter.write_line(f"html: {index}")


def _write_index(run_dir: Path, paths: list[Path]) -> Path | None:
    from chaos.report.html import write_index

    try:
        return write_index(run_dir, paths)
    except Exception as exc:  # the reports are written; the index is a view of them
        import sys

        print(f"kube-chaos: could not write {run_dir}/index.html: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return None
