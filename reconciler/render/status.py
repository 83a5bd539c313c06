"""`reconciler status`: every managed resource, its live status, newest run and batches."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from dataclasses import asdict

from reconciler.engine.entries import StatusEntry

__all__ = ["StatusEntry", "by_text", "render_status", "table", "terminal_width"]


def render_status(
    entries: Sequence[StatusEntry], fmt: str = "text", *, width: int | None = -1
) -> str:
    """The entries as an aligned text table or a JSON document (`{"resources": [...]}`)."""
    if fmt == "json":
        doc = {"resources": [_json_entry(e) for e in entries]}
        return json.dumps(doc, indent=2) + "\n"
    if not entries:
        return "No managed resources in state; run 'reconciler apply' first.\n"
    width = terminal_width() if width == -1 else width
    return _table(entries, width) + "".join(_history(e, width) for e in entries)


def _history(entry: StatusEntry, width: int | None) -> str:
    """`status --history`: the export job's recorded runs, newest first, under its address."""
    if entry.history is None or entry.kind != "exportjob":
        return ""
    count = len(entry.history)
    head = f"\n{entry.address}: {count} run{'' if count == 1 else 's'}, newest first\n"
    if not entry.history:
        return head
    rows = [("JOB", "STATUS", "REASON", "CREATED", "FINISHED", "BY", "BATCHES")] + [
        (
            str(r.job_id),
            r.status,
            r.reason or "-",
            r.created_at,
            r.finished_at or "-",
            by_text(r.actor, r.commit),
            ",".join(r.batches) or "-",
        )
        for r in entry.history
    ]
    return head + table(rows, width)


def _table(entries: Sequence[StatusEntry], width: int | None) -> str:
    # the status in a word; why the newest run was started in a column of its own (issue 14)
    header = ("ADDRESS", "STATUS", "REASON", "DATASET", "JOB", "RUNS", "FINISHED", "BY", "BATCHES")
    rows = [header] + [
        (
            e.address,
            e.status,
            e.note or "-",
            e.dataset_id or "-",
            str(e.job_id) if e.job_id is not None else "-",
            str(e.runs) if e.kind == "exportjob" else "-",
            e.finished_at or "-",
            by_text(e.actor, e.commit),
            ",".join(e.batches) or "-",
        )
        for e in entries
    ]
    return table(rows, width)


def by_text(actor: str | None, commit: str | None) -> str:
    """Who started a run, short: `octo at 1a2b3c4`, `octo`, `at 1a2b3c4`, or `-`."""
    short = f"at {commit[:7]}" if commit else ""
    return " ".join(part for part in (actor or "", short) if part) or "-"


def _json_entry(entry: StatusEntry) -> dict[str, object]:
    """One entry with the camelCase keys of the plan JSON and the state (datasetId, jobId, ...)."""
    plain = asdict(entry) | {"batches": list(entry.batches)}
    if entry.history is None:
        del plain["history"]  # not asked for: the format without --history is unchanged
    else:
        plain["history"] = [
            {_camel(k): list(v) if k == "batches" else v for k, v in asdict(r).items()}
            for r in entry.history
        ]
    return {_camel(key): value for key, value in plain.items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def terminal_width() -> int | None:
    """The terminal's columns when stdout is one; None (no limit) for files, pipes and CI logs."""
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def table(rows: Sequence[Sequence[str]], width: int | None = None) -> str:
    """Rows as left-aligned columns separated by two spaces, shortened to fit `width` if given.

    The widest columns give way first, down to their header's length, then (a very narrow
    terminal) down to 4; a shortened cell ends with an ellipsis. `--format json` always carries
    the full values.
    """
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    if width is not None:
        headers = [len(h) for h in rows[0]]
        widths = _fit(
            widths, [min(w, max(4, h)) for w, h in zip(widths, headers, strict=True)], width
        )
        widths = _fit(widths, [min(w, 4) for w in widths], width)
    lines = [
        "  ".join(_cell(c, w).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines) + "\n"


def _fit(widths: list[int], floors: list[int], width: int) -> list[int]:
    fitted = list(widths)
    while sum(fitted) + 2 * (len(fitted) - 1) > width:
        shrinkable = [i for i, w in enumerate(fitted) if w > floors[i]]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: fitted[i])
        fitted[widest] -= 1
    return fitted


def _cell(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"
