"""``assert_slas``: fail a test on an experiment's result, naming what went wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.errors import ExperimentAborted, ExperimentError, SLAViolated

if TYPE_CHECKING:
    from chaos.engine.runner import ExperimentResult


def assert_slas(result: ExperimentResult) -> None:
    """Fail with the SLA, threshold and observed value of every breached SLA; an aborted run
    fails naming the guard that stopped it (its SLAs were never judged), an errored run with
    its error. Returns quietly when every SLA held."""
    if result.abort is not None and result.abort.breach is not None \
            and result.verdict == "aborted":
        raise ExperimentAborted(result.abort.breach)
    if result.error:
        raise ExperimentError(f"experiment errored: {result.error}")
    failed = result.failed_slas
    if failed:
        raise SLAViolated(result.slas, result.experiment.name)
