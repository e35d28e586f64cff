"""Human-facing views of reports: JUnit properties, a summary table, a run-to-run comparison."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chaos.report.data import ReportData
from chaos.report.text import printable
from chaos.report.types import ReportDict
from chaos.report.writer import build_report


def format_value(value: object, digits: int = 3, yes_no: tuple[str, str] = ("true", "false")
                 ) -> str:
    """One figure as text, the same in JUnit properties, the console and the HTML pages."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return yes_no[0] if value else yes_no[1]
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def junit_properties(data: ReportData | ReportDict) -> list[tuple[str, str]]:
    """Name/value pairs for ``item.user_properties`` so ``--junitxml`` carries the figures."""
    report = build_report(data) if isinstance(data, ReportData) else data
    load = report["load"]
    props = [
        ("chaos.experiment", report["experiment"]["name"]),
        ("chaos.seed", str(report["seed"])),
        ("chaos.verdict", report["verdict"]),
        ("chaos.faults", ",".join(f["type"] for f in report["fault"]["faults"])),
        ("chaos.targets", ",".join(t for f in report["fault"]["faults"] for t in f["targets"])),
        ("chaos.recovery_seconds", format_value(report["recovery"]["recovery_seconds"])),
        ("chaos.restarts", format_value(report["recovery"]["restarts"])),
        ("chaos.requests_total", str(load["requests_total"])),
        ("chaos.requests_failed", str(load["requests_failed"])),
        ("chaos.error_rate_during_fault", format_value(load["error_rate_during_fault"], 4)),
        ("chaos.longest_outage_seconds", format_value(load["longest_outage_seconds"])),
        ("chaos.outage_bound_seconds", format_value(load.get("outage_bound_seconds"))),
        ("chaos.p95_ms", format_value(load["p95_ms"], 1)),
        ("chaos.p99_ms", format_value(load["p99_ms"], 1)),
        ("chaos.undo", undo_summary(report)),
        ("chaos.abort", abort_summary(report)),
    ]
    for sla in report["slas"]:
        verdict = "pass" if sla["passed"] else "fail"
        props.append(
            (
                f"chaos.sla.{sla['name']}",
                f"{verdict} observed={format_value(sla['observed'], 4)}{sla['unit']} "
                f"threshold={format_value(sla['threshold'], 4)}{sla['unit']}"
                + (f" bound={sla['outage_bound_seconds']:g}s"
                   if "outage_bound_seconds" in sla else ""),
            )
        )
    return props


@dataclass(frozen=True, slots=True)
class SummaryRow:
    experiment: str
    fault: str
    recovery_s: float | None
    longest_outage_s: float | None
    verdict: str
    undo: str = "-"  # "2/2": confirmed undos of all; "1 PENDING" when any is not confirmed


def undo_summary(report: ReportDict) -> str:
    rows = [u for u in report.get("undo", []) if isinstance(u, dict)]
    if not rows:
        return "-"
    pending = sum(1 for u in rows if u.get("status") != "undone" or u.get("journal_error"))
    return f"{pending} PENDING" if pending else f"{len(rows)}/{len(rows)}"


def abort_summary(report: ReportDict) -> str:
    """The guard that aborted the run, its value, threshold and time, and how long the undo
    took after the breach; "-" when no guard did."""
    abort = report.get("abort")
    if not abort or not abort["aborted"]:
        return "-"
    undo = abort["breach_to_undo_seconds"]
    return (f"guard={abort['guard']} type={abort['type']} value={format_value(abort['value'])} "
            f"threshold={format_value(abort['threshold'])} at={abort['time']} "
            f"breach_to_undo_s={format_value(undo)}")


def summary_row(report: ReportDict) -> SummaryRow:
    abort = report.get("abort")
    verdict = report["verdict"]
    if abort and abort["aborted"]:
        verdict = f"{verdict} ({abort['guard']})"
    return SummaryRow(
        experiment=report["experiment"]["name"],
        fault=",".join(f["type"] for f in report["fault"]["faults"]) or "-",
        recovery_s=report["recovery"]["recovery_seconds"],
        longest_outage_s=report["load"]["longest_outage_seconds"],
        verdict=verdict,
        undo=undo_summary(report),
    )


_HEADERS = ("experiment", "fault", "recovery s", "longest outage s", "undo", "verdict")


def summary_table(rows: Sequence[SummaryRow]) -> str:
    """A fixed-width table, one line per experiment; numbers right-aligned; every cell
    ``printable`` (the reports may be someone else's)."""
    cells = [
        tuple(printable(c) for c in (r.experiment, r.fault, format_value(r.recovery_s, 2),
                                     format_value(r.longest_outage_s, 2), r.undo, r.verdict))
        for r in rows
    ]
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(_HEADERS)]
    right = (False, False, True, True, False, False)

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(_HEADERS), "  ".join("-" * w for w in widths)]
    out.extend(line(c) for c in cells)
    return "\n".join(out)


def _figures(report: ReportDict) -> dict[str, object]:
    load = report["load"]
    figures: dict[str, object] = {
        "verdict": report["verdict"],
        "seed": report["seed"],
        "faults": ",".join(f["type"] for f in report["fault"]["faults"]),
        "targets": ",".join(t for f in report["fault"]["faults"] for t in f["targets"]),
        "recovery_seconds": report["recovery"]["recovery_seconds"],
        "restarts": report["recovery"]["restarts"],
        "requests_total": load["requests_total"],
        "requests_failed": load["requests_failed"],
        "error_rate_during_fault": load["error_rate_during_fault"],
        "longest_outage_seconds": load["longest_outage_seconds"],
        "outages": len(load["outages"]),
        "p95_ms": load["p95_ms"],
        "p99_ms": load["p99_ms"],
        "rps": load["rps"],
        "aborted by": _aborted_by(report),
    }
    for sla in report["slas"]:
        mark = "pass" if sla["passed"] else "FAIL"
        figures[f"sla {sla['name']}"] = f"{format_value(sla['observed'], 4)} {mark}"
    return figures


def _aborted_by(report: ReportDict) -> str | None:
    abort = report.get("abort")
    return abort["guard"] if abort and abort["aborted"] else None


def compare(a: ReportDict, b: ReportDict) -> str:
    """Side-by-side key figures of two runs, with the change for numbers; ``*`` marks changes."""
    fa, fb = _figures(a), _figures(b)
    names = list(fa) + [k for k in fb if k not in fa]
    rows: list[tuple[str, str, str, str, str]] = []
    for name in names:
        va, vb = fa.get(name), fb.get(name)
        delta = ""
        if (
            isinstance(va, int | float)
            and isinstance(vb, int | float)
            and not isinstance(va, bool)
            and not isinstance(vb, bool)
            and name != "seed"
        ):
            diff = vb - va
            delta = f"{diff:+d}" if isinstance(diff, int) else f"{diff:+.3f}"
        rows.append(("*" if va != vb else " ", printable(name), printable(format_value(va)),
                     printable(format_value(vb)), delta))
    head_a = printable(f"A: {a['experiment']['name']} @ {a['started_at']}")
    head_b = printable(f"B: {b['experiment']['name']} @ {b['started_at']}")
    wn = max(len("figure"), *(len(r[1]) for r in rows))
    wa = max(len("A"), *(len(r[2]) for r in rows))
    wb = max(len("B"), *(len(r[3]) for r in rows))
    lines = [head_a, head_b, f"  {'figure'.ljust(wn)}  {'A'.rjust(wa)}  {'B'.rjust(wb)}  change"]
    for mark, name, sa, sb, delta in rows:
        lines.append(f"{mark} {name.ljust(wn)}  {sa.rjust(wa)}  {sb.rjust(wb)}  {delta}".rstrip())
    return "\n".join(lines)
