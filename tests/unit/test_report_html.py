"""The HTML views of reports: self-contained pages rendered from report.json alone."""

from __future__ import annotations

import json
import re
from pathlib import Path

from test_report import data

from chaos.report import build_report, write_report
from chaos.report.chart import timeline_svg
from chaos.report.html import render_experiment, write_experiment_html, write_index
from chaos.report.repeats import group, repeat_table, summarise


def test_page_is_self_contained_and_holds_every_sla_fault_and_event(tmp_path: Path) -> None:
    report = build_report(data())
    page = render_experiment(report, index_href="../index.html")
    # nothing fetched: no script, no stylesheet link, no remote URL of any kind
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert page.count('class="sla-row"') == len(report["slas"]) == 1
    assert 'data-sla="maxOutage"' in page and "FAIL" in page
    assert "httpd-a" in page and "pod-unready" in page
    assert "<svg" in page and page.index("<svg") < page.index('id="slas"')


def test_chart_names_each_event_on_hover(tmp_path: Path) -> None:
    svg = timeline_svg(build_report(data()))
    assert svg.startswith("<svg") and "<?xml" not in svg
    assert "<title>3.10s pod-unready httpd-a</title>" in svg
    assert '<g id="fault-0"><title>' in svg and '<g id="outage-0"><title>' in svg


def test_a_report_without_timeline_still_renders() -> None:
    report = build_report(data())
    report["timeline"]["buckets"] = []
    report["timeline"]["events"] = []
    assert "no timeline was recorded" in render_experiment(report)


def test_index_links_each_page_and_summarises_repeats(tmp_path: Path) -> None:
    paths = []
    for i, recovery in enumerate((4.0, 4.4, 5.0)):
        d = tmp_path / "run" / ("pod-kill" if i == 0 else f"pod-kill-{i + 1}")
        p = write_report(d, data())
        raw = json.loads(p.read_text())
        raw["recovery"]["recovery_seconds"] = recovery
        p.write_text(json.dumps(raw))
        write_experiment_html(p, "../index.html")
        paths.append(p)
    index = write_index(tmp_path / "run", paths).read_text()
    assert index.count('class="experiment-row"') == 3
    assert 'href="pod-kill-2/report.html"' in index
    assert 'data-experiment="pod-kill"' in index and "4.40 [" in index
    assert (tmp_path / "run" / "pod-kill-3" / "report.html").exists()


def test_repeat_table_gives_median_and_interval() -> None:
    reports = [build_report(data()) for _ in range(3)]
    for r, v in zip(reports, (3.0, 3.2, 9.0), strict=True):
        r["recovery"]["recovery_seconds"] = v
    (s,) = [summarise(n, rs) for n, rs in group(reports).items()]
    rec = s.estimates["recovery_seconds"]
    assert s.runs == 3 and rec is not None and rec.median == 3.2
    table = repeat_table([s])
    assert "3.20 [" in table and "(n=3)" in table and "fail=3" in table


def test_an_open_loop_page_shows_dropped_arrivals_and_send_lag_and_a_closed_one_does_not(
        ) -> None:
    report = build_report(data())
    assert "arrivals dropped" not in render_experiment(report)
    report["load"].update(mode="open", requests_dropped=7, send_lag_p99_ms=12.5)
    page = render_experiment(report)
    assert "<b>7</b><span>arrivals dropped (open loop)</span>" in page
    assert "<b>12.5 ms</b><span>generator send lag p99</span>" in page


def test_in_cluster_generators_are_listed_with_their_clocks_and_a_short_one_stands_out(
        ) -> None:
    report = build_report(data())
    assert 'id="generators"' not in render_experiment(report)
    report["load"]["generators"] = [
        {"worker": "kc-load-abc-0", "index": 0, "clock_offset_s": 0.00021,
         "clock_error_bound_s": 0.0004, "clock_samples": 5, "clock_offset_last_s": 0.00025,
         "records_received": 1200, "records_sent": 1200},
        {"worker": "kc-load-abc-1", "index": 1, "clock_offset_s": -0.0013,
         "clock_error_bound_s": None, "clock_samples": 1, "clock_offset_last_s": None,
         "records_received": 990, "records_sent": 1000}]
    page = render_experiment(report)
    table = page[page.index('id="generators"'):]
    table = table[:table.index("</table>")]
    assert "kc-load-abc-0" in table and "kc-load-abc-1" in table
    assert ">0.21<" in table and ">-1.30<" in table  # offsets in ms
    assert table.count('class="num bad"') == 1  # 990 of 1000 records arrived


def test_an_autoscaling_run_draws_its_pods_over_time_and_others_do_not() -> None:
    from dataclasses import replace

    series = [{"t_s": 0.0, "pods": 1, "ready": 1}, {"t_s": 2.0, "pods": 3, "ready": 1},
              {"t_s": 4.0, "pods": 3, "ready": 3}, {"t_s": 6.0, "pods": 1, "ready": 1}]
    scaled = build_report(replace(data(), autoscaling={"series": series, "peak_pods": 3}))
    assert scaled["autoscaling"] == {"series": series, "peak_pods": 3}
    svg = timeline_svg(scaled)
    assert 'id="series-pods"' in svg and 'id="series-ready"' in svg
    plain = build_report(data())
    assert plain["autoscaling"] is None and 'id="series-pods"' not in timeline_svg(plain)


def test_the_page_says_whether_the_load_generator_kept_its_schedule() -> None:
    report = build_report(data())
    assert 'id="generator"' not in render_experiment(report)  # a report from before the check
    report["load"]["generator"] = {
        "bound_ms": 100.0, "overloaded": False, "reason": None, "send_lag_p99_ms": None,
        "late_drops": 0, "cpu_seconds": 1.5, "cpu_wait_seconds": 0.01, "mean_cpu_wait_ms": 0.4}
    page = render_experiment(report)
    assert "kept its schedule (bound 100 ms)" in page and 'class="muted">load generator' in page
    assert "<b>0.4 ms</b><span>generator CPU wait per wake-up</span>" in page
    report["load"]["generator"].update(overloaded=True, reason="send lag p99 250 ms (bound 100 ms)")
    page = render_experiment(report)
    assert 'class="bad">load generator: overloaded, send lag p99 250 ms (bound 100 ms)' in page
