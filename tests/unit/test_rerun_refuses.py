"""`kube-chaos rerun` reads a report's rerun command as data (issue 18): a report from someone
else cannot make it run anything but `run` of the recorded experiment with its seed and limits,
and never chooses the cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_report_compare import manifest, runs

import chaos.cli.cluster as cli_cluster
import chaos.cli.halt as cli_halt
import chaos.cli.rollback as cli_rollback
import chaos.cli.run as cli_run
from chaos.cli import main
from chaos.errors import RerunRefused
from chaos.report.rerun import rerun_plan


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every entry point a hostile argv could reach, replaced by a recorder: nothing here
    touches a cluster, and a test sees what would have run."""
    seen: list[tuple[str, Any]] = []
    monkeypatch.setattr(cli_run, "cmd_run", lambda args: seen.append(("run", args)) or 0)
    monkeypatch.setattr(pytest, "main", lambda *a, **k: seen.append(("pytest", a)) or 0)
    monkeypatch.setattr(cli_rollback, "cmd_rollback",
                        lambda args: seen.append(("rollback", args)) or 0)
    monkeypatch.setattr(cli_cluster, "cmd_cluster_down",
                        lambda args: seen.append(("down", args)) or 0)
    for name in dir(cli_halt):
        if name.startswith("cmd_"):
            monkeypatch.setattr(cli_halt, name, lambda args: seen.append(("halt", args)) or 0)
    return seen


def _report(tmp_path: Path, argv: object, exp: Path | None = None) -> Path:
    exp = exp or _exp(tmp_path)
    r = runs([3.5])[0]
    m = manifest()
    m["experiment_file"] = {"path": str(exp), "sha256": None}
    m["workload_manifests"] = []
    m["locustfile"] = None
    m["rerun"] = {"argv": argv, "command": "", "exact": True}
    r["manifest"] = m  # type: ignore[typeddict-item]
    (tmp_path / "report.json").write_text(json.dumps(r))
    return tmp_path / "report.json"


def _exp(tmp_path: Path) -> Path:
    exp = tmp_path / "pod-kill.yaml"
    exp.write_text("kind: Experiment\n")
    return exp


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("kube-chaos rerun: refused: ") and err.count("\n") == 1, err
    assert "\x1b" not in err
    return err


def _hostile(exp: str) -> list[tuple[object, str]]:
    return [
        (["kube-chaos", "rollback", "--force"], "argv[1]: 'rollback', not 'run'"),
        (["kube-chaos", "halt", "--reason", "x"], "argv[1]: 'halt', not 'run'"),
        (["kube-chaos", "cluster", "down", "--name", "prod"], "argv[1]: 'cluster', not 'run'"),
        (["sh", "-c", "rm -rf ~"], "argv[0]: 'sh', not 'kube-chaos'"),
        (["kube-chaos", "run", exp, "--seed=1", "--plan=/tmp/p.json"],
         "argv[4]: '--plan=/tmp/p.json' is not an option a rerun repeats"),
        (["kube-chaos", "run", exp, "--seed=1", "--junitxml=/home/u/.bashrc"],
         "'--junitxml=/home/u/.bashrc' is not an option"),
        (["kube-chaos", "run", exp, "--seed=1", "--keep-cluster"], "'--keep-cluster' is not"),
        (["kube-chaos", "run", exp, "--seed=1", "other.yaml"], "'other.yaml' is not an option"),
        (["kube-chaos", "run", exp, "--seed=1", "-p", "evil"], "'-p' is not an option"),
        (["kube-chaos", "run", exp, "--seed=1; rm -rf ~"], "--seed '1; rm -rf ~' is not an int"),
        (["kube-chaos", "run", exp, "--seed=1", "--max-percent=500"],
         "--max-percent '500' is not a percentage"),
        (["kube-chaos", "run", exp, "--seed=1", "--max-pods=-1"], "--max-pods '-1' is not"),
        (["kube-chaos", "run", exp, "--seed=1", "--seed=2"], "--seed given twice"),
        (["kube-chaos", "run", exp], "no --seed"),
        (["kube-chaos", "run", "/etc/other.yaml", "--seed=1"],
         "'/etc/other.yaml' is not the experiment file the report records"),
        (["kube-chaos", "run", "-pevil.yaml", "--seed=1"], "'-pevil.yaml' is not an experiment"),
        (["kube-chaos", "run", "tests/test_x.py", "--seed=1"], "is not an experiment file"),
        (["kube-chaos", "run", exp + "::x.yaml", "--seed=1"], "is not an experiment file"),
        ("kube-chaos rollback", "expected a list of strings, got str"),
        ({"0": "kube-chaos"}, "expected a list of strings, got dict"),
        (["kube-chaos", "run", exp, 1], "expected a list of strings, got list"),
        (None, "expected a list of strings, got NoneType"),
        (["kube-chaos", "run", exp, "--seed=1", "--\x1b[2J\x1b]0;pwned\x07\u202e" + "x" * 200],
         "argv[4]: '--\\x1b[2J\\x1b]0;pwned\\x07\\u202e" + "x" * 29 + "...' is not an option"),
    ]


def test_hostile_rerun_commands_are_refused_and_nothing_runs(
        tmp_path: Path, ran: list[tuple[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    exp = str(_exp(tmp_path))
    for argv, message in _hostile(exp):
        report = _report(tmp_path, argv)
        err = _refused(capsys, ["rerun", str(report)])
        assert f"{report}: manifest.rerun.argv" in err and message in err, (argv, err)
    assert ran == []


def test_cluster_options_never_come_from_the_report(
        tmp_path: Path, ran: list[tuple[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    exp = str(_exp(tmp_path))
    report = _report(tmp_path, ["kube-chaos", "run", exp, "--seed=1", "--allow-context=evil",
                                "--kubeconfig=/home/evil/kc", "--context=evil"])
    err = _refused(capsys, ["rerun", str(report)])
    assert ("the recorded run was given --kubeconfig, --context, --allow-context; a report "
            "never chooses the cluster: pass --kubeconfig, --context, --allow-context again"
            ) in err
    assert "evil" not in err  # the report's values are not suggested either
    err = _refused(capsys, ["rerun", str(report), "--context", "mine", "--kubeconfig", "kc"])
    assert "pass --allow-context again" in err
    assert ran == []
    # given again: the user's values are used, the report's never
    assert main(["rerun", str(report), "--context", "mine", "--kubeconfig", "kc",
                 "--allow-context", "mine"]) == 0
    ((what, args),) = ran
    assert what == "run"
    assert (args.kubeconfig, args.context, args.allow_context, args.allow_host) == (
        "kc", "mine", ["mine"], None)


def test_the_good_path_builds_exactly_the_recorded_run(
        tmp_path: Path, ran: list[tuple[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    exp = str(_exp(tmp_path))
    report = _report(tmp_path, ["kube-chaos", "run", exp, "--seed=77", "--max-pods=2",
                                "--max-percent=50.0", "--max-nodes=1", "--repeat=3",
                                "--allow-host=staging.example"])
    assert main(["rerun", str(report), "--allow-host", "staging.example", "--reports", "out",
                 "--keep-cluster"]) == 0
    ((what, args),) = ran
    assert what == "run"
    assert (args.paths, args.seed, args.max_pods, args.max_percent, args.max_nodes,
            args.repeat, args.allow_host, args.allow_context, args.kubeconfig, args.context,
            args.reports, args.keep_cluster, args.plan, args.junitxml) == (
        [Path(exp)], "77", 2, 50.0, 1, 3, ["staging.example"], None, None, None, "out", True,
        None, None)
    out = capsys.readouterr().out
    assert (f"kube-chaos rerun: kube-chaos run --seed=77 --max-pods=2 --max-percent=50.0 "
            f"--max-nodes=1 --repeat=3 --allow-host=staging.example --reports=out "
            f"--keep-cluster -- {exp}\n") in out


def test_rerun_plan_argv_is_typed_and_repeat_from_the_command_line_wins(tmp_path: Path) -> None:
    exp = str(_exp(tmp_path))
    m = manifest()
    m["experiment_file"] = {"path": exp, "sha256": None}
    m["rerun"] = {"argv": ["kube-chaos", "run", exp, "--max-percent=050", "--seed=007",
                           "--repeat=3"], "command": "", "exact": False}
    plan = rerun_plan("r.json", m)
    assert (plan.needs, plan.exact) == ((), False)
    assert plan.argv() == ["run", "--seed=7", "--max-percent=50.0", "--repeat=3", "--", exp]
    assert plan.argv(["--reports=x"], repeat=5) == [
        "run", "--seed=7", "--max-percent=50.0", "--repeat=5", "--reports=x", "--", exp]
    m["rerun"] = {"argv": ["kube-chaos", "run", exp, "--seed=1", "--max-nodes"],
                  "command": "", "exact": True}
    with pytest.raises(RerunRefused, match=r"^r\.json: manifest\.rerun\.argv\[4\]: "
                                           r"'--max-nodes' is not an option"):
        rerun_plan("r.json", m)


def test_files_a_report_names_are_hashed_only_when_regular(tmp_path: Path) -> None:
    from chaos.report.provenance import file_sha256

    (tmp_path / "f").write_text("x")
    assert file_sha256(tmp_path / "f") is not None
    assert file_sha256(Path("/dev/zero")) is None  # would be read forever
    assert file_sha256(tmp_path) is None
