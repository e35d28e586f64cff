"""What the runner hands the report and the audit trail, without a cluster: the fields of the
evaluated run, the reproducibility manifest, the abort record and the trail's lines; and what
run_experiment and _run pass along (allowed hosts, locks, the repeat, the blast radius)."""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from filelock import FileLock, Timeout
from test_phases import (
    FakeFault,
    HalfEndpointObserver,
    World,
    _experiment,
    _run,
)

from chaos.clock import FakeClock
from chaos.engine import phases as ph
from chaos.engine import runner
from chaos.engine.locks import ClusterLocks, Pace, PaceWarning
from chaos.engine.preview import PLAN_VERSION
from chaos.faults.base import FaultContext, FaultOutcome
from chaos.journal.audit import AUDIT_NAME, AuditLog, read_audit, who
from chaos.journal.store import Journal, UndoAction, UndoOutcome
from chaos.model import BlastRadius, LoadProfile
from chaos.model.abort import Breach
from chaos.model.apiprobe import ApiProbeData
from chaos.model.parse import load_experiment
from chaos.plan.generator import overload_error
from chaos.report.data import AbortRecord

ROOT = Path(__file__).resolve().parents[2]
KUBE: Any = SimpleNamespace(context="kind-x", api=SimpleNamespace(
    configuration=SimpleNamespace(host="https://127.0.0.1:6443")))
SESSION: dict[str, Any] = {"kube_chaos": {"version": "0.0.0", "revision": "abc"}}


def _env(tmp_path: Path, **over: Any) -> runner.RunEnv:
    env = runner.RunEnv(kube=KUBE, kubeconfig="/k", run_id="r", reports_dir=tmp_path, seed=1,
                        cluster_name=None, journal=Journal(tmp_path / "j.jsonl"),
                        clock=FakeClock(), session_manifest=SESSION)
    for key, value in over.items():
        setattr(env, key, value)
    return env


def _state(tmp_path: Path, exp: Any = None) -> ph.RunState:
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    clock = FakeClock()
    state = ph.RunState(exp=exp or _experiment(), namespace="kc-offline-1", seed=11, clock=clock,
                        deadline=clock.monotonic() + 120, out_dir=out,
                        journal=Journal(tmp_path / "journal.jsonl"), kubeconfig="/k",
                        cluster_name=None, log=lambda _m: None)
    state.audit = AuditLog(out / AUDIT_NAME)
    return state


PORTS: Any = SimpleNamespace(cluster=SimpleNamespace(server_version=lambda: "v1.34.4"))


def _evaluate(tmp_path: Path, state: ph.RunState, error: str | None = None,
              repeat: tuple[int, int] | None = None) -> tuple[runner.ExperimentResult,
                                                              dict[str, Any]]:
    result = runner._evaluate(state, _env(tmp_path), PORTS, 1_700_000_000.0, error,
                              {"setup": 0.0}, repeat)
    assert result.report_path is not None
    return result, json.loads(result.report_path.read_text())


def _breach(at: float) -> Breach:
    return Breach(guard="errors", type="error-rate", value=0.9, threshold=0.5,
                  detail="90 % of 2 s", at=at)


def _undone(at: float) -> UndoOutcome:
    return UndoOutcome(UndoAction("none", {"pod": "web-a"}, id="u1"), "undone", at=at)


# --- _evaluate -----------------------------------------------------------------------------------


def test_the_report_carries_the_api_probe_and_the_load_generators(tmp_path: Path) -> None:
    state = _state(tmp_path)
    state.api_data = ApiProbeData(server="https://127.0.0.1:6443")
    state.load_generators = ({"name": "local-1", "cpu_s": 1.5},)
    _result, report = _evaluate(tmp_path, state)
    assert report["api_server"] is not None
    assert report["load"]["generators"] == [{"name": "local-1", "cpu_s": 1.5}]
    _result, report = _evaluate(tmp_path, _state(tmp_path))
    assert report["api_server"] is None and "generators" not in report["load"]


def test_the_manifest_of_the_report_has_the_server_version_and_the_repeat(
        tmp_path: Path) -> None:
    _result, report = _evaluate(tmp_path, _state(tmp_path), repeat=(2, 3))
    assert report["manifest"]["kubernetes_server"] == "v1.34.4"
    assert report["manifest"]["repeat"] == {"index": 2, "count": 3}


def test_an_aborted_run_cut_short_is_aborted_not_an_error(tmp_path: Path) -> None:
    state = _state(tmp_path)
    state.abort.trigger(_breach(1_700_000_001.0))
    state.shortfalls.append("the tail ran 0.0s of 5s")
    result, report = _evaluate(tmp_path, state)
    assert (result.verdict, result.error) == ("aborted", None)
    assert result.abort == AbortRecord(breach=_breach(1_700_000_001.0), undo_complete_at=None,
                                       guards=())
    assert report["abort"]["guard"] == "errors"


def test_the_audit_trail_ends_with_each_undo_and_the_runs_end(tmp_path: Path) -> None:
    state = _state(tmp_path)
    state.created_outcomes.append(UndoOutcome(
        UndoAction("delete-object", {"kind": "ClusterRole", "name": "r"}, id="u1"), "failed",
        "403 forbidden", at=1_700_000_002.5))
    result, _ = _evaluate(tmp_path, state, error="InjectionFailed: no pod matched")
    trail = [{k: v for k, v in line.items() if k != "at"}
             for line in read_audit(state.out_dir / AUDIT_NAME)]
    assert trail == [
        {"event": "undo", "action": "delete-object(kind=ClusterRole, name=r)",
         "status": "failed", "reason": "403 forbidden", "done_at": 1_700_000_002.5},
        {"event": "run-end", "verdict": "error", "error": result.error}]
    assert result.error == "InjectionFailed: no pod matched"


def test_the_time_writing_the_report_takes_is_kept_to_the_millisecond(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env(tmp_path)
    write = runner.write_report

    def slow_write(out: Path, data: Any) -> Path:
        env.clock.sleep(0.12345)
        return write(out, data)

    monkeypatch.setattr(runner, "write_report", slow_write)
    timings = {"setup": 0.0}
    result = runner._evaluate(_state(tmp_path), env, PORTS, 1_700_000_000.0, None, timings)
    assert result.phases == {"setup": 0.0, "report": 0.123}
    assert isinstance(result.phases["report"], float)


# --- _abort_record -------------------------------------------------------------------------------


def test_no_abort_record_when_no_guard_ran_and_nothing_breached(tmp_path: Path) -> None:
    assert runner._abort_record(_state(tmp_path)) is None


def test_a_breach_is_undone_at_the_last_undo_from_its_moment_on(tmp_path: Path) -> None:
    state = _state(tmp_path)
    state.abort.trigger(_breach(100.0))  # a halt: no guard monitor
    state.undone_at = 150.0
    state.created_outcomes += [_undone(99.0), _undone(100.0)]
    assert runner._abort_record(state) == AbortRecord(breach=_breach(100.0),
                                                      undo_complete_at=100.0, guards=())


# --- the audit trail and the manifest ------------------------------------------------------------


def test_every_audit_line_names_the_cluster_server_run_and_experiment(tmp_path: Path) -> None:
    state = _state(tmp_path)
    runner._audit_log(_env(tmp_path), state).write("run-start")
    (line,) = read_audit(state.out_dir / AUDIT_NAME)
    assert {k: v for k, v in line.items() if k != "at"} == {
        "event": "run-start", "who": who(), "context": "kind-x",
        "server": "https://127.0.0.1:6443", "run_id": "r", "experiment": "offline", "seed": 11,
        "namespace": "kc-offline-1"}


class Unreachable:
    def list_namespaced_pod(self, *a: Any, **k: Any) -> Any:
        raise RuntimeError("connection refused")

    def list_node(self, *a: Any, **k: Any) -> Any:
        raise RuntimeError("no route to host")


def test_the_manifest_names_what_it_could_not_read_and_is_not_exact_without_a_file(
        tmp_path: Path) -> None:
    env = _env(tmp_path, kube=SimpleNamespace(context="kind-x", core=Unreachable()))
    manifest = runner._manifest(env, _state(tmp_path), "v1.34.4", (1, 2))
    assert manifest["errors"] == ["images: RuntimeError: connection refused",
                                  "nodes: RuntimeError: no route to host"]
    assert manifest["experiment_file"] is None and manifest["rerun"]["exact"] is False
    assert (manifest["kubernetes_server"], manifest["repeat"]) == ("v1.34.4",
                                                                   {"index": 1, "count": 2})


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """gd/x.yaml, whose workload manifest is in another folder, shared/ (allowed by path)."""
    (tmp_path / "gd").mkdir()
    shutil.copytree(ROOT / "experiments" / "workloads", tmp_path / "shared")
    text = (ROOT / "experiments" / "pod-kill-replicated.yaml").read_text()
    (tmp_path / "gd" / "x.yaml").write_text(text.replace(
        "workloads/httpd-replicated.yaml", "../shared/httpd-replicated.yaml"))
    return tmp_path / "gd" / "x.yaml"


@pytest.mark.parametrize("seed", [None, 7])  # 7: the seed a reviewed plan set
def test_a_run_of_its_file_as_written_is_exact_even_with_an_allowed_folder(
        tmp_path: Path, outside: Path, seed: int | None) -> None:
    allowed = (tmp_path / "shared",)
    exp = replace(load_experiment(outside, allow_paths=allowed), seed=seed)
    env = _env(tmp_path, allow_paths=allowed)
    manifest = runner._manifest(env, _state(tmp_path, exp), None, None)
    assert manifest["rerun"]["exact"] is True
    assert manifest["experiment_file"]["path"] == str(outside)  # type: ignore[index]
    assert [e.split(":")[0] for e in manifest["errors"]] == ["images", "nodes"]


def test_a_run_of_an_edited_file_is_not_exact(tmp_path: Path, outside: Path) -> None:
    allowed = (tmp_path / "shared",)
    exp = replace(load_experiment(outside, allow_paths=allowed), timeout_s=99.0)
    manifest = runner._manifest(_env(tmp_path, allow_paths=allowed), _state(tmp_path, exp),
                                None, None)
    assert manifest["rerun"]["exact"] is False


# --- _as_reviewed --------------------------------------------------------------------------------


class Now:
    def __init__(self, digest: str, problems: tuple[str, ...] = ()) -> None:
        self._digest = digest
        self.problems = problems

    def digest(self) -> str:
        return self._digest


PLAN = {"version": PLAN_VERSION,
        "experiments": [{"experiment": "offline", "digest": "d1", "seed": 7}]}


def _reviewed(monkeypatch: pytest.MonkeyPatch, now: Now) -> list[dict[str, Any]]:
    from chaos.engine import preview

    asked: list[dict[str, Any]] = []
    monkeypatch.setattr(preview, "plan_experiment", lambda exp, kube, **kw: asked.append(kw)
                        or now)
    monkeypatch.setattr(preview, "differences", lambda reviewed, now: [
        "replicas: reviewed 3, now 2", "pdb: reviewed None, now 'web'"])
    return asked


def test_the_plan_is_resolved_again_with_the_sessions_hosts_and_limits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _reviewed(monkeypatch, Now("d1"))
    limits = BlastRadius(max_pods=1)
    env = _env(tmp_path, plan=PLAN, allow_hosts=("staging.example",),
               allow_contexts=("kind-x",), blast_radius=limits)
    assert runner._as_reviewed(_experiment(), env) == _experiment(seed=7)
    assert asked == [{"seed": 7, "allow_contexts": ("kind-x",),
                      "allow_hosts": ("staging.example",), "limits": limits}]


def test_a_plan_that_changed_since_review_is_refused_with_every_difference(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _reviewed(monkeypatch, Now("d2"))
    with pytest.raises(runner.SafetyRefused) as info:
        runner._as_reviewed(_experiment(), _env(tmp_path, plan=PLAN))
    assert str(info.value) == (
        "offline: the plan resolved now differs from the reviewed one, so nothing was started: "
        "replicas: reviewed 3, now 2; pdb: reviewed None, now 'web'")


def test_a_reviewed_plan_with_problems_now_is_refused_naming_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _reviewed(monkeypatch, Now("d1", ("missing permission: delete pods", "no pod matched")))
    with pytest.raises(runner.SafetyRefused) as info:
        runner._as_reviewed(_experiment(), _env(tmp_path, plan=PLAN))
    assert str(info.value) == "offline: missing permission: delete pods; no pod matched"


# --- run_experiment ------------------------------------------------------------------------------


def _held(lock_dir: Path) -> dict[str, bool]:
    """Which of the run's locks another holder could not take now."""
    lock = FileLock(lock_dir / "pace-r-0.lock", is_singleton=False)  # session r's first slot
    try:
        lock.acquire(blocking=False)
        lock.release()
        slot_held = False
    except Timeout:
        slot_held = True
    key = ClusterLocks(lock_dir).try_key("nodePort-30080")
    if key is not None:
        key.release()
    return {"slot": slot_held, "nodePort-30080": key is None}


def _recorded(monkeypatch: pytest.MonkeyPatch, lock_dir: Path | None = None,
              errors: list[str | None] | None = None) -> list[Any]:
    """run_experiment's own run replaced by one that records what it was given, which locks
    were held meanwhile, and (last) where run_experiment was called from."""
    for name in ("check_safety", "check_not_halted"):
        monkeypatch.setattr(runner, name, lambda *a, **k: None)
    seen: list[Any] = []

    def one_run(exp: Any, env: runner.RunEnv, ports: Any, namespace: Any,
                repeat: Any) -> runner.ExperimentResult:
        seen.append((repeat, _held(lock_dir) if lock_dir is not None else None))
        caller = sys._getframe(3)  # this, attempt(), run_experiment(), its caller
        seen.append((caller.f_code.co_filename, caller.f_lineno))
        error = errors.pop(0) if errors else None
        return runner.ExperimentResult(
            experiment=exp, verdict="error" if error else "pass", slas=[],
            recovery_seconds=None, longest_outage_s=None, requests_total=1, requests_failed=0,
            error_rate_during_fault=None, restarts=None, faults=[], report_path=None,
            namespace="n", error=error)

    monkeypatch.setattr(runner, "_run", one_run)
    return seen


def test_a_load_url_on_an_allowed_host_runs_and_the_repeat_reaches_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _recorded(monkeypatch)
    exp = _experiment(load=LoadProfile(url="http://staging.example:8080"))
    env = _env(tmp_path, allow_hosts=("staging.example",))
    result = runner.run_experiment(exp, env, ports=PORTS, repeat=(2, 3))
    assert result.verdict == "pass" and seen[0] == ((2, 3), None)


@pytest.mark.parametrize(("parallel", "slot"), [(1, False), (2, True), (4, True)])
def test_a_run_holds_its_claims_and_a_session_slot_only_side_by_side(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: int, slot: bool) -> None:
    locks = tmp_path / "locks"
    seen = _recorded(monkeypatch, locks)
    runner.run_experiment(_experiment(), _env(tmp_path, lock_dir=locks, parallel=parallel),
                          ports=PORTS)
    assert seen[0] == (None, {"slot": slot, "nodePort-30080": True})


def test_a_run_at_two_at_once_backs_off_to_one_and_goes_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locks = tmp_path / "locks"
    seen = _recorded(monkeypatch, locks, [overload_error("send lag p99 300 ms (bound 100 ms)"),
                                          None])
    with pytest.warns(PaceWarning) as warned:
        result = runner.run_experiment(_experiment(), _env(tmp_path, lock_dir=locks,
                                                           parallel=2), ports=PORTS)
    assert result.verdict == "pass" and len(seen) == 4  # two runs
    assert Pace(locks, "r", 2).degree() == 1
    # the warning names the line that called run_experiment, not one of the runner's own
    assert [(w.filename, w.lineno) for w in warned] == [seen[1]]


# --- _run, through the fakes of test_phases ------------------------------------------------------


def test_the_setup_time_is_kept_to_the_millisecond(tmp_path: Path) -> None:
    world = World(clock=FakeClock())
    world.prepare_s = 1.23456
    assert _run(world, tmp_path).phases["setup"] == 1.235


def test_the_runs_trail_opens_with_its_budget_and_its_file(tmp_path: Path) -> None:
    world = World(clock=FakeClock())
    result = _run(world, tmp_path)
    trail = read_audit(Path(result.report_path).parent / AUDIT_NAME)
    assert (trail[0]["event"], trail[0]["timeout_s"], trail[0]["experiment_file"]) == (
        "run-start", 120, None)
    path = tmp_path / "offline.yaml"
    result = _run(world, tmp_path, _experiment(path=path))
    trail = read_audit(Path(result.report_path).parent / AUDIT_NAME)
    assert (trail[0]["event"], trail[0]["experiment_file"]) == ("run-start", str(path))


def test_only_an_auto_pick_of_the_node_port_is_said(tmp_path: Path) -> None:
    said: list[str] = []
    _run(World(clock=FakeClock()), tmp_path, log=said.append)
    assert not any("nodePort: auto" in line for line in said)
    said.clear()
    exp = _experiment(workload=replace(_experiment().workload, node_port="auto"))
    world = World(clock=FakeClock(), node_port=30085)
    result = _run(world, tmp_path, exp, log=said.append, node_ports=(30085,))
    assert result.verdict == "pass" and "[offline] nodePort: auto picked 30085" in said


class PortHeld(FakeFault):
    """Looks, while it acts, whether another run could pick the run's NodePort."""

    def inject(self, ctx: FaultContext) -> FaultOutcome:
        key = ClusterLocks(self.world.lock_dir).try_key("nodePort-30085")  # type: ignore[attr-defined]
        self.world.log.append(f"nodePort-30085 held: {key is None}")
        if key is not None:
            key.release()
        return super().inject(ctx)


def test_an_auto_picked_node_port_is_held_for_the_whole_run(tmp_path: Path) -> None:
    world = World(clock=FakeClock(), node_port=30085)
    world.lock_dir = tmp_path / "locks"  # type: ignore[attr-defined]
    exp = _experiment(workload=replace(_experiment().workload, node_port="auto"))
    _run(world, tmp_path, exp, fault=PortHeld, node_ports=(30085,), lock_dir=tmp_path / "locks")
    assert "nodePort-30085 held: True" in world.log


def test_the_sessions_blast_radius_limits_the_run(tmp_path: Path) -> None:
    world = World(clock=FakeClock())
    world.targets = ("web-a", "web-b")
    result = _run(world, tmp_path, blast_radius=BlastRadius(max_pods=1))
    assert result.verdict == "error"
    assert "blast radius: pod-kill would hit 2 pods (web-a, web-b); the blast radius allows 1" \
        in (result.error or "")


def test_an_abort_is_said_in_the_log(tmp_path: Path) -> None:
    world = World(clock=FakeClock())
    world.halt_at = world.clock.wall() + 2.0
    said: list[str] = []
    result = _run(world, tmp_path, log=said.append)
    assert result.verdict == "aborted"
    assert said[-1] == ("[offline] aborted: guard halt (halt) breached: ops@laptop (pid 7) "
                        "(threshold absent): halted by ops@laptop (pid 7) at "
                        "2023-11-14T22:13:22+00:00: game day over")


class EndpointBlip(FakeFault):
    """web-a leaves the Service's endpoints while it is replaced, then comes back."""

    def inject(self, ctx: FaultContext) -> FaultOutcome:
        ctx.emit("endpoint-removed", "web-a", "")
        outcome = super().inject(ctx)
        ctx.emit("endpoint-added", "web-a", "")
        return outcome


def test_recovery_is_whole_again_at_the_endpoints_present_before_the_fault(
        tmp_path: Path) -> None:
    result = _run(World(clock=FakeClock()), tmp_path, fault=EndpointBlip,
                  observer=HalfEndpointObserver)
    assert result.recovery_seconds == pytest.approx(4.0)


def test_the_repeat_of_a_run_is_in_its_reports_manifest(tmp_path: Path) -> None:
    from test_phases import FakeCluster, FakeLoad, _no_http

    from chaos.faults.targets import Targets

    world = World(clock=FakeClock())
    ports = ph.RunPorts(cluster=FakeCluster(world),
                        start_load=lambda url, e, out, ns: FakeLoad(world),
                        build_fault=lambda spec: FakeFault(spec, world, 1),
                        resolve_targets=lambda scope, spec: Targets("Pod", world.targets),
                        http_get=_no_http)
    env = _env(tmp_path, allow_contexts=("kind-x",), clock=world.clock)

    @contextlib.contextmanager
    def namespace(env: runner.RunEnv, exp: Any, keep: Callable[[], bool]) -> Iterator[str]:
        yield "kc-offline-abc123"

    result = runner.run_experiment(_experiment(), env, ports=ports, namespace=namespace,
                                   repeat=(2, 3))
    assert result.verdict == "pass"
    manifest = json.loads(Path(result.report_path or "").read_text())["manifest"]
    assert manifest["repeat"] == {"index": 2, "count": 3}
