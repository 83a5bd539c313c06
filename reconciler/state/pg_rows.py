"""The rows of the PostgreSQL state: a run's columns, and the statements that write runs.

Positions are absolute: a run's position among all its resource's runs, those the history
holds included (a head's `runs[i]` is at position `archivedRuns + i`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconciler.state.models import DatasetResource, ExportJobResource, Run

if TYPE_CHECKING:
    import psycopg

RUN_COLUMNS = (
    "sandbox, address, retired_seq, position, job_id, fingerprint, status, batch_id, "
    "dataset_id, created_at, finished_at, reason, cancelled_at, doc, git_commit, commit_dirty, "
    "actor, ci_run, tool_version"
)
BATCH_COLUMNS = (
    "sandbox, address, retired_seq, run_position, position, job_id, segment_id, batch_id"
)
_UPSERT_RUN = (
    f"INSERT INTO runs ({RUN_COLUMNS}) VALUES "
    f"({', '.join(['%s'] * RUN_COLUMNS.count(','))}, %s) "
    "ON CONFLICT (sandbox, address, retired_seq, position) DO UPDATE SET "
    "job_id = excluded.job_id, fingerprint = excluded.fingerprint, "
    "status = excluded.status, batch_id = excluded.batch_id, "
    "dataset_id = excluded.dataset_id, created_at = excluded.created_at, "
    "finished_at = excluded.finished_at, reason = excluded.reason, "
    "cancelled_at = excluded.cancelled_at, doc = excluded.doc, "
    "git_commit = excluded.git_commit, commit_dirty = excluded.commit_dirty, "
    "actor = excluded.actor, ci_run = excluded.ci_run, "
    "tool_version = excluded.tool_version, recorded_at = now()"
)

RunRow = tuple[Any, ...]


def ms(value: datetime | None) -> datetime | None:
    """To the millisecond, as the state file keeps times (so both backends read the same)."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000) if value else value


def run_row(run: Run) -> RunRow:
    """A run's columns after (sandbox, address, retired_seq, position)."""
    return (
        run.jobId,
        run.fingerprint,
        run.status,
        run.batchId,
        run.datasetId,
        ms(run.createdAt),
        ms(run.finishedAt),
        run.reason,
        ms(run.cancelledAt),
        run.model_dump_json(),  # what a read parses: the run as the state file writes it
        run.commit,
        run.commitDirty,
        run.actor,
        run.ciRun,
        run.toolVersion,
    )


def body(res: DatasetResource | ExportJobResource) -> dict[str, Any]:
    """A resource's `body` column: the resource without its runs (`archivedRuns` kept)."""
    return res.model_dump(mode="json", exclude={"runs"})


def write_runs(
    conn: psycopg.Connection[Any],
    sandbox: str,
    where: tuple[str, int],
    start: int,
    runs: Sequence[Run],
    old_start: int,
    old: Sequence[Run],
) -> None:
    """Make the rows of (address, retired_seq) `where` from position `start` on hold `runs`,
    the rows from `old_start` on holding `old` (what the last read or write left): only the
    runs that differ are written, and their batches; rows past the end are deleted. Rows
    before `start` are not touched (`start >= old_start`)."""
    address, seq = where
    cur = conn.cursor()
    end, old_end = start + len(runs), old_start + len(old)

    def before(position: int) -> Run | None:
        i = position - old_start
        return old[i] if 0 <= i < len(old) else None

    upserts: list[tuple[int, Run, Run | None]] = []
    for i, run in enumerate(runs):
        prior = before(start + i)
        if prior is None or (run is not prior and run != prior):
            upserts.append((start + i, run, prior))
    if old_end > end:
        cur.execute(
            "DELETE FROM runs WHERE sandbox = %s AND address = %s AND retired_seq = %s "
            "AND position >= %s",
            (sandbox, address, seq, end),
        )
    if not upserts:
        return
    cur.executemany(
        _UPSERT_RUN,
        [(sandbox, address, seq, position, *run_row(run)) for position, run, _ in upserts],
    )
    changed = [
        (p, run, prior)
        for p, run, prior in upserts
        if prior is None or prior.batches != run.batches
    ]
    replaced = [(sandbox, address, seq, p) for p, _, prior in changed if prior is not None]
    if replaced:
        cur.executemany(
            "DELETE FROM batches WHERE sandbox = %s AND address = %s AND retired_seq = %s "
            "AND run_position = %s",
            replaced,
        )
    batch_rows = [
        (sandbox, address, seq, position, index, run.jobId, ref.segmentId, ref.batchId)
        for position, run, _ in changed
        for index, ref in enumerate(run.batches)
    ]
    if batch_rows:
        cur.executemany(
            f"INSERT INTO batches ({BATCH_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            batch_rows,
        )


def copy_runs(
    conn: psycopg.Connection[Any],
    sandbox: str,
    owners: Sequence[tuple[str, int, int, Sequence[Run]]],
) -> None:
    """COPY the rows of every (address, retired_seq, first position, runs) of `owners`."""
    cur = conn.cursor()
    with cur.copy(f"COPY runs ({RUN_COLUMNS}) FROM STDIN") as copy:
        for address, seq, start, runs in owners:
            for i, run in enumerate(runs):
                copy.write_row((sandbox, address, seq, start + i, *run_row(run)))
    with cur.copy(f"COPY batches ({BATCH_COLUMNS}) FROM STDIN") as copy:
        for address, seq, start, runs in owners:
            for i, run in enumerate(runs):
                for index, ref in enumerate(run.batches):
                    copy.write_row(
                        (sandbox, address, seq, start + i, index, run.jobId, ref.segmentId,
                         ref.batchId)
                    )  # fmt: skip
