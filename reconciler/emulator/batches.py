"""Catalog batch records of export jobs, their status, and their files on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.emulator import jobs
from reconciler.emulator.context import Emulator, Scope
from reconciler.emulator.problems import not_found

# Batch status spellings: api-facts-more.md 2 ("loading", "success", ...; Inactive = expired).
_FROM_JOB = {"NEW": "loading", "PROCESSING": "loading", "FAILED": "failed", "CANCELLED": "aborted"}


def row(emu: Emulator, scope: Scope, batch_id: str) -> Any:
    """The batch row after observing its job (which may export it), or a 404."""
    with emu.store.tx() as db:
        found = db.execute(
            "SELECT * FROM batches WHERE id = ? AND org = ? AND sandbox = ?",
            (batch_id, scope.org, scope.sandbox),
        ).fetchone()
        if found is None:
            raise not_found(f"Batch {batch_id} was not found in this sandbox", "CAT")
        job = jobs.get(emu, scope, int(found["job_id"]))
        if job is not None and found["status"] is None:
            jobs.observe(emu, job)
            found = db.execute("SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone()
    return found


def status(emu: Emulator, scope: Scope, batch: Any) -> str:
    """success/inactive once stored; otherwise what the job's phase implies."""
    if batch["status"] is not None:
        return str(batch["status"])
    job = jobs.get(emu, scope, int(batch["job_id"]))
    if job is None:
        return "aborted"
    _, phase = jobs.observe(emu, job)
    return _FROM_JOB.get(phase.status, "loading")


def record(emu: Emulator, scope: Scope, batch: Any) -> dict[str, Any]:
    """The Catalog batch object (the value under its id)."""
    state = status(emu, scope, batch)
    result: dict[str, Any] = {
        "imsOrg": scope.org,
        "status": state,
        "created": batch["created_ms"],
        "updated": batch["completed_ms"] or batch["created_ms"],
        "createdClient": "acp_ups_export",
        "createdUser": "acp_ups_export@AdobeID",
        "updatedUser": "acp_ups_export@AdobeID",
        "relatedObjects": [
            {"type": "dataSet", "id": batch["dataset_id"]},
            {"type": "batch", "id": batch["id"]},
        ],
        "inputFormat": {"format": "parquet"},
        "tags": {"acp_producer": ["ups"], "exportJobId": [str(batch["job_id"])]},
        "errors": [],
        "version": "1.0.0",
        "externalId": str(batch["job_id"]),
    }
    if batch["segment"] is not None:
        result["tags"]["segmentId"] = [batch["segment"]]
    if batch["records"] is not None:
        files = json.loads(batch["files"])
        result["completed"] = batch["completed_ms"]
        result["metrics"] = {
            "recordsRead": batch["records"],
            "recordsWritten": batch["records"],
            "recordsFailed": 0,
            "startTime": batch["created_ms"],
            "endTime": batch["completed_ms"],
            "inputRecordSize": batch["records"],
            "outputRecordSize": batch["records"],
            "outputByteSize": batch["bytes"],
            "partitionCount": len(files),
        }
    if state == "failed":
        result["errors"] = [{"code": "500", "description": "The export job failed", "rows": []}]
    return result


def readable(emu: Emulator, scope: Scope, batch_id: str) -> Any:
    """A batch whose files can be read; 404 when unknown or expired."""
    batch = row(emu, scope, batch_id)
    if batch["status"] == "inactive":
        raise not_found(f"Batch {batch_id} has expired; its files are no longer available", "DAS")
    return batch


def file_path(emu: Emulator, batch_id: str, name: str) -> Path | None:
    """The on-disk path of one file of a batch, if the batch wrote it."""
    with emu.store.tx() as db:
        found = db.execute("SELECT files FROM batches WHERE id = ?", (batch_id,)).fetchone()
    if found is None or found["files"] is None:
        return None
    names = {n for n, _ in json.loads(found["files"])}
    return emu.files_dir / batch_id / name if name in names else None
