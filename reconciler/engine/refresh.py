"""Client -> LiveSnapshot: read what the plan needs, and only that.

Cost follows the work, not the history: one Catalog dataset listing, the export jobs created
since the newest one seen before (newest-first listing, stopped early), and a GET only for the
state's runs still in flight, because a run in a terminal state never changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.engine.model import LiveDataset, LiveRun, LiveSnapshot, is_terminal
from reconciler.platform import PlatformClient
from reconciler.platform.models import CatalogDataset, ExportJobRecord
from reconciler.spec.canonical import normalize_request
from reconciler.state import State


def live_run(record: ExportJobRecord) -> LiveRun:
    """An export job record as the planner sees it (request normalized for comparison)."""
    dest = record.destination
    batches = tuple((b.segmentId or "", b.batchId) for b in dest.batches if b.batchId)
    return LiveRun(
        job_id=record.id,
        status=record.status.upper(),
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
    )


def runs_to_reread(state: State, *, full: bool) -> list[int]:
    """The recorded runs whose live status may differ from state: in flight, or all with full."""
    return sorted(
        run.jobId
        for res in state.resources.values()
        if res.kind == "ExportJob"
        for run in res.runs
        if full or not is_terminal(run.status)
    )


def refresh(client: PlatformClient, state: State, *, full: bool = False) -> LiveSnapshot:
    """Read the sandbox: every dataset, jobs created since the watermark, in-flight runs."""
    datasets = {d.id: live_dataset(d) for d in client.iter_datasets()}
    since = None if full else state.observed.watermarkMs
    listed = list(client.iter_export_jobs(created_since_ms=since))
    runs = {record.id: live_run(record) for record in listed}
    pending = [job_id for job_id in runs_to_reread(state, full=full) if job_id not in runs]
    missing: set[int] = set()
    for job_id, record in zip(pending, _get_jobs(client, pending), strict=True):
        if record is None:
            missing.add(job_id)
        else:
            runs[job_id] = live_run(record)
    newest = max((r.creationTime for r in listed), default=None)
    watermark = _max_opt(state.observed.watermarkMs, newest)
    return LiveSnapshot(
        datasets=datasets,
        runs=runs,
        missing_runs=frozenset(missing),
        new_jobs=tuple(r.id for r in listed),
        watermark_ms=watermark,
        full=full,
    )


def _get_jobs(client: PlatformClient, job_ids: Iterable[int]) -> list[ExportJobRecord | None]:
    ids = list(job_ids)
    if not ids:
        return []
    return client.map(client.get_export_job, ids)


def _max_opt(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)
