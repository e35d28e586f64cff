"""Experiments in parallel: pytest-xdist runs the items in worker processes
(`--chaos-parallel N`, or xdist's own `-n N`), and each run holds what it claims
(chaos.plan.claims) as locks (chaos.engine.locks.hold_claims, taken by run_experiment itself)
while it runs. Experiments whose faults stay in
their own namespace share the cluster; one whose fault reaches past it (a node, the control
plane, the nodes' CPU) waits until it has the cluster alone; two that name the same NodePort
take turns.

Why xdist rather than threads in one session: an experiment is a pytest item, and pytest runs
one item at a time per process (capture, reporting and fixtures are per process). xdist is
the engine pytest users already run, and it gives each experiment its own process, so a run
that hangs or crashes takes no other run with it; the locks are files, so they hold across its
workers and across sessions on the same machine too. What the workers share is made once
under the cluster's own locks (chaos.cluster: the cluster, image loads, metrics-server).

The controller (the process the user started) runs no experiment: it reads each report's path
from the items' user properties for the summary, and deletes a cluster a worker created.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from chaos.plugin.options import option

if TYPE_CHECKING:
    pass

REPORT_PROPERTY = "chaos.report"
CLAIMS_PROPERTY = "chaos.claims"


def auto_degree(cpus: int) -> int:
    """How many experiments at once on this machine by default. An experiment mostly waits
    (deploys, warm-up, the recovery watch, the tail); what it spends is the load generator's
    CPU, about a third of a core at the bundled experiments' rates: two per core, at most 8."""
    return max(2, min(8, 2 * cpus))


def degree(config: pytest.Config) -> int | None:
    """--chaos-parallel as a number of workers; None when not asked for."""
    raw = option(config, "chaos_parallel")
    if raw in (None, ""):
        return None
    if str(raw) == "auto":
        return auto_degree(len(os.sched_getaffinity(0)))
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise pytest.UsageError(f"--chaos-parallel must be a whole number of at least 1, or "
                                f"auto; got {str(raw)[:20]!r}")
    return n


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config: pytest.Config) -> Generator[None, Any, Any]:
    # before xdist reads its options (its own hook is tryfirst; wrappers run before it). Never
    # in a worker: xdist calls this hook there too, with the controller's options, and a
    # worker that read --chaos-parallel would start workers of its own, without end
    # (not mutated: a mutant without this guard starts processes until memory runs out)
    n = None if hasattr(config, "workerinput") else degree(config)  # pragma: no mutate
    if n is not None and n > 1 and not config.getoption("numprocesses", None):
        if not config.pluginmanager.hasplugin("xdist"):
            raise pytest.UsageError("--chaos-parallel needs pytest-xdist (a kube-chaos "
                                    "dependency): is it disabled with -p no:xdist?")
        config.option.numprocesses = n
    return (yield)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """Experiments that share the cluster first, those that need it alone after them (stable
    otherwise), so xdist hands the exclusive ones out last and they mostly run one by one at
    the end rather than each stopping the others midway (mostly: a worker may still be busy
    with a shared one it was handed earlier; the locks, not the order, keep them apart).
    Every worker collects the same order (xdist requires it)."""
    from chaos.plan.claims import claims_of

    def alone(item: pytest.Item) -> bool:
        exp = getattr(item, "experiment", None)
        return exp is not None and not claims_of(exp).shares_cluster

    items[:] = sorted(items, key=alone)
