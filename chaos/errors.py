"""kube-chaos error hierarchy.

Every failure the harness can explain is a ``ChaosError``; callers chain the original cause with
``raise ... from exc`` so the traceback keeps the client library's detail.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chaos.model.abort import Breach, HaltMarker
    from chaos.model.timeline import SLAResult


EXCERPT_CHARS = 80
"""Most characters of a file's content any error message quotes (of one line, escaped)."""
_FIELD_CHARS = 160  # a dotted field path is built of the file's keys: bounded too


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """A value read from a file, as an error may quote it: ``repr`` of its first line, at most
    ``limit`` characters of it (control characters escaped by ``repr``), with ``...`` and the
    full length when cut. A file may be a key or a token pointed at by mistake; an error shows
    enough to find the spot, never the content."""
    if not isinstance(value, str):  # a number, a list: as repr shows it, when short
        shown = repr(value)
        return shown if len(shown) <= limit and shown.isprintable() else excerpt(shown, limit)
    text = value
    first = text.split("\n", 1)[0].split("\r", 1)[0]
    if len(first) <= limit and len(first) == len(text):
        return repr(text)
    return f"{first[:limit]!r}... ({len(text):,} characters)"


class ChaosError(Exception):
    """Base class of every error kube-chaos raises on purpose."""


class ExperimentInvalid(ChaosError):
    """An experiment file is wrong; the message names file, line and field."""

    def __init__(
        self,
        reason: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path: str | None = str(path) if path is not None else None
        self.line = line
        if field is not None and (len(field) > _FIELD_CHARS or not field.isprintable()):
            # built of the file's own keys: bounded and escaped like any excerpt
            field = (field[:_FIELD_CHARS].encode("unicode_escape").decode("ascii")
                     + ("..." if len(field) > _FIELD_CHARS else ""))
        self.field = field
        self.reason = reason
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.path is not None and self.line is not None:
            where: str | None = f"{self.path}:{self.line}"
        elif self.path is not None:
            where = self.path
        elif self.line is not None:
            where = f"line {self.line}"
        else:
            where = None
        return ": ".join(part for part in (where, self.field, self.reason) if part)


class InjectionFailed(ChaosError):
    """A fault could not be put in place."""


class NotEnoughTargets(InjectionFailed):
    """Target selection asked for more pods or nodes than exist."""


class NodePortUnavailable(InjectionFailed):
    """``nodePort: auto`` found no free port among those the cluster publishes on 127.0.0.1."""


class RollbackFailed(ChaosError):
    """Undoing a fault failed; the cluster may still carry it (see ``kube-chaos rollback``)."""


class JournalWriteFailed(ChaosError):
    """The undo journal could not be written (disk full, short write, unwritable directory).

    Raised before a fault acts, it must stop the fault: an undo that is not on disk cannot be
    replayed after a crash.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot write undo journal {self.path}: {reason}")


class SteadyStateFailed(ChaosError):
    """The workload was not healthy before the fault, so the experiment cannot say anything."""


class SafetyRefused(ChaosError):
    """The harness refused an action that could harm something outside the test cluster."""


class ExperimentAborted(ChaosError):
    """An abort guard breached (or the cluster was halted): faults are undone at once and the
    verdict is ``aborted``. ``breach`` names the guard, the value, the threshold and the time."""

    def __init__(self, breach: Breach) -> None:
        self.breach = breach
        super().__init__(f"aborted: {breach.describe()}")


class HaltActive(SafetyRefused):
    """The cluster is halted (`kube-chaos halt`): no run may start until `--clear`."""

    def __init__(self, marker: HaltMarker, context: str) -> None:
        self.marker = marker
        super().__init__(f"cluster {context} is {marker.describe()}; no experiment may start "
                         f"until `kube-chaos halt --clear --context {context}`")


class GuardUnusable(ChaosError):
    """An abort guard could not be evaluated before any fault: the run would be unguarded."""


class ReportInvalid(ChaosError):
    """A report.json file could not be read back."""


class RerunRefused(ReportInvalid):
    """A report's rerun command is not the plain run of its experiment (or needs cluster
    options the user has not given again): nothing was run."""


def _fmt_value(value: float, unit: str) -> str:
    if unit == "bool":
        return "true" if value else "false"
    if unit == "ratio":
        return f"{value:.4f} ({value * 100:.2f}%)"
    if unit == "count":
        return f"{value:g}"
    return f"{value:.3f}".rstrip("0").rstrip(".") + unit


_OP_PHRASE = {"<=": "exceeds threshold", ">=": "is below minimum", "==": "differs from expected"}


def describe_sla_failure(result: SLAResult) -> str:
    """One line naming the SLA, its threshold and what was observed."""
    threshold = _fmt_value(result.threshold, result.unit)
    if result.observed is None:
        return f"{result.name}: not measured (threshold {threshold})"
    observed = _fmt_value(result.observed, result.unit)
    phrase = _OP_PHRASE.get(result.op, "violates threshold")
    return f"{result.name}: observed {observed} {phrase} {threshold}"


class SLAViolated(ChaosError):
    """At least one SLA failed; ``results`` holds every result, passed or not."""

    def __init__(self, results: Sequence[SLAResult], experiment: str | None = None) -> None:
        self.results: list[SLAResult] = list(results)
        self.experiment = experiment
        failed = [describe_sla_failure(r) for r in self.results if not r.passed]
        head = f"{experiment}: " if experiment else ""
        count = len(failed)
        msg = f"{head}{count} SLA{'s' if count != 1 else ''} violated"
        if failed:
            msg += ":\n  " + "\n  ".join(failed)
        super().__init__(msg)

    @property
    def failed(self) -> list[SLAResult]:
        return [r for r in self.results if not r.passed]


class ExperimentError(ChaosError):
    """An experiment could not be carried out (the cluster could not be prepared, the run
    errored), or a negative control went undetected."""


class ClusterError(ChaosError):
    """The test cluster (kind, Docker, the API server) is not usable."""


class DockerUnavailable(ClusterError):
    """No Docker engine answers, and none could be started."""


class BuildFailed(ClusterError):
    """An image build step failed; the full log is at ``log_path``."""

    def __init__(self, step: str, log_path: str | Path | None, detail: str = "") -> None:
        self.step = step
        self.log_path = Path(log_path) if log_path is not None else None
        msg = f"build step {step!r} failed"
        if detail:
            msg += f": {detail}"
        if self.log_path is not None:
            msg += f" (log: {self.log_path})"
        super().__init__(msg)


class PortInUse(ClusterError):
    """A host port the cluster must publish is already taken."""


class DiskShort(ClusterError):
    """Not enough free disk for the cluster or the image build."""
