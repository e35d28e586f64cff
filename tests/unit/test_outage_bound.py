"""An outage is a time nobody was served promptly (issue 18): a request not answered
successfully within the outage bound (``slas.outageBound``, default 1 s) is unserved, in both
load modes, whatever the client timeout let it wait."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from test_report import data

from chaos.errors import ExperimentInvalid
from chaos.model import RequestRecord, SLASpec
from chaos.model.abort import OutageGuard
from chaos.model.parse import parse_experiment
from chaos.model.timeline import DEFAULT_OUTAGE_BOUND_S
from chaos.plan import guards as pg
from chaos.plan import slas
from chaos.plan import timeline as tl
from chaos.plan.stream import RunWindows, one_pass, run_figures
from chaos.report import build_report, junit_properties, write_report
from chaos.report.html import render_experiment

ROOT = Path(__file__).resolve().parents[2]
MODES = pytest.mark.parametrize("scheduled", [True, False], ids=["open", "closed"])


def _rec(t: float, latency: float, scheduled: bool, ok: bool = True) -> RequestRecord:
    return RequestRecord(t, latency, ok, 200 if ok else 0, None if ok else "x", scheduled,
                         t if scheduled else None)


def _hang(scheduled: bool, back_at: float = 8.0) -> list[RequestRecord]:
    """100 requests/s from 0 to 12 s; those started from 5 s hang until ``back_at`` and then
    all succeed (a Service without endpoints: connections wait, nothing fails). Completion
    order, as capture files hold them."""
    out = []
    for i in range(1200):
        t = i / 100
        latency = back_at - t + 0.005 if 5.0 <= t < back_at else 0.005
        out.append(_rec(t, latency, scheduled))
    return sorted(out, key=lambda r: r.end)


@MODES
def test_slow_successes_are_an_outage_though_nothing_failed(scheduled: bool) -> None:
    records = _hang(scheduled)
    figs = one_pass(records, 4.0, 12.0)
    assert figs.failures == 0 and figs.error_rate == 0.0
    # unserved from the first hanging request's start to the first one answered within 1 s
    # (started at 7.01, answered at 8.005; the one started at 7.00 waited 1.005 s): the
    # 2 s outage fails maxOutage: 1s
    [outage] = figs.outages
    assert (outage.start, outage.end, outage.failures) == pytest.approx((5.0, 7.01, 201))
    assert figs.longest_outage_s == pytest.approx(2.01)
    results = slas.evaluate(SLASpec(max_error_rate=0.02, max_outage_s=1.0),
                            slas.Observation(records=records, fault_window=(4.0, 12.0)))
    assert [(r.name, r.passed) for r in results] == [("maxErrorRate", True),
                                                      ("maxOutage", False)]
    assert results[1].observed == pytest.approx(2.01) and results[1].bound_s == 1.0
    assert tl.longest_outage_s(records, 4.0, 12.0) == pytest.approx(figs.longest_outage_s)


@MODES
def test_prompt_answers_are_no_outage(scheduled: bool) -> None:
    # the same hang, 0.9 s long: every request is answered within the bound
    records = _hang(scheduled, back_at=5.9)
    assert one_pass(records, 4.0, 12.0).longest_outage_s == 0.0
    assert tl.outages(records) == []


@MODES
def test_the_bound_is_settable_and_judges_the_figure(scheduled: bool) -> None:
    records = _hang(scheduled)  # waits of up to 3 s
    obs = slas.Observation(records=records, fault_window=(4.0, 12.0))
    lax = slas.evaluate(SLASpec(max_outage_s=1.0, outage_bound_s=3.5), obs)
    assert (lax[0].observed, lax[0].passed, lax[0].bound_s) == (0.0, True, 3.5)
    strict = slas.evaluate(SLASpec(max_outage_s=1.0, outage_bound_s=0.5), obs)
    assert strict[0].observed == pytest.approx(2.5, abs=0.011) and not strict[0].passed
    assert strict[0].bound_s == 0.5
    # the runner's one pass takes the same bound, and says which it used
    figs = run_figures(records, RunWindows(origin=0.0, fault_window=(4.0, 12.0)),
                       stall_s=0.5)
    assert figs.fault is not None and figs.fault.outage_bound_s == 0.5
    assert figs.fault.longest_outage_s == pytest.approx(2.5, abs=0.011)


def test_the_default_bound_is_one_second() -> None:
    assert DEFAULT_OUTAGE_BOUND_S == 1.0 == SLASpec().outage_bound_s == tl.STALL_S
    for scheduled in (True, False):
        assert tl.served(_rec(0.0, 0.999, scheduled))
        assert not tl.served(_rec(0.0, 1.0, scheduled))
    assert one_pass(_hang(True)).outage_bound_s == 1.0
    figs = run_figures(_hang(True), RunWindows(origin=0.0, fault_window=(4.0, 12.0)))
    assert figs.fault is not None and figs.fault.outage_bound_s == 1.0


def _pod_kill(timeout_s: float) -> list[RequestRecord]:
    """The open-loop single-replica pod kill as measured: 100 arrivals/s, the pod gone at 5 s
    and its replacement answering from 7.5 s; connections meanwhile hang in SYN retries (1 s,
    then 3 s after the send). An arrival is answered at its first retry after 7.5 s, or fails
    at ``timeout_s`` when that comes later."""
    out = []
    for i in range(1200):
        t = i / 100
        if 5.0 <= t < 7.5:
            answer = next(t + d for d in (1.0, 3.0, 7.0) if t + d >= 7.5) + 0.002 - t
            ok = answer < timeout_s
            out.append(_rec(t, answer if ok else timeout_s, True, ok))
        else:
            out.append(_rec(t, 0.002, True))
    return sorted(out, key=lambda r: r.end)


def test_a_single_replica_pod_kill_is_an_outage_whatever_the_client_timeout() -> None:
    spec = SLASpec(max_error_rate=0.02, max_outage_s=1.0)
    seen = {}
    for timeout_s in (5.0, 1.0):
        records = _pod_kill(timeout_s)
        figs = one_pass(records, 5.0, 12.0)
        seen[timeout_s] = figs.longest_outage_s
        results = {r.name: r for r in slas.evaluate(
            spec, slas.Observation(records=(), load=figs, fault_window=(5.0, 12.0)))}
        assert not results["maxOutage"].passed
    # with the default 5 s timeout nothing failed (the bug: longest outage 0.0 s, error rate
    # 0.0, both SLAs passed); the outage is the same as with a 1 s timeout that fails them
    assert seen[5.0] == pytest.approx(2.5, abs=0.011) == seen[1.0]
    assert one_pass(_pod_kill(5.0), 5.0, 12.0).error_rate == 0.0


def test_the_live_outage_guard_uses_the_bound() -> None:
    records = [_rec(i / 100, 0.005, True) for i in range(500)] + [_rec(5.0, 1.5, True)]
    guard = OutageGuard(name="outage", max_s=1.0)
    assert pg.outage_reading(guard, records, 7.0, True).status == "failed"
    assert pg.outage_reading(guard, records, 7.0, True, stall_s=2.0).status == "ok"


# -- declared once, in the SLAs -----------------------------------------------------------------


def _parse(extra: str) -> SLASpec:
    text = (ROOT / "experiments" / "pod-kill-replicated.yaml").read_text()
    assert "    maxOutage: 1s\n" in text
    path = ROOT / "experiments" / "bound.yaml"  # manifests resolve beside the bundled ones
    return parse_experiment(text.replace("    maxOutage: 1s\n", "    maxOutage: 1s\n" + extra),
                            path).slas


def test_outage_bound_is_read_from_the_slas_with_a_default() -> None:
    assert _parse("").outage_bound_s == 1.0
    assert _parse("    outageBound: 2500ms\n").outage_bound_s == 2.5
    for bad, reason in (("0s", "above zero"), ("soon", "duration")):
        with pytest.raises(ExperimentInvalid, match=rf"spec.slas.outageBound: .*{reason}"):
            _parse(f"    outageBound: {bad}\n")


def test_the_bound_alone_declares_no_sla() -> None:
    text = (ROOT / "experiments" / "pod-kill-replicated.yaml").read_text()
    head = text[:text.index("  slas:")]
    tail = text[text.index("  timeout:"):]
    with pytest.raises(ExperimentInvalid, match="declare at least one SLA"):
        parse_experiment(head + "  slas:\n    outageBound: 2s\n" + tail,
                         ROOT / "experiments" / "bound.yaml")


# -- the report says which bound it used --------------------------------------------------------


def test_the_report_states_the_bound_in_load_slas_html_and_junit(tmp_path: Path) -> None:
    d = data()
    exp = d.experiment
    d = dataclasses.replace(d, experiment=dataclasses.replace(
        exp, slas=dataclasses.replace(exp.slas, outage_bound_s=2.5)), slas=tuple(
        dataclasses.replace(s, bound_s=2.5) for s in d.slas))
    raw = json.loads(write_report(tmp_path / "out", d).read_text())
    assert raw["load"]["outage_bound_seconds"] == 2.5
    assert raw["slas"][0]["name"] == "maxOutage"
    assert raw["slas"][0]["outage_bound_seconds"] == 2.5
    page = render_experiment(raw)
    assert page.count("not answered within 2.5 s") == 2  # the headline and the SLA table
    props = dict(junit_properties(raw))
    assert props["chaos.outage_bound_seconds"] == "2.500"
    assert props["chaos.sla.maxOutage"].endswith("bound=2.5s")


def test_a_report_of_another_sla_carries_no_bound() -> None:
    d = data()
    d = dataclasses.replace(d, slas=tuple(dataclasses.replace(s, name="maxRecovery")
                                          for s in d.slas))
    report = build_report(d)
    assert "outage_bound_seconds" not in report["slas"][0]
    assert report["load"]["outage_bound_seconds"] == 1.0
