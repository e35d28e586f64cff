"""The regression gate over report.json files: environment first, then figures vs noise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_report import data

from chaos.cli import main
from chaos.plan.stats import Estimate
from chaos.report import build_report
from chaos.report.compare import compare_runs, judge, markdown
from chaos.report.types import ReportDict


def manifest(image_id: str = "sha256:aaa", manifest_sha: str = "m1") -> dict[str, object]:
    return {"kube_chaos": {"version": "0.1.0", "commit": "c" * 40, "dirty": False},
            "python": "3.11.7", "locust": "2.47.0", "kubernetes_client": "37.0.2",
            "kubernetes_server": "v1.34.4", "seed": 1234,
            "experiment_file": {"path": "/x/pod-kill.yaml", "sha256": "e1"},
            "workload_manifests": [{"path": "/x/w.yaml", "sha256": manifest_sha}],
            "locustfile": {"path": "/l.py", "sha256": "l1"},
            "images": [{"pod": "p", "node": "n", "container": "httpd", "image": "h:dev",
                        "image_id": image_id}],
            "nodes": [], "node_image": {"tag": "t", "id": "sha256:node"},
            "kind_config": {"path": "k", "sha256": "k1", "text": ""}, "repeat": None,
            "rerun": {"argv": ["kube-chaos"], "command": "kube-chaos", "exact": True},
            "errors": []}


def runs(recoveries: list[float], **m: str) -> list[ReportDict]:
    out = []
    for v in recoveries:
        r = build_report(data(verdict="pass"))
        r["recovery"]["recovery_seconds"] = v
        r["manifest"] = manifest(**m)  # type: ignore[typeddict-item]
        out.append(r)
    return out


def test_rule_flags_only_intervals_apart_by_more_than_the_floor() -> None:
    base = Estimate(3.5, 3.4, 3.7, 5)
    assert judge(base, Estimate(4.4, 4.4, 4.4, 1), 1.0) == "within noise"
    assert judge(base, Estimate(9.6, 9.4, 9.9, 3), 1.0) == "regressed"
    assert judge(base, Estimate(1.0, 0.9, 1.2, 3), 1.0) == "improved"
    assert judge(None, base, 1.0) == "not measured"


def test_a_plain_rerun_is_not_a_regression_and_has_no_environment_difference() -> None:
    cmp = compare_runs(runs([3.4, 3.6, 3.5, 3.7, 3.5]), runs([3.9]))
    assert cmp.environment == [] and cmp.regressions == []
    text = markdown(cmp, "base", "cur")
    assert "No difference" in text and "**No regression**" in text


def test_a_slower_startup_is_flagged_after_the_environment_that_explains_it() -> None:
    cmp = compare_runs(runs([3.4, 3.6, 3.5, 3.7, 3.5]),
                       runs([9.5, 9.7, 9.6], image_id="sha256:bbb", manifest_sha="m2"))
    assert [w for w, _, _ in cmp.environment] == ["images", "workload manifests"]
    assert cmp.regressions == ["pod-kill recovery"]
    text = markdown(cmp, "base", "cur")
    assert text.index("## Environment") < text.index("## Figures")
    assert "| pod-kill | recovery |" in text and "**REGRESSED**" in text


def test_cli_exits_non_zero_on_regression_and_writes_the_step_summary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    for side, values in (("base", [3.4, 3.6, 3.5]), ("cur", [9.5, 9.7, 9.6]),
                         ("same", [3.5])):
        for i, r in enumerate(runs(values)):
            d = tmp_path / side / f"pod-kill-{i}"
            d.mkdir(parents=True)
            (d / "report.json").write_text(json.dumps(r))
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["report", "compare", str(tmp_path / "base"), str(tmp_path / "cur"),
                 "--markdown", str(tmp_path / "out.md")]) == 1
    assert "**REGRESSED**" in summary.read_text() == (tmp_path / "out.md").read_text()
    assert main(["report", "compare", str(tmp_path / "base"),
                 str(tmp_path / "same" / "pod-kill-0" / "report.json")]) == 0
    assert "No regression" in capsys.readouterr().out


def test_rerun_replays_the_recorded_command_and_names_changed_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import chaos.cli.run as cli_run

    exp = tmp_path / "exp.yaml"
    exp.write_text("changed since\n")
    r = runs([3.5])[0]
    m = manifest()
    m["experiment_file"] = {"path": str(exp), "sha256": "old"}
    m["workload_manifests"] = []
    m["locustfile"] = None
    m["rerun"] = {"argv": ["kube-chaos", "run", str(exp), "--seed=77", "--context=kind-x"],
                  "command": "", "exact": True}
    r["manifest"] = m  # type: ignore[typeddict-item]
    (tmp_path / "report.json").write_text(json.dumps(r))
    seen = []
    monkeypatch.setattr(cli_run, "cmd_run", lambda args: seen.append(args) or 0)
    # the recorded --context is not taken from the report: it must be given again (issue 18)
    assert main(["rerun", str(tmp_path / "report.json"), "--reports", "out",
                 "--repeat", "2", "--context", "kind-x"]) == 0
    (args,) = seen
    assert (args.paths, args.seed, args.context, args.reports, args.repeat) == (
        [exp], "77", "kind-x", "out", 2)
    assert f"{exp} changed since the report" in capsys.readouterr().out


def test_report_html_command_writes_pages_and_index(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from chaos.report import write_report

    p = write_report(tmp_path / "run" / "pod-kill", data())
    assert main(["report", "html", str(tmp_path / "run")]) == 0
    assert (p.parent / "report.html").exists() and (tmp_path / "run" / "index.html").exists()


def test_a_single_run_is_judged_against_the_range_of_the_other_side() -> None:
    # 4.9 s lies above the baseline's CI of the median (about 3.4..3.6) plus the 1 s floor,
    # but not above the range of its single runs (max 4.2) plus the floor
    base = runs([3.4, 3.5, 3.5, 3.6, 4.2])
    assert compare_runs(base, runs([4.9])).regressions == []
    assert compare_runs(base, runs([5.3])).regressions == ["pod-kill recovery"]
    assert compare_runs(runs([5.3]), base).regressions == []


def test_blast_radius_limits_reach_pytest_and_come_back_in_the_rerun_command(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A game day run under --max-* limits is rerun under the same limits."""
    from chaos.plugin.options import rerun_options

    seen: list[list[str]] = []
    monkeypatch.setattr(pytest, "main", lambda argv: seen.append(list(argv)) or 0)
    assert main(["run", "exp.yaml", "--max-pods", "2", "--max-percent", "50",
                 "--max-nodes", "1"]) == 0
    (argv,) = seen
    assert {"--chaos-max-pods=2", "--chaos-max-percent=50.0", "--chaos-max-nodes=1"} <= set(argv)

    class Config:
        opts = {"chaos_max_pods": "2", "chaos_max_percent": "50.0", "chaos_max_nodes": None}

        def getoption(self, name: str) -> object:
            return self.opts.get(name)

        def getini(self, name: str) -> object:
            return ""

    options = rerun_options(Config())  # type: ignore[arg-type]
    assert options == ("--max-pods=2", "--max-percent=50.0")
    from chaos.cli import build_parser

    args = build_parser().parse_args(["run", "exp.yaml", *options])
    assert (args.max_pods, args.max_percent, args.max_nodes) == (2, 50.0, None)
