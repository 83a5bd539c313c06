"""Export jobs: creation with reference checks, status on read, export on first success, cancel."""

from __future__ import annotations

import json
import re
import secrets
import string
import uuid
from dataclasses import dataclass
from typing import Any

from reconciler.emulator import datasets, defaults, population
from reconciler.emulator.context import Emulator, Scope
from reconciler.emulator.exporter import rows_for, write_parquet
from reconciler.emulator.job_request import SERVICE, ExportRequest, parse
from reconciler.emulator.lifecycle import Phase, Timeline, phase_at
from reconciler.emulator.params import natural
from reconciler.emulator.problems import bad_request, not_found, service_error

_MERGE_POLICY_IDS = frozenset(str(p["id"]) for p in defaults.MERGE_POLICIES)
_ALNUM = string.ascii_letters + string.digits
STATUSES = ("NEW", "PROCESSING", "SUCCEEDED", "FAILED", "CANCELLED")
_CURSOR = re.compile(r"^([0-9]{1,15})_([0-9]{1,15})$")


@dataclass(frozen=True)
class Job:
    """A stored job row."""

    id: int
    scope: Scope
    request: dict[str, Any]
    request_id: str
    timeline: Timeline
    fail_errors: list[dict[str, str]] | None
    materialized: bool
    skew_ms: int = 0  # the clock's skew when the job was created

    @property
    def marked(self) -> bool:
        """Whether a marked cancel is pending or has ended the job."""
        return self.timeline.marked_ms is not None

    @property
    def cursor(self) -> str:
        """The list cursor of this job: <creationTime>_<id> (the seeds' pageOffset form)."""
        return f"{self.timeline.creation_ms}_{self.id}"


def _job(row: Any) -> Job:
    return Job(
        id=int(row["id"]),
        scope=Scope(row["org"], row["sandbox"]),
        request=json.loads(row["request"]),
        request_id=row["request_id"],
        timeline=Timeline(
            creation_ms=row["creation_ms"],
            new_ms=row["new_ms"],
            processing_ms=row["processing_ms"],
            outcome=row["outcome"],
            cancelled_ms=row["cancelled_ms"],
            failed_ms=row["failed_ms"],
            marked_ms=row["marked_ms"],
        ),
        fail_errors=None if row["fail_errors"] is None else json.loads(row["fail_errors"]),
        materialized=bool(row["materialized"]),
        skew_ms=int(row["skew_ms"]),
    )


def job_now(emu: Emulator, job: Job) -> int:
    """Now on the job's own timeline: the platform clock, but never earlier than a time the job
    has already seen. A step back of the clock moves the times of jobs created afterwards; jobs
    do not un-finish (their phases are computed from the clock's progress since creation)."""
    return emu.clock.progress_ms() - job.skew_ms


def _check_references(emu: Emulator, scope: Scope, request: ExportRequest) -> None:
    dataset = datasets.get(emu, scope, request.dataset_id)
    if dataset is None:
        raise bad_request(
            f"destination.datasetId: dataset {request.dataset_id} does not exist in sandbox "
            f"{scope.sandbox}; create it first with POST /data/foundation/catalog/dataSets",
            SERVICE,
        )
    schema_id = (dataset.get("schemaRef") or {}).get("id")
    if schema_id != defaults.PROFILE_UNION_SCHEMA:
        raise bad_request(
            f"destination.datasetId: dataset {request.dataset_id} is based on {schema_id!r}; "
            f"export needs a dataset of the union schema {defaults.PROFILE_UNION_SCHEMA}",
            SERVICE,
        )
    if request.schema_name != defaults.PROFILE_SCHEMA_NAME:
        raise bad_request(
            f"schema.name: {request.schema_name!r} is not the dataset's schema; "
            f"use {defaults.PROFILE_SCHEMA_NAME}",
            SERVICE,
        )
    for i, seg in enumerate(request.segments):
        if seg.segment_id not in defaults.SEGMENT_IDS:
            raise bad_request(
                f"filter.segments[{i}].segmentId: segment definition {seg.segment_id} does not "
                "exist; list them with GET /data/core/ups/segment/definitions",
                SERVICE,
            )
    if request.merge_policy_id is not None:
        if request.merge_policy_id not in _MERGE_POLICY_IDS:
            raise bad_request(
                f"mergePolicy.id: merge policy {request.merge_policy_id} does not exist; list "
                "them with GET /data/core/ups/config/mergePolicies",
                SERVICE,
            )
        if request.merge_policy_version not in (None, 1):
            raise bad_request(
                f"mergePolicy.version: merge policy {request.merge_policy_id} has only version 1",
                SERVICE,
            )


def create(emu: Emulator, scope: Scope, body: Any, *, job_id: int | None = None) -> Job:
    """Validate and store a new job in NEW; its batch ids are allocated now (seeds show them)."""
    request = parse(body)
    _check_references(emu, scope, request)
    echo = dict(body)
    destination = dict(echo["destination"])
    destination["datasetId"] = destination.pop("dataSetId", destination.get("datasetId"))
    destination.setdefault("segmentPerBatch", False)
    echo["destination"] = destination
    outcome, errors = emu.faults.next_job_outcome()
    config = emu.config
    now = emu.clock.now_ms()
    with emu.store.tx() as db:
        if (
            job_id is not None
            and db.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone()
        ):
            raise service_error(
                409, f"An export job with id {job_id} already exists", SERVICE, 1409
            )
        cursor = db.execute(
            "INSERT INTO jobs (id, org, sandbox, creation_ms, request, request_id, new_ms, "
            "processing_ms, outcome, fail_errors, skew_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job_id,
                scope.org,
                scope.sandbox,
                now,
                json.dumps(echo),
                "".join(secrets.choice(_ALNUM) for _ in range(32)),
                round(config.job_new_seconds * 1000),
                round(config.job_processing_seconds * 1000),
                outcome,
                None if errors is None else json.dumps(errors),
                emu.clock.skew_ms(),
            ),
        )
        job_id = int(cursor.lastrowid or 0)
        per_segment = request.segment_per_batch and request.segments
        segments = [s.segment_id for s in request.segments] if per_segment else [None]
        for segment in segments:
            db.execute(
                "INSERT INTO batches (id, org, sandbox, job_id, dataset_id, segment, created_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    uuid.uuid4().hex,
                    scope.org,
                    scope.sandbox,
                    job_id,
                    request.dataset_id,
                    segment,
                    now,
                ),
            )
    found = get(emu, scope, job_id)
    assert found is not None
    return found


def get(emu: Emulator, scope: Scope, job_id: int) -> Job | None:
    """The job, or None when it is not in this org and sandbox."""
    with emu.store.tx() as db:
        row = db.execute(
            "SELECT * FROM jobs WHERE id = ? AND org = ? AND sandbox = ?",
            (job_id, scope.org, scope.sandbox),
        ).fetchone()
    return None if row is None else _job(row)


def require(emu: Emulator, scope: Scope, raw_id: str) -> Job:
    """The job named in a path, or a 404 (ids are integers)."""
    number = natural(raw_id)
    job = get(emu, scope, number) if number is not None and number < 10**15 else None
    if job is None:
        raise not_found(f"Export job {raw_id} was not found in this sandbox", SERVICE)
    return job


def batches_of(emu: Emulator, job_id: int) -> list[Any]:
    """The job's batch rows in creation order."""
    with emu.store.tx() as db:
        return list(
            db.execute(
                "SELECT * FROM batches WHERE job_id = ? ORDER BY rowid", (job_id,)
            ).fetchall()
        )


def _materialize(emu: Emulator, job: Job, phase: Phase) -> None:
    request = parse(job.request)
    dataset = datasets.get(emu, job.scope, request.dataset_id)
    natural_end = job.timeline.natural_end_ms
    assert natural_end is not None
    with emu.store.tx() as db:
        if dataset is None:
            # The dataset vanished while the job ran: the job fails just before it would succeed.
            errors = [
                {
                    "code": "0090000010",
                    "msg": f"Dataset {request.dataset_id} not found while writing the export",
                    "callStack": "com.adobe.aep.unifiedprofile.common.logging.Logger",
                }
            ]
            db.execute(
                "UPDATE jobs SET failed_ms = ?, fail_errors = ?, materialized = 1 WHERE id = ?",
                (natural_end - 1, json.dumps(errors), job.id),
            )
            return
        profiles = population.generate(*emu.population(job.scope))
        config = emu.config
        for batch in batches_of(emu, job.id):
            segments = [s for s in request.segments if batch["segment"] in (None, s.segment_id)]
            rows = rows_for(profiles, request, segments)
            files = write_parquet(
                rows, emu.files_dir / batch["id"], config.rows_per_file, request.fields
            )
            db.execute(
                "UPDATE batches SET status = 'success', completed_ms = ?, records = ?, bytes = ?, "
                "files = ? WHERE id = ?",
                (
                    phase.end_ms,
                    len(rows),
                    sum(size for _, size in files),
                    json.dumps(files),
                    batch["id"],
                ),
            )
            dataset["lastBatchId"] = batch["id"]
        dataset["lastBatchStatus"] = "success"
        datasets.save(emu, request.dataset_id, dataset)
        db.execute("UPDATE jobs SET materialized = 1 WHERE id = ?", (job.id,))


def observe(emu: Emulator, job: Job) -> tuple[Job, Phase]:
    """The job's phase now, exporting its data the first time it is seen SUCCEEDED."""
    now = job_now(emu, job)
    phase = phase_at(job.timeline, now)
    if phase.status == "SUCCEEDED" and not job.materialized:
        with emu.store.tx():
            fresh = get(emu, job.scope, job.id)
            if fresh is not None and not fresh.materialized:
                _materialize(emu, fresh, phase)
            job = get(emu, job.scope, job.id) or job
        phase = phase_at(job.timeline, now)
    return job, phase


def interrupt(
    emu: Emulator, job: Job, column: str, errors: list[dict[str, str]] | None = None
) -> None:
    """Cancel (cancelled_ms) or fail (failed_ms) an in-flight job now; 409 if it has finished."""
    with emu.store.tx() as db:
        _, phase = observe(emu, job)
        if phase.terminal:
            raise service_error(
                409, f"Export job {job.id} is already {phase.status}", SERVICE, 1409
            )
        assert column in ("cancelled_ms", "failed_ms")
        db.execute(f"UPDATE jobs SET {column} = ? WHERE id = ?", (job_now(emu, job), job.id))
        if errors is not None:
            db.execute("UPDATE jobs SET fail_errors = ? WHERE id = ?", (json.dumps(errors), job.id))


def _cancel_errors(job: Job) -> list[dict[str, str]]:
    # behaviour cancel_ends FAILED: the error a cancelled job carries (the documents give none).
    return [
        {
            "code": "0090000100",
            "msg": f"Export job {job.id} was cancelled on request (DELETE /export/jobs/{job.id})",
            "callStack": "com.adobe.aep.unifiedprofile.export.JobCancelledException",
        }
    ]


def _mark(emu: Emulator, job: Job, db: Any) -> None:
    """behaviour cancel marked: the job stays in flight cancel_delay_seconds, then ends."""
    if job.marked:
        return  # marked once; a second DELETE changes nothing
    behaviour = emu.behaviour
    now = job_now(emu, job)
    end = now + round(behaviour.cancel_delay_seconds * 1000)
    if behaviour.cancel_ends == "FAILED":
        db.execute(
            "UPDATE jobs SET marked_ms = ?, failed_ms = ?, fail_errors = ? WHERE id = ?",
            (now, end, json.dumps(_cancel_errors(job)), job.id),
        )
    else:
        db.execute(
            "UPDATE jobs SET marked_ms = ?, cancelled_ms = ? WHERE id = ?", (now, end, job.id)
        )


def cancel_or_delete(emu: Emulator, job: Job) -> str:
    """DELETE: cancel a NEW/PROCESSING job ("cancelled", or "marked" under behaviour cancel:
    marked), delete a finished one ("deleted")."""
    with emu.store.tx() as db:
        job, phase = observe(emu, job)
        if not phase.terminal:
            if emu.behaviour.cancel == "marked":
                _mark(emu, job, db)
                return "marked"
            db.execute("UPDATE jobs SET cancelled_ms = ? WHERE id = ?", (job_now(emu, job), job.id))
            return "cancelled"
        # The Segmentation guide titles this call "cancel or delete": a finished job's record
        # goes away; its batches stay, keeping the status the job gave them.
        final = {"FAILED": "failed", "CANCELLED": "aborted"}.get(phase.status)
        if final is not None:
            db.execute(
                "UPDATE batches SET status = ? WHERE job_id = ? AND status IS NULL", (final, job.id)
            )
        db.execute("DELETE FROM jobs WHERE id = ?", (job.id,))
        return "deleted"


def parse_cursor(raw: str) -> tuple[int, int]:
    """(creationTime, id) from an offset such as 1538573416687_722."""
    match = _CURSOR.match(raw)
    if match is None:
        raise bad_request(
            f"offset: expected <creationTime>_<id> such as 1538573416687_722, got {raw!r}", SERVICE
        )
    return int(match.group(1)), int(match.group(2))


def all_in_scope(emu: Emulator, scope: Scope) -> list[Job]:
    """Every job of the scope, newest first (creation time, then id)."""
    with emu.store.tx() as db:
        rows = db.execute(
            "SELECT * FROM jobs WHERE org = ? AND sandbox = ? ORDER BY creation_ms DESC, id DESC",
            (scope.org, scope.sandbox),
        ).fetchall()
    return [_job(r) for r in rows]
