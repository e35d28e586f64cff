"""The plan gate compares what matters (issue 18): an experiment is its file's resolved path
and content, so `kube-chaos plan gd/ -o plan.json` then `kube-chaos run gd/ --plan plan.json`
(pytest hands the run an absolute path) agree, and an edited or another file does not."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chaos.engine import preview as planner
from chaos.engine import runner
from chaos.errors import SafetyRefused
from chaos.journal.store import Journal
from chaos.model.parse import load_experiment

ROOT = Path(__file__).resolve().parents[2]
KUBE: Any = SimpleNamespace(context="kind-x", api=SimpleNamespace(
    configuration=SimpleNamespace(host="https://127.0.0.1:6443")))


@pytest.fixture
def game_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A game-day folder ``gd/`` in the current directory, as the docs' commands use it; the
    permission review answers "nothing missing" (no cluster here)."""
    gd = tmp_path / "gd"
    gd.mkdir()
    shutil.copy(ROOT / "experiments" / "pod-kill-replicated.yaml", gd / "x.yaml")
    shutil.copytree(ROOT / "experiments" / "workloads", gd / "workloads")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(planner.access, "missing", lambda kube, need: [])
    return gd


def _plan(path: str | Path) -> planner.ExperimentPlan:
    return planner.plan_experiment(load_experiment(path), KUBE, seed=7,
                                   allow_contexts=("kind-x",))


def test_a_relative_and_an_absolute_spelling_of_one_file_agree(game_day: Path) -> None:
    relative, absolute = _plan("gd/x.yaml"), _plan(game_day / "x.yaml")
    dotted = _plan("gd/../gd/./x.yaml")
    assert relative.problems == ()
    assert relative.file == absolute.file == dotted.file == str((game_day / "x.yaml").resolve())
    assert relative.digest() == absolute.digest() == dotted.digest()
    assert planner.differences(planner.plan_document([relative])["experiments"][0],
                               absolute) == []


def test_edited_content_or_another_file_disagrees(game_day: Path) -> None:
    reviewed = planner.plan_document([_plan("gd/x.yaml")])["experiments"][0]
    shutil.copy(game_day / "x.yaml", game_day / "y.yaml")  # the same content, another file
    other = _plan(game_day / "y.yaml")
    assert other.digest() != reviewed["digest"]
    assert [d.split(":")[0] for d in planner.differences(reviewed, other)] == ["file"]
    (game_day / "x.yaml").write_text((game_day / "x.yaml").read_text() + "# edited\n")
    edited = _plan(game_day / "x.yaml")
    assert edited.digest() != reviewed["digest"]
    assert [d.split(":")[0] for d in planner.differences(reviewed, edited)] == ["file_sha256"]


def _env(tmp_path: Path, plan: dict[str, object]) -> runner.RunEnv:
    return runner.RunEnv(kube=KUBE, kubeconfig="k", run_id="r", reports_dir=tmp_path / "r",
                         seed=1, cluster_name=None, journal=Journal(tmp_path / "j.jsonl"),
                         allow_contexts=("kind-x",), plan=plan)


def test_the_run_gate_accepts_the_plan_reviewed_from_a_relative_folder(
        game_day: Path, tmp_path: Path) -> None:
    doc = planner.plan_document([_plan("gd/x.yaml")])  # `kube-chaos plan gd/ -o plan.json`
    run_exp = load_experiment(game_day.resolve() / "x.yaml")  # what pytest collects
    assert run_exp.path is not None and run_exp.path.is_absolute()
    assert runner._as_reviewed(run_exp, _env(tmp_path, doc)).seed == 7

    (game_day / "x.yaml").write_text((game_day / "x.yaml").read_text() + "# edited\n")
    with pytest.raises(SafetyRefused, match=r"differs from the reviewed one.*file_sha256"):
        runner._as_reviewed(load_experiment(game_day.resolve() / "x.yaml"),
                            _env(tmp_path, doc))


def test_a_plan_of_another_version_is_refused(game_day: Path, tmp_path: Path) -> None:
    doc = planner.plan_document([_plan("gd/x.yaml")])
    old = dataclasses.replace(_plan("gd/x.yaml"), file="gd/x.yaml")  # as version 1 wrote it
    v1 = {**planner.plan_document([old]), "version": 1}
    with pytest.raises(SafetyRefused, match=r"version 1.*plan it again"):
        runner._as_reviewed(load_experiment(game_day / "x.yaml"), _env(tmp_path, v1))
    assert runner._as_reviewed(load_experiment(game_day / "x.yaml"),
                               _env(tmp_path, doc)).seed == 7


def test_a_control_plane_loss_on_an_existing_workload_is_planned_not_crashed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`kube-chaos plan` of a control-plane-loss against a running workload used to stop on
    an ``assert isinstance(spec, NodeFault)``; it names the control-plane targets and checks
    them against the blast radius, as the run does."""
    from chaos.model.experiment import BlastRadius
    from chaos.model.faults import ControlPlaneLoss

    spec = ControlPlaneLoss(count=2)
    monkeypatch.setattr(planner, "resolve", lambda scope, s: planner_targets(
        ("cp-1", "cp-2")))
    existing = SimpleNamespace(namespace="shop", kind="Deployment", name="web")
    fake_exp: Any = SimpleNamespace(workload=SimpleNamespace(
        existing=existing, selector=SimpleNamespace(), replicas=3))
    problems: list[str] = []
    plan = planner._plan_fault(KUBE, fake_exp, spec, 0, 7, BlastRadius(max_nodes=1), problems)
    assert plan.kind == "Node" and plan.targets == ("cp-1", "cp-2")
    assert plan.candidates == ("cp-1", "cp-2")
    assert any("control-plane-loss" in p for p in problems), problems  # 2 nodes > maxNodes 1
    problems.clear()
    planner._plan_fault(KUBE, fake_exp, spec, 0, 7, BlastRadius(max_nodes=2), problems)
    assert problems == []


def planner_targets(names: tuple[str, ...]) -> Any:
    from chaos.faults.targets import Targets

    return Targets("Node", names, names)
