"""Node faults through the in-cluster agent (`--chaos-node-access agent`), with Docker out of
the kube-chaos process's reach (DOCKER_HOST at a dead socket) and the cluster reached through
a kubeconfig whose context is not kind's (as any cluster kube-chaos did not make): a partition
experiment passes, its report says the nodes were reached by the agent, its undo is confirmed
and its agent pods are gone; and a runner SIGKILLed mid-partition has the partition lifted by
the agent's dead man's switch within lease + 5 s, with no rollback.

The test process itself prepares the cluster with Docker (the workload and agent images copied
onto the nodes) and checks the nodes through it (chaos.node.kind, as the other e2e tests do).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kind_nodes import DOCKER
from test_faults_helpers import Cluster, cluster_from_env, ensure_workload_image, wait_for

from chaos.engine.runner import RunEnv
from chaos.faults.undo import rollback_all
from chaos.journal.store import all_journals, pending_in
from chaos.node import netns
from chaos.plan import agent as plan
from chaos.plan import netrules

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = "agent-e2e"  # not kind-<name>: kube-chaos sees a cluster it did not make
DEAD_DOCKER = "unix:///nonexistent/kube-chaos-e2e/docker.sock"
LEASE_S = 10


@pytest.fixture(scope="module")
def cluster(chaos_env: RunEnv) -> Iterator[Cluster]:
    from chaos.cluster import agent_image

    c = cluster_from_env(chaos_env)
    ensure_workload_image(c)
    agent_image.provide(c.name)
    yield c


@pytest.fixture
def project(cluster: Cluster, tmp_path: Path) -> Path:
    """An experiments folder, and a kubeconfig for the cluster under a context of our own."""
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    [ctx] = [c for c in config["contexts"] if c["name"] == cluster.context]
    ctx["name"] = CONTEXT
    config["contexts"] = [ctx]
    config["current-context"] = CONTEXT
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(config))
    (tmp_path / "exp").mkdir()
    shutil.copytree(ROOT / "experiments" / "workloads", tmp_path / "exp" / "workloads")
    return tmp_path


def partition_experiment(duration: str, timeout: str, max_duration: str) -> str:
    text = (ROOT / "experiments" / "net-partition-one-backend.yaml").read_text()
    return (text.replace("duration: 15s", f"duration: {duration}")
            .replace("timeout: 120s", f"timeout: {timeout}")
            .replace("maxDuration: 60s", f"maxDuration: {max_duration}"))


def session_argv(project: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:locust",
            "-m", "chaos", str(project / "exp"), "--rootdir", str(project / "exp"), "-v",
            "--chaos-kubeconfig", str(project / "kubeconfig"),
            "--chaos-allow-context", CONTEXT, "--chaos-node-ports", "30080-30099",
            "--chaos-node-access", "agent", "--chaos-reports", str(project / "reports"),
            *extra]


def session_env(project: Path) -> dict[str, str]:
    return {**os.environ, "DOCKER_HOST": DEAD_DOCKER, "PYTHONUNBUFFERED": "1",
            "KUBE_CHAOS_STATE": str(project / "state")}


def backends(cluster: Cluster) -> list[tuple[str, str, str, str]]:
    """(namespace, pod, uid, node) of every running backend of a tiers workload."""
    pods = cluster.kube.core.list_pod_for_all_namespaces(label_selector="app=tiers,tier=backend")
    return [(p.metadata.namespace, p.metadata.name, p.metadata.uid, p.spec.node_name)
            for p in pods.items
            if p.metadata.namespace.startswith("kc-net-partition-one-backend")
            and p.status.phase == "Running" and p.metadata.deletion_timestamp is None]


def partitioned(cluster: Cluster) -> list[str]:
    """The backends whose netns holds a partition table (read through Docker, by the test)."""
    return [name for _, name, uid, node in backends(cluster)
            if netns.table_present(DOCKER, node, uid, netrules.table_name("partition", name),
                                   "netdev")]


def agent_pods(cluster: Cluster) -> list[str]:
    pods = cluster.kube.core.list_namespaced_pod(plan.NAMESPACE,
                                                 label_selector=f"{plan.APP_LABEL}=true")
    return sorted(p.metadata.name for p in pods.items if p.metadata.deletion_timestamp is None)


def test_a_partition_runs_through_the_agent_without_docker(cluster: Cluster,
                                                           project: Path) -> None:
    (project / "exp" / "net-partition-one-backend.yaml").write_text(
        partition_experiment("15s", "120s", "60s"))
    before = agent_pods(cluster)
    proc = subprocess.run(session_argv(project), capture_output=True, text=True, timeout=420,
                          env=session_env(project), check=False)
    print(proc.stdout[-6000:], proc.stderr[-3000:])
    assert proc.returncode == 0, proc.stdout[-3000:]
    [path] = (project / "reports").glob("*/net-partition-one-backend*/report.json")
    report = json.loads(path.read_text())
    assert (report["verdict"], report["cluster"]["node_access"]) == ("pass", "agent")
    undos = {u["kind"]: u["status"] for u in report["undo"]}
    assert undos.get("delete-nft-table") == "undone", report["undo"]
    # the table the agent loaded was there: its counters were read back through the agent
    [fault] = report["fault"]["faults"]
    print(json.dumps(fault["details"], indent=1))
    dropped = fault["details"]["dropped_packets"]
    assert len(dropped) == 1 and all(n is not None and n > 0 for n in dropped.values()), dropped
    # the session's agent pods were deleted at its end, their undo marked done
    wait_for("agent pods gone", lambda: agent_pods(cluster) == before, 60)
    assert [a.describe() for j in all_journals(project / "state" / "journal")
            for a in pending_in(j)] == []


def test_a_killed_runners_partition_is_lifted_by_the_agent_within_the_lease(
        cluster: Cluster, project: Path) -> None:
    (project / "exp" / "net-partition-one-backend.yaml").write_text(
        partition_experiment("150s", "240s", "200s"))
    before = agent_pods(cluster)
    runner = subprocess.Popen(session_argv(project, "--chaos-lease", str(LEASE_S)),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=session_env(project), start_new_session=True)
    journals = project / "state" / "journal"
    try:
        wait_for("partition in place", lambda: runner.poll() is None
                 and bool(partitioned(cluster)), 240, step_s=0.5)
        os.killpg(runner.pid, signal.SIGKILL)
        killed = time.monotonic()
        out, _ = runner.communicate(timeout=30)
        print(out[-4000:])
        held = partitioned(cluster)
        assert held, "the partition went with the runner: nothing for the agent to do"
        wait_for("partition lifted by the agent", lambda: not partitioned(cluster),
                 LEASE_S + 5 - (time.monotonic() - killed), step_s=0.25)
        lifted_after = time.monotonic() - killed
        print(f"partition lifted {lifted_after:.1f}s after the SIGKILL (lease {LEASE_S}s)")
        logs = "".join(cluster.kube.core.read_namespaced_pod_log(name, plan.NAMESPACE)
                       for name in agent_pods(cluster))
        print(logs)
        assert "lease expired" in logs and "nft delete table netdev" in logs, logs
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
        # what the killed run left (its namespace, its agent pods) goes with its journal
        outcomes = rollback_all(all_journals(journals), allow_contexts=(CONTEXT,))
        print("\n".join(f"{o.action.describe()}: {o.describe()}" for o in outcomes))
    assert all(o.status == "undone" for o in outcomes), [o.describe() for o in outcomes]
    wait_for("the killed run's agent pods gone", lambda: agent_pods(cluster) == before, 60)
