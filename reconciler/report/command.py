"""The `report` command's use-case: gather, render, write, say where."""

from __future__ import annotations

from pathlib import Path

from reconciler.config import Settings
from reconciler.engine.workflow import Console
from reconciler.report import ReportError, paused_gc, write_text
from reconciler.report.data import gather
from reconciler.report.html import render_report


def report(settings: Settings, console: Console, out: Path) -> int:
    """Write the sandbox's report to `out`; one line on stdout says what it holds."""
    if out.is_dir():
        raise ReportError(f"cannot write the report {out}: it is a folder; name a file")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():  # before any request
        raise ReportError(f"cannot write the report {out}: folder {folder} does not exist")
    with paused_gc():
        data = gather(settings, console)
        write_text(out, render_report(data))
    console.out(
        f"wrote {out}: {len(data.exports)} exports, {data.run_count} runs, "
        f"{len(data.drift)} open drift finding{'s' if len(data.drift) != 1 else ''}"
    )
    return 0
