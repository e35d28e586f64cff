"""The network faults' own logic, offline: what is journaled before anything acts, what is
refused before anything is journaled, the lift, and the figures, against fake nodes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest
from fake_node import FakeNode

from chaos.clock import FakeClock
from chaos.errors import InjectionFailed
from chaos.faults import build, undo
from chaos.faults import network as fnet
from chaos.faults.base import FaultContext
from chaos.journal.store import Journal, UndoAction, pending_in
from chaos.k8s.observe import PodState, Snapshot
from chaos.k8s.pods import PodView
from chaos.model.experiment import Bandwidth, Dns, Latency, PacketLoss, Partition, Peer, Selector
from chaos.node import netns

BACKENDS = Selector.of({"tier": "backend"})
FRONTENDS = Selector.of({"tier": "frontend"})
PODS = {"b-1": ("w1", "10.244.1.5"), "b-2": ("w2", "10.244.2.6"), "b-3": ("w2", "10.244.2.7")}
PEER_IPS = ["10.244.1.9", "10.244.2.9"]


class FakeObserver:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def snapshot(self) -> Snapshot:
        pods = {n: PodState(n, f"uid-{n}", node, True, 0) for n, (node, _) in PODS.items()}
        return Snapshot(1, MappingProxyType(pods), frozenset(), MappingProxyType({}))

    def wait_change(self, version: int, timeout_s: float) -> Snapshot:
        self.clock.advance(timeout_s)
        return self.snapshot()


RT = FakeNode()  # the run's node runtime: every netns call must be handed it


def patch_netns(monkeypatch: pytest.MonkeyPatch, name: str, fake: Callable[..., Any]) -> None:
    """Replace ``netns.<name>`` by ``fake``, called without the node runtime (asserted to be
    the context's, RT)."""
    def call(rt: Any, *args: Any, **kwargs: Any) -> Any:
        assert rt is RT, rt
        return fake(*args, **kwargs)
    monkeypatch.setattr(netns, name, call)


class Nodes:
    """The netns side: what was loaded where, in which order, and what the journal held then."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.log: list[str] = []
        self.lock = threading.Lock()
        self.tables: dict[str, str] = {}  # table -> script
        self.qdiscs: dict[str, list[str]] = {}  # pod pid -> args
        self.installed: list[list[str]] = []
        self.fail_load_on: str | None = None
        self.root_free = True
        self.netem: str | None = None

    def note(self, entry: str) -> None:
        with self.lock:
            self.log.append(entry)

    def running_pid(self, node: str, uid: str, what: str = "") -> int:
        return 1000 + int(uid[-1])

    def default_dev(self, node: str, pid: int) -> str:
        return "eth0"

    def load_table(self, node: str, pid: int, table: str, script: str, family: str) -> None:
        journaled = {a.params.get("table") for a in pending_in(self.journal.path)}
        self.note(f"load {table} journaled={table in journaled}")
        if self.fail_load_on and self.fail_load_on in table:
            raise InjectionFailed(f"nft failed on {table}")
        self.tables[table] = script

    def drop_table(self, node: str, pid: int, table: str, family: str) -> None:
        self.note(f"lift {table}")
        self.tables.pop(table, None)

    def read_table(self, node: str, pid: int, table: str, family: str) -> str | None:
        if table not in self.tables:
            return None
        return ("  ip saddr { 10.244.1.9 } counter packets 100 bytes 1 numgen random mod 10000 "
                "< 3000 counter packets 31 bytes 1 drop\n")

    def check_root_free(self, node: str, pid: int, dev: str) -> None:
        if not self.root_free:
            raise InjectionFailed("eth0 already has a root qdisc (htb 1:)")

    def set_root_qdisc(self, node: str, pid: int, dev: str, args: list[str]) -> None:
        journaled = {a.params.get("pod_uid") for a in pending_in(self.journal.path)}
        self.note(f"qdisc {pid} journaled={f'uid-b-{pid - 1000}' in journaled}")
        self.qdiscs[str(pid)] = args
        self.installed.append(args)

    def drop_root_qdisc(self, node: str, pid: int, dev: str) -> None:
        self.note(f"lift qdisc {pid}")
        self.qdiscs.pop(str(pid), None)

    def qdisc_stats(self, node: str, pid: int, dev: str) -> str | None:
        return ("qdisc tbf 4b43: root refcnt 2 rate 1Mbit\n"
                " Sent 5000 bytes 9 pkt (dropped 2, overlimits 7 requeues 0)\n")

    def netem_unavailable(self, node: str) -> str | None:
        return self.netem


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FaultContext, Nodes]:
    journal = Journal(tmp_path / "run.jsonl")
    nodes = Nodes(journal)
    for name in ("running_pid", "default_dev", "load_table", "drop_table", "read_table",
                 "check_root_free", "set_root_qdisc", "drop_root_qdisc", "qdisc_stats",
                 "netem_unavailable"):
        patch_netns(monkeypatch, name, getattr(nodes, name))

    cluster = SimpleNamespace(context="kind-x")

    def running(kube: Any, ns: str, selector: Selector) -> list[PodView]:
        assert (kube, ns) == (cluster, "ns")
        return [PodView(n, f"uid-{n}", node, "Running", True, ip, ("httpd",))
                for n, (node, ip) in PODS.items()]

    monkeypatch.setattr(fnet.kpods, "running_pods", running)
    monkeypatch.setattr(fnet.kpeers, "resolve", lambda kube, ns, peer: list(PEER_IPS)
                        if (kube, ns) == (cluster, "ns") else [])

    def confirm(action: UndoAction) -> str | None:
        nodes.note(f"undo {action.params.get('table') or action.params.get('pod')}")
        return None

    monkeypatch.setitem(undo.HANDLERS, "delete-nft-table", confirm)
    monkeypatch.setitem(undo.HANDLERS, "delete-qdisc", confirm)
    clock = FakeClock()
    ctx = FaultContext(kube=cluster,  # type: ignore[arg-type]
                       namespace="ns", journal=journal, seed=3, clock=clock,
                       workload_selector=Selector.of({"app": "tiers"}), cluster_name="x",
                       kubeconfig="", emit=lambda *e: nodes.note(f"event {e[0]} {e[1]}"),
                       observer=FakeObserver(clock), deadline=600.0, node=RT)
    return ctx, nodes


def test_a_partition_journals_every_target_before_any_acts_then_holds_and_lifts(
        world: tuple[FaultContext, Nodes]) -> None:
    ctx, nodes = world
    spec = Partition(selector=BACKENDS, count=None, percent=100, duration_s=12,
                     peer=Peer(selector=FRONTENDS))
    outcome = build(spec).inject(ctx)
    loads = [e for e in nodes.log if e.startswith("load")]
    assert len(loads) == 3 and all(e.endswith("journaled=True") for e in loads)
    first_undo = next(i for i, e in enumerate(nodes.log) if e.startswith("undo"))
    assert all(i < first_undo for i, e in enumerate(nodes.log) if e.startswith("lift")), \
        "the fault is lifted first, the journaled undos confirm it afterwards"
    assert sum(e.startswith("event fault-start") for e in nodes.log) == 3
    assert nodes.tables == {} and pending_in(ctx.journal.path) == []
    assert ctx.clock.monotonic() == pytest.approx(12.0)
    d = outcome.details
    assert d["held_s"] == pytest.approx(12.0)
    assert d["peer_addresses"] == PEER_IPS
    assert d["matched_packets"] == {"b-1": 100, "b-2": 100, "b-3": 100}
    assert d["dropped_packets"] == {"b-1": 31, "b-2": 31, "b-3": 31}
    assert outcome.lifted_at is not None and outcome.ended_at is not None
    assert outcome.lifted_at <= outcome.ended_at
    assert d["lifted_after_s"] == pytest.approx(outcome.lifted_at - outcome.started_at,
                                                 abs=1e-3)
    assert [u.kind for u in outcome.undo] == ["delete-nft-table"] * 3
    assert {u.params["family"] for u in outcome.undo} == {"netdev"}


def test_the_rules_loaded_are_the_rendered_ones_without_the_targets_own_ip(
        world: tuple[FaultContext, Nodes], monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, nodes = world
    monkeypatch.setattr(fnet.kpeers, "resolve", lambda kube, ns, peer: ["10.244.1.5",
                                                                          "10.244.2.6"])
    scripts: dict[str, str] = {}
    real = nodes.load_table

    def keep(node: str, pid: int, table: str, script: str, family: str) -> None:
        scripts[table] = script
        real(node, pid, table, script, family)

    patch_netns(monkeypatch, "load_table", keep)
    build(Partition(selector=BACKENDS, count=None, percent=100, duration_s=1,
                    peer=Peer(selector=BACKENDS), direction="egress")).inject(ctx)
    assert "ip daddr { 10.244.2.6 } counter drop" in scripts["kube_chaos_partition_b_1"]
    assert "ip daddr { 10.244.1.5 } counter drop" in scripts["kube_chaos_partition_b_2"]
    assert "ingress" not in scripts["kube_chaos_partition_b_1"]


def test_a_peer_that_resolves_only_to_the_target_itself_is_refused_unjournaled(
        world: tuple[FaultContext, Nodes], monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, nodes = world
    monkeypatch.setattr(fnet.kpeers, "resolve", lambda kube, ns, peer: ["10.244.1.5"])
    with pytest.raises(InjectionFailed, match=r"resolves to no address .* for b-1"):
        build(Partition(selector=BACKENDS, count=None, percent=100, duration_s=1,
                        peer=Peer(selector=BACKENDS))).inject(ctx)
    assert ctx.journal.path.exists() is False or pending_in(ctx.journal.path) == []
    assert not any(e.startswith("load") for e in nodes.log)


def test_a_failed_load_still_undoes_every_journaled_target(
        world: tuple[FaultContext, Nodes]) -> None:
    ctx, nodes = world
    nodes.fail_load_on = "b_2"
    with pytest.raises(InjectionFailed, match="nft failed"):
        build(PacketLoss(selector=BACKENDS, count=None, percent=100, loss=30,
                         duration_s=5)).inject(ctx)
    assert sorted(e for e in nodes.log if e.startswith("undo")) == [
        "undo kube_chaos_loss_b_1", "undo kube_chaos_loss_b_2", "undo kube_chaos_loss_b_3"]
    assert pending_in(ctx.journal.path) == []


def test_packet_loss_reports_the_loss_it_achieved(world: tuple[FaultContext, Nodes]) -> None:
    ctx, _ = world
    outcome = build(PacketLoss(selector=BACKENDS, count=1, loss=30, duration_s=5,
                               peer=Peer(selector=FRONTENDS))).inject(ctx)
    (target,) = outcome.targets
    assert outcome.details["observed_loss_percent"] == {target: 31.0}
    assert outcome.details["loss_percent"] == 30


def test_dns_fail_is_an_inet_table(world: tuple[FaultContext, Nodes]) -> None:
    ctx, _ = world
    outcome = build(Dns(selector=FRONTENDS, count=1, mode="fail", duration_s=1)).inject(ctx)
    assert [u.params["family"] for u in outcome.undo] == ["inet"]


def test_bandwidth_installs_our_qdisc_journaled_and_lifts_it(
        world: tuple[FaultContext, Nodes]) -> None:
    ctx, nodes = world
    outcome = build(Bandwidth(selector=BACKENDS, count=2, rate_bps=1_000_000,
                              duration_s=3)).inject(ctx)
    qdiscs = [e for e in nodes.log if e.startswith("qdisc")]
    assert len(qdiscs) == 2 and all(e.endswith("journaled=True") for e in qdiscs)
    assert nodes.qdiscs == {}
    assert outcome.details["rate"] == "1mbit"
    assert outcome.details["qdisc"] == "tbf rate 1000000bit burst 6056 latency 200ms"
    assert set(outcome.details["sent_bytes"].values()) == {5000}  # type: ignore[union-attr]
    assert [u.params["dev"] for u in outcome.undo] == ["eth0", "eth0"]


def test_a_foreign_root_qdisc_refuses_bandwidth_before_anything_is_journaled(
        world: tuple[FaultContext, Nodes]) -> None:
    ctx, nodes = world
    nodes.root_free = False
    with pytest.raises(InjectionFailed, match="already has a root qdisc"):
        build(Bandwidth(selector=BACKENDS, count=1, rate_bps=1_000_000)).inject(ctx)
    assert not ctx.journal.path.exists() or pending_in(ctx.journal.path) == []
    assert nodes.qdiscs == {}


def test_latency_without_netem_is_refused_with_the_reason_and_touches_nothing(
        world: tuple[FaultContext, Nodes]) -> None:
    ctx, nodes = world
    nodes.netem = ("the kernel of node w1 (6.18.44) has no netem qdisc: `tc qdisc add ... "
                   "netem` answers 'Error: Specified qdisc kind is unknown.'")
    with pytest.raises(InjectionFailed) as info:
        build(Latency(selector=BACKENDS, count=1, latency_s=0.1)).inject(ctx)
    assert str(info.value).startswith("latency refused, nothing was injected: the kernel of "
                                      "node w1")
    assert "Specified qdisc kind is unknown" in str(info.value)
    assert not ctx.journal.path.exists() or pending_in(ctx.journal.path) == []
    assert nodes.qdiscs == {} and not any(e.startswith("event") for e in nodes.log)


def test_latency_where_netem_exists_is_a_netem_root_qdisc(
        world: tuple[FaultContext, Nodes]) -> None:
    ctx, nodes = world
    build(Latency(selector=BACKENDS, count=1, latency_s=0.1, jitter_s=0.02)).inject(ctx)
    assert nodes.installed == [["netem", "delay", "100ms", "20ms"]]
    assert nodes.qdiscs == {}


def test_network_faults_need_node_containers(world: tuple[FaultContext, Nodes]) -> None:
    ctx, _ = world
    ctx.node = None  # no node access (not a kind cluster)
    with pytest.raises(InjectionFailed, match="needs a kind cluster"):
        build(Dns(selector=FRONTENDS)).inject(ctx)


def test_the_report_measures_how_long_errors_outlast_the_lift(tmp_path: Path) -> None:
    from chaos.faults.base import FaultOutcome
    from chaos.model.parse import load_experiment
    from chaos.model.timeline import RequestRecord
    from chaos.plan.stream import RunWindows, run_figures
    from chaos.report.evaluate import _fault_record

    exp = load_experiment(Path(__file__).resolve().parents[2] / "experiments"
                          / "net-partition-backend-negative.yaml")
    lift = 1_700_000_010.0
    records = (RequestRecord(lift - 1.0, 1.5, False, 504, "504"),
               RequestRecord(lift + 0.2, 0.01, True, 200, None))
    outcome = FaultOutcome(type="partition", lifted_at=lift)
    figs = run_figures(records, RunWindows(origin=lift - 5.0, lifts=(lift,)))
    figures = _fault_record(0, exp, outcome, figs).figures
    assert figures["errors_stop_after_lift_s"] == 0.0
    assert figures["last_unserved_after_lift_s"] == pytest.approx(0.5)
    assert "errors_stop_after_lift_s" not in _fault_record(
        0, exp, FaultOutcome(type="pod-kill"), figs).figures


# --- each fault's details, the lift, the helpers (issue 18: every branch reached offline) ------


class GoneObserver(FakeObserver):
    """b-2 is replaced (new uid) and b-3 deleted by the time the fault has held."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.after = False

    def snapshot(self) -> Snapshot:
        base = super().snapshot()
        if not self.after:
            return base
        pods = dict(base.pods)
        pods["b-2"] = PodState("b-2", "uid-new", "w2", True, 0)
        del pods["b-3"]
        return Snapshot(2, MappingProxyType(pods), frozenset(), MappingProxyType({}))

    def wait_change(self, version: int, timeout_s: float) -> Snapshot:
        self.after = True
        return super().wait_change(version, timeout_s)


def test_a_partition_outcome_names_its_peer_targets_and_journaled_undos(
        world: tuple[FaultContext, Nodes]) -> None:
    ctx, nodes = world
    peer = Peer(selector=FRONTENDS)
    outcome = build(Partition(selector=BACKENDS, count=None, percent=100, duration_s=4,
                              peer=peer)).inject(ctx)
    d = outcome.details
    assert d["peer"] == "pods tier=frontend" and d["direction"] == "both"
    assert d["duration_s"] == 4 and d["held_s"] == 4.0
    assert d["nodes"] == {"b-1": "w1", "b-2": "w2", "b-3": "w2"}
    assert d["pod_ips"] == {n: ip for n, (_, ip) in PODS.items()}
    assert d["targets_gone_during_fault"] == []
    assert isinstance(d["lift_s"], float) and d["lift_s"] >= 0 and "undo_errors" not in d
    assert dict(outcome.undo[0].params) == {
        "node": "w1", "pod": "b-1", "pod_uid": "uid-b-1", "table": "kube_chaos_partition_b_1",
        "family": "netdev", "namespace": "ns"}
    assert "event fault-start b-1" in nodes.log
    assert outcome.type == "partition" and outcome.targets == ["b-1", "b-2", "b-3"]


def test_the_fault_start_says_what_each_fault_does(world: tuple[FaultContext, Nodes],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, _ = world
    seen: list[tuple[str, str, str]] = []
    ctx.emit = lambda k, n, d: seen.append((k, n, d))
    cases = [
        (Partition(selector=BACKENDS, count=1, duration_s=1, peer=Peer(selector=FRONTENDS),
                   direction="egress"),
         "partition: egress with pods tier=frontend dropped on eth0"),
        (PacketLoss(selector=BACKENDS, count=1, loss=12.5, duration_s=1),
         "packet-loss: 12.5 % of both packets (all traffic) dropped on eth0"),
        (PacketLoss(selector=BACKENDS, count=1, loss=30, duration_s=1, direction="ingress",
                    peer=Peer(selector=FRONTENDS)),
         "packet-loss: 30 % of ingress packets (pods tier=frontend) dropped on eth0"),
        (Dns(selector=BACKENDS, count=1, mode="fail", duration_s=1), "dns: queries rejected"),
        (Dns(selector=BACKENDS, count=1, mode="block", duration_s=1),
         "dns: queries dropped on eth0"),
        (Bandwidth(selector=BACKENDS, count=1, rate_bps=1_000_000, duration_s=1),
         "bandwidth: tbf rate 1000000bit burst 6056 latency 200ms on eth0"),
        (Latency(selector=BACKENDS, count=1, latency_s=0.1, duration_s=1),
         "latency: netem delay 100ms on eth0"),
    ]
    for spec, text in cases:
        seen.clear()
        build(spec).inject(ctx)
        assert [e[2] for e in seen if e[0] == "fault-start"] == [text]
        assert [e[2] for e in seen if e[0] == "fault-end"] == [f"{spec.type} lifted"]


def test_packet_loss_without_a_peer_drops_from_all_traffic(
        world: tuple[FaultContext, Nodes]) -> None:
    ctx, _ = world
    outcome = build(PacketLoss(selector=BACKENDS, count=1, loss=30, duration_s=2,
                               direction="egress")).inject(ctx)
    d = outcome.details
    assert "peer" not in d and d["direction"] == "egress" and d["loss_percent"] == 30
    assert d["observed_loss_percent"] == {outcome.targets[0]: 31.0}


def test_counters_that_cannot_be_read_are_none_not_zero(
        world: tuple[FaultContext, Nodes], monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, _nodes = world

    def read(node: str, pid: int, table: str, family: str) -> str | None:
        if table.endswith("b_1"):
            raise InjectionFailed("nft list failed")
        if table.endswith("b_2"):
            return None
        return "  counter packets 0 bytes 0 numgen random mod 10000 < 3000 counter packets 0 " \
               "bytes 0 drop\n"

    patch_netns(monkeypatch, "read_table", read)
    outcome = build(PacketLoss(selector=BACKENDS, count=None, percent=100, loss=30,
                               duration_s=1)).inject(ctx)
    d = outcome.details
    assert d["matched_packets"] == {"b-1": None, "b-2": None, "b-3": 0}
    assert d["dropped_packets"] == {"b-1": None, "b-2": None, "b-3": 0}
    assert d["observed_loss_percent"] == {"b-1": None, "b-2": None, "b-3": None}


def test_qdisc_stats_that_cannot_be_read_are_none(world: tuple[FaultContext, Nodes],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, _ = world
    patch_netns(monkeypatch, "qdisc_stats", lambda node, pid, dev: None)
    outcome = build(Bandwidth(selector=BACKENDS, count=1, rate_bps=1_000_000,
                              duration_s=1)).inject(ctx)
    (t,) = outcome.targets
    assert outcome.details["sent_bytes"] == {t: None}
    assert outcome.details["dropped_packets"] == {t: None}
    assert dict(outcome.undo[0].params) == {"node": PODS[t][0], "pod": t, "pod_uid": f"uid-{t}",
                                            "dev": "eth0", "namespace": "ns"}
    assert outcome.undo[0].kind == "delete-qdisc"


def test_qdisc_figures_and_latency_checks_each_node_once(
        world: tuple[FaultContext, Nodes], monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, _nodes = world
    asked: list[str] = []

    def netem(node: str) -> str | None:
        asked.append(node)
        return None

    patch_netns(monkeypatch, "netem_unavailable", netem)
    outcome = build(Latency(selector=BACKENDS, count=None, percent=100, latency_s=0.05,
                            duration_s=1)).inject(ctx)
    assert asked == ["w1", "w2"]
    assert outcome.details["qdisc"] == "netem delay 50ms"
    assert outcome.details["dropped_packets"] == {"b-1": 2, "b-2": 2, "b-3": 2}
    assert outcome.details["sent_bytes"] == {"b-1": 5000, "b-2": 5000, "b-3": 5000}


def test_a_lift_that_fails_is_left_to_the_journaled_undo(
        world: tuple[FaultContext, Nodes], monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, nodes = world

    def drop(node: str, pid: int, table: str, family: str) -> None:
        raise InjectionFailed("nft delete failed")

    patch_netns(monkeypatch, "drop_table", drop)
    outcome = build(Dns(selector=BACKENDS, count=1, mode="block", duration_s=2)).inject(ctx)
    assert outcome.details["mode"] == "block"
    assert [e for e in nodes.log if e.startswith("undo")] == [
        f"undo kube_chaos_dns_{outcome.targets[0].replace('-', '_')}"]
    assert pending_in(ctx.journal.path) == [] and "undo_errors" not in outcome.details


def test_an_undo_that_fails_is_in_the_outcome_and_stays_pending(
        world: tuple[FaultContext, Nodes], monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, _ = world

    def fail(action: UndoAction) -> str | None:
        raise RuntimeError("netns busy")

    monkeypatch.setitem(undo.HANDLERS, "delete-nft-table", fail)
    outcome = build(Dns(selector=BACKENDS, count=1, duration_s=1)).inject(ctx)
    [error] = outcome.details["undo_errors"]  # type: ignore[misc]
    assert error.startswith("delete-nft-table(") and error.endswith("FAILED: netns busy")
    assert len(pending_in(ctx.journal.path)) == 1


def test_targets_replaced_or_deleted_during_the_fault_are_named(
        world: tuple[FaultContext, Nodes]) -> None:
    ctx, _ = world
    ctx.observer = GoneObserver(ctx.clock)  # type: ignore[assignment]
    outcome = build(Partition(selector=BACKENDS, count=None, percent=100, duration_s=2,
                              peer=Peer(selector=FRONTENDS))).inject(ctx)
    assert outcome.details["targets_gone_during_fault"] == ["b-2", "b-3"]


def test_gone_only_counts_pods_watched_from_the_start() -> None:
    t = [fnet._Target("a", "u-a", "n", ""), fnet._Target("b", "u-b", "n", ""),
         fnet._Target("c", "u-c", "n", ""), fnet._Target("d", "u-d", "n", "")]

    def s(*pods: tuple[str, str]) -> Snapshot:
        return Snapshot(1, MappingProxyType({n: PodState(n, u, "n", True, 0) for n, u in pods}),
                        frozenset(), MappingProxyType({}))

    before = s(("a", "u-a"), ("b", "old"), ("d", "u-d"))  # c unseen, b already another pod
    after = s(("a", "u-a"), ("d", "u-d2"))
    assert fnet._gone(before, after, t) == ["d"]
    assert fnet._gone(before, s(("d", "u-d")), t) == ["a"]


def test_each_runs_every_target_then_raises_the_first_error() -> None:
    done: list[str] = []
    targets = [fnet._Target(n, "", "", "") for n in ("a", "b", "c")]

    def fn(t: fnet._Target) -> None:
        done.append(t.name)
        if t.name != "a":
            raise InjectionFailed(f"failed on {t.name}")

    with pytest.raises(InjectionFailed, match=r"^failed on b$"):
        fnet._each(targets, fn)
    assert sorted(done) == ["a", "b", "c"]
    fnet._each([], fn)  # no target: no pool error


def test_read_each_turns_a_chaos_error_into_none_but_not_other_bugs() -> None:
    targets = [fnet._Target(n, "", "", "") for n in ("a", "b")]

    def read(t: fnet._Target) -> str | None:
        if t.name == "a":
            raise InjectionFailed("x")
        return "ok"

    assert fnet._read_each(targets, read) == {"a": None, "b": "ok"}
    with pytest.raises(ZeroDivisionError):
        fnet._read_each(targets, lambda t: str(1 / 0))


def test_a_peer_that_is_not_an_address_is_refused_with_the_peer_named(
        world: tuple[FaultContext, Nodes], monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, _nodes = world
    monkeypatch.setattr(fnet.kpeers, "resolve", lambda kube, ns, peer: ["10.0.0.1", "bogus"])
    with pytest.raises(InjectionFailed, match=r"^peer pods tier=frontend: .*bogus"):
        build(Partition(selector=BACKENDS, count=1, duration_s=1,
                        peer=Peer(selector=FRONTENDS))).inject(ctx)
    assert not ctx.journal.path.exists() or pending_in(ctx.journal.path) == []


def test_a_fault_cut_by_the_budget_holds_what_is_left(world: tuple[FaultContext, Nodes]) -> None:
    ctx, _ = world
    ctx.deadline = 7.0
    outcome = build(Dns(selector=BACKENDS, count=1, duration_s=30)).inject(ctx)
    assert outcome.details["held_s"] == 7.0 and ctx.holds[-1].granted_s == 7.0
    assert ctx.holds[-1].planned_s == 30


def test_a_fault_that_fails_before_its_lift_is_lifted_by_its_undo(
        world: tuple[FaultContext, Nodes]) -> None:
    ctx, nodes = world
    nodes.fail_load_on = "b_1"
    with pytest.raises(InjectionFailed):
        build(Dns(selector=BACKENDS, count=None, percent=100, duration_s=5)).inject(ctx)
    assert ctx.holds == [] and not any(e.startswith("lift") for e in nodes.log)


def test_the_base_network_fault_leaves_its_hooks_to_each_type() -> None:
    base = fnet._NetFault(spec=Dns(selector=BACKENDS))
    t = fnet._Target("a", "u", "n", "")
    assert base.describe(t) == "dns"
    for hook in (lambda: base.undo_record(None, t), lambda: base.act(t),  # type: ignore[arg-type]
                 lambda: base.lift(t)):
        with pytest.raises(NotImplementedError):
            hook()
    table = fnet._TableFault(spec=Dns(selector=BACKENDS))
    with pytest.raises(NotImplementedError):
        table.rules(t)
    with pytest.raises(NotImplementedError):
        fnet._QdiscFault(spec=Dns(selector=BACKENDS)).qdisc()
    assert fnet._never(Snapshot(1, MappingProxyType({}), frozenset(), MappingProxyType({}))) \
        is False


def test_each_runs_one_worker_per_target_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    real = fnet.ThreadPoolExecutor

    def pool(max_workers: int) -> Any:
        sizes.append(max_workers)
        return real(max_workers=max_workers)

    monkeypatch.setattr(fnet, "ThreadPoolExecutor", pool)
    for n in (0, 3, 8, 20):
        fnet._each([fnet._Target(str(i), "", "", "") for i in range(n)], lambda t: None)
    assert sizes == [1, 3, 8, 8] and fnet.MAX_PARALLEL == 8


def test_every_netns_call_names_the_targets_node_sandbox_table_and_family(
        world: tuple[FaultContext, Nodes], monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, nodes = world
    calls: list[tuple[Any, ...]] = []
    for name in ("load_table", "drop_table", "read_table", "set_root_qdisc", "drop_root_qdisc",
                 "qdisc_stats", "check_root_free"):
        real = getattr(nodes, name)

        def spy(*args: Any, _name: str = name, _real: Any = real) -> Any:
            calls.append((_name, *args))
            return _real(*args)

        patch_netns(monkeypatch, name, spy)
    spec = Dns(selector=BACKENDS, count=None, percent=100, mode="block", duration_s=1)
    build(spec).inject(ctx)
    table = "kube_chaos_dns_b_2"
    [load] = [c for c in calls if c[0] == "load_table" and c[3] == table]
    assert load[1:3] == ("w2", 1002) and load[5] == "netdev"
    assert load[4].startswith(f"table netdev {table} ")
    assert [c for c in calls if c[0] in ("read_table", "drop_table") and c[3] == table] == [
        ("read_table", "w2", 1002, table, "netdev"), ("drop_table", "w2", 1002, table, "netdev")]
    calls.clear()
    build(Bandwidth(selector=BACKENDS, count=None, percent=100, rate_bps=1_000_000,
                    duration_s=1)).inject(ctx)
    mine = [c for c in calls if c[1:3] == ("w1", 1001)]
    assert [c[0] for c in mine] == ["check_root_free", "set_root_qdisc", "qdisc_stats",
                                    "drop_root_qdisc"]
    assert all(c[3] == "eth0" for c in mine)
    assert mine[1][4] == ["tbf", "rate", "1000000bit", "burst", "6056", "latency", "200ms"]


def test_packet_loss_with_a_peer_loads_rules_for_that_peer_only(
        world: tuple[FaultContext, Nodes], monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, _nodes = world
    peer = Peer(selector=FRONTENDS)
    asked: list[Any] = []

    def resolve(kube: Any, ns: str, p: Any) -> list[str]:
        asked.append(p)
        return list(PEER_IPS)

    monkeypatch.setattr(fnet.kpeers, "resolve", resolve)
    build(PacketLoss(selector=BACKENDS, count=None, percent=100, loss=30, duration_s=1,
                     peer=peer)).inject(ctx)
    assert asked == [peer]
    scripts: dict[str, str] = {}
    patch_netns(monkeypatch, "load_table", lambda node, pid, table, script, family:
                        scripts.__setitem__(table, script))
    build(PacketLoss(selector=BACKENDS, count=1, loss=30, duration_s=1, peer=peer)).inject(ctx)
    [script] = scripts.values()
    assert "10.244.1.9" in script and "10.244.2.9" in script
    scripts.clear()
    build(PacketLoss(selector=BACKENDS, count=1, loss=30, duration_s=1)).inject(ctx)
    [script] = scripts.values()
    assert "10.244.1.9" not in script


def test_a_peer_with_no_address_for_any_target_names_them_all(
        world: tuple[FaultContext, Nodes], monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, _ = world
    monkeypatch.setattr(fnet.kpeers, "resolve", lambda kube, ns, peer: [])
    with pytest.raises(InjectionFailed, match=r"for b-1, b-2, b-3: the fault would do nothing$"):
        build(Partition(selector=BACKENDS, count=None, percent=100, duration_s=1,
                        peer=Peer(selector=FRONTENDS))).inject(ctx)


def test_observed_loss_is_a_percentage_to_two_decimals(
        world: tuple[FaultContext, Nodes], monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, _ = world
    patch_netns(monkeypatch, "read_table", lambda node, pid, table, family: (
        "  counter packets 300 bytes 1 numgen random mod 10000 < 3000 counter packets 100 "
        "bytes 1 drop\n"))
    outcome = build(PacketLoss(selector=BACKENDS, count=1, loss=30, duration_s=1)).inject(ctx)
    assert list(outcome.details["observed_loss_percent"].values()) == [33.33]  # type: ignore[union-attr]


def test_locate_asks_each_targets_node_for_its_sandbox_and_interface(
        world: tuple[FaultContext, Nodes], monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, _ = world
    asked: list[tuple[Any, ...]] = []

    def running_pid(node: str, uid: str, what: str) -> int:
        asked.append(("pid", node, uid, what))
        return 4000 + int(uid[-1])

    def default_dev(node: str, pid: int) -> str:
        asked.append(("dev", node, pid))
        return f"veth{pid}"

    patch_netns(monkeypatch, "running_pid", running_pid)
    patch_netns(monkeypatch, "default_dev", default_dev)
    outcome = build(Dns(selector=BACKENDS, count=None, percent=100, duration_s=1.23456)
                    ).inject(ctx)
    assert sorted(asked) == [("dev", "w1", 4001), ("dev", "w2", 4002), ("dev", "w2", 4003),
                             ("pid", "w1", "uid-b-1", "pod b-1"),
                             ("pid", "w2", "uid-b-2", "pod b-2"),
                             ("pid", "w2", "uid-b-3", "pod b-3")]
    assert outcome.details["held_s"] == 1.235


def test_the_fault_is_timed_on_the_contexts_clock_from_its_start_to_its_lift(
        world: tuple[FaultContext, Nodes], monkeypatch: pytest.MonkeyPatch) -> None:
    """Held 2.34567 s, a lift taking 0.12345 s, an undo confirming 0.5 s more: the figures are
    read off the fake clock, to the millisecond, and the undo's time is not the lift's."""
    ctx, nodes = world
    clock = ctx.clock
    assert isinstance(clock, FakeClock)

    def slow_lift(node: str, pid: int, table: str, family: str) -> None:
        clock.advance(0.12345)
        nodes.drop_table(node, pid, table, family)

    def slow_confirm(action: UndoAction) -> str | None:
        clock.advance(0.5)
        return None

    patch_netns(monkeypatch, "drop_table", slow_lift)
    monkeypatch.setitem(undo.HANDLERS, "delete-nft-table", slow_confirm)
    outcome = build(Partition(selector=BACKENDS, count=1, duration_s=2.34567,
                              peer=Peer(selector=FRONTENDS))).inject(ctx)
    d = outcome.details
    assert outcome.started_at == 1_700_000_000.0
    assert (d["held_s"], d["lift_s"], d["lifted_after_s"]) == (2.346, 0.123, 2.346)
    assert outcome.ended_at == pytest.approx(1_700_000_000.0 + 2.34567 + 0.12345 + 0.5)
