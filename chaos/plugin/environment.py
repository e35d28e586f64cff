"""The run environment of a session (cluster connection, journal, limits), made on first use
so that collection stays cheap: kind provisioned or a kubeconfig's cluster, leftovers of a
crashed run undone first, a halted cluster refused."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from chaos.errors import HaltActive
from chaos.plugin.options import (
    allowed_paths,
    blast_limits,
    lease_seconds,
    node_ports,
    option,
    rerun_options,
    reviewed_plan,
)
from chaos.plugin.session import SINK, STATE

if TYPE_CHECKING:
    from chaos.engine.incluster import WorkerImage
    from chaos.engine.runner import RunEnv


def run_env(config: pytest.Config) -> RunEnv:
    """The cluster and run environment, created on first use (collection stays cheap)."""
    state = config.stash[STATE]
    if state.env is not None:
        return state.env
    from chaos.engine.runner import RunEnv
    from chaos.journal.store import Journal
    from chaos.k8s.client import connect

    kubeconfig = option(config, "chaos_kubeconfig")
    context = option(config, "chaos_context")
    cluster_name: str | None
    reporter = config.pluginmanager.get_plugin("terminalreporter")

    sink = config.stash.get(SINK, None)

    def log(msg: str) -> None:
        if reporter is not None and config.getoption("verbose") > 0:
            if sink is not None:  # live, not captured with the test's output
                sink(f"kube-chaos: {msg}")
            else:
                reporter.write_line(f"kube-chaos: {msg}")

    from chaos.cluster.cache import cache_root
    from chaos.engine.locks import folder_for

    published = node_ports(config)  # before anything is made: a typo stops here
    if kubeconfig is None:
        from chaos.cluster import kind
        from chaos.cluster.config import ClusterConfig

        cfg = ClusterConfig(name=option(config, "chaos_cluster_name") or "kube-chaos")
        # adopt_shape: e.g. an HA cluster, reused as it is. metrics-server comes with the first
        # experiment that deploys a HorizontalPodAutoscaler (_metrics_provider), not here: a
        # session without one does not wait for its build (7 CPU-minutes cold)
        info = kind.up(cfg, adopt_shape=True)
        if not info.reused:
            state.created_cluster = cfg.name
        kubeconfig, context, cluster_name = str(info.kubeconfig), info.context, cfg.name
        if published is None:
            published = tuple(p.node_port for p in cfg.ports)
    else:
        kubeconfig = str(Path(kubeconfig).expanduser())
        cluster_name = None
    kube = connect(kubeconfig, context)
    if cluster_name is None and kube.context.startswith("kind-"):
        cluster_name = kube.context.removeprefix("kind-")
    # the run locks every process running experiments on this cluster shares: a kind
    # cluster's by its name (made here, or reached through a kubeconfig's kind-<name>
    # context: the same folder either way), another's by its kubeconfig context
    lock_dir = folder_for(cache_root() / "locks", cluster_name or kube.context)
    allow = option(config, "chaos_allow_context") or []
    # undoing leftovers is welcome even halted; through the same safety gate as the run
    roll_back_orphans(kube.context, reporter, tuple(allow))
    _refuse_if_halted(kube)
    journal = Journal.for_run(_journal_name(config, state.run_id))
    node = node_runtime(config, kube, kubeconfig, cluster_name, journal, log)
    state.env = RunEnv(
        kube=kube, kubeconfig=kubeconfig, run_id=state.run_id,
        reports_dir=Path(option(config, "chaos_reports") or "reports"),
        # a kind cluster: RunEnv reaches its nodes through docker (RunEnv.node) unless
        # --chaos-node-access says otherwise
        seed=state.seed, cluster_name=cluster_name, journal=journal, node=node,
        keep_namespace=option(config, "chaos_keep_namespace") or "never",
        allow_contexts=tuple(allow), log=log,
        allow_hosts=tuple(option(config, "chaos_allow_host") or ()),
        allow_paths=allowed_paths(config),
        blast_radius=blast_limits(config),
        plan=reviewed_plan(config),
        provide_images=image_provider(cluster_name) if cluster_name else None,
        provide_metrics=_metrics_provider(cluster_name) if cluster_name else None,
        worker_image=_worker_image(cluster_name) if cluster_name else None,
        session_manifest=_session_manifest(cluster_name),
        rerun_options=rerun_options(config),
        node_ports=published or (), lock_dir=lock_dir, parallel=_workers(config))
    return state.env


def node_runtime(config: pytest.Config, kube: Any, kubeconfig: str, cluster_name: str | None,
                 journal: Any, log: Callable[[str], None]) -> Any:
    """The runtime ``--chaos-node-access`` picks: None for docker (RunEnv then reaches a kind
    cluster's node containers, as always), else an AgentRuntime for this session, its image
    copied onto a kind cluster first (elsewhere the cluster pulls it)."""
    from chaos.node.access import resolve

    try:
        access = resolve(option(config, "chaos_node_access"), cluster_name)
    except ValueError as exc:
        raise pytest.UsageError(f"chaos_node_access: {exc}") from exc
    if access == "docker":
        return None
    from chaos.node.agent import AgentRuntime

    image = option(config, "chaos_agent_image")
    if not image:
        from chaos.cluster import agent_image

        image = (agent_image.provide(cluster_name) if cluster_name
                 else agent_image.image_tag())
    return AgentRuntime(kube, image=image, session=_journal_name(config, config.stash[
        STATE].run_id), kubeconfig=kubeconfig, cluster=cluster_name or "", journal=journal,
        lease_s=lease_seconds(config), log=log)


def _workers(config: pytest.Config) -> int:
    """How many processes of this session run experiments: its xdist workers, or this one."""
    workerinput = getattr(config, "workerinput", None)
    return int(workerinput.get("workercount", 1)) if workerinput else 1


def _journal_name(config: pytest.Config, run_id: str) -> str:
    """One journal per process: an xdist worker's runs (its id, gw0, gw1, ...) are in its own,
    so a crashed worker's pending undos are replayed alone and no two writers share a file."""
    workerinput = getattr(config, "workerinput", None)
    return f"{run_id}-{workerinput['workerid']}" if workerinput else run_id


def _session_manifest(cluster_name: str | None) -> dict[str, Any]:
    """The session-wide part of every report's manifest, read once."""
    from chaos.report.provenance import source_revision

    out: dict[str, Any] = {"kube_chaos": source_revision(), "node_image": None,
                           "kind_config": None}
    if cluster_name:
        from chaos.cluster import kind

        out["node_image"] = kind.node_image_identity(cluster_name)
        out["kind_config"] = kind.kind_config_record(cluster_name)
    return out



def _refuse_if_halted(kube: Any) -> None:
    """On a halted cluster (`kube-chaos halt`) the session stops before its first experiment,
    naming who halted it, when and why."""
    from chaos.k8s.halt import read_halt

    marker = read_halt(kube)
    if marker is not None:
        raise HaltActive(marker, kube.context)


def image_provider(cluster_name: str) -> Callable[[Sequence[str], Sequence[str]], None]:
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


def _worker_image(cluster_name: str) -> WorkerImage:
    """The in-cluster load's worker image for a kind cluster: built and loaded on first use."""
    from chaos.cluster.workers import KindWorkers

    return KindWorkers(cluster_name)


def roll_back_orphans(context: str, reporter: Any, allow_contexts: tuple[str, ...] = ()
                       ) -> None:
    """Undo what a crashed earlier run (e.g. SIGKILLed pytest) left on *this* cluster, before
    its leftovers (a cordoned node, a paused node) spoil this run's experiments. Never raises:
    an unreadable journal or record is named and quarantined, a live run's journal is left
    alone, and every undo that talks to the cluster passes the safety gate first."""
    from chaos.faults.undo import HANDLERS, rollback_all
    from chaos.journal.store import all_journals, load_journals, warn_problems

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

