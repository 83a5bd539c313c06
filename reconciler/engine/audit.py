"""`reconciler audit`: what exports exist, who owns them, what they wrote.

Reads every dataset and export job of the sandbox (a full listing: an audit is about
everything, not what changed), joins them with the state's record of runs and the documents'
owner labels, and fetches the Catalog batches of the jobs it shows for their record counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from reconciler.config import Settings
from reconciler.engine.entries import AuditEntry
from reconciler.engine.events import Console
from reconciler.engine.session import UsageError, now, open_client, store_for
from reconciler.platform import CatalogDataset, ExportJobRecord, PlatformClient
from reconciler.platform.models import UnreadableRecord
from reconciler.spec.loader import SpecErrors, load_specs
from reconciler.spec.models import DatasetDoc, ExportJobDoc, parse_duration, parse_timestamp
from reconciler.state import DatasetResource, ExportJobResource, Run, State

_LABEL_RE = re.compile(r"^([^=\s]+)=(.*)$")


# Job statuses (both spellings of cancelled), a dataset's `present`, a run gone from the platform.
AUDIT_STATUSES = frozenset(
    {
        "NEW",
        "PROCESSING",
        "SUCCEEDED",
        "FAILED",
        "CANCELLED",
        "CANCELED",
        "PRESENT",
        "NOT ON PLATFORM",
        "UNREADABLE",
    }
)


@dataclass(frozen=True)
class AuditFilter:
    """Which objects an audit shows: created since, owner labels (all must match), statuses."""

    since: datetime | None = None
    labels: tuple[tuple[str, str], ...] = ()
    statuses: frozenset[str] = frozenset()

    def keeps(self, entry: AuditEntry) -> bool:
        """True when the entry passes every filter given."""
        if self.since is not None and (entry.created is None or entry.created < self.since):
            return False
        if self.labels and not set(self.labels) <= set(entry.labels):
            return False
        return not self.statuses or entry.status.upper() in self.statuses


def parse_filter(
    since: str | None, labels: Iterable[str], statuses: Iterable[str], *, at: datetime
) -> AuditFilter:
    """The command's filter options, checked: `--since 7d|RFC 3339`, `--label k=v`, `--status S`."""
    since_time = None
    if since:
        try:
            since_time = at - parse_duration(since)
        except ValueError:
            try:
                since_time = parse_timestamp(since)
            except ValueError:
                raise UsageError(
                    f"--since '{since}' is neither a duration (30m, 24h, 7d) nor an RFC 3339 "
                    "timestamp (2026-01-31T00:00:00Z)"
                ) from None
    pairs = []
    for label in labels:
        match = _LABEL_RE.match(label)
        if not match:
            raise UsageError(f"--label '{label}' is not key=value; write e.g. --label team=crm")
        pairs.append((match.group(1), match.group(2)))
    wanted = frozenset(s.upper() for s in statuses)
    unknown = sorted(wanted - AUDIT_STATUSES)
    if unknown:
        raise UsageError(
            f"--status '{unknown[0]}' is not a status an audit shows; use one of "
            f"{', '.join(sorted(AUDIT_STATUSES - {'CANCELED'}))}"
        )
    if "CANCELED" in wanted or "CANCELLED" in wanted:
        wanted |= {"CANCELED", "CANCELLED"}
    return AuditFilter(since_time, tuple(pairs), wanted)


def _ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


def _run_batches(run: Run) -> tuple[str, ...]:
    per_segment = tuple(b.batchId for b in run.batches)
    return per_segment or ((run.batchId,) if run.batchId else ())


def audit_entries(
    state: State,
    datasets: Sequence[CatalogDataset],
    jobs: Sequence[ExportJobRecord],
    labels: Mapping[str, Mapping[str, str]],
) -> list[AuditEntry]:
    """Live datasets and jobs joined with the state's claims; recorded runs no longer listed too.

    Sorted datasets first, then export jobs newest first; the newest run of each document is
    marked.
    """
    # Retired history first, so that an active resource wins for the same object. Only a
    # `forget` keeps its claim; after `state rm` the objects are unmanaged again.
    claims = [(r.address, r.resource, True) for r in state.retired if r.claims]
    claims += [(address, res, False) for address, res in state.resources.items()]
    owners: dict[str, tuple[str, bool]] = {}
    runs: dict[int, tuple[str, Run, bool]] = {}
    for address, res, retired in claims:
        if isinstance(res, DatasetResource):
            owners[res.datasetId] = (address, retired)
        elif isinstance(res, ExportJobResource):
            runs.update({run.jobId: (address, run, retired) for run in res.runs})

    def owner_labels(address: str | None) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(labels.get(address, {}).items())) if address else ()

    entries = []
    for ds in datasets:
        owner, retired = owners.get(ds.id, (None, False))
        entries.append(
            AuditEntry(
                "dataset",
                ds.id,
                "present",
                owner,
                ds.id,
                (),
                None,
                None,
                _ms(ds.created),
                ds.name,
                owner_labels(owner),
                retired=retired,
            )
        )
    listed = set()
    for job in jobs:
        listed.add(job.id)
        claim = runs.get(job.id)
        run = claim[1] if claim else None
        entries.append(
            AuditEntry(
                "exportjob",
                str(job.id),
                job.status.upper(),
                claim[0] if claim else None,
                job.destination.datasetId,
                tuple(job.batch_ids),
                run.fingerprint if run else None,
                run.reason if run else None,
                _ms(job.creationTime),
                labels=owner_labels(claim[0] if claim else None),
                retired=claim[2] if claim else False,
                commit=run.commit if run else None,
                actor=run.actor if run else None,
                ciRun=run.ciRun if run else None,
                toolVersion=run.toolVersion if run else None,
            )
        )
    for job_id, (address, run, retired) in runs.items():
        if job_id not in listed:
            entries.append(
                AuditEntry(
                    "exportjob",
                    str(job_id),
                    "not on platform",
                    address,
                    run.datasetId,
                    _run_batches(run),
                    run.fingerprint,
                    run.reason,
                    run.createdAt,
                    labels=owner_labels(address),
                    retired=retired,
                    commit=run.commit,
                    actor=run.actor,
                    ciRun=run.ciRun,
                    toolVersion=run.toolVersion,
                )
            )
    return _mark_newest(_sorted(entries))


def _sorted(entries: list[AuditEntry]) -> list[AuditEntry]:
    epoch = datetime.min.replace(tzinfo=UTC)
    datasets = sorted(
        (e for e in entries if e.type == "dataset"), key=lambda e: ((e.name or "").lower(), e.id)
    )
    jobs = sorted(
        (e for e in entries if e.type != "dataset"),
        key=lambda e: (e.created or epoch, int(e.id) if e.id.isdigit() else 0),
        reverse=True,
    )
    return datasets + jobs


def _mark_newest(entries: list[AuditEntry]) -> list[AuditEntry]:
    seen: set[str] = set()
    marked = []
    for entry in entries:  # jobs come newest first
        if (
            entry.type == "exportjob"
            and entry.managedBy
            and not entry.retired
            and entry.managedBy not in seen
        ):
            seen.add(entry.managedBy)
            entry = replace(entry, newest=True)
        marked.append(entry)
    return marked


def with_record_counts(client: PlatformClient, entries: list[AuditEntry]) -> list[AuditEntry]:
    """Each shown job's records written, summed over its Catalog batches (one GET per batch)."""
    batch_ids = sorted({b for e in entries for b in e.batches})
    counts: dict[str, int | None] = {}
    if batch_ids:
        batches = client.map(client.get_batch, batch_ids)
        counts = {
            bid: (batch.record_count if batch is not None else None)
            for bid, batch in zip(batch_ids, batches, strict=True)
        }
    result = []
    for entry in entries:
        known = [counts.get(b) for b in entry.batches]
        if entry.batches and all(c is not None for c in known):
            entry = replace(entry, records=sum(c for c in known if c is not None))
        result.append(entry)
    return result


def document_labels(settings: Settings, console: Console) -> dict[str, dict[str, str]]:
    """Owner labels by address from the documents; none (with a note) when they do not load."""
    try:
        specs = load_specs(settings)
    except SpecErrors as exc:
        console.err(
            f"note: owner labels are not shown because the specs do not validate "
            f"({exc.summary}); run 'reconciler validate'"
        )
        return {}
    docs: list[DatasetDoc | ExportJobDoc] = [*specs.datasets.values(), *specs.export_jobs.values()]
    return {doc.address: dict(doc.metadata.labels) for doc in docs}


@dataclass(frozen=True)
class AuditResult:
    """The audit's entries and the platform time their ages are measured at."""

    entries: list[AuditEntry]
    at: datetime


def audit(
    settings: Settings,
    console: Console,
    *,
    since: str | None = None,
    labels: Sequence[str] = (),
    statuses: Sequence[str] = (),
) -> AuditResult:
    """Every export job and dataset in the sandbox, managed or not, filtered as asked."""
    parse_filter(since, labels, statuses, at=now())  # bad options fail before any request
    state = store_for(settings).read_history()
    owner_labels = document_labels(settings, console)
    unreadable: list[UnreadableRecord] = []
    with open_client(settings, console) as client:
        datasets = list(client.iter_datasets())
        jobs = list(client.iter_export_jobs(unreadable=unreadable))
        # Ages and --since are measured on the platform's clock, like every other age.
        at = client.platform_now() or now()
        chosen = parse_filter(since, labels, statuses, at=at)
        everything = with_unreadable(audit_entries(state, datasets, jobs, owner_labels), unreadable)
        entries = [e for e in everything if chosen.keeps(e)]
        entries = with_record_counts(client, entries)
    if unreadable:
        ids = ", ".join(str(u.id) if u.id is not None else "(no id)" for u in unreadable)
        console.err(
            f"note: {len(unreadable)} export job record(s) could not be read ({ids}); they are "
            "listed as UNREADABLE with the reason; report it with the job id"
        )
    return AuditResult(entries, at)


def with_unreadable(
    entries: list[AuditEntry], unreadable: Sequence[UnreadableRecord]
) -> list[AuditEntry]:
    """Job records the client could not parse, still listed (an audit never hides a job).

    A recorded run whose record is unreadable is on the platform: its entry says UNREADABLE
    (with the reason) instead of `not on platform`, and keeps its document and batches.
    """
    reasons = {str(u.id): u.reason for u in unreadable if u.id is not None}
    kept: list[AuditEntry] = []
    for entry in entries:
        if entry.type == "exportjob" and entry.id in reasons:
            reason = reasons.pop(entry.id)
            entry = replace(entry, status="UNREADABLE", name=f"unreadable: {reason}")
        kept.append(entry)
    blank = (None, None, (), None, None, None)
    kept += [
        AuditEntry("exportjob", i, "UNREADABLE", *blank, f"unreadable: {r}")
        for i, r in reasons.items()
    ]
    kept += [
        AuditEntry("exportjob", "-", "UNREADABLE", *blank, f"unreadable: {u.reason}")
        for u in unreadable
        if u.id is None
    ]
    return kept
