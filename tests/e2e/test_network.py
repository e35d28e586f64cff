"""Network faults on the real kind cluster, against the two-tier workload.

Fault-level tests deploy tiers.yaml once (frontend Service as ClusterIP: no NodePort taken) and
ask the frontends directly from their kind node (curl to the pod IP: inside the cluster, and
not through the pods the faults cut). Each test checks the fault's effect while it holds, that
it is gone afterwards (table or qdisc listed again, journal empty) and what it reported. The
experiment-level tests run the bundled net-*.yaml under locust load on 127.0.0.1:30084 and
check the SLA each one names.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from kind_nodes import DOCKER
from network_helpers import Pod, Tiers, get, get_many, tiers_namespace
from test_faults_helpers import (
    Cluster,
    cluster_from_env,
    ensure_workload_image,
    make_ctx,
    wait_for,
)

from chaos.engine.runner import RunEnv
from chaos.errors import InjectionFailed
from chaos.faults import build
from chaos.faults.base import FaultOutcome
from chaos.journal.store import Journal, pending_in
from chaos.model.experiment import (
    Bandwidth,
    Dns,
    FaultSpec,
    Latency,
    PacketLoss,
    Partition,
    Peer,
    Selector,
)
from chaos.model.parse import load_experiment
from chaos.node import netns
from chaos.plan import netrules

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]

EXPERIMENTS = Path(__file__).parents[2] / "experiments"
TIERS = Selector.of({"app": "tiers"})
BACKENDS = Selector.of({"tier": "backend"})
FRONTENDS = Selector.of({"tier": "frontend"})


@pytest.fixture(scope="module")
def cluster(chaos_env: RunEnv) -> Iterator[Cluster]:
    c = cluster_from_env(chaos_env)
    ensure_workload_image(c)
    yield c


@pytest.fixture(scope="module")
def tiers(cluster: Cluster) -> Iterator[Tiers]:
    with tiers_namespace(cluster) as t:
        yield t


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.jsonl")


class Running:
    """A fault injected in a thread (it holds for its duration), so the test can look while
    it is in place."""

    def __init__(self, tiers: Tiers, journal: Journal, spec: FaultSpec) -> None:
        self.ctx = make_ctx(tiers.cluster, tiers.ns, journal, dict(TIERS))
        self.fault = build(spec)
        self.outcome: FaultOutcome | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.outcome = self.fault.inject(self.ctx)
        except BaseException as exc:  # re-raised in the test by result()
            self.error = exc

    def result(self, timeout_s: float = 120) -> FaultOutcome:
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), "the fault did not end after its duration"
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome


def _tables_gone(pods: list[Pod], kind: str, family: str = "netdev") -> bool:
    return not any(netns.table_present(DOCKER, p.node, p.uid,
                                       netrules.table_name(kind, p.name), family)
                   for p in pods)


def _wait_in_place(running: Running, pods: list[Pod], kind: str,
                   family: str = "netdev") -> None:
    wait_for(f"{kind} tables in place",
             lambda: running.error is None and all(
                 netns.table_present(DOCKER, p.node, p.uid,
                                     netrules.table_name(kind, p.name), family)
                 for p in pods), 60, step_s=0.3)
    assert running.error is None, running.error


def _all_ok(pods: list[Pod]) -> bool:
    return all(get(p).status == 200 for p in pods)


def test_partition_of_every_backend_from_the_frontends(tiers: Tiers, journal: Journal) -> None:
    frontends, backends = tiers.pods("frontend"), tiers.pods("backend")
    assert _all_ok(frontends), "the tiers must serve before the fault"
    spec = Partition(selector=BACKENDS, count=None, percent=100, duration_s=8,
                     peer=Peer(selector=FRONTENDS))
    running = Running(tiers, journal, spec)
    _wait_in_place(running, backends, "partition")
    for fe in frontends:
        a = get(fe)
        # every connect hangs; 6 attempts x 250 ms, then the frontend gives up
        assert a.status == 504 and 1.2 < a.seconds < 2.5, a
        assert "backend timed out" in a.body
    for be in backends:  # precise: the node (and the kubelet) still reach the backends
        assert get(be).status == 200
    outcome = running.result()
    assert _all_ok(frontends), "served again once the partition lifted"
    assert _tables_gone(backends, "partition")
    assert pending_in(journal.path) == []
    d = outcome.details
    assert sorted(d["peer_addresses"]) == sorted(p.ip for p in frontends)  # type: ignore[arg-type]
    dropped = d["dropped_packets"]
    assert isinstance(dropped, dict) and set(dropped) == {p.name for p in backends}
    assert sum(dropped.values()) > 0 and d["matched_packets"] == dropped
    assert outcome.lifted_at is not None and d["lift_s"] < 5  # type: ignore[operator]


def test_partition_from_the_backend_service_cuts_the_frontends_egress_only(
        tiers: Tiers, journal: Journal) -> None:
    frontends, backends = tiers.pods("frontend"), tiers.pods("backend")
    spec = Partition(selector=FRONTENDS, count=None, percent=100, duration_s=6,
                     peer=Peer(service="backend"), direction="egress")
    running = Running(tiers, journal, spec)
    _wait_in_place(running, frontends, "partition")
    assert {get(fe).status for fe in frontends} == {504}
    outcome = running.result()
    assert _all_ok(frontends)
    assert _tables_gone(frontends, "partition")
    service = tiers.cluster.kube.core.read_namespaced_service("backend", tiers.ns)
    cluster_ip = service.spec.cluster_ip
    addresses = outcome.details["peer_addresses"]
    assert isinstance(addresses, list) and cluster_ip in addresses
    assert {p.ip for p in backends} <= set(addresses)


def test_packet_loss_drops_the_share_it_was_asked_for(tiers: Tiers, journal: Journal) -> None:
    # between one backend and the frontends only: the kubelet's probes are spared, so the
    # backend is neither taken out of the Service nor restarted while we count
    spec = PacketLoss(selector=BACKENDS, count=1, loss=30, duration_s=25,
                      peer=Peer(selector=FRONTENDS))
    running = Running(tiers, journal, spec)

    def lossy() -> Pod | None:  # count 1 of 3: the run's seed chose which
        return next((p for p in tiers.pods("backend") if netns.table_present(DOCKER,
            p.node, p.uid, netrules.table_name("loss", p.name), "netdev")), None)

    wait_for("loss table in place", lambda: running.error is None and lossy() is not None, 60,
             step_s=0.3)
    target = lossy()
    assert target is not None
    answers: list[int] = []
    deadline = time.monotonic() + 16
    while time.monotonic() < deadline:
        for fe in tiers.pods("frontend"):
            answers += get_many(fe, 40)
    outcome = running.result()
    # a third of the calls meet the lossy replica: slower, retried, but served
    assert answers.count(200) >= 0.9 * len(answers) >= 80, answers
    matched = outcome.details["matched_packets"]
    dropped = outcome.details["dropped_packets"]
    assert isinstance(matched, dict) and isinstance(dropped, dict)
    assert matched[target.name] >= 150, matched
    share = dropped[target.name] / matched[target.name]
    assert 0.18 <= share <= 0.42, f"asked for 30 %, dropped {share:.1%} of {matched[target.name]}"
    assert _tables_gone([target], "loss")


@pytest.mark.parametrize(("mode", "status", "fastest", "slowest"), [
    ("fail", 502, 0.0, 1.0),   # the lookup fails at once, every retry too
    ("block", 504, 1.2, 2.5),  # each lookup waits out its 250 ms connect attempt
])
def test_dns_fault_on_one_frontend(tiers: Tiers, journal: Journal, mode: str, status: int,
                                   fastest: float, slowest: float) -> None:
    family = "inet" if mode == "fail" else "netdev"
    spec = Dns(selector=FRONTENDS, count=1, mode=mode, duration_s=6)  # type: ignore[arg-type]
    running = Running(tiers, journal, spec)
    wait_for("dns table in place", lambda: running.error is None and any(
        netns.table_present(DOCKER, p.node, p.uid, netrules.table_name("dns", p.name), family)
        for p in tiers.pods("frontend")), 60, step_s=0.3)
    target = next(p for p in tiers.pods("frontend") if netns.table_present(DOCKER,
        p.node, p.uid, netrules.table_name("dns", p.name), family))
    other = next(p for p in tiers.pods("frontend") if p.name != target.name)
    a = get(target)
    assert a.status == status and fastest <= a.seconds <= slowest, a
    assert "lookup backend" in a.body or "timed out" in a.body, a.body
    assert get(other).status == 200, "the other frontend resolves as before"
    outcome = running.result()
    assert get(target).status == 200
    assert _tables_gone([target], "dns", family)
    dropped = outcome.details["dropped_packets"]
    assert isinstance(dropped, dict) and dropped[target.name] > 0


def test_bandwidth_shapes_what_the_pod_sends(tiers: Tiers, journal: Journal) -> None:
    size = 250_000  # 2 Mbit: about 2 s at 1 mbit, a blink without the fault
    spec = Bandwidth(selector=BACKENDS, count=1, rate_bps=1_000_000, duration_s=20)
    before = {p.name: get(p, f"/payload?bytes={size}") for p in tiers.pods("backend")}
    assert all(a.status == 200 and a.seconds < 1.0 for a in before.values()), before
    running = Running(tiers, journal, spec)

    def shaped() -> Pod | None:
        for p in tiers.pods("backend"):
            pid = netns.sandbox_pid(DOCKER, p.node, p.uid)
            if pid is None:
                continue
            shown = netns.in_netns(DOCKER, p.node, pid, "tc", "qdisc", "show", "dev", "eth0").stdout
            if netrules.ours(netrules.root_qdisc(shown)):
                return p
        return None

    wait_for("our qdisc in place", lambda: running.error is None and shaped() is not None, 60,
             step_s=0.3)
    target = shaped()
    assert target is not None
    during = get(target, f"/payload?bytes={size}", timeout_s=15)
    assert during.status == 200 and 1.6 < during.seconds < 6, during
    outcome = running.result()
    assert shaped() is None, "our qdisc is gone"
    after = get(target, f"/payload?bytes={size}")
    assert after.status == 200 and after.seconds < 1.0, after
    sent = outcome.details["sent_bytes"]
    assert isinstance(sent, dict) and sent[target.name] >= size
    assert pending_in(journal.path) == []


def test_latency_is_injected_where_netem_exists_and_refused_where_it_does_not(
        tiers: Tiers, journal: Journal) -> None:
    backends = tiers.pods("backend")
    missing = netns.netem_unavailable(DOCKER, backends[0].node)
    spec = Latency(selector=BACKENDS, count=None, percent=100, latency_s=0.2, duration_s=4)
    ctx = make_ctx(tiers.cluster, tiers.ns, journal, dict(TIERS))
    if missing is None:  # a kernel with netem: it must really delay, then lift
        outcome = build(spec).inject(ctx)
        assert outcome.details["qdisc"] == "netem delay 200ms"
        assert pending_in(journal.path) == []
        return
    with pytest.raises(InjectionFailed) as info:
        build(spec).inject(ctx)
    message = str(info.value)
    print(f"\n{message}")
    assert message.startswith("latency refused, nothing was injected: the kernel of node")
    assert "CONFIG_NET_SCH_NETEM" in message and "Specified qdisc kind is unknown" in message
    assert not journal.path.exists() or pending_in(journal.path) == []
    for p in backends:  # nothing was put anywhere
        pid = netns.sandbox_pid(DOCKER, p.node, p.uid)
        assert pid is not None
        shown = netns.in_netns(DOCKER, p.node, pid, "tc", "qdisc", "show", "dev", "eth0").stdout
        assert not netrules.ours(netrules.root_qdisc(shown))
    # and the refusal tells the truth: this kernel really has no netem
    probe = subprocess.run(["docker", "exec", backends[0].node, "unshare", "-n", "tc", "qdisc",
                            "add", "dev", "lo", "root", "netem", "delay", "1ms"],
                           capture_output=True, text=True, timeout=30, check=False)
    assert probe.returncode != 0 and "unknown" in probe.stderr


# --- the bundled experiments, under load -----------------------------------------------------


def _figures(result: Any) -> dict[str, Any]:
    report = json.loads(Path(result.report_path).read_text())
    (fault,) = report["recovery"]["faults"]
    figures: dict[str, Any] = fault["figures"]
    return figures


def _negative(run: Callable[..., Any], name: str) -> Any:
    """A negative control run as if it were expected to pass: it must fail, cleanly."""
    result = run(replace(load_experiment(EXPERIMENTS / name), expect="pass"))
    assert result.error is None, result.error
    assert result.verdict == "fail", [str(s) for s in result.slas]
    assert result.undo_failures == []
    return result


def test_partition_of_the_backend_breaches_the_error_sla_and_errors_stop_with_it(
        chaos_experiment: Callable[..., Any]) -> None:
    result = _negative(chaos_experiment, "net-partition-backend-negative.yaml")
    errors = result.sla("maxErrorRate")
    assert not errors.passed and errors.observed > 0.01
    assert result.sla("steadyStateRestored").passed
    figures = _figures(result)
    assert figures["errors_stop_after_lift_s"] is not None
    assert figures["errors_stop_after_lift_s"] < 3.0
    assert figures["last_unserved_after_lift_s"] < 3.0
    assert all(v > 0 for k, v in figures.items() if k.startswith("dropped_packets["))
    print(f"\npartition lifted: errors stop after {figures['errors_stop_after_lift_s']} s, "
          f"last unserved request ends {figures['last_unserved_after_lift_s']} s after")


def test_packet_loss_on_one_backend_breaches_p99_while_the_others_serve(
        chaos_experiment: Callable[..., Any]) -> None:
    result = _negative(chaos_experiment, "net-loss-one-backend-negative.yaml")
    p99 = result.sla("p99Latency")
    assert not p99.passed and p99.observed > 200
    assert result.sla("maxErrorRate").passed, "the other replicas keep serving"
    figures = _figures(result)
    (observed,) = [v for k, v in figures.items() if k.startswith("observed_loss_percent[")]
    assert 20 <= observed <= 40


def test_dns_failure_on_the_frontends_breaches_the_error_sla_and_recovers(
        chaos_experiment: Callable[..., Any]) -> None:
    result = _negative(chaos_experiment, "net-dns-frontends-negative.yaml")
    assert not result.sla("maxErrorRate").passed
    assert result.sla("steadyStateRestored").passed, "lookups work again after the lift"
    figures = _figures(result)
    assert figures["errors_stop_after_lift_s"] is not None
    assert figures["errors_stop_after_lift_s"] < 3.0


def test_partition_of_one_backend_is_absorbed_by_connect_retries(
        chaos_experiment: Callable[..., Any]) -> None:
    result = chaos_experiment(EXPERIMENTS / "net-partition-one-backend.yaml")
    assert result.verdict == "pass", [str(s) for s in result.slas]
    figures = _figures(result)
    # not vacuous: the partition really dropped the frontends' connects to that replica
    (dropped,) = [v for k, v in figures.items() if k.startswith("dropped_packets[")]
    assert dropped > 0


def test_probe_break_network_still_works_through_the_shared_netns_plumbing(
        tiers: Tiers, journal: Journal) -> None:
    """Probe break's network block now goes through chaos.node.netns and chaos.plan.netrules:
    the kubelet's readiness probe must still be dropped, and the block removed after."""
    from chaos.faults.probes import ProbeBreakFault
    from chaos.model.experiment import ProbeBreak

    spec = ProbeBreak(selector=BACKENDS, probe="readiness", duration_s=3, method="network")
    ctx = make_ctx(tiers.cluster, tiers.ns, journal, dict(TIERS))
    outcome = ProbeBreakFault(spec).inject(ctx)
    (pod,) = outcome.targets
    d = outcome.details
    left = d["left_endpoints_after_s"][pod]  # type: ignore[index]
    assert left is not None and left < 3, "the blocked pod left the endpoints"
    assert d["rejoined_endpoints_after_clear_s"][pod] is not None  # type: ignore[index]
    target = next(p for p in tiers.pods("backend") if p.name == pod)
    assert not netns.table_present(DOCKER, target.node, target.uid,
                                   netrules.table_name("probe", pod))
    assert pending_in(journal.path) == []
