"""Render a `ReportData` as one self-contained HTML page (inline CSS and SVG, no script)."""

from __future__ import annotations

import jinja2

from reconciler.report.charts import COLORS, Axis, export_chart, format_time, overview_chart
from reconciler.report.data import CATEGORIES, RECORDED_RUNS_PER_EXPORT, ReportData
from reconciler.report.templates import PAGE


def render_report(data: ReportData) -> str:
    """The page's HTML text."""
    env = jinja2.Environment(autoescape=True, trim_blocks=False, undefined=jinja2.StrictUndefined)
    template = env.from_string(PAGE)
    axis = Axis(data.start, data.end)
    xs = [axis.xs(e.runs) for e in data.exports]
    charts = [
        export_chart(e, axis, f"chart-{i}", x)
        for i, (e, x) in enumerate(zip(data.exports, xs, strict=True), 1)
    ]
    return template.render(
        data=data,
        charts=charts,
        overview=overview_chart(data.exports, axis, xs=xs),
        categories=CATEGORIES,
        colors=COLORS,
        fmt=format_time,
        recorded_runs=RECORDED_RUNS_PER_EXPORT,
    )
