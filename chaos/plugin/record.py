"""One experiment run from pytest (a YAML item or the chaos_experiment fixture): the result
kept for the summary, SLA figures as JUnit properties, report.html next to report.json."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from chaos.errors import HaltActive
from chaos.plan.claims import claims_of
from chaos.plugin.parallel import CLAIMS_PROPERTY, REPORT_PROPERTY

if TYPE_CHECKING:
    from chaos.engine.runner import ExperimentResult, RunEnv
    from chaos.model.experiment import Experiment


def as_experiment(experiment: str | Path | Experiment, overrides: dict[str, Any],
                  allow_paths: tuple[Path, ...] = ()) -> Experiment:
    from chaos.model.parse import load_experiment

    exp = (load_experiment(experiment, allow_paths=allow_paths)
           if isinstance(experiment, str | Path) else experiment)
    return replace(exp, **overrides) if overrides else exp


def run_and_record(config: pytest.Config, node: pytest.Item, exp: Experiment,
                   env: RunEnv, repeat: tuple[int, int] | None = None) -> ExperimentResult:
    from chaos.engine.runner import run_experiment
    from chaos.report.summary import junit_properties
    from chaos.report.writer import load_report

    try:
        node.user_properties.append((CLAIMS_PROPERTY, claims_of(exp).describe()))
        result = run_experiment(exp, env, repeat=repeat)  # holding its claims (locks)
    except HaltActive as exc:
        node.session.shouldstop = str(exc)  # the kill switch stops the whole session
        raise
    if result.abort is not None and result.abort.breach is not None \
            and result.abort.breach.type == "halt":
        node.session.shouldstop = f"kube-chaos halt: {result.abort.breach.detail}"
    if result.report_path is not None:
        node.user_properties.append((REPORT_PROPERTY, str(result.report_path)))
        for key, value in junit_properties(load_report(result.report_path)):
            node.user_properties.append((key, value))
        html = _write_html(result.report_path, env.log)
        if html is not None:
            node.user_properties.append(("chaos.html", str(html)))
    return result


def _write_html(report_path: Path, log: Callable[[str], None]) -> Path | None:
    """report.html next to report.json. A report page that cannot be drawn is named in the
    log and never fails the experiment: report.json, the record, is already written."""
    from chaos.report.html import write_experiment_html

    try:
        return write_experiment_html(report_path, index_href="../index.html")
    except Exception as exc:
        log(f"could not write the HTML report of {report_path}: {type(exc).__name__}: {exc}")
        return None

