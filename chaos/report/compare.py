"""The regression gate: a baseline and a current set of runs, environment first, then figures.

The rule (docs/reports.md): each side of a figure is the median of its runs with a 95 %
percentile-bootstrap interval (one run: the value itself). A figure is *regressed* only when
the current interval lies above the baseline interval by more than the figure's floor
(``current.low - baseline.high > floor``), and *improved* in the mirror case; anything else
is within the noise. When one side is a single run, the other side's interval is the range of
its runs (min to max) instead: a single run scatters like one run, not like a median. The
floors (1 s of recovery, 0.5 s of outage, 0.01 of error rate) keep
two tight intervals a few milliseconds apart from failing a build. A set of runs that all
passed, against a current set where any run did not, is a regression of the verdict.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chaos.plan.stats import Estimate
from chaos.report.repeats import FIGURES, figure, fmt_estimate, group, summarise
from chaos.report.summary import compare as side_by_side
from chaos.report.text import printable as esc
from chaos.report.types import ReportDict
from chaos.report.writer import REPORT_NAME, load_report

FLOORS = {"recovery_seconds": 1.0, "longest_outage_seconds": 0.5,
          "error_rate_during_fault": 0.01}


def load_side(path: str | os.PathLike[str]) -> list[ReportDict]:
    """A report.json, a directory holding one, or a run directory: every report under it."""
    p = Path(path)
    if p.is_dir() and not (p / REPORT_NAME).exists():
        return [load_report(f) for f in sorted(p.rglob(REPORT_NAME))]
    return [load_report(p)]


def _values(reports: Sequence[ReportDict], key: str) -> list[str]:
    """The distinct values of one manifest entry over a side's runs."""
    seen: list[str] = []
    for r in reports:
        m = r.get("manifest")
        value = _manifest_value(m, key) if m else "(no manifest: report older than schema 4)"
        if value not in seen:
            seen.append(value)
    return seen


def _short(v: object) -> str:
    return "-" if v is None else str(v)


def _manifest_value(m: object, key: str) -> str:
    assert isinstance(m, dict)
    if key == "kube-chaos":
        kc = m.get("kube_chaos") or {}
        commit = kc.get("commit")
        dirty = " (dirty)" if kc.get("dirty") else ""
        return f"{kc.get('version')}" + (f" @ {str(commit)[:12]}{dirty}" if commit else "")
    if key in ("python", "locust", "kubernetes_client", "kubernetes_server", "seed"):
        return _short(m.get(key))
    if key == "experiment file":
        return _short((m.get("experiment_file") or {}).get("sha256"))
    if key == "locustfile":
        return _short((m.get("locustfile") or {}).get("sha256"))
    if key == "workload manifests":
        return ", ".join(f"{Path(f['path']).name}={_short(f['sha256'])[:12]}"
                         for f in m.get("workload_manifests", []))
    if key == "images":
        ids = sorted({f"{i.get('container')}={_short(i.get('image_id'))}"
                      for i in m.get("images", [])})
        return ", ".join(ids) or "-"
    if key == "node image":
        ni = m.get("node_image")
        return _short(ni.get("id") if isinstance(ni, dict) else None)
    if key == "kind config":
        kc = m.get("kind_config")
        return _short(kc.get("sha256") if isinstance(kc, dict) else None)
    if key == "nodes":
        return ", ".join(sorted({f"{n.get('kubelet')}/{n.get('container_runtime')}"
                                 for n in m.get("nodes", [])})) or "-"
    raise KeyError(key)


ENVIRONMENT = ("kube-chaos", "python", "locust", "kubernetes_client", "kubernetes_server",
               "node image", "kind config", "nodes", "images", "experiment file",
               "workload manifests", "locustfile", "seed")


def environment_differences(base: Sequence[ReportDict], cur: Sequence[ReportDict]
                            ) -> list[tuple[str, str, str]]:
    """(what, baseline, current) for every manifest entry whose values differ."""
    out = []
    for key in ENVIRONMENT:
        a, b = _values(base, key), _values(cur, key)
        if a != b:
            out.append((key, " | ".join(a), " | ".join(b)))
    return out


@dataclass(frozen=True, slots=True)
class FigureComparison:
    experiment: str
    figure: str  # key in repeats.FIGURES
    label: str
    unit: str
    base: Estimate | None
    cur: Estimate | None
    status: str  # regressed | improved | within noise | not measured

    @property
    def change(self) -> float | None:
        if self.base is None or self.cur is None:
            return None
        return self.cur.median - self.base.median


def judge(base: Estimate | None, cur: Estimate | None, floor: float) -> str:
    """The rule of this module's docstring."""
    if base is None or cur is None:
        return "not measured"
    if cur.low - base.high > floor:
        return "regressed"
    if base.low - cur.high > floor:
        return "improved"
    return "within noise"


@dataclass(frozen=True, slots=True)
class Comparison:
    environment: list[tuple[str, str, str]]
    figures: list[FigureComparison]
    verdicts: list[tuple[str, str, str, str]]  # experiment, baseline, current, status
    only_in: list[str]  # experiments present on one side only

    @property
    def regressions(self) -> list[str]:
        out = [f"{f.experiment} {f.label}" for f in self.figures if f.status == "regressed"]
        out += [f"{e} verdict" for e, _, _, s in self.verdicts if s == "regressed"]
        return out


def _verdicts(reports: Sequence[ReportDict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in reports:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    return counts


def compare_runs(base: Sequence[ReportDict], cur: Sequence[ReportDict]) -> Comparison:
    bg, cg = group(base), group(cur)
    figures: list[FigureComparison] = []
    verdicts: list[tuple[str, str, str, str]] = []
    for name in [n for n in bg if n in cg]:
        sb, sc = summarise(name, bg[name]), summarise(name, cg[name])
        for key, label, unit in FIGURES:
            eb, ec = sb.estimates[key], sc.estimates[key]
            jb, jc = eb, ec
            if eb is not None and ec is not None and (eb.n == 1) != (ec.n == 1):
                jb = _range(bg[name], key) if ec.n == 1 else eb
                jc = _range(cg[name], key) if eb.n == 1 else ec
            figures.append(FigureComparison(name, key, label, unit, eb, ec,
                                            judge(jb, jc, FLOORS[key])))
        vb, vc = _verdicts(bg[name]), _verdicts(cg[name])
        worse = set(vb) == {"pass"} and set(vc) != {"pass"}
        verdicts.append((name, _counts(vb), _counts(vc), "regressed" if worse else
                         ("same" if vb.keys() == vc.keys() else "changed")))
    only = [n for n in bg if n not in cg] + [n for n in cg if n not in bg]
    # environment differences over the experiments both sides ran
    both = [n for n in bg if n in cg]
    env = environment_differences([r for n in both for r in bg[n]],
                                  [r for n in both for r in cg[n]]) if both else []
    return Comparison(env, figures, verdicts, only)


def _range(reports: Sequence[ReportDict], key: str) -> Estimate | None:
    """Median with the min..max of the runs: what one more single run is compared with."""
    values = [v for r in reports if (v := figure(r, key)) is not None]
    if not values:
        return None
    return Estimate(statistics.median(values), min(values), max(values), len(values))


def _counts(c: dict[str, int]) -> str:
    return " ".join(f"{v}={n}" for v, n in sorted(c.items()))


def markdown(cmp: Comparison, base_name: str, cur_name: str,
             base: Sequence[ReportDict] = (), cur: Sequence[ReportDict] = ()) -> str:
    """Every string a report supplies goes through ``printable``: the Markdown is printed
    to a terminal too."""
    lines = [f"# kube-chaos: `{esc(base_name)}` (baseline) vs `{esc(cur_name)}` (current)", ""]
    lines += ["## Environment", ""]
    if cmp.environment:
        lines += ["| what | baseline | current |", "|---|---|---|"]
        lines += [f"| {w} | `{esc(a)}` | `{esc(b)}` |" for w, a, b in cmp.environment]
    else:
        lines.append("No difference: same kube-chaos, versions, node image, kind config, "
                     "image digests, files and seed.")
    lines += ["", "## Figures", "",
              "| experiment | figure | baseline median [95% CI] | current median [95% CI] "
              "| change | status |", "|---|---|---|---|---:|---|"]
    for f in cmp.figures:
        change = "-" if f.change is None else f"{f.change:+.4f}" if f.unit == "ratio" \
            else f"{f.change:+.2f} {f.unit}"
        status = f"**{f.status.upper()}**" if f.status == "regressed" else f.status
        lines.append(f"| {esc(f.experiment)} | {f.label} | {fmt_estimate(f.base, f.unit)} | "
                     f"{fmt_estimate(f.cur, f.unit)} | {change} | {status} |")
    for name, a, b, status in cmp.verdicts:
        shown = f"**{status.upper()}**" if status == "regressed" else status
        lines.append(f"| {esc(name)} | verdicts | {esc(a)} | {esc(b)} | | {shown} |")
    if cmp.only_in:
        lines += ["", "Only on one side (not compared): " + esc(", ".join(cmp.only_in))]
    regs = cmp.regressions
    lines += ["", f"**{len(regs)} regression(s): {esc(', '.join(regs))}**" if regs
              else "**No regression** beyond the noise."]
    lines += ["", "Rule: a figure is regressed when the current 95 % interval of its median lies "
              "above the baseline's by more than its floor (recovery 1 s, longest outage 0.5 s, "
              "error rate 0.01); against a single run, the other side's interval is the range "
              "of its runs."]
    if len(base) == 1 and len(cur) == 1:
        lines += ["", "<details><summary>All figures of the two runs</summary>", "", "```",
                  side_by_side(base[0], cur[0]), "```", "", "</details>"]
    return "\n".join(lines) + "\n"
