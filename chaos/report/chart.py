"""The timeline chart of one report, as inline SVG drawn by matplotlib.

Why matplotlib and SVG (and not a JavaScript plotting library): the report must open offline
from a file with nothing else, forever. An SVG in the page needs no script at all, so there is
nothing to fail in the browser, it prints, and it weighs tens of kilobytes where an inlined
plotly.js weighs 3.5 MB per file. Hover names come from SVG ``<title>`` elements, which every
browser shows as a tooltip; the same events are also listed in the report's table.
"""

from __future__ import annotations

import io
import re
from html import escape
from typing import Any

from chaos.report.types import ReportDict

# event lanes of the bottom strip, top to bottom: (lane, kinds' prefix, colour)
LANES = (
    ("fault", ("fault-",), "#d9480f"),
    ("pod", ("pod-", "restart"), "#1c7ed6"),
    ("endpoint", ("endpoint-",), "#2b8a3e"),
    ("node", ("node-",), "#862e9c"),
    ("k8s event", ("event",), "#495057"),
)
RPS_COLOUR = "#1971c2"
FAULT_SHADE = "#ffa94d"
OUTAGE_SHADE = "#e03131"
MIN_SPAN_S = 0.25  # a fault that acts at once (a pod kill) still shows as a band


def lane_of(kind: str) -> int:
    for i, (_, prefixes, _) in enumerate(LANES):
        if kind.startswith(prefixes):
            return i
    return len(LANES) - 1


def timeline_svg(report: ReportDict) -> str:
    """The chart as an ``<svg>`` element (no XML prolog), or "" when the run has no timeline."""
    tl = report["timeline"]
    buckets = tl["buckets"]
    events = tl["events"]
    if not buckets and not events:
        return ""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    bucket_s = tl["bucket_seconds"] or 1.0
    xs = [b["t"] for b in buckets]
    rps = [b["requests"] / bucket_s for b in buckets]
    fps = [b["failures"] / bucket_s for b in buckets]
    p95 = [b["p95_ms"] if b["p95_ms"] is not None else float("nan") for b in buckets]
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "kube-chaos",
                         "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False}):
        fig, (ax_rps, ax_lat, ax_ev) = plt.subplots(
            3, 1, sharex=True, figsize=(11, 6.2),
            gridspec_kw={"height_ratios": [3, 2, 1.6], "hspace": 0.12})
        try:
            for ax, gid in ((ax_rps, "plot-requests"), (ax_lat, "plot-latency"),
                            (ax_ev, "plot-events")):
                ax.set_gid(gid)  # so a browser test (or a stylesheet) can find each plot
                _shade(ax, report)
            ax_rps.plot(xs, rps, color=RPS_COLOUR, linewidth=1.0, label="requests/s",
                        gid="series-rps")
            ax_rps.bar(xs, fps, width=bucket_s, align="edge", color=OUTAGE_SHADE,
                       label="failures/s", gid="series-failures")
            ax_rps.set_ylabel("per second")
            ax_rps.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=8,
                          frameon=False, ncols=5,
                          handles=[*ax_rps.get_legend_handles_labels()[0][:2], *_span_handles()])
            ax_lat.plot(xs, p95, color="#5f3dc4", linewidth=1.0, gid="series-p95")
            ax_lat.set_ylabel("p95 ms")
            _pods(ax_lat, report)
            titles = _events(ax_ev, events)
            ax_ev.set_yticks(range(len(LANES)), [name for name, _, _ in LANES])
            ax_ev.set_ylim(len(LANES) - 0.5, -0.5)
            ax_ev.set_xlabel("seconds since the run started")
            ax_ev.grid(axis="x", alpha=0.3)
            ax_rps.grid(alpha=0.3)
            ax_lat.grid(alpha=0.3)
            buf = io.StringIO()
            fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
        finally:
            plt.close(fig)
    return _with_titles(buf.getvalue(), titles)


PODS_COLOUR = "#e8590c"


def _pods(ax: Any, report: ReportDict) -> None:
    """An autoscaling run's pods over time, as steps on the latency plot's right axis."""
    scaling = report.get("autoscaling")
    window = report["fault"]["window"]
    if not isinstance(scaling, dict) or window is None:
        return
    series = scaling.get("series")
    if not isinstance(series, list) or not series:
        return
    origin = window["start"]
    points = [(origin + float(p["t_s"]), int(p["pods"]), int(p["ready"]))  # type: ignore[arg-type]
              for p in series if isinstance(p, dict)]
    if not points:
        return
    xs = [t for t, _, _ in points]
    pods = [n for _, n, _ in points]
    ready = [r for _, _, r in points]
    end = report["timeline"]["buckets"][-1]["t"] if report["timeline"]["buckets"] else xs[-1]
    twin = ax.twinx()
    twin.set_gid("plot-pods")
    twin.step([*xs, max(end, xs[-1])], [*pods, pods[-1]], where="post", color=PODS_COLOUR,
              linewidth=1.2, gid="series-pods", label="pods")
    twin.step([*xs, max(end, xs[-1])], [*ready, ready[-1]], where="post", color=PODS_COLOUR,
              linewidth=1.0, linestyle=":", gid="series-ready", label="Ready")
    twin.set_ylabel("pods (dotted: Ready)", color=PODS_COLOUR)
    twin.set_ylim(0, max(pods) + 1)


def _span_handles() -> list[Any]:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    return [Patch(color=FAULT_SHADE, alpha=0.35, label="fault"),
            Patch(color=OUTAGE_SHADE, alpha=0.3, label="outage"),
            Line2D([], [], color="#2b8a3e", linestyle="--", label="whole again")]


def _shade(ax: Any, report: ReportDict) -> None:
    end = report["timeline"]["buckets"][-1]["t"] if report["timeline"]["buckets"] else None
    for f in report["fault"]["faults"]:
        start = f["started_at"]
        if start is None:
            continue
        stop = f["ended_at"] if f["ended_at"] is not None else end if end is not None else start
        ax.axvspan(start, max(stop, start + MIN_SPAN_S), color=FAULT_SHADE, alpha=0.35,
                   linewidth=0, gid=f"fault-{f['index']}")
    window = report["fault"]["window"]
    recovery = report["recovery"]["recovery_seconds"]
    if window is not None and recovery is not None:
        ax.axvline(window["start"] + recovery, color="#2b8a3e", linestyle="--", linewidth=1.0,
                   gid="recovered")
    for i, o in enumerate(report["load"]["outages"]):
        ax.axvspan(o["start"], max(o["end"], o["start"] + 0.05), color=OUTAGE_SHADE, alpha=0.3,
                   linewidth=0, gid=f"outage-{i}")


def _events(ax: Any, events: list[Any]) -> dict[str, str]:
    titles: dict[str, str] = {}
    for i, e in enumerate(events):
        lane = lane_of(e["kind"])
        gid = f"event-{i}"
        ax.scatter([e["t"]], [lane], s=22, marker="|" if lane == 4 else "o",
                   color=LANES[lane][2], linewidths=1.2, gid=gid, zorder=3)
        titles[gid] = f"{e['t']:.2f}s {e['kind']} {e['name']}" + (
            f" ({e['detail']})" if e["detail"] else "")
    return titles


_GROUP = re.compile(r'<g id="((?:event|fault|outage)-\d+|recovered)">')


def _with_titles(svg: str, titles: dict[str, str]) -> str:
    """Drop the XML prolog and give each event marker a ``<title>``: the browser's tooltip."""
    start = svg.find("<svg")
    svg = svg[start:] if start >= 0 else svg

    def add(match: re.Match[str]) -> str:
        gid = match.group(1)
        title = titles.get(gid) or ("whole again (recovery)" if gid == "recovered"
                                    else gid.replace("-", " "))
        return f'{match.group(0)}<title>{escape(title)}</title>'

    return _GROUP.sub(add, svg)
