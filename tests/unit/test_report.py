from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from chaos.errors import ReportInvalid
from chaos.model import (
    ClusterEvent,
    Experiment,
    LoadProfile,
    PodKill,
    RequestRecord,
    Selector,
    SLAResult,
    SLASpec,
    SteadyState,
    WorkloadSpec,
)
from chaos.report import (
    SCHEMA_VERSION,
    TOP_LEVEL_KEYS,
    FaultRecord,
    ReportData,
    SummaryRow,
    build_report,
    compare,
    junit_properties,
    load_report,
    summary_row,
    summary_table,
    write_report,
)

T0 = 1_700_000_000.0
APP = Selector.of({"app": "httpd"})


def experiment() -> Experiment:
    return Experiment(
        name="pod-kill",
        workload=WorkloadSpec((Path("w.yaml"),), APP, "httpd", 30080, 3),
        load=LoadProfile(),
        steady_state=SteadyState(),
        faults=(PodKill(selector=APP),),
        slas=SLASpec(max_outage_s=1.0),
        tags=("smoke",),
    )


def data(outage_to: float = 5.3, verdict: str = "fail") -> ReportData:
    records = tuple(
        RequestRecord(T0 + i * 0.01, 0.004, not (3.0 <= i * 0.01 < outage_to), 200)
        for i in range(1000)
    )
    return ReportData(
        experiment=experiment(),
        seed=1234,
        started_at=T0,
        ended_at=T0 + 12,
        verdict=verdict,  # type: ignore[arg-type]
        records=records,
        events=(
            ClusterEvent(T0 + 2.9, "fault-start", "f0"),
            ClusterEvent(T0 + 3.1, "pod-unready", "httpd-a"),
        ),
        faults=(
            FaultRecord(
                0, PodKill(selector=APP), ("httpd-a",), T0 + 2.9, T0 + 3.0, 4.2, {"x": 1.0}
            ),
        ),
        fault_window=(T0 + 2.9, T0 + 10.0),
        slas=(SLAResult("maxOutage", 1.0, 2.3, False, "s"),),
        recovery_seconds=4.2,
        restarts=0,
        cluster={"name": "chaos", "nodes": ["a", "b"]},
        versions={"kubernetes": "v1.34.1"},
    )


def test_report_keys_and_figures(tmp_path: Path) -> None:
    path = write_report(tmp_path / "out", data())
    assert path == tmp_path / "out" / "report.json"
    raw = json.loads(path.read_text())
    assert tuple(raw) == TOP_LEVEL_KEYS
    assert set(raw["load"]) == {
        "mode",
        "requests_total",
        "requests_failed",
        "requests_dropped",
        "requests_in_flight_at_stop",
        "errors",
        "send_lag_p99_ms",
        "error_rate_during_fault",
        "longest_outage_seconds",
        "outage_bound_seconds",
        "outages",
        "p95_ms",
        "p99_ms",
        "rps",
    }
    assert raw["load"]["requests_total"] == 1000 and raw["load"]["requests_failed"] == 230
    assert raw["load"]["mode"] == "closed" and raw["load"]["requests_dropped"] == 0
    assert raw["load"]["send_lag_p99_ms"] is None  # closed-loop records have no schedule
    assert raw["load"]["longest_outage_seconds"] == pytest.approx(2.3, abs=0.01)
    assert raw["load"]["outages"][0]["start"] == pytest.approx(3.0)
    assert raw["load"]["error_rate_during_fault"] == pytest.approx(230 / 710, abs=1e-6)
    assert raw["slas"] == [
        {"name": "maxOutage", "threshold": 1.0, "observed": 2.3, "passed": False, "unit": "s"}
    ]
    assert raw["recovery"]["recovery_seconds"] == 4.2
    assert raw["recovery"]["faults"][0]["figures"] == {"x": 1.0}
    assert raw["fault"]["faults"][0]["spec"]["type"] == "pod-kill"
    assert raw["fault"]["faults"][0]["spec"]["selector"] == {"app": "httpd"}
    assert raw["fault"]["window"] == {"start": 2.9, "end": 10.0}
    assert raw["verdict"] == "fail" and raw["seed"] == 1234
    assert raw["started_at"] == "2023-11-14T22:13:20.000+00:00"
    assert len(raw["timeline"]["buckets"]) == 100
    assert raw["timeline"]["events"][1] == {
        "t": 3.1,
        "kind": "pod-unready",
        "name": "httpd-a",
        "detail": "",
    }
    assert raw["versions"]["kubernetes"] == "v1.34.1" and "kube-chaos" in raw["versions"]
    assert load_report(tmp_path / "out") == raw
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["report.json"]


def test_empty_run_report_is_valid_json(tmp_path: Path) -> None:
    d = ReportData(experiment(), 1, T0, T0 + 1, "error", error="cluster unreachable")
    raw = load_report(write_report(tmp_path, d))
    assert raw["load"]["p95_ms"] is None and raw["load"]["longest_outage_seconds"] is None
    assert raw["experiment"]["error"] == "cluster unreachable"
    assert raw["timeline"]["buckets"] == [] and raw["fault"]["window"] is None


def test_load_report_errors(tmp_path: Path) -> None:
    bad = tmp_path / "r.json"
    bad.write_text('{"schema_version": 1}')
    with pytest.raises(ReportInvalid, match="missing keys: experiment, seed"):
        load_report(bad)
    bad.write_text("{nope")
    with pytest.raises(ReportInvalid, match=r"r.json:1: not JSON"):
        load_report(bad)
    with pytest.raises(ReportInvalid, match="cannot read"):
        load_report(tmp_path / "missing.json")


def test_junit_properties() -> None:
    props = dict(junit_properties(data()))
    assert props["chaos.experiment"] == "pod-kill"
    assert props["chaos.seed"] == "1234"
    assert props["chaos.verdict"] == "fail"
    assert props["chaos.recovery_seconds"] == "4.200"
    assert props["chaos.targets"] == "httpd-a"
    assert props["chaos.sla.maxOutage"] == "fail observed=2.3000s threshold=1.0000s"
    assert all(isinstance(v, str) for v in props.values())


def test_summary_table() -> None:
    rows = [
        SummaryRow("pod-kill-replicated", "pod-kill", 4.2, 0.0, "pass"),
        SummaryRow("node-loss", "node-loss", None, 12.25, "error", "1 PENDING"),
    ]
    assert summary_table(rows) == (
        "experiment           fault      recovery s  longest outage s  undo       verdict\n"
        "-------------------  ---------  ----------  ----------------  ---------  -------\n"
        "pod-kill-replicated  pod-kill         4.20              0.00  -          pass\n"
        "node-loss            node-loss           -             12.25  1 PENDING  error"
    )
    assert summary_row(build_report(data())) == SummaryRow("pod-kill", "pod-kill", 4.2, 2.3, "fail")


def test_compare() -> None:
    a = build_report(data())
    b = build_report(data(outage_to=3.5, verdict="pass"))
    text = compare(a, b)
    lines = text.splitlines()
    assert lines[0] == "A: pod-kill @ 2023-11-14T22:13:20.000+00:00"
    row = next(line for line in lines if "longest_outage_seconds" in line)
    assert row.split() == ["*", "longest_outage_seconds", "2.300", "0.500", "-1.800"]
    row = next(line for line in lines if "requests_failed" in line)
    assert row.split() == ["*", "requests_failed", "230", "50", "-180"]
    row = next(line for line in lines if " seed " in line)
    assert row.split() == ["seed", "1234", "1234"]
    assert any(line.split()[:4] == ["*", "verdict", "fail", "pass"] for line in lines)


def test_errors_stopped_after_is_measured_from_the_fault(tmp_path: Path) -> None:
    raw = json.loads(write_report(tmp_path, data(outage_to=5.3)).read_text())
    # fault at 2.9 s, failures from 3.0 s until 5.3 s: errors stop 2.4 s after the fault
    assert raw["recovery"]["errors_stopped_after_seconds"] == pytest.approx(2.4, abs=0.11)
    still_failing = json.loads(write_report(tmp_path / "b", data(outage_to=99)).read_text())
    assert still_failing["recovery"]["errors_stopped_after_seconds"] is None


def test_undo_summary_counts_only_confirmed_undos() -> None:
    from chaos.report.summary import undo_summary

    report = build_report(data())
    assert undo_summary(report) == "-"
    report["undo"] = [{"status": "undone", "journal_error": None},
                      {"status": "undone", "journal_error": None}]
    assert undo_summary(report) == "2/2"
    report["undo"].append({"status": "failed", "journal_error": None})
    report["undo"].append({"status": "undone", "journal_error": "disk full"})
    assert undo_summary(report) == "2 PENDING"


def _aborted(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    from dataclasses import replace

    from chaos.model.abort import Breach, GuardStats
    from chaos.report.data import AbortRecord

    breach = Breach("outage", "outage", 2.3456789, 2.0, "outage of 2.35s going on", T0 + 6.0)
    record = AbortRecord(breach, undo_complete_at=T0 + 6.4125, guards=(
        GuardStats("halt", "halt", 13, 0.5012, "ok", "absent"),
        GuardStats("outage", "outage", 7, 1.0031, "failed", 2.3456789, errors=1)))
    d = replace(data(), verdict="aborted", slas=(), abort=record)
    return json.loads(write_report(tmp_path, d).read_text())


def test_an_aborted_run_names_the_guard_value_threshold_and_time(tmp_path: Path) -> None:
    raw = _aborted(tmp_path)
    assert raw["schema_version"] == SCHEMA_VERSION and raw["verdict"] == "aborted"
    abort = raw["abort"]
    assert abort == {
        "aborted": True, "guard": "outage", "type": "outage", "value": 2.345679,
        "threshold": 2.0, "detail": "outage of 2.35s going on",
        "time": "2023-11-14T22:13:26.000+00:00", "t": 6.0,
        "undo_complete_time": "2023-11-14T22:13:26.412+00:00",
        "breach_to_undo_seconds": 0.4125,
        "guards": [
            {"name": "halt", "type": "halt", "evaluations": 13, "errors": 0,
             "max_gap_seconds": 0.5012, "last_status": "ok", "last_value": "absent"},
            {"name": "outage", "type": "outage", "evaluations": 7, "errors": 1,
             "max_gap_seconds": 1.0031, "last_status": "failed", "last_value": 2.345679}]}
    assert load_report(tmp_path)["abort"] == abort
    props = dict(junit_properties(load_report(tmp_path)))
    assert props["chaos.abort"] == ("guard=outage type=outage value=2.346 threshold=2.000 "
                                    "at=2023-11-14T22:13:26.000+00:00 breach_to_undo_s=0.412")
    assert summary_row(load_report(tmp_path)).verdict == "aborted (outage)"


def test_a_run_without_guards_has_no_abort_section_and_old_reports_load(tmp_path: Path) -> None:
    raw = json.loads(write_report(tmp_path, data()).read_text())
    assert raw["abort"] is None
    assert dict(junit_properties(build_report(data())))["chaos.abort"] == "-"
    for version in (1, 2):
        old = {k: v for k, v in raw.items() if k not in ("abort", "undo", "manifest")}
        old["schema_version"] = version
        if version == 2:
            old["undo"] = []
        (tmp_path / f"v{version}.json").write_text(json.dumps(old))
        loaded = load_report(tmp_path / f"v{version}.json")
        assert loaded["abort"] is None and loaded["undo"] == []
    assert set(TOP_LEVEL_KEYS) == set(raw)


def test_an_open_loop_report_counts_dropped_arrivals_and_the_generators_send_lag(
        tmp_path: Path) -> None:
    base = data()
    # 100 arrivals on a 10 ms grid: sent 1 ms late, the last ten 40 ms late, two never sent
    records = tuple(
        RequestRecord(T0 + i * 0.01, 0.05, i not in (50, 51), 200 if i not in (50, 51) else 0,
                      scheduled=True,
                      sent=None if i in (50, 51) else T0 + i * 0.01 + (0.04 if i >= 90 else 0.001))
        for i in range(100))
    exp = dataclasses.replace(base.experiment, load=LoadProfile(mode="open"))
    raw = json.loads(write_report(tmp_path, dataclasses.replace(
        base, experiment=exp, records=records)).read_text())
    assert raw["load"]["mode"] == "open"
    assert raw["load"]["requests_dropped"] == 2 and raw["load"]["requests_failed"] == 2
    # nearest rank over 98 sent arrivals: the 98th-ranked lag (97.02 -> 98) is one of the late ten
    assert raw["load"]["send_lag_p99_ms"] == pytest.approx(40.0, abs=0.01)
