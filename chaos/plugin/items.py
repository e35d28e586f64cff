"""A collected experiment as a pytest item: it runs, and fails naming why (each breached SLA,
the guard that aborted it, the error, an undetected negative control)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from chaos.errors import (
    ChaosError,
    ExperimentAborted,
    ExperimentError,
    HaltActive,
    SLAViolated,
)
from chaos.plugin import environment, record

if TYPE_CHECKING:
    from chaos.model.experiment import Experiment


class ExperimentItem(pytest.Item):
    def __init__(self, *, experiment: Experiment, repeat: tuple[int, int] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.experiment = experiment
        self.repeat = repeat

    def runtest(self) -> None:
        try:
            env = environment.run_env(self.config)
        except HaltActive as exc:
            self.session.shouldstop = str(exc)
            raise ExperimentError(f"kube-chaos: {exc}") from exc
        except ChaosError as exc:
            raise ExperimentError(f"kube-chaos could not prepare the cluster: {exc}") from exc
        result = record.run_and_record(self.config, self, self.experiment, env, self.repeat)
        if result.verdict == "aborted" and result.abort is not None \
                and result.abort.breach is not None:
            raise ExperimentAborted(result.abort.breach)
        if result.verdict == "error":
            raise ExperimentError(f"experiment errored: {result.error} "
                                  f"(report: {result.report_path})")
        if result.verdict != "pass":
            if self.experiment.expect == "fail":
                raise ExperimentError(
                    "negative control held every SLA, but it was expected to breach at least "
                    f"one: the harness did not detect the failure (report: {result.report_path})")
            raise SLAViolated(result.slas, self.experiment.name)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, ChaosError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"experiment: {self.name}"

