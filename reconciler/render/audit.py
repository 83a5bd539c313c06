"""`reconciler audit`: every export job and dataset of the sandbox, managed or not.

Text and markdown are for people (owner labels, the newest run of each document and its age,
batches and record counts); json and csv carry every column for tools.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime

from reconciler.engine.entries import AuditEntry
from reconciler.render.status import by_text, table, terminal_width

__all__ = ["AUDIT_COLUMNS", "AuditEntry", "format_age", "render_audit", "summary_line"]

AUDIT_COLUMNS = (
    "type",
    "id",
    "status",
    "managedBy",
    "retired",
    "labels",
    "name",
    "newest",
    "created",
    "ageSeconds",
    "datasetId",
    "batches",
    "records",
    "fingerprint",
    "reason",
    "commit",
    "actor",
    "ciRun",
    "toolVersion",
)


def format_age(seconds: float | None) -> str:
    """A short human age: `45s`, `12m`, `5h`, `3d`."""
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _created_text(entry: AuditEntry) -> str | None:
    if entry.created is None:
        return None
    text = entry.created.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _age(entry: AuditEntry, now: datetime) -> float | None:
    return None if entry.created is None else (now - entry.created).total_seconds()


def _record(entry: AuditEntry, now: datetime) -> dict[str, object]:
    age = _age(entry, now)
    return {
        "type": entry.type,
        "id": entry.id,
        "status": entry.status,
        "managedBy": entry.managedBy,
        "retired": entry.retired,
        "labels": dict(entry.labels),
        "name": entry.name,
        "newest": entry.newest,
        "created": _created_text(entry),
        "ageSeconds": None if age is None else int(age),
        "datasetId": entry.datasetId,
        "batches": list(entry.batches),
        "records": entry.records,
        "fingerprint": entry.fingerprint,
        "reason": entry.reason,
        "commit": entry.commit,
        "actor": entry.actor,
        "ciRun": entry.ciRun,
        "toolVersion": entry.toolVersion,
    }


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return ";".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


def summary_line(entries: Sequence[AuditEntry]) -> str:
    """`6 objects (2 datasets, 4 export jobs): 4 managed, 2 unmanaged`."""
    managed = sum(1 for e in entries if e.managedBy and not e.retired)
    retired = sum(1 for e in entries if e.managedBy and e.retired)
    datasets = sum(1 for e in entries if e.type == "dataset")
    jobs = len(entries) - datasets
    history = f", {retired} of removed documents" if retired else ""
    return (
        f"{_count(len(entries), 'object')} ({_count(datasets, 'dataset')}, "
        f"{_count(jobs, 'export job')}): "
        f"{managed} managed{history}, {len(entries) - managed - retired} unmanaged"
    )


def _count(n: int, noun: str) -> str:
    """`1 dataset`, `2 datasets`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _human_rows(entries: Sequence[AuditEntry], now: datetime) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for e in entries:
        rows.append(
            (
                e.type,
                e.id,
                e.name or "-",
                e.status,
                (e.managedBy + (" (removed)" if e.retired else ""))
                if e.managedBy
                else "(unmanaged)",
                ",".join(f"{k}={v}" for k, v in e.labels) or "-",
                ("newest" if e.newest else "-") if e.type == "exportjob" else "-",
                format_age(_age(e, now)),
                by_text(e.actor, e.commit),
                e.datasetId or "-",
                ",".join(e.batches) or "-",
                "-" if e.records is None else f"{e.records:,}",
            )
        )
    return rows


_HUMAN_HEADER = (
    "TYPE",
    "ID",
    "NAME",
    "STATUS",
    "MANAGED BY",
    "LABELS",
    "RUN",
    "AGE",
    "BY",
    "DATASET",
    "BATCHES",
    "RECORDS",
)


def render_audit(
    entries: Sequence[AuditEntry], fmt: str, now: datetime, *, width: int | None = -1
) -> str:
    """The entries as text, markdown, json (`{"objects": [...]}`) or csv (with a header row).

    Text fits `width` columns (default: the terminal's when stdout is one; None: no limit).
    """
    if fmt == "json":
        objects = [_record(e, now) for e in entries]
        return json.dumps({"formatVersion": 1, "objects": objects}, indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(AUDIT_COLUMNS)
        for e in entries:
            record = _record(e, now)
            writer.writerow(_csv_cell(record[c]) for c in AUDIT_COLUMNS)
        return buffer.getvalue()
    rows = _human_rows(entries, now)
    if fmt == "markdown":
        head = "| " + " | ".join(h.title() for h in _HUMAN_HEADER) + " |"
        rule = "|" + "---|" * len(_HUMAN_HEADER)
        body = ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        lines = [f"**Audit:** {summary_line(entries)}", ""]
        if entries:
            lines += [head, rule, *body]
        return "\n".join(lines) + "\n"
    if not entries:
        return summary_line(entries) + "\n"
    fit = terminal_width() if width == -1 else width
    return table([_HUMAN_HEADER, *rows], fit) + summary_line(entries) + "\n"
