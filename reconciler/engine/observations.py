"""Folding what a refresh saw into the state: the planner's other pure half."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from reconciler.engine.model import CANCELLING, LiveRun, LiveSnapshot, is_terminal
from reconciler.state.models import BatchRef, ExportJobResource, Run, State, UnmanagedJob


def record_observations(state: State, live: LiveSnapshot) -> State:
    """Fold what a refresh saw into the state: run statuses and batches, unmanaged jobs, watermark.

    Pure: returns a new State for the caller to write. Runs in `live.missing_runs` keep their last
    known status (the plan reports them as `missing`); so do unreadable records. Unmanaged jobs
    are kept with their normalized request, so a document adopts one under any refresh.
    """
    resources: dict[str, Any] = {}
    seen = live.runs.keys()
    for address, res in state.resources.items():
        # Only resources with a run this refresh saw get a new object; the rest stay the same
        # objects, so comparing and journaling the result costs what changed, not the history.
        if isinstance(res, ExportJobResource) and any(run.jobId in seen for run in res.runs):
            runs = [
                observed_run(run, live.runs[run.jobId]) if run.jobId in seen else run
                for run in res.runs
            ]
            res = res.model_copy(update={"runs": runs})
        resources[address] = res
    unreadable = {
        r.id for r in getattr(live, "unreadable", ()) if getattr(r, "id", None) is not None
    }
    claimed = state.claimed_job_ids().among({*state.observed.unmanagedJobs, *live.runs})
    unmanaged = {
        k: v
        for k, v in state.observed.unmanagedJobs.items()
        # a full refresh lists every job: one it did not list is gone (and must not be adopted)
        if k not in claimed and (not live.full or k in live.runs or k in unreadable)
    }
    for job_id, run in live.runs.items():
        if job_id not in claimed:
            unmanaged[job_id] = UnmanagedJob(
                status=run.status,
                createdMs=run.created_ms,
                datasetId=run.dataset_id,
                request=_plain(run.request) if run.request else None,
            )
    listed = [live.runs[j].created_ms for j in live.new_jobs if j in live.runs]
    marks = [m for m in (state.observed.watermarkMs, live.watermark_ms, *listed) if m is not None]
    newest = getattr(live, "newest_job_id", None)
    ids = [i for i in (state.observed.watermarkJobId, newest, *live.new_jobs) if i is not None]
    observed = state.observed.model_copy(
        update={
            "watermarkMs": max(marks) if marks else None,
            "watermarkJobId": max(ids) if ids else None,
            "unmanagedJobs": dict(sorted(unmanaged.items())),
        }
    )
    return state.model_copy(update={"resources": resources, "observed": observed})


def _plain(value: Any) -> Any:
    """A live request (mappings, tuples) as plain JSON values for the state file."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def observed_run(run: Run, live_run: LiveRun | None) -> Run:
    """A state run updated with what the refresh read of its job."""
    if live_run is None:
        return run
    ended = is_terminal(live_run.status)
    update: dict[str, Any] = {
        # CANCELLING stays until a read shows the job ended: the DELETE is never sent twice
        "status": run.status if run.status == CANCELLING and not ended else live_run.status,
        "batchId": live_run.batch_id,
        "batches": [BatchRef(segmentId=s, batchId=b) for s, b in live_run.batches],
        "datasetId": live_run.dataset_id or run.datasetId,
    }
    if ended and run.finishedAt is None:
        update["finishedAt"] = datetime.fromtimestamp(
            (live_run.updated_ms or live_run.created_ms) / 1000, UTC
        )
    return run.model_copy(update=update)
