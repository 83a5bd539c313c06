"""What `reconciler report` shows, gathered into one plain value (no HTML here).

The join of state and live listings is the audit's (`audit_entries`): every dataset and export
job of the sandbox, managed or not. This module groups those entries into exports (a managed or
retired document with all its runs; unmanaged jobs grouped by what they write where), the
datasets with what writes into them, and the open drift (the planner's findings: findings.py).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from reconciler.config import Settings
from reconciler.engine.audit import audit_entries, document_labels, with_record_counts
from reconciler.engine.model import DriftFinding
from reconciler.engine.workflow import Console, open_client, store_for
from reconciler.platform import CatalogDataset, ExportJobRecord, PlatformClient
from reconciler.platform.models import UnreadableRecord
from reconciler.render.audit import AuditEntry
from reconciler.report.drift import DriftItem as DriftItem  # re-exported: its old home
from reconciler.report.drift import drift_item
from reconciler.report.findings import open_drift
from reconciler.spec.errors import SpecErrors
from reconciler.spec.loader import SpecSet, load_specs
from reconciler.state import DatasetResource, ExportJobResource, Run, State

# How a job status is drawn: the four kinds of the timeline, and `unknown` for the rest.
CATEGORIES = ("succeeded", "failed", "cancelled", "in flight", "unknown")
_CATEGORY = {
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "CANCELLED": "cancelled",
    "CANCELED": "cancelled",
    "NEW": "in flight",
    "QUEUED": "in flight",
    "PROCESSING": "in flight",
    "CANCELLING": "in flight",
}
IN_FLIGHT = frozenset(s for s, c in _CATEGORY.items() if c == "in flight")
_ENDED = frozenset({"succeeded", "failed", "cancelled"})


def category(status: str) -> str:
    """The timeline kind of a job status (`unknown` for UNREADABLE and statuses not documented)."""
    return _CATEGORY.get(status.upper(), "unknown")


@dataclass(slots=True)  # not frozen: its __init__ is 100,000 calls at size (2x faster)
class RunPoint:
    """One run (export job) of an export."""

    job_id: str
    status: str  # the platform's status, else the state's recorded one
    created: datetime | None
    finished: datetime | None = None
    records: int | None = None  # summed over the run's Catalog batches, when read
    batches: tuple[str, ...] = ()
    reason: str | None = None  # why this tool started it (managed runs)
    listed: bool = True  # False: recorded in state, the platform no longer lists it
    cancel_asked: bool = False  # this tool asked for the cancellation (not drift)
    dataset_id: str | None = None
    category: str = "unknown"  # the timeline kind of `status` (see `category()`)


@dataclass(frozen=True)
class ExportView:
    """An export: a document's runs (managed or retired), or unmanaged jobs alike in request."""

    key: str  # the address, or `unmanaged/<n>`
    title: str
    managed: bool
    retired: bool
    labels: tuple[tuple[str, str], ...]
    dataset_id: str | None
    dataset_name: str | None
    runs: tuple[RunPoint, ...]  # oldest first

    @property
    def counts(self) -> dict[str, int]:
        """Runs by timeline kind (every kind present, zero included)."""
        got = Counter(r.category for r in self.runs)
        return {c: got.get(c, 0) for c in CATEGORIES}

    @property
    def records_total(self) -> int | None:
        known = [r.records for r in self.runs if r.records is not None]
        return sum(known) if known else None

    @property
    def newest(self) -> RunPoint | None:
        return self.runs[-1] if self.runs else None


@dataclass(frozen=True)
class Writer:
    """An export that wrote (or writes) into a dataset."""

    key: str
    title: str
    managed: bool
    runs: int
    records: int | None


@dataclass(frozen=True)
class DatasetView:
    """A dataset of the sandbox (or one the state manages that the platform no longer lists)."""

    id: str
    name: str
    managed_by: str | None
    present: bool
    created: datetime | None
    labels: tuple[tuple[str, str], ...]
    writers: tuple[Writer, ...]


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows."""

    sandbox: str
    generated_at: datetime  # the platform's clock when it answered, else this machine's
    exports: tuple[ExportView, ...]
    datasets: tuple[DatasetView, ...]
    drift: tuple[DriftItem, ...]
    notes: tuple[str, ...] = ()
    start: datetime | None = None  # the time axis every chart shares
    end: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def run_count(self) -> int:
        return sum(len(e.runs) for e in self.exports)


def _signature(job: ExportJobRecord | None) -> str:
    """What an unmanaged job exports: its fields and filter (jobs alike form one export)."""
    if job is None:
        return ""
    return json.dumps({"fields": job.fields, "filter": job.filter}, sort_keys=True, default=str)


def build_report(
    state: State,
    entries: Sequence[AuditEntry],
    datasets: Sequence[CatalogDataset],
    jobs: Iterable[ExportJobRecord],
    *,
    sandbox: str,
    at: datetime,
    notes: Sequence[str] = (),
    records: Mapping[str, int] | None = None,
    findings: Sequence[DriftFinding] = (),
) -> ReportData:
    """Group audit entries (from `audit_entries`) into the report's value.

    `records`: records written by job id (see `record_counts`), else each entry's own count.
    `findings`: the open drift, the planner's (`report.findings.open_drift`).
    """
    counts = records or {}
    recorded: dict[int, Run] = {}
    retired_addresses: set[str] = set()
    for res in (*state.resources.values(), *(r.resource for r in state.retired if r.claims)):
        if isinstance(res, ExportJobResource):
            for run in res.runs:
                recorded[run.jobId] = run
    for r in state.retired:
        if r.claims and r.address not in state.resources:
            retired_addresses.add(r.address)
    by_id = {str(j.id): j for j in jobs}
    dataset_names = {d.id: d.name for d in datasets}
    for res in state.resources.values():
        if isinstance(res, DatasetResource):
            dataset_names.setdefault(res.datasetId, res.name)

    groups: dict[str, list[AuditEntry]] = defaultdict(list)
    unmanaged_keys: dict[tuple[str | None, str], str] = {}
    labels_of: dict[str, tuple[tuple[str, str], ...]] = {}
    for entry in entries:
        if entry.type != "exportjob":
            continue
        if entry.managedBy:
            key = entry.managedBy
            labels_of.setdefault(key, entry.labels)
        else:
            sig = (entry.datasetId, _signature(by_id.get(entry.id)))
            key = unmanaged_keys.setdefault(sig, f"unmanaged/{len(unmanaged_keys) + 1}")
        groups[key].append(entry)
    # A managed document with no run yet is an export too.
    for address, res in state.resources.items():
        if isinstance(res, ExportJobResource):
            groups.setdefault(address, [])

    exports = []
    for key, members in groups.items():
        # audit_entries lists jobs newest first (creation time, then id): reversed, oldest first
        runs = tuple([_point(e, recorded, counts, by_id) for e in reversed(members)])
        managed = not key.startswith("unmanaged/")
        dataset_id = _dataset_of(state, key) or _last_dataset(members)
        title = (
            key
            if managed
            else _unmanaged_title(members, dataset_id, dataset_names, by_id.get(members[0].id))
        )
        exports.append(
            ExportView(
                key=key,
                title=title,
                managed=managed,
                retired=key in retired_addresses,
                labels=labels_of.get(key, ()),
                dataset_id=dataset_id,
                dataset_name=dataset_names.get(dataset_id) if dataset_id else None,
                runs=runs,
            )
        )
    exports.sort(key=lambda e: (not e.managed, e.retired, e.key))
    times = [t for e in exports for r in e.runs for t in (r.created, r.finished) if t is not None]
    return ReportData(
        sandbox=sandbox,
        generated_at=at,
        exports=tuple(exports),
        datasets=_datasets(state, entries, exports),
        drift=tuple(drift_item(f) for f in findings),
        notes=tuple(notes),
        start=min(times) if times else None,
        end=max([*times, at]) if times else None,
    )


def _point(
    entry: AuditEntry,
    recorded: Mapping[int, Run],
    counts: Mapping[str, int],
    jobs: Mapping[str, ExportJobRecord],
) -> RunPoint:
    job_id = entry.id
    run = recorded.get(int(job_id)) if job_id.isdigit() else None
    status = entry.status
    listed = status != _NOT_LISTED
    if not listed and run is not None:
        status = run.status
    status = status.upper()
    kind = _CATEGORY.get(status, "unknown")
    finished = asked = None
    if run is not None:
        finished, asked = run.finishedAt, run.cancelledAt
    if finished is None and kind in _ENDED:  # not followed to its end by this tool
        job = jobs.get(job_id)
        if job is not None and job.updateTime is not None:
            finished = datetime.fromtimestamp(job.updateTime / 1000, UTC)
    records = entry.records
    if records is None:
        records = counts.get(job_id)
    # positional, in field order: 100,000 of these at size
    return RunPoint(
        job_id,
        status,
        entry.created,
        finished,
        records,
        entry.batches,
        entry.reason,
        listed,
        asked is not None,
        entry.datasetId,
        kind,
    )


_NOT_LISTED = "not on platform"  # audit_entries' status of a recorded run no longer listed


def _dataset_of(state: State, address: str) -> str | None:
    """The dataset id a managed export document writes into, as the state records it."""
    doc = state.export_job(address)
    if doc is None:
        return None
    if doc.datasetId:
        return doc.datasetId
    target = state.dataset(doc.datasetAddress) if doc.datasetAddress else None
    return target.datasetId if target is not None else None


def _last_dataset(members: Sequence[AuditEntry]) -> str | None:
    for entry in members:  # audit entries come newest first
        if entry.datasetId:
            return entry.datasetId
    return None


def _unmanaged_title(
    members: Sequence[AuditEntry],
    dataset_id: str | None,
    names: Mapping[str, str],
    job: ExportJobRecord | None,
) -> str:
    """`unmanaged: 2 jobs into CRM export (fields identities.id)`: jobs alike in what they ask."""
    where = names.get(dataset_id, dataset_id) if dataset_id else "no dataset"
    n = len(members)
    fields = (job.fields or "").strip() if job is not None else ""
    if len(fields) > 48:
        fields = fields[:47] + "…"
    what = f" (fields {fields})" if fields else ""
    return f"unmanaged: {n} job{'s' if n != 1 else ''} into {where}{what}"


def _datasets(
    state: State, entries: Sequence[AuditEntry], exports: Sequence[ExportView]
) -> tuple[DatasetView, ...]:
    writers: dict[str, list[Writer]] = defaultdict(list)
    for export in exports:
        per_dataset: dict[str, list[RunPoint]] = defaultdict(list)
        for run in export.runs:
            target = run.dataset_id or export.dataset_id
            if target:
                per_dataset[target].append(run)
        for target, runs in per_dataset.items():
            known = [r.records for r in runs if r.records is not None]
            writers[target].append(
                Writer(
                    export.key,
                    export.title,
                    export.managed,
                    len(runs),
                    sum(known) if known else None,
                )
            )
    views = []
    seen = set()
    for entry in entries:
        if entry.type != "dataset":
            continue
        seen.add(entry.id)
        views.append(
            DatasetView(
                entry.id,
                entry.name or "",
                entry.managedBy,
                True,
                entry.created,
                entry.labels,
                tuple(writers.get(entry.id, ())),
            )
        )
    for address, res in state.resources.items():
        if isinstance(res, DatasetResource) and res.datasetId not in seen:
            views.append(
                DatasetView(
                    res.datasetId,
                    res.name,
                    address,
                    False,
                    res.createdAt,
                    (),
                    tuple(writers.get(res.datasetId, ())),
                )
            )
    return tuple(views)


# Record counts cost one Catalog GET per batch: read for the newest runs of each export only.
RECORDED_RUNS_PER_EXPORT = 100


def record_counts(client: PlatformClient, entries: Sequence[AuditEntry]) -> dict[str, int]:
    """Records written by job id, for the newest runs of each export (from the Catalog)."""
    seen: Counter[str] = Counter()
    chosen = []
    for entry in entries:  # jobs come newest first
        if entry.type != "exportjob" or not entry.batches:
            continue
        group = entry.managedBy or f"unmanaged:{entry.datasetId}"
        seen[group] += 1
        if seen[group] <= RECORDED_RUNS_PER_EXPORT:
            chosen.append(entry)
    return {e.id: e.records for e in with_record_counts(client, chosen) if e.records is not None}


def gather(settings: Settings, console: Console) -> ReportData:
    """Read the state, the documents' owner labels and the sandbox's listings into a report."""
    state = store_for(settings).read_history()
    labels = document_labels(settings, console)
    specs = _specs_or_none(settings)
    unreadable: list[UnreadableRecord] = []
    with open_client(settings, console) as client:
        datasets = list(client.iter_datasets())
        jobs = list(client.iter_export_jobs(unreadable=unreadable))
        at = client.platform_now() or datetime.now(UTC)
        entries = audit_entries(state, datasets, jobs, labels)
        records = record_counts(client, entries)
    notes = []
    findings: tuple[DriftFinding, ...] = ()
    if specs is None:
        notes.append("open drift is not shown: the specs do not validate (reconciler validate)")
    else:
        findings = open_drift(specs, state, datasets, jobs, unreadable, at)
    if unreadable:
        ids = ", ".join(str(u.id) if u.id is not None else "(no id)" for u in unreadable)
        notes.append(f"{len(unreadable)} export job record(s) could not be read ({ids})")
    return build_report(
        state,
        entries,
        datasets,
        jobs,
        sandbox=settings.sandbox,
        at=at,
        notes=notes,
        records=records,
        findings=findings,
    )


def _specs_or_none(settings: Settings) -> SpecSet | None:
    try:
        return load_specs(settings)
    except SpecErrors:
        return None  # document_labels has said so
