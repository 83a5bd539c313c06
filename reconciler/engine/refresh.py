"""Client -> LiveSnapshot: read what the plan needs, and only that.

Cost follows the work, not the history: one Catalog dataset listing, the export jobs created
since the newest one seen before (newest-first listing, stopped early), and a GET only for the
state's runs still in flight, because a run in a terminal state never changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from reconciler.engine.model import (
    CANCELLING,
    LiveDataset,
    LiveRun,
    LiveSnapshot,
    is_terminal,
    job_status,
)
from reconciler.platform import PlatformClient, UnexpectedResponseError
from reconciler.platform.models import CatalogDataset, ExportJobRecord, UnreadableRecord
from reconciler.spec.canonical import normalize_request
from reconciler.state import Run, State


def live_run(record: ExportJobRecord) -> LiveRun:
    """An export job record as the planner sees it (request normalized for comparison)."""
    dest = record.destination
    batches = tuple((b.segmentId or "", b.batchId) for b in dest.batches if b.batchId)
    return LiveRun(
        job_id=record.id,
        status=job_status(record.status),
        created_ms=record.creationTime,
        updated_ms=record.updateTime,
        dataset_id=dest.datasetId,
        batch_id=dest.batchId or None,
        batches=batches,
        request=normalize_request(record.raw()),
        errors=tuple(e.model_dump(exclude_none=True) for e in record.errors),
    )


def live_dataset(dataset: CatalogDataset) -> LiveDataset:
    """A Catalog dataset as the planner sees it."""
    schema_ref: Mapping[str, Any] = dataset.schemaRef or {}
    schema_id = schema_ref.get("id")
    return LiveDataset(
        id=dataset.id,
        name=dataset.name,
        description=dataset.description,
        tags={k: tuple(v) for k, v in dataset.tags.items()},
        schema_id=schema_id if isinstance(schema_id, str) else None,
        created_ms=dataset.created,
        managed_by=_managed_by(dataset.classification),
    )


def _managed_by(classification: Mapping[str, Any] | None) -> str | None:
    value = (classification or {}).get("managedBy")
    return value if isinstance(value, str) else None


def runs_to_reread(state: State, *, full: bool) -> list[int]:
    """The recorded runs whose live status may differ from state: in flight, or all with full."""
    return sorted(
        run.jobId
        for res in state.resources.values()
        if res.kind == "ExportJob"
        for run in res.runs
        if full or not is_terminal(run.status)
    )


def platform_now(client: PlatformClient) -> datetime | None:
    """The platform's clock as the client last read it from an answer's `Date` header."""
    read = getattr(client, "platform_now", None)
    return read() if callable(read) else None


def refresh(client: PlatformClient, state: State, *, full: bool = False) -> LiveSnapshot:
    """Read the sandbox: every dataset, jobs created since the watermark, in-flight runs.

    A record that does not parse is kept in `unreadable` (id and reason) instead of failing
    the refresh; a run whose DELETE was sent (CANCELLING) and whose record is now gone reads as
    CANCELLED (the platform's "cancel or delete" removed it), its batches kept.
    """
    datasets = {d.id: live_dataset(d) for d in client.iter_datasets()}
    since = None if full else state.observed.watermarkMs
    unreadable: list[UnreadableRecord] = []
    listed = list(client.iter_export_jobs(created_since_ms=since, unreadable=unreadable))
    runs = {record.id: live_run(record) for record in listed}
    bad = {r.id for r in unreadable}
    pending = [
        job_id
        for job_id in runs_to_reread(state, full=full)
        if job_id not in runs and job_id not in bad
    ]
    missing: set[int] = set()
    for job_id, record in zip(pending, _get_jobs(client, pending), strict=True):
        if isinstance(record, UnreadableRecord):
            unreadable.append(record)
        elif record is None:
            missing.add(job_id)
        else:
            runs[job_id] = live_run(record)
    now = platform_now(client)
    for run in _cancelling_runs(state, missing):
        missing.discard(run.jobId)
        runs[run.jobId] = deleted_by_cancel(run, now)
    newest = max((r.creationTime for r in listed), default=None)
    watermark = _max_opt(state.observed.watermarkMs, newest)
    return LiveSnapshot(
        datasets=datasets,
        runs=runs,
        missing_runs=frozenset(missing),
        new_jobs=tuple(r.id for r in listed),
        watermark_ms=watermark,
        full=full,
        unreadable=tuple(unreadable),
        platform_now=now,
        newest_job_id=max((r.id for r in listed), default=None),
    )


def deleted_by_cancel(run: Run, now: datetime | None) -> LiveRun:
    """A cancelled run in flight whose record answers 404: the DELETE removed it; cancelled, batches kept."""
    created_ms = int(run.createdAt.timestamp() * 1000)
    ended = now or datetime.now(UTC)
    return LiveRun(
        job_id=run.jobId,
        status="CANCELLED",
        created_ms=created_ms,
        updated_ms=max(created_ms, int(ended.timestamp() * 1000)),
        dataset_id=run.datasetId,
        batch_id=run.batchId,
        batches=tuple((b.segmentId, b.batchId) for b in run.batches),
    )


def _cancelling_runs(state: State, missing: set[int]) -> list[Run]:
    if not missing:
        return []
    return [
        run
        for res in state.resources.values()
        if res.kind == "ExportJob"
        for run in res.runs
        if run.jobId in missing
        and (run.status == CANCELLING or run.cancelledAt is not None)
        and not is_terminal(run.status)
    ]


def get_job(client: PlatformClient, job_id: int) -> ExportJobRecord | UnreadableRecord | None:
    """GET one job: the record, None on 404, or an UnreadableRecord when it does not parse."""
    try:
        return client.get_export_job(job_id)
    except UnexpectedResponseError as exc:
        return UnreadableRecord(id=job_id, reason=str(exc))


def _get_jobs(
    client: PlatformClient, job_ids: Iterable[int]
) -> list[ExportJobRecord | UnreadableRecord | None]:
    ids = list(job_ids)
    if not ids:
        return []
    return client.map(lambda job_id: get_job(client, job_id), ids)


def _max_opt(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)
