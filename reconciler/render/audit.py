"""`reconciler audit`: every export job and dataset of the sandbox, managed or not."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from reconciler.render.status import table

AUDIT_COLUMNS = (
    "type",
    "id",
    "status",
    "managedBy",
    "datasetId",
    "batches",
    "fingerprint",
    "reason",
    "created",
    "name",
)


@dataclass(frozen=True)
class AuditEntry:
    """One live object (or a recorded run the platform no longer lists)."""

    type: str  # dataset | exportjob
    id: str
    status: str  # job status; `present` for datasets; `not on platform` for vanished runs
    managedBy: str | None  # the address whose state claims it, if any
    datasetId: str | None
    batches: tuple[str, ...]
    fingerprint: str | None  # the spec version (request fingerprint) a managed run was made from
    reason: str | None  # why this tool started the run
    created: str | None  # RFC 3339 UTC
    name: str | None = None


def _cells(entry: AuditEntry) -> list[str]:
    values = asdict(entry) | {"batches": ";".join(entry.batches)}
    return ["" if values[c] is None else str(values[c]) for c in AUDIT_COLUMNS]


def render_audit(entries: Sequence[AuditEntry], fmt: str = "text") -> str:
    """The entries as text, markdown, json (`{"objects": [...]}`) or csv (with a header row)."""
    if fmt == "json":
        objects = [asdict(e) | {"batches": list(e.batches)} for e in entries]
        return json.dumps({"objects": objects}, indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(AUDIT_COLUMNS)
        writer.writerows(_cells(e) for e in entries)
        return buffer.getvalue()
    managed = sum(1 for e in entries if e.managedBy)
    summary = f"{len(entries)} objects, {managed} managed, {len(entries) - managed} unmanaged"
    if fmt == "markdown":
        head = "| " + " | ".join(AUDIT_COLUMNS) + " |"
        rule = "|" + "---|" * len(AUDIT_COLUMNS)
        body = [
            "| " + " | ".join(c.replace("|", "\\|") or " " for c in _cells(e)) + " |"
            for e in entries
        ]
        return "\n".join([f"**Audit:** {summary}", "", head, rule, *body]) + "\n"
    shown = ("type", "id", "status", "managedBy", "datasetId", "batches", "created")
    idx = [AUDIT_COLUMNS.index(c) for c in shown]
    rows = [tuple(c.upper() for c in shown)] + [
        tuple((_cells(e)[i] or "-") for i in idx) for e in entries
    ]
    return table(rows) + summary + "\n"
