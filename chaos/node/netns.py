"""Acting inside a pod's network namespace on its node: nftables tables and tc qdiscs.

The pod's netns is its sandbox's: we find the sandbox (pause) task through the node's
containerd and ``nsenter`` its network namespace with the node's own ``nft`` and ``tc``
(``NodeRuntime.exec``: ``docker exec -i <node> nsenter -t <pid> -n ...`` on kind), so the pod
needs no tools and no privileges. Used by probe break (``chaos.faults.probes``) and the network
faults (``chaos.faults.network``); what goes in is rendered by ``chaos.plan.netrules``. Every
function takes the run's node runtime first.

Undo conventions (shared by every user): deleting confirms by listing again; a node machine
or pod sandbox that no longer exists counts as gone (its netns, and the fault with it, went
away), while the transport failing (Docker not answering) is never "gone".
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable

from chaos.errors import ClusterError, InjectionFailed, RollbackFailed
from chaos.node.runtime import NodeRuntime, UndoSwitch
from chaos.plan import netrules


def sandbox_pid(rt: NodeRuntime, node: str, pod_uid: str) -> int | None:
    """PID of the pod's pause (sandbox) task on the node, whose netns is the pod's."""
    ls = rt.exec(node, "ctr", "-n", "k8s.io", "containers", "ls", "-q",
                 f'labels."io.kubernetes.pod.uid"=={pod_uid},'
                 f'labels."io.cri-containerd.kind"==sandbox')
    if ls.returncode != 0:
        if "No such container" in ls.stderr or "is not running" in ls.stderr:
            return None
        raise ClusterError(f"ctr containers ls on {node}: {ls.stderr.strip()}")
    ids = set(ls.stdout.split())
    if not ids:
        return None
    tasks = rt.exec(node, "ctr", "-n", "k8s.io", "tasks", "ls")
    if tasks.returncode != 0:
        # an empty listing here would read as "no sandbox": say we could not look instead
        raise ClusterError(f"ctr tasks ls on {node}: {tasks.stderr.strip() or tasks.returncode}")
    for line in tasks.stdout.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 3 and parts[0] in ids and parts[2] == "RUNNING":
            return int(parts[1])
    return None


def node_addresses(rt: NodeRuntime, node: str) -> list[str]:
    """IPv4 addresses of the node's host network namespace (loopback excluded)."""
    proc = rt.exec(node, "ip", "-4", "-o", "addr", "show")
    if proc.returncode != 0:
        raise ClusterError(f"ip addr on node {node}: {proc.stderr.strip()}")
    found = []
    for line in proc.stdout.splitlines():
        m = re.search(r"\sinet\s(\d+\.\d+\.\d+\.\d+)/", line)
        if m and not m.group(1).startswith("127."):
            found.append(m.group(1))
    return sorted(set(found))


def in_netns(rt: NodeRuntime, node: str, pid: int, *cmd: str,
             stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return rt.exec(node, "nsenter", "-t", str(pid), "-n", *cmd, stdin=stdin)


def _nft(rt: NodeRuntime, node: str, pid: int, script: str | None,
         *args: str) -> subprocess.CompletedProcess[str]:
    if script is not None:
        return in_netns(rt, node, pid, "nft", "-f", "-", stdin=script)
    return in_netns(rt, node, pid, "nft", *args)


def running_pid(rt: NodeRuntime, node: str, pod_uid: str,
                what: str = "pod network namespace") -> int:
    """The sandbox PID of a pod that must be running (to inject into it)."""
    pid = sandbox_pid(rt, node, pod_uid)
    if pid is None:
        raise InjectionFailed(f"{what}: no running sandbox for pod uid {pod_uid} on node {node}")
    return pid


# --- the agent's dead man's switch (chaos.node.agent): armed before a fault acts ---------------


def _arm(rt: NodeRuntime, node: str, key: str, *argv: str) -> None:
    """Hand the node the undo of what is about to be done there, where the runtime can hold
    it (``UndoSwitch``); InjectionFailed when it cannot, before anything is done."""
    if isinstance(rt, UndoSwitch):
        try:
            rt.arm(node, key, *argv)
        except ClusterError as exc:
            raise InjectionFailed(f"cannot arm the node agent's undo on {node}: {exc}") from exc


def _disarm(rt: NodeRuntime, node: str, key: str) -> None:
    if isinstance(rt, UndoSwitch):
        rt.disarm(node, key)


def table_key(table: str, family: str) -> str:
    return f"nft-{family}-{table}"


def qdisc_key(pid: int, dev: str) -> str:
    return f"qdisc-{pid}-{dev}"


# --- nftables ----------------------------------------------------------------------------------


def load_table(rt: NodeRuntime, node: str, pid: int, table: str, script: str,
               family: str = "inet") -> None:
    """(Re)create ``table`` from an ``nft -f`` script in one transaction: a stale copy (a
    crashed run's) is replaced, and nothing is half-loaded if the script fails."""
    replace = f"table {family} {table} {{}}\ndelete table {family} {table}\n"
    _arm(rt, node, table_key(table, family), "nsenter", "-t", str(pid), "-n", "nft", "delete",
         "table", family, table)
    proc = _nft(rt, node, pid, replace + script)
    if proc.returncode != 0:
        raise InjectionFailed(f"nft in pod netns on {node}: {proc.stderr.strip()}")


def apply_table(rt: NodeRuntime, node: str, pod_uid: str, table: str, script: str,
                family: str = "inet") -> None:
    pid = running_pid(rt, node, pod_uid, f"nft table {table}")
    load_table(rt, node, pid, table, script, family)


def drop_table(rt: NodeRuntime, node: str, pid: int, table: str, family: str) -> None:
    """Delete the table at once, unconfirmed (the journaled undo confirms it afterwards)."""
    _nft(rt, node, pid, None, "delete", "table", family, table)


def list_table(rt: NodeRuntime, node: str, pod_uid: str, table: str,
               family: str = "inet") -> str | None:
    """``nft list table`` output (counters included); None when the table or netns is gone."""
    pid = sandbox_pid(rt, node, pod_uid)
    if pid is None:
        return None
    proc = _nft(rt, node, pid, None, "list", "table", family, table)
    return proc.stdout if proc.returncode == 0 else None


def read_table(rt: NodeRuntime, node: str, pid: int, table: str, family: str) -> str | None:
    """``nft list table`` output from a known sandbox PID; None when it cannot be read."""
    proc = _nft(rt, node, pid, None, "list", "table", family, table)
    return proc.stdout if proc.returncode == 0 else None


def table_present(rt: NodeRuntime, node: str, pod_uid: str, table: str,
                  family: str = "inet") -> bool:
    return list_table(rt, node, pod_uid, table, family) is not None


_NFT_MISSING = "No such file or directory"


def _nft_says_missing(rt: NodeRuntime, proc: subprocess.CompletedProcess[str]) -> bool:
    """nft's own "no such table", not the transport's (Docker's "no such socket")."""
    return proc.returncode != 0 and _NFT_MISSING in proc.stderr and \
        not rt.transport_failed(proc)


def _netns_gone(rt: NodeRuntime, node: str, pod_uid: str,
                what: str) -> tuple[int | None, str | None]:
    """The sandbox PID, or why the netns (and whatever was in it) is gone. Raises when that
    cannot be told: Docker unreachable, node container paused."""
    info = rt.state(node)  # ClusterError (Docker unreachable) propagates: the fault may remain
    if info is None:
        return None, f"node container {node} no longer exists, nor the pod's network namespace"
    if info.paused:
        raise RollbackFailed(f"node container {node} is paused: cannot reach the pod's network "
                             f"namespace, {what} may still be there")
    if not info.running:
        return None, f"node container {node} is {info.status}: its pod network namespaces are gone"
    pid = sandbox_pid(rt, node, pod_uid)
    if pid is None:
        return None, f"no running sandbox for pod uid {pod_uid}: its network namespace is gone"
    return pid, None


def delete_table(rt: NodeRuntime, node: str, pod_uid: str, table: str,
                 family: str = "inet") -> str | None:
    """Delete the table and list it again to confirm it is gone.

    Returns why there was nothing to delete (node container or pod sandbox gone), None when
    the table was deleted or already absent; raises RollbackFailed (or ClusterError) whenever
    that cannot be confirmed: Docker unreachable is not "gone".
    """
    pid, gone = _netns_gone(rt, node, pod_uid, f"the nft table {table}")
    if pid is None:
        _disarm(rt, node, table_key(table, family))
        return gone
    proc = _nft(rt, node, pid, None, "delete", "table", family, table)
    if proc.returncode != 0 and not _nft_says_missing(rt, proc):
        raise RollbackFailed(f"cannot delete nft table {table} on {node}: "
                             f"{proc.stderr.strip() or proc.returncode}")
    check = _nft(rt, node, pid, None, "list", "table", family, table)
    if check.returncode == 0:
        raise RollbackFailed(f"nft table {table} on {node} is still there after delete")
    if _nft_says_missing(rt, check):
        _disarm(rt, node, table_key(table, family))
        return None
    if not rt.transport_failed(check) and sandbox_pid(rt, node, pod_uid) is None:
        return f"pod uid {pod_uid} sandbox ended during the undo: its network namespace is gone"
    raise RollbackFailed(f"deleted nft table {table} on {node}, but cannot confirm it is gone: "
                         f"{check.stderr.strip() or check.returncode}")


# --- tc qdiscs ---------------------------------------------------------------------------------


def default_dev(rt: NodeRuntime, node: str, pid: int) -> str:
    """The pod's interface towards the cluster: the one its default route uses."""
    proc = in_netns(rt, node, pid, "ip", "-o", "route", "show", "default")
    dev = netrules.default_route_dev(proc.stdout) if proc.returncode == 0 else None
    if dev is None:
        raise InjectionFailed(f"no default route in the pod's netns on {node}: "
                              f"{proc.stderr.strip() or proc.stdout.strip() or 'empty'}")
    return dev


def _show(rt: NodeRuntime, node: str, pid: int, dev: str) -> subprocess.CompletedProcess[str]:
    return in_netns(rt, node, pid, "tc", "qdisc", "show", "dev", dev)


def check_root_free(rt: NodeRuntime, node: str, pid: int, dev: str) -> None:
    """Refuse an interface whose root qdisc someone else installed (our undo would delete
    it). Read-only, so it runs before the undo is journaled."""
    shown = _show(rt, node, pid, dev)
    if shown.returncode != 0:
        raise InjectionFailed(f"tc qdisc show dev {dev} in the pod's netns on {node}: "
                              f"{shown.stderr.strip()}")
    current = netrules.root_qdisc(shown.stdout)
    if current is not None and not netrules.replaceable(current):
        raise InjectionFailed(f"{dev} in the pod's netns on {node} already has a root qdisc "
                              f"({current.kind} {current.handle}) that kube-chaos did not put "
                              f"there; refusing to replace it")


def set_root_qdisc(rt: NodeRuntime, node: str, pid: int, dev: str, args: list[str]) -> None:
    """Install ``args`` (``tbf ...``, ``netem ...``) as ``dev``'s root qdisc, with our handle."""
    _arm(rt, node, qdisc_key(pid, dev), "nsenter", "-t", str(pid), "-n", "tc", "qdisc", "del",
         "dev", dev, "root", "handle", netrules.QDISC_HANDLE)
    proc = in_netns(rt, node, pid, "tc", "qdisc", "replace", "dev", dev, "root", "handle",
                    netrules.QDISC_HANDLE, *args)
    if proc.returncode != 0:
        raise InjectionFailed(f"tc qdisc replace dev {dev} root {' '.join(args)} on {node}: "
                              f"{proc.stderr.strip()}")


def qdisc_stats(rt: NodeRuntime, node: str, pid: int, dev: str) -> str | None:
    """``tc -s qdisc show dev`` output; None when tc fails (the netns gone, say)."""
    proc = in_netns(rt, node, pid, "tc", "-s", "qdisc", "show", "dev", dev)
    return proc.stdout if proc.returncode == 0 else None


def delete_root_qdisc(rt: NodeRuntime, node: str, pod_uid: str, dev: str) -> str | None:
    """Delete our root qdisc from ``dev`` (only ours: the handle says so), then show it again
    to confirm. Same conventions as ``delete_table``."""
    pid, gone = _netns_gone(rt, node, pod_uid, f"the qdisc on {dev}")
    if pid is None:
        return gone
    shown = _show(rt, node, pid, dev)
    if shown.returncode != 0:
        if rt.transport_failed(shown):
            raise RollbackFailed(f"cannot show the qdiscs of {dev} on {node}: "
                                 f"{shown.stderr.strip()}")
        if "Cannot find device" in shown.stderr:
            return f"{dev} no longer exists in the pod's network namespace"
        raise RollbackFailed(f"tc qdisc show dev {dev} on {node}: {shown.stderr.strip()}")
    if not netrules.ours(netrules.root_qdisc(shown.stdout)):
        _disarm(rt, node, qdisc_key(pid, dev))
        return None  # already gone (or never installed)
    proc = _del_ours(rt, node, pid, dev)
    if proc.returncode != 0 and rt.transport_failed(proc):
        raise RollbackFailed(f"tc qdisc del dev {dev} root on {node}: {proc.stderr.strip()}")
    check = _show(rt, node, pid, dev)
    if check.returncode != 0:
        raise RollbackFailed(f"deleted the root qdisc of {dev} on {node}, but cannot confirm it "
                             f"is gone: {check.stderr.strip() or check.returncode}")
    if netrules.ours(netrules.root_qdisc(check.stdout)):
        raise RollbackFailed(f"our root qdisc is still on {dev} on {node} after delete: "
                             f"{proc.stderr.strip()}")
    _disarm(rt, node, qdisc_key(pid, dev))
    return None


def _del_ours(rt: NodeRuntime, node: str, pid: int, dev: str) -> subprocess.CompletedProcess[str]:
    # with our handle named, tc refuses ("Invalid handle") to delete anyone else's root
    return in_netns(rt, node, pid, "tc", "qdisc", "del", "dev", dev, "root", "handle",
                    netrules.QDISC_HANDLE)


def drop_root_qdisc(rt: NodeRuntime, node: str, pid: int, dev: str) -> None:
    """Delete our root qdisc at once, unconfirmed (the journaled undo confirms it)."""
    _del_ours(rt, node, pid, dev)


def netem_unavailable(rt: NodeRuntime, node: str) -> str | None:
    """None when the node's kernel offers the netem qdisc; otherwise why not, in tc's words.

    Tried in a throw-away network namespace (``unshare -n``), so finding out changes nothing
    anywhere; a kind node shares the host's kernel, so the answer holds for its pods.
    """
    proc = rt.exec(node, "unshare", "-n", "tc", "qdisc", "add", "dev", "lo", "root",
                   "netem", "delay", "1ms")
    if proc.returncode == 0:
        return None
    if rt.transport_failed(proc):
        raise InjectionFailed(f"cannot ask node {node} whether its kernel has netem: "
                              f"{proc.stderr.strip()}")
    if netrules.netem_missing(proc.stderr):
        uname = rt.exec(node, "uname", "-r").stdout.strip() or "unknown"
        return (f"the kernel of node {node} ({uname}) has no netem qdisc (`tc qdisc add ... "
                f"netem` answers {proc.stderr.strip()!r}); latency needs a kernel with "
                f"CONFIG_NET_SCH_NETEM (built in, or the sch_netem module loaded)")
    raise InjectionFailed(f"cannot tell whether node {node} has netem: `unshare -n tc qdisc add "
                          f"dev lo root netem` failed: {proc.stderr.strip() or proc.returncode}")


# --- probe break's network block -----------------------------------------------------------


def block_probe(rt: NodeRuntime, node: str, pod_uid: str, table: str, port: int,
                sources: Iterable[str]) -> None:
    """Drop new and established TCP to ``port`` from ``sources`` inside the pod's netns (the
    kubelet's probes; see ``chaos.plan.netrules.probe_rules``)."""
    rules = netrules.probe_rules(port, netrules.Addresses.of(sources))
    apply_table(rt, node, pod_uid, table, netrules.render(table, rules))
