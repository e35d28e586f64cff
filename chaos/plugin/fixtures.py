"""Fixtures users compose: chaos_env (alias chaos_cluster), chaos_seed, chaos_namespace,
chaos_deploy, chaos_load, chaos_experiment."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from chaos.errors import ChaosError, HaltActive
from chaos.plugin import environment, record
from chaos.plugin.options import allowed_paths
from chaos.plugin.record import as_experiment

if TYPE_CHECKING:
    from chaos.engine.runner import ExperimentResult, RunEnv
    from chaos.load.runner import LoadRun
    from chaos.model.experiment import Experiment


@pytest.fixture(scope="session")
def chaos_env(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> RunEnv:
    """The run environment: cluster connection, seed, reports dir, undo journal."""
    try:
        return environment.run_env(pytestconfig)
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
    from chaos.engine.runner import check_safety, journaled_namespace

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
        exp = as_experiment(experiment, overrides, allowed_paths(request.config))
        return record.run_and_record(request.config, request.node, exp, chaos_env)

    return run



@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    rep = yield
    if rep.when == "call":
        item.rep_call = rep  # type: ignore[attr-defined]
    return rep
