"""The report in a real browser: headless Chromium (Debian's package) with the network off.

Playwright drives the system's chromium (never a browser of its own): the page of the example
specs after an apply with a FAILED and a SUCCEEDED run is opened from a file:// URL in an
offline context that refuses any request but the file itself; each export's chart is found,
is drawn with a size, and its screenshot is not blank (it carries the colours of its runs).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_harness import Project

from reconciler.report.charts import COLORS
from reconciler.state import ExportJobResource

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency")
Image = pytest.importorskip("PIL.Image", reason="pillow is a test dependency")

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def chromium_path() -> str | None:
    """The system's chromium: RECONCILER_CHROMIUM, else the first on PATH."""
    chosen = os.environ.get("RECONCILER_CHROMIUM")
    if chosen:
        return chosen
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    path = chromium_path()
    if path is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's chromium package)")
    with sync_api.sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=path, args=["--no-sandbox", "--disable-gpu"], timeout=30_000
        )
        try:
            yield launched
        finally:
            launched.close()


def _hex(color: str) -> tuple[int, int, int]:
    return (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))


def _has_color(image: object, color: str, tolerance: int = 24) -> bool:
    """Whether some pixel of the image is within `tolerance` of `color` on every channel."""
    want = _hex(color)
    colors = image.convert("RGB").getcolors(maxcolors=1 << 20)  # type: ignore[attr-defined]
    return any(all(abs(c[i] - want[i]) <= tolerance for i in range(3)) for _, c in colors)


def test_each_exports_chart_is_drawn_offline(
    applied_project: Project, browser: object, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    result = applied_project.run("report", "--out", str(out))
    assert result.code == 0, result.err
    state = applied_project.state()
    runs = {
        address: [r.status for r in res.runs]
        for address, res in state.resources.items()
        if isinstance(res, ExportJobResource)
    }
    assert {"FAILED", "SUCCEEDED"} <= {s for statuses in runs.values() for s in statuses}

    context = browser.new_context(  # type: ignore[attr-defined]
        offline=True, viewport={"width": 900, "height": 900}
    )
    asked: list[str] = []

    def only_the_file(route: object, request: object) -> None:
        url = request.url  # type: ignore[attr-defined]
        if url.startswith("file://"):
            route.continue_()  # type: ignore[attr-defined]
        else:
            asked.append(url)
            route.abort()  # type: ignore[attr-defined]

    context.route("**/*", only_the_file)
    page = context.new_page()
    try:
        page.goto(out.as_uri(), wait_until="load", timeout=20_000)
        assert page.title().startswith(f"Exports of {applied_project.sandbox}")
        page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        charts = page.locator("svg.chart[data-export]")
        keys = charts.evaluate_all("nodes => nodes.map(n => n.dataset.export)")
        assert set(runs) <= set(keys) and any(k.startswith("unmanaged/") for k in keys)
        for address, statuses in runs.items():
            chart = page.locator(f'svg.chart[data-export="{address}"]')
            assert chart.count() == 1
            box = chart.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 80
            shot = tmp_path / f"{address.replace('/', '_')}.png"
            chart.screenshot(path=str(shot))
            image = Image.open(shot)
            colors = image.convert("RGB").getcolors(maxcolors=1 << 16)
            assert colors is not None and len(colors) > 8, f"{address}: a blank chart"
            for status, kind in (("SUCCEEDED", "succeeded"), ("FAILED", "failed")):
                assert _has_color(image, COLORS[kind]) == (status in statuses), (address, kind)
            assert _has_color(image, COLORS["records"]) == ("SUCCEEDED" in statuses), address
    finally:
        context.close()
    assert asked == [], f"the page asked the network for {asked}"
