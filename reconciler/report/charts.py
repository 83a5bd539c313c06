"""The report's charts, drawn as inline SVG (no script, no network, no chart library).

Each export's chart has two panels on the time axis every chart shares: the timeline of its runs
(one lane per kind: succeeded, failed, cancelled, in flight, unknown; a run spans from its
creation to its end, or to the report's time while in flight) and the records each run's
batches wrote. Marks of one kind are one `<path>`, so 100,000 runs stay a small page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from markupsafe import Markup, escape

from reconciler.report.data import CATEGORIES, ExportView, RunPoint

COLORS = {
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "cancelled": "#757575",
    "in flight": "#1565c0",
    "unknown": "#ef6c00",
    "records": "#6a1b9a",
}
WIDTH = 760
LEFT = 92  # lane labels
RIGHT = 12
LANE = 14
RECORDS_H = 56
AXIS_H = 18


def format_time(value: datetime | None) -> str:
    """`2026-01-31 06:17` (UTC), or `-`."""
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M")


class Axis:
    """The shared time axis: datetime -> x in the plot area."""

    def __init__(self, start: datetime | None, end: datetime | None) -> None:
        self.start = start
        span = (end - start).total_seconds() if start is not None and end is not None else 0.0
        self.span = span if span > 0 else 1.0
        self.end = end
        self.plot_w = WIDTH - LEFT - RIGHT

    def x(self, t: datetime | None) -> float:
        if t is None or self.start is None:
            return float(LEFT)
        frac = (t - self.start).total_seconds() / self.span
        return LEFT + min(1.0, max(0.0, frac)) * self.plot_w

    def xs(self, runs: Sequence[RunPoint]) -> list[float]:
        """x of each run's creation (computed once per run, used by every panel)."""
        if self.start is None:
            return [float(LEFT)] * len(runs)
        start, scale, left, right = self.start, self.plot_w / self.span, LEFT, LEFT + self.plot_w
        return [
            left
            if r.created is None
            else min(right, max(left, left + (r.created - start).total_seconds() * scale))
            for r in runs
        ]

    def ticks(self, y: float) -> str:
        """Three labels under the plot: start, middle, end (seconds shown on a short axis)."""
        if self.start is None:
            return ""
        pattern = "%Y-%m-%d %H:%M" if self.span >= 3 * 3600 else "%Y-%m-%d %H:%M:%S"
        parts = []
        for frac, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):
            t = self.start + timedelta(seconds=self.span * frac)
            parts.append(
                f'<text x="{LEFT + frac * self.plot_w:.1f}" y="{y:.1f}" text-anchor="{anchor}" '
                f'class="tick">{escape(t.strftime(pattern))}</text>'
            )
        return "".join(parts)


def _lane_paths(runs: Sequence[RunPoint], xs: Sequence[float], axis: Axis, top: float) -> str:
    paths: dict[str, list[str]] = {c: [] for c in CATEGORIES}
    for run, x0 in zip(runs, xs, strict=True):
        kind = run.category
        end = run.finished
        if end is None and kind == "in flight":
            end = axis.end
        w = max(2.0, axis.x(end) - x0) if end is not None else 2.0
        y = top + CATEGORIES.index(kind) * LANE + 2
        paths[kind].append(f"M{x0:.1f} {y:.0f}h{w:.1f}v{LANE - 4}h-{w:.1f}z")
    out = []
    for kind in CATEGORIES:
        if paths[kind]:
            out.append(
                f'<path class="runs" data-kind="{kind}" fill="{COLORS[kind]}" '
                f'd="{"".join(paths[kind])}"/>'
            )
    return "".join(out)


def _records_path(runs: Sequence[RunPoint], xs: Sequence[float], top: float) -> tuple[str, int]:
    counted = [(x, r.records) for r, x in zip(runs, xs, strict=True) if r.records is not None]
    if not counted:
        return "", 0
    peak = max(n for _, n in counted)
    bottom = top + RECORDS_H
    scale = (RECORDS_H - 4) / peak if peak else 0.0
    parts = []
    for x, n in counted:
        h = max(n * scale, 1.0)
        parts.append(f"M{x - 1:.1f} {bottom:.1f}v-{h:.1f}h2v{h:.1f}z")
    return (
        f'<path class="records" fill="{COLORS["records"]}" d="{"".join(parts)}"/>',
        peak,
    )


def export_chart(
    export: ExportView, axis: Axis, chart_id: str, xs: Sequence[float] | None = None
) -> Markup:
    """The SVG of one export: its runs' timeline over the records they wrote.

    `xs`: `axis.xs(export.runs)` when the caller has it already.
    """
    if xs is None:
        xs = axis.xs(export.runs)
    lanes_h = LANE * len(CATEGORIES)
    records_top = lanes_h + 8
    height = records_top + RECORDS_H + AXIS_H
    counts = export.counts
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "no runs"
    label = f"{export.title}: {summary}"
    body = [
        f'<svg class="chart" id="{chart_id}" data-export="{escape(export.key)}" role="img" '
        f'aria-label="{escape(label)}" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}">',
        f"<title>{escape(label)}</title>",
        f'<rect class="bg" x="{LEFT}" y="0" width="{axis.plot_w}" height="{lanes_h}"/>',
    ]
    for i, kind in enumerate(CATEGORIES):
        y = i * LANE + LANE - 3
        body.append(
            f'<text x="{LEFT - 6}" y="{y}" text-anchor="end" class="lane">'
            f"{kind} ({counts[kind]})</text>"
        )
    body.append(_lane_paths(export.runs, xs, axis, 0))
    body.append(
        f'<rect class="bg" x="{LEFT}" y="{records_top}" width="{axis.plot_w}" '
        f'height="{RECORDS_H}"/>'
    )
    bars, peak = _records_path(export.runs, xs, records_top)
    body.append(bars)
    body.append(
        f'<text x="{LEFT - 6}" y="{records_top + 12}" text-anchor="end" class="lane">records</text>'
    )
    body.append(
        f'<text x="{LEFT - 6}" y="{records_top + 26}" text-anchor="end" class="tick">'
        f"{'max ' + format(peak, ',') if bars else 'not read'}</text>"
    )
    body.append(axis.ticks(records_top + RECORDS_H + 13))
    body.append("</svg>")
    return Markup("".join(body))


def overview_chart(
    exports: Sequence[ExportView],
    axis: Axis,
    buckets: int = 60,
    xs: Sequence[Sequence[float]] | None = None,
) -> Markup:
    """Runs of the whole sandbox per time bucket, stacked by kind (`xs`: per export, if known)."""
    height = 140
    plot_h = height - AXIS_H - 6
    counts = [[0] * len(CATEGORIES) for _ in range(buckets)]
    index = {kind: i for i, kind in enumerate(CATEGORIES)}
    per_x = buckets / axis.plot_w
    for n, export in enumerate(exports):
        for run, x in zip(export.runs, xs[n] if xs else axis.xs(export.runs), strict=True):
            counts[min(buckets - 1, int((x - LEFT) * per_x))][index[run.category]] += 1
    peak = max((sum(c) for c in counts), default=0)
    bar_w = axis.plot_w / buckets
    paths: dict[str, list[str]] = {c: [] for c in CATEGORIES}
    for i, column in enumerate(counts):
        y = float(plot_h)
        for kind, n in zip(CATEGORIES, column, strict=True):
            if not n or not peak:
                continue
            h = max(1.0, n / peak * (plot_h - 4))
            y -= h
            x = LEFT + i * bar_w
            paths[kind].append(
                f"M{x + 0.5:.1f} {y:.1f}h{max(1.0, bar_w - 1):.1f}v{h:.1f}h-{max(1.0, bar_w - 1):.1f}z"
            )
    body = [
        f'<svg class="chart overview" id="overview" role="img" aria-label="runs over time, by '
        f'kind" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}">',
        "<title>Runs over time, by kind</title>",
        f'<rect class="bg" x="{LEFT}" y="0" width="{axis.plot_w}" height="{plot_h}"/>',
        f'<text x="{LEFT - 6}" y="12" text-anchor="end" class="tick">{peak:,} runs</text>',
        f'<text x="{LEFT - 6}" y="{plot_h}" text-anchor="end" class="tick">0</text>',
    ]
    for kind in CATEGORIES:
        if paths[kind]:
            body.append(
                f'<path class="runs" data-kind="{kind}" fill="{COLORS[kind]}" '
                f'd="{"".join(paths[kind])}"/>'
            )
    body.append(axis.ticks(plot_h + 14))
    body.append("</svg>")
    return Markup("".join(body))
