"""The commands that read and repair the record: status, import, state list|show|rm.

Like `workflow`, each function is one command and returns its result (entries, a listing,
the sentence of what was done); the command line's views draw them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from reconciler.config import Settings
from reconciler.engine.entries import HistoryRun, StatusEntry
from reconciler.engine.events import Console
from reconciler.engine.executor import dataset_resource, run_from_record
from reconciler.engine.model import LiveSnapshot, canonical_json, field_changes
from reconciler.engine.refresh import refresh
from reconciler.engine.session import (
    UsageError,
    now,
    open_client,
    pending_note,
    store_for,
)
from reconciler.errors import ReconcilerError
from reconciler.platform import PlatformClient
from reconciler.provenance import current_provenance
from reconciler.spec.canonical import (
    canonical_request,
    fingerprint,
    normalize_request,
    request_matches,
)
from reconciler.spec.canonical import request_body as resolved_request
from reconciler.spec.loader import SpecSet, load_specs
from reconciler.spec.models import DatasetDoc, ExportJobDoc
from reconciler.state import (
    DatasetResource,
    ExportJobResource,
    RetiredResource,
    Run,
    State,
    UnmanagedJob,
    format_time,
)


class NotInState(ReconcilerError):
    """An address that the state does not hold."""


# status and audit


def status(settings: Settings, console: Console, *, history: bool = False) -> list[StatusEntry]:
    """Every managed resource with its live status, newest run and batches; with `history`,
    each export job's every recorded run too (the one reading of the whole state)."""
    store = store_for(settings)
    state = store.read()
    with open_client(settings, console) as client:
        live = refresh(client, state)
    entries = status_entries(state, live)
    pending_note(state, console)
    if history:
        whole = store.read_history()
        entries = [
            replace(e, history=_history(whole.export_job(e.address)))
            if e.kind == "exportjob"
            else e
            for e in entries
        ]
    return entries


def _history(res: ExportJobResource | None) -> tuple[HistoryRun, ...]:
    if res is None:
        return ()
    runs = sorted(res.runs, key=lambda r: (r.createdAt, r.jobId), reverse=True)
    return tuple(
        HistoryRun(
            job_id=r.jobId,
            status=r.status,
            reason=r.reason,
            created_at=format_time(r.createdAt),
            finished_at=format_time(r.finishedAt) if r.finishedAt else None,
            batches=_recorded_batches(r),
            commit=r.commit,
            commit_dirty=r.commitDirty,
            actor=r.actor,
            ci_run=r.ciRun,
            tool_version=r.toolVersion,
        )
        for r in runs
    )


def status_entries(state: State, live: LiveSnapshot) -> list[StatusEntry]:
    """The state's resources, each with what the live snapshot says of it now."""
    entries = []
    unreadable = {r.id for r in getattr(live, "unreadable", ()) if r.id is not None}
    for address, res in sorted(state.resources.items()):
        if isinstance(res, DatasetResource):
            present = res.datasetId in live.datasets
            entries.append(
                StatusEntry(address, "dataset", "present" if present else "missing", res.datasetId)
            )
            continue
        newest = res.newest_run()
        if newest is None:
            entries.append(StatusEntry(address, "exportjob", "no run", res.datasetId))
            continue
        run = live.runs.get(newest.jobId)
        if newest.jobId in live.missing_runs:
            status_text = "missing"
        elif newest.jobId in unreadable:
            status_text = "unreadable"  # its record does not parse: the last known is not now
        else:
            status_text = run.status if run else newest.status
        batches = (
            _batch_ids(run.batch_id, [b for _, b in run.batches])
            if run is not None
            else _recorded_batches(newest)
        )
        entries.append(
            StatusEntry(
                address,
                "exportjob",
                status_text,
                newest.datasetId,
                job_id=newest.jobId,
                batches=batches,
                finished_at=format_time(newest.finishedAt) if newest.finishedAt else None,
                runs=res.run_count,
                note=newest.reason,
                commit=newest.commit,
                actor=newest.actor,
                ci_run=newest.ciRun,
                tool_version=newest.toolVersion,
            )
        )
    return entries


def _batch_ids(batch_id: str | None, per_segment: list[str]) -> tuple[str, ...]:
    """Per-segment batches when there are some, else the single batch, else none."""
    return tuple(per_segment) or ((batch_id,) if batch_id else ())


def _recorded_batches(run: Run) -> tuple[str, ...]:
    return _batch_ids(run.batchId, [b.batchId for b in run.batches])


# import


def import_(settings: Settings, console: Console, address: str, live_id: str) -> str:
    """Adopt a live dataset or export job into state for the document at `address`."""
    specs = load_specs(settings)
    doc = specs.by_address(address)
    if doc is None:
        raise UsageError(
            f"{address} names no document; write the document first, then import into it"
        )
    store = store_for(settings)
    with store.lock() as writer, open_client(settings, console) as client:
        state = writer.read()
        if address in state.resources:
            raise UsageError(
                f"{address} is already in state; run 'reconciler state rm {address}' first to replace it"
            )
        if isinstance(doc, DatasetDoc):
            line = _import_dataset(state, client, doc, live_id)
        else:
            provenance = current_provenance(settings.project_dir).run_fields()
            line = _import_job(state, client, specs, doc, live_id, provenance)
        writer.write(state)
    return line


def _import_dataset(state: State, client: PlatformClient, doc: DatasetDoc, live_id: str) -> str:
    owner = next(
        (
            a
            for a, r in state.resources.items()
            if isinstance(r, DatasetResource) and r.datasetId == live_id
        ),
        None,
    )
    if owner is not None:
        raise UsageError(f"dataset {live_id} is already managed as {owner}")
    live = client.get_dataset(live_id)
    if live is None:
        raise UsageError(f"dataset {live_id} does not exist in sandbox '{client.sandbox}'")
    state.resources[doc.address] = dataset_resource(
        live, deletion_policy=doc.spec.deletionPolicy, created_at=now()
    )
    return f"{doc.address}: imported dataset {live.id} ('{live.name}'); 'reconciler plan' shows what differs from the document"


def _import_job(
    state: State,
    client: PlatformClient,
    specs: SpecSet,
    doc: ExportJobDoc,
    live_id: str,
    provenance: Mapping[str, str | bool],
) -> str:
    try:
        job_id = int(live_id)
    except ValueError:
        raise UsageError(f"'{live_id}' is not an export job id (a number)") from None
    if job_id in state.claimed_job_ids():
        raise UsageError(_claimed_job_message(state, job_id))
    record = client.get_export_job(job_id)
    if record is None:
        raise UsageError(f"export job {job_id} does not exist in sandbox '{client.sandbox}'")
    live_request = normalize_request(record.raw())
    dest = doc.spec.destination
    dataset_address = f"dataset/{dest.dataset}" if dest.dataset else None
    dataset_id = dest.datasetId
    pending_dataset = None
    if dataset_address is not None:
        res = state.dataset(dataset_address)
        dataset_id = res.datasetId if res is not None else None
        if dataset_id is None and record.destination.datasetId:
            # The destination is not imported yet: the job is compared as writing where it
            # does, so importing the dataset afterwards gives what dataset-first gives.
            dataset_id = pending_dataset = record.destination.datasetId
    wanted = (
        normalize_request(resolved_request(doc, dataset_id)) if dataset_id is not None else None
    )
    # request_matches, like plan's adopt: what the platform filled in is not a difference
    if dataset_id is not None and request_matches(resolved_request(doc, dataset_id), live_request):
        job_fp, request, note = fingerprint(doc), canonical_request(doc), "matches the document"
        if pending_dataset is not None:
            note += (
                f"; it writes into dataset {pending_dataset}: import that into "
                f"{dataset_address} too ('reconciler import {dataset_address} {pending_dataset}'), "
                "or the next plan replaces the job"
            )
    else:
        # Recorded under its own request, so the next plan shows the difference as a replace.
        job_fp = hashlib.sha256(canonical_json(live_request).encode()).hexdigest()
        request = live_request
        changed = (
            ", ".join(c.path for c in field_changes(live_request, wanted or {})) or "the request"
        )
        note = f"differs from the document ({changed}), so the next plan replaces it"
    run = run_from_record(
        record,
        fingerprint=job_fp,
        reason="adopt (import)",
        dataset_id=record.destination.datasetId,
        provenance=provenance,
    )
    state.resources[doc.address] = ExportJobResource(
        fingerprint=job_fp,
        request=request,
        datasetAddress=dataset_address,
        datasetId=None if dataset_address else dataset_id,
        runs=[run],
    )
    state.observed.unmanagedJobs.pop(job_id, None)
    return f"{doc.address}: imported export job {job_id} ({record.status}); its request {note}"


def _claimed_job_message(state: State, job_id: int) -> str:
    """Why a job cannot be imported: a managed resource holds it, or the history of a forget."""
    for address, res in state.resources.items():
        if isinstance(res, ExportJobResource) and any(r.jobId == job_id for r in res.runs):
            return f"export job {job_id} is already recorded in state as a run of {address}"
    owner = next(
        r.address
        for r in state.retired
        if r.claims
        and isinstance(r.resource, ExportJobResource)
        and any(run.jobId == job_id for run in r.resource.runs)
    )
    return (
        f"export job {job_id} is a finished run of {owner}, whose document was removed; it is "
        "kept in the state's history ('reconciler state show "
        f"{owner}') and cannot be imported again"
    )


# state list | show | rm


@dataclass(frozen=True)
class StateListing:
    """What `state list` shows: the managed resources, then the retired history."""

    resources: list[tuple[str, DatasetResource | ExportJobResource]]
    retired: list[RetiredResource]


def state_list(settings: Settings, console: Console) -> StateListing:
    """The addresses in state and the retired history, sorted (no network)."""
    state = store_for(settings).read()
    pending_note(state, console)
    return StateListing(
        sorted(state.resources.items()),
        sorted(state.retired, key=lambda r: (r.address, r.retiredAt)),
    )


def state_show(settings: Settings, console: Console, address: str) -> dict[str, Any]:
    """`{address, resource, retired}` as JSON: the managed resource (or null) and its history."""
    state = store_for(settings).read_history()
    res = state.resources.get(address)
    retired = state.retired_at(address)
    if res is None and not retired:
        raise NotInState(f"{address} is not in state; see 'reconciler state list'")
    shown: dict[str, Any] = {
        "address": address,
        "resource": res.model_dump(mode="json") if res is not None else None,
        "retired": [r.model_dump(mode="json", exclude={"address"}) for r in retired],
    }
    return shown


def state_rm(settings: Settings, console: Console, address: str) -> str:
    """Stop managing `address`: move it to the retired history, leave the live object alone."""
    with store_for(settings).lock() as writer:
        # whole: every run of the resource is remembered as unmanaged below
        state = writer.read_history()
        if address not in state.resources:
            raise NotInState(f"{address} is not in state; see 'reconciler state list'")
        entry = state.retire(address, reason="state rm", at=now())
        if isinstance(entry.resource, ExportJobResource):
            # Remembered as unmanaged, so every plan (not only a full refresh) reports them
            # and 'reconciler import' can adopt them again.
            for run in entry.resource.runs:
                state.observed.unmanagedJobs[run.jobId] = UnmanagedJob(
                    status=run.status,
                    createdMs=int(run.createdAt.timestamp() * 1000),
                    datasetId=run.datasetId,
                    request=_run_request(entry.resource, run),
                )
        writer.write(state)
    return (
        f"{address}: removed from state (the live object is left alone; its record is kept "
        "under 'Retired' in 'reconciler state list')"
    )


def _run_request(res: ExportJobResource, run: Run) -> dict[str, Any] | None:
    """The normalized request a run was sent with, where state knows it (its current spec)."""
    if run.fingerprint != res.fingerprint or run.datasetId is None:
        return None  # an older spec's run: its request is not kept
    destination = res.request.get("destination") or {}
    body = {
        **res.request,
        "destination": {
            "datasetId": run.datasetId,
            "segmentPerBatch": bool(destination.get("segmentPerBatch", False)),
        },
    }
    return normalize_request(body)
