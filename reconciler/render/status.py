"""`reconciler status`: every managed resource, its live status, newest run and batches."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class StatusEntry:
    """One managed resource as `status` shows it."""

    address: str
    kind: str  # dataset | exportjob
    status: str  # dataset: present | missing; export job: the newest run's live status
    dataset_id: str | None
    job_id: int | None = None
    batches: tuple[str, ...] = ()
    finished_at: str | None = None
    runs: int = 0
    note: str = ""


def render_status(entries: Sequence[StatusEntry], fmt: str = "text") -> str:
    """The entries as an aligned text table or a JSON document (`{"resources": [...]}`)."""
    if fmt == "json":
        doc = {"resources": [_json_entry(e) for e in entries]}
        return json.dumps(doc, indent=2) + "\n"
    if not entries:
        return "No managed resources in state; run 'reconciler apply' first.\n"
    header = ("ADDRESS", "STATUS", "DATASET", "JOB", "RUNS", "FINISHED", "BATCHES")
    rows = [header] + [
        (
            e.address,
            e.status + (f" ({e.note})" if e.note else ""),
            e.dataset_id or "-",
            str(e.job_id) if e.job_id is not None else "-",
            str(e.runs) if e.kind == "exportjob" else "-",
            e.finished_at or "-",
            ",".join(e.batches) or "-",
        )
        for e in entries
    ]
    return table(rows)


def _json_entry(entry: StatusEntry) -> dict[str, object]:
    """One entry with the camelCase keys of the plan JSON and the state (datasetId, jobId, ...)."""
    plain = asdict(entry) | {"batches": list(entry.batches)}
    return {_camel(key): value for key, value in plain.items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def table(rows: Sequence[Sequence[str]]) -> str:
    """Rows as left-aligned columns separated by two spaces."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines) + "\n"
