"""The rows `status` and `audit` return (the views in reconciler.render draw them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class HistoryRun:
    """One recorded run of an export job, as `status --history` lists it (newest first)."""

    job_id: int
    status: str  # as recorded (the newest run's live status is the entry's own)
    reason: str
    created_at: str
    finished_at: str | None
    batches: tuple[str, ...]
    commit: str | None
    commit_dirty: bool | None
    actor: str | None
    ci_run: str | None
    tool_version: str | None


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
    # the newest run's provenance (who and what started it; None on runs recorded before it)
    commit: str | None = None
    actor: str | None = None
    ci_run: str | None = None
    tool_version: str | None = None
    # status --history: every recorded run, newest first (None: not asked for)
    history: tuple[HistoryRun, ...] | None = None


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
    created: datetime | None
    name: str | None = None
    labels: tuple[tuple[str, str], ...] = ()  # the managing document's metadata.labels
    newest: bool = False  # the newest run of its document
    records: int | None = None  # records written, summed over the Catalog batches
    retired: bool = False  # managedBy is a removed document (kept as history by `forget`)
    # a recorded run's provenance (who and what started or adopted it)
    commit: str | None = None
    actor: str | None = None
    ciRun: str | None = None
    toolVersion: str | None = None
