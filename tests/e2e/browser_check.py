"""Open HTML files in a real headless Chromium and say what a person would see, as JSON.

Run as a script, inside a network namespace of its own (``unshare --net``), so the page has
no network at all, not even loopback to a proxy; the browser context is offline too. Prints
one JSON object per page: console messages and page errors, every request that was not a
file:// URL, the SLA rows of the DOM, how many pixels of the requests/s plot carry the line's
colour, and the experiment rows of an index.

Usage: browser_check.py CHROMIUM PAGE.html...
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

RPS_RGB = (0x19, 0x71, 0xC2)  # chaos.report.chart.RPS_COLOUR


def _line_pixels(png: bytes, rgb: tuple[int, int, int] = RPS_RGB, tolerance: int = 40) -> int:
    from PIL import Image

    raw = Image.open(io.BytesIO(png)).convert("RGB").tobytes()
    return sum(1 for i in range(0, len(raw), 3)
               if all(abs(raw[i + k] - rgb[k]) <= tolerance for k in range(3)))


def check(chromium: str, pages: list[str]) -> list[dict[str, object]]:
    from playwright.sync_api import sync_playwright

    out: list[dict[str, object]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
            for page_path in pages:
                page = context.new_page()
                console: list[str] = []
                remote: list[str] = []
                page.on("console", lambda m, c=console: c.append(f"{m.type}: {m.text}"))
                page.on("pageerror", lambda e, c=console: c.append(f"pageerror: {e}"))
                page.on("requestfailed",
                        lambda r, c=console: c.append(f"requestfailed: {r.url}"))
                page.on("request", lambda r, rem=remote: rem.append(r.url)
                        if not r.url.startswith(("file:", "data:")) else None)
                page.goto(Path(page_path).resolve().as_uri(), wait_until="load")
                result: dict[str, object] = {"page": page_path, "console": console,
                                             "remote_requests": remote}
                result["sla_rows"] = page.eval_on_selector_all(
                    "tr.sla-row", "rows => rows.map(r => [r.dataset.sla, "
                                  "...Array.from(r.cells).map(c => c.innerText.trim())])")
                result["experiment_rows"] = page.locator("tr.experiment-row").count()
                result["repeat_rows"] = page.eval_on_selector_all(
                    "tr.repeat-row", "rows => rows.map(r => r.innerText)")
                plot = page.locator("#plot-requests")
                if plot.count():
                    box = plot.bounding_box()
                    result["plot_box"] = box
                    result["plot_line_pixels"] = _line_pixels(plot.screenshot())
                    # the same measure on a part of the page with no chart: the control
                    result["control_line_pixels"] = _line_pixels(
                        page.locator("h1").screenshot())
                out.append(result)
                page.close()
        finally:
            browser.close()
    return out


if __name__ == "__main__":
    print(json.dumps(check(sys.argv[1], sys.argv[2:])))
