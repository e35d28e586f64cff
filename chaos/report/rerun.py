"""A report's rerun command read as data: the experiment, seed and limits it may repeat.

A report.json may come from someone else. Its ``manifest.rerun.argv`` is therefore never
executed as it stands: it is parsed against an allow-list of what a rerun may repeat — a
``kube-chaos run`` of the recorded experiment file with its seed, blast-radius limits and
repeat count, typed — and anything else refuses the rerun. Which cluster to hit
(``--kubeconfig``, ``--context``) and what to allow there (``--allow-context``,
``--allow-host``) never comes from a report: the recorded run's use of them is only a reason
to ask the user for them again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from chaos.errors import RerunRefused
from chaos.report.text import excerpt, printable

# flags the user must give again on rerun's own command line when the recorded run had them
CLUSTER_FLAGS = ("--kubeconfig", "--context", "--allow-context", "--allow-host")
_INT = re.compile(r"-?[0-9]{1,19}")
_COUNT = re.compile(r"[0-9]{1,9}")
_PERCENT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,6})?")


def _seed(v: str) -> str | None:
    return str(int(v)) if _INT.fullmatch(v) else None


def _count(v: str) -> str | None:
    return str(int(v)) if _COUNT.fullmatch(v) else None


def _positive(v: str) -> str | None:
    return str(int(v)) if _COUNT.fullmatch(v) and int(v) >= 1 else None


def _percent(v: str) -> str | None:
    return repr(float(v)) if _PERCENT.fullmatch(v) and 0 < float(v) <= 100 else None


# flag -> (what its value must be, the normalised value or None when it is not that)
_VALUES: dict[str, tuple[str, Callable[[str], str | None]]] = {
    "--seed": ("an integer", _seed),
    "--max-pods": ("a whole number", _count),
    "--max-percent": ("a percentage above 0, at most 100", _percent),
    "--max-nodes": ("a whole number", _count),
    "--repeat": ("a whole number from 1", _positive),
}


@dataclass(frozen=True, slots=True)
class RerunPlan:
    """What a rerun runs: ``kube-chaos run EXPERIMENT --seed=N`` and the recorded limits."""

    experiment: str
    options: tuple[str, ...]  # normalised --seed=..., --max-*=..., --repeat=...
    needs: tuple[str, ...]  # CLUSTER_FLAGS the recorded run had, in that order
    exact: bool

    def argv(self, extra: Sequence[str] = (), repeat: int | None = None) -> list[str]:
        """The `kube-chaos run` arguments: the recorded options (``repeat`` replacing a
        recorded --repeat), then ``extra`` (the user's own), the experiment after ``--``."""
        opts = [o for o in self.options if repeat is None or not o.startswith("--repeat=")]
        if repeat is not None:
            opts.append(f"--repeat={repeat}")
        return ["run", *opts, *extra, "--", self.experiment]


def _refuse(report: str, where: str, reason: str) -> RerunRefused:
    return RerunRefused(f"{printable(report)}: {where}: {reason}; nothing was run")


def _q(value: object, limit: int = 60) -> str:
    return f"'{excerpt(value, limit)}'"


def _recorded_experiment(manifest: Mapping[str, object]) -> str | None:
    entry = manifest.get("experiment_file")
    path = entry.get("path") if isinstance(entry, dict) else None
    return path if isinstance(path, str) else None


def rerun_plan(report: str, manifest: Mapping[str, object]) -> RerunPlan:
    """Parse ``manifest["rerun"]`` of the report at ``report`` (named in every error); raise
    RerunRefused on anything that is not the plain run of the recorded experiment."""
    rerun = manifest.get("rerun")
    argv = rerun.get("argv") if isinstance(rerun, dict) else None
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise _refuse(report, "manifest.rerun.argv", f"expected a list of strings, got "
                      f"{type(argv).__name__} {_q(repr(argv), 40)}")
    for i, want in enumerate(("kube-chaos", "run")):
        if len(argv) <= i or argv[i] != want:
            got = _q(argv[i]) if len(argv) > i else "nothing"
            raise _refuse(report, f"manifest.rerun.argv[{i}]", f"{got}, not {want!r}: a rerun "
                          "only repeats `kube-chaos run EXPERIMENT --seed=N` and its limits")
    experiment = argv[2] if len(argv) > 2 else ""
    if (experiment.startswith("-") or "::" in experiment or printable(experiment) != experiment
            or Path(experiment).suffix not in (".yaml", ".yml")):
        raise _refuse(report, "manifest.rerun.argv[2]", f"{_q(experiment)} is not an "
                      "experiment file (.yaml or .yml)")
    recorded = _recorded_experiment(manifest)
    if experiment != recorded:
        raise _refuse(report, "manifest.rerun.argv[2]", f"{_q(experiment)} is not the "
                      f"experiment file the report records ({_q(recorded)})")
    options: dict[str, str] = {}
    needs: set[str] = set()
    for i, arg in enumerate(argv[3:], start=3):
        flag, eq, value = arg.partition("=")
        where = f"manifest.rerun.argv[{i}]"
        if flag in CLUSTER_FLAGS and eq:
            needs.add(flag)  # its value is the recorded run's, never used
            continue
        if flag not in _VALUES or not eq:
            raise _refuse(report, where, f"{_q(arg)} is not an option a rerun repeats "
                          f"({', '.join(_VALUES)}; {', '.join(CLUSTER_FLAGS)} are given again "
                          "by you)")
        what, convert = _VALUES[flag]
        normal = convert(value)
        if normal is None:
            raise _refuse(report, where, f"{flag} {_q(value)} is not {what}")
        if flag in options:
            raise _refuse(report, where, f"{flag} given twice")
        options[flag] = normal
    if "--seed" not in options:
        raise _refuse(report, "manifest.rerun.argv", "no --seed: the run cannot be repeated")
    ordered = tuple(f"{flag}={options[flag]}" for flag in _VALUES if flag in options)
    return RerunPlan(experiment, ordered, tuple(f for f in CLUSTER_FLAGS if f in needs),
                     isinstance(rerun, dict) and rerun.get("exact") is True)

