"""Repeated runs of one experiment: median and 95 % bootstrap interval of its key figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chaos.plan.stats import Estimate, bootstrap_median
from chaos.report.text import printable
from chaos.report.types import ReportDict

# the figures a repeat summarises, each (key, label, unit): taken from report.json
FIGURES = (
    ("recovery_seconds", "recovery", "s"),
    ("longest_outage_seconds", "longest outage", "s"),
    ("error_rate_during_fault", "error rate", "ratio"),
)


def figure(report: ReportDict, key: str) -> float | None:
    if key == "recovery_seconds":
        return report["recovery"]["recovery_seconds"]
    if key == "longest_outage_seconds":
        return report["load"]["longest_outage_seconds"]
    if key == "error_rate_during_fault":
        return report["load"]["error_rate_during_fault"]
    raise KeyError(key)


@dataclass(frozen=True, slots=True)
class RepeatSummary:
    """One experiment over ``runs`` reports: verdict counts and an estimate per figure."""

    experiment: str
    runs: int
    verdicts: dict[str, int]
    estimates: dict[str, Estimate | None]  # figure key -> estimate (None: never measured)


def group(reports: Sequence[ReportDict]) -> dict[str, list[ReportDict]]:
    """Reports by experiment name, in the order first seen."""
    out: dict[str, list[ReportDict]] = {}
    for r in reports:
        out.setdefault(r["experiment"]["name"], []).append(r)
    return out


def summarise(name: str, reports: Sequence[ReportDict]) -> RepeatSummary:
    """The bootstrap is seeded with the first run's seed: the same reports always give the
    same interval."""
    seed = reports[0]["seed"] if reports else 0
    verdicts: dict[str, int] = {}
    for r in reports:
        verdicts[r["verdict"]] = verdicts.get(r["verdict"], 0) + 1
    estimates: dict[str, Estimate | None] = {}
    for key, _, _ in FIGURES:
        values = [v for r in reports if (v := figure(r, key)) is not None]
        estimates[key] = bootstrap_median(values, seed)
    return RepeatSummary(name, len(reports), verdicts, estimates)


def fmt_estimate(e: Estimate | None, unit: str) -> str:
    """``3.48 [3.31, 3.62] s (n=5)``; one run: its value alone."""
    if e is None:
        return "-"
    digits = 4 if unit == "ratio" else 2
    unit_s = "" if unit == "ratio" else f" {unit}"
    if e.n == 1:
        return f"{e.median:.{digits}f}{unit_s}"
    return f"{e.median:.{digits}f} [{e.low:.{digits}f}, {e.high:.{digits}f}]{unit_s} (n={e.n})"


def repeat_table(summaries: Sequence[RepeatSummary]) -> str:
    """Fixed-width: one line per experiment, median [95 % CI] of each figure."""
    headers = ("experiment", "runs", *(f"{label} median [95% CI]" for _, label, _ in FIGURES),
               "verdicts")
    rows = [(printable(s.experiment), str(s.runs),
             *(fmt_estimate(s.estimates[k], unit) for k, _, unit in FIGURES),
             printable(" ".join(f"{v}={n}" for v, n in sorted(s.verdicts.items()))))
            for s in summaries]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in rows]
    return "\n".join(lines)
