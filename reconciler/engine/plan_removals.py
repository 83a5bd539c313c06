"""The planner's rules for what no document asks for: removed documents and unmanaged objects."""

from __future__ import annotations

from typing import Any

from reconciler.engine.model import Action, LiveRun
from reconciler.engine.plan_context import (
    BLOCKED,
    GROUP_JOB,
    GROUP_REMOVE,
    Planning,
    cancel_asked,
    unmanaged_address,
)
from reconciler.state.models import DatasetResource, ExportJobResource, UnmanagedJob


def plan_removed(work: Planning) -> None:
    documents = {d.address for d in work.specs.datasets.values()}
    documents.update(d.address for d in work.specs.export_jobs.values())
    for address in sorted(set(work.state.resources) - documents):
        res = work.state.resources[address]
        if isinstance(res, ExportJobResource):
            _plan_removed_job(work, address, res)
        elif res.deletionPolicy == "Delete" and res.datasetId in work.live.datasets:
            _plan_delete(work, address, res)
        else:
            reason = (
                f"document removed; dataset {res.datasetId} is left in place (deletionPolicy Orphan)"
                if res.deletionPolicy == "Orphan"
                else f"document removed; dataset {res.datasetId} is already gone"
            )
            work.act(GROUP_REMOVE, Action(address, "dataset", "forget", reason))


def _plan_removed_job(work: Planning, address: str, res: ExportJobResource) -> None:
    newest = res.newest_run()
    if newest is not None and work.in_flight(newest) and cancel_asked(newest):
        # asked already (a DELETE is never sent twice); the platform is still winding it down
        reason = f"document removed; cancellation of job {newest.jobId} is under way"
        work.act(GROUP_JOB, Action(address, "exportjob", "wait", reason))
    elif newest is not None and work.in_flight(newest):
        work.act(
            GROUP_JOB,
            Action(
                address,
                "exportjob",
                "cancel",
                f"document removed; job {newest.jobId} is still in flight",
                cancel_job_id=newest.jobId,
            ),
        )
    else:
        work.act(
            GROUP_REMOVE,
            Action(address, "exportjob", "forget", "document removed; its runs are finished"),
        )


def writers_of(work: Planning, address: str, dataset_id: str) -> list[str]:
    """What still writes into a dataset: export job documents naming it (by id or reference),
    and runs still in flight into it (a removed document's being cancelled, or the old run of
    a document now pointed elsewhere)."""
    writers = set()
    for doc in work.specs.export_jobs.values():
        dest = doc.spec.destination
        if dest.datasetId == dataset_id:
            writers.add(f"{doc.address} (destination.datasetId)")
        elif dest.dataset is not None and f"dataset/{dest.dataset}" == address:
            writers.add(f"{doc.address} (destination.dataset)")
    for job_address, res in work.state.resources.items():
        if not isinstance(res, ExportJobResource):
            continue
        newest = res.newest_run()
        if newest is not None and newest.datasetId == dataset_id and work.in_flight(newest):
            writers.add(f"{job_address} (job {newest.jobId} still in flight)")
    return sorted(writers)


def _plan_delete(work: Planning, address: str, res: DatasetResource) -> None:
    writers = writers_of(work, address, res.datasetId)
    if writers:
        # Kept, not forgotten: the policy still applies once nothing writes into it, and
        # deleting it now would make those jobs fail.
        work.find(
            address,
            BLOCKED,
            f"document removed and deletionPolicy is Delete, but dataset {res.datasetId} is "
            f"still written into by {', '.join(writers)}; it is kept until nothing does",
            {"datasetId": res.datasetId, "writers": writers},
        )
        return
    work.act(
        GROUP_REMOVE,
        Action(
            address,
            "dataset",
            "delete",
            f"document removed and deletionPolicy is Delete: dataset {res.datasetId} is deleted",
        ),
    )


def find_unmanaged(work: Planning) -> None:
    state, live = work.state, work.live
    referenced = {
        d.spec.destination.datasetId
        for d in work.specs.export_jobs.values()
        if d.spec.destination.datasetId
    }
    claimed = state.claimed_dataset_ids() | work.adopted_datasets | referenced
    for ds in live.datasets.values():
        if ds.id in claimed or ds.is_system:  # the platform's own datasets are nobody's drift
            continue
        work.find(
            unmanaged_address("dataset", ds.id),
            "unmanaged",
            f"dataset {ds.id} '{ds.name}' is claimed by no document; 'reconciler import' can adopt it",
            {"datasetId": ds.id, "name": ds.name},
        )
    # an unreadable record has its own finding
    taken = work.claimed_jobs | work.adopted_jobs | set(work.unreadable)
    candidates = set(live.new_jobs) | set(state.observed.unmanagedJobs) | set(live.runs)
    for job_id in sorted(candidates - taken):
        evidence = _job_evidence(
            job_id, live.runs.get(job_id), state.observed.unmanagedJobs.get(job_id)
        )
        work.find(
            unmanaged_address("exportjob", job_id),
            "unmanaged",
            f"export job {job_id} ({evidence['status']}) is claimed by no document; 'reconciler import' can adopt it",
            evidence,
        )


def _job_evidence(job_id: int, run: LiveRun | None, seen: UnmanagedJob | None) -> dict[str, Any]:
    if run is not None:
        return {
            "jobId": job_id,
            "status": run.status,
            "createdMs": run.created_ms,
            "datasetId": run.dataset_id,
            "request": dict(run.request),
        }
    if seen is not None:
        evidence: dict[str, Any] = {
            "jobId": job_id,
            "status": seen.status,
            "createdMs": seen.createdMs,
            "datasetId": seen.datasetId,
        }
        if seen.request is not None:
            evidence["request"] = dict(seen.request)
        return evidence
    return {"jobId": job_id, "status": "unknown"}
