"""The NodePort a run sends its load to: the experiment's fixed one, or for ``nodePort: auto``
the first of the ports the cluster publishes on 127.0.0.1 that no Service holds and no other
run has picked (its key lock, chaos.engine.locks, is free).

The pick's lock is held until the run's namespace, and with it the Service, is deleted: a run
in another process (a pytest-xdist worker, another session) picking meanwhile skips the port
even before the Service exists, or after it is gone from the lister's view but not yet freed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from filelock import FileLock

from chaos.engine.locks import ClusterLocks
from chaos.errors import NodePortUnavailable
from chaos.model.experiment import Experiment
from chaos.plan.claims import node_port_key

SHOWN_HOLDERS = 8  # the error names this many holders, then how many more


@contextlib.contextmanager
def held_node_port(exp: Experiment, published: Sequence[int],
                   in_use: Callable[[], Mapping[int, str]],
                   lock_dir: Path | None) -> Iterator[int | None]:
    """The run's NodePort, held while the block runs: a fixed ``nodePort`` is itself; ``auto``
    picks one (see the module). None: no NodePort (spec.load.url, and ``auto`` with it: the
    cluster then allocates the Service's port itself). ``in_use``: port -> the Service
    ("namespace/name") holding it, read once."""
    port, lock = pick(exp, published, in_use, lock_dir)
    try:
        yield port
    finally:
        if lock is not None:
            lock.release()


def pick(exp: Experiment, published: Sequence[int], in_use: Callable[[], Mapping[int, str]],
         lock_dir: Path | None) -> tuple[int | None, FileLock | None]:
    """The run's NodePort and, for an ``auto`` pick with a lock folder, its held key lock."""
    declared = exp.workload.node_port
    if declared != "auto":
        return declared, None
    if exp.load.url is not None:
        return None, None  # the load goes elsewhere: no published port is needed
    if not published:
        raise NodePortUnavailable(
            f"{exp.name}: nodePort: auto picks one of the NodePorts the cluster publishes on "
            "127.0.0.1, and this cluster publishes none (a kind cluster kube-chaos made "
            "publishes 30080-30099; for another cluster name them with --chaos-node-ports, "
            "e.g. 30080-30099): give a fixed nodePort or spec.load.url")
    services = in_use()
    locks = ClusterLocks(lock_dir) if lock_dir is not None else None
    holders: list[str] = []
    for port in published:
        if port in services:
            holders.append(f"{port} by Service {services[port]}")
            continue
        lock = None
        if locks is not None:
            lock = locks.try_key(node_port_key(port))
            if lock is None:
                holders.append(f"{port} by another run")
                continue
        return port, lock
    shown = "; ".join(holders[:SHOWN_HOLDERS])
    more = len(holders) - SHOWN_HOLDERS
    where = f" (run locks in {lock_dir})" if lock_dir is not None else ""
    raise NodePortUnavailable(
        f"{exp.name}: nodePort: auto found no free port among {port_ranges(published)}, the "
        f"NodePorts the cluster publishes on 127.0.0.1: {shown}"
        + (f"; and {more} more" if more > 0 else "") + f"{where}. Run fewer experiments at "
        "once, or delete the Services left by a crashed run (`kube-chaos rollback`)")


def port_ranges(ports: Sequence[int]) -> str:
    """30080-30099, 30200: runs of consecutive ports, in the order given."""
    runs: list[list[int]] = []
    for port in ports:
        if runs and port == runs[-1][-1] + 1:
            runs[-1].append(port)
        else:
            runs.append([port])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in runs)
