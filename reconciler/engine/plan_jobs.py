"""The planner's export job rules: create, replace, rerun, wait (docs/engine.md).

Which live job a document adopts is decided first, for every document at once, in
`plan_adoption`; these rules then plan each document against its state and live runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.engine.model import Action, LiveRun, field_changes, is_terminal
from reconciler.engine.plan_adoption import adoption_candidates, destination, pending_addresses
from reconciler.engine.plan_context import (
    BLOCKED,
    GROUP_JOB,
    Planning,
    cancel_asked,
    import_command,
    is_cancelled,
)
from reconciler.spec.canonical import (
    canonical_request,
    fingerprint,
    request_matches,
)
from reconciler.spec.models import PROFILE_UNION_SCHEMA, ExportJobDoc
from reconciler.state.models import Run


def human(delta: timedelta) -> str:
    """`25h`, `90m`, `3d`: the largest unit that still reads naturally (hours up to two days)."""
    seconds = max(int(delta.total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size or (unit == "m" and seconds >= size):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def plan_export_job(work: Planning, doc: ExportJobDoc) -> None:
    address = doc.address
    intent = pending_addresses(work).get(address)
    if intent is not None:
        _pending_finding(work, address, intent)
        return
    wanted = fingerprint(doc)
    canonical = canonical_request(doc)
    dataset_address, dataset_id, depends = destination(work, doc)
    if dataset_address is not None and work.dataset_plans.get(dataset_address) == "ambiguous":
        work.find(
            address,
            BLOCKED,
            f"its destination {dataset_address} is ambiguous (see its finding); nothing is "
            "sent for this document until that is settled",
            {"needs": [dataset_address]},
        )
        return
    problem = destination_problem(work, doc, dataset_address, dataset_id)
    if problem is not None:
        work.find(address, BLOCKED, problem, {"datasetId": dataset_id})
        return
    res = work.state.export_job(address)
    newest = res.newest_run() if res is not None else None
    if res is None or newest is None:
        _plan_first_run(work, doc, canonical, depends)
        return
    # Never a second DELETE: a run this tool asked to cancel is only waited on.
    cancel = newest.jobId if work.in_flight(newest) and not cancel_asked(newest) else None
    if newest.fingerprint != wanted:
        diff = field_changes(res.request, canonical)
        paths = ", ".join(c.path for c in diff) or "the request"
        work.act(
            GROUP_JOB,
            Action(
                address,
                "exportjob",
                "replace",
                f"the spec changed ({paths})",
                diff=diff,
                request=canonical,
                cancel_job_id=cancel,
                depends_on=depends,
            ),
        )
        return
    recreated = _dataset_recreated(work, dataset_address, dataset_id, newest)
    if recreated:
        work.act(
            GROUP_JOB,
            Action(
                address,
                "exportjob",
                "replace",
                recreated,
                request=canonical,
                cancel_job_id=cancel,
                depends_on=depends,
            ),
        )
        return
    _plan_same_spec(work, doc, newest, canonical, cancel)


def destination_problem(
    work: Planning, doc: ExportJobDoc, dataset_address: str | None, dataset_id: str | None
) -> str | None:
    """Why the platform would refuse this job's destination, found in the refresh's listing.

    Checked at plan time so apply never fails halfway on it: a `datasetId` the Catalog does not
    list, and a destination dataset not based on the XDM Individual Profile union schema (the
    only schema an export job writes into).
    """
    if dataset_id is None or dataset_address is not None:
        # a Dataset document: `validate` checks its schema offline, and its own plan re-creates
        # it when it is gone
        return None
    live = work.live.datasets.get(dataset_id)
    if live is None:
        return (
            f"its destination dataset {dataset_id} does not exist in this sandbox (the Catalog "
            "lists no such dataset); fix spec.destination.datasetId, or name a Dataset document "
            "with spec.destination.dataset"
        )
    if live.schema_id is not None and live.schema_id != PROFILE_UNION_SCHEMA:
        return (
            f"its destination dataset {dataset_id} is based on {live.schema_id}; an export job "
            f"writes only into a dataset of the {PROFILE_UNION_SCHEMA} schema: choose another "
            "dataset"
        )
    return None


def _pending_finding(work: Planning, address: str, intent_id: str) -> None:
    """Whatever the document asks, nothing before the earlier create is settled: it may have
    made a job, and a second one would be a twin."""
    intent = next(i for i in work.state.pending if i.id == intent_id)
    made = [
        c.job_id
        for c in adoption_candidates(work).values()
        if (intent.watermarkJobId is None or c.job_id > intent.watermarkJobId)
        and request_matches(intent.request, c.request, policy_id=False)
    ]
    text = f"an earlier create's outcome is not known yet (intent {intent_id})"
    if len(made) > 1:
        ids = ", ".join(str(j) for j in sorted(made))
        text += (
            f": jobs {ids} could each be what it made; not guessed: "
            f"'{import_command(address, min(made))}' (or another of the ids) settles it"
        )
    elif made:
        text += f": job {made[0]} may be what it made; 'reconciler apply' adopts it"
    else:
        text += "; 'reconciler apply' looks for the job it made before anything is sent again"
    work.find(
        address,
        BLOCKED,
        text,
        {
            "intent": intent_id,
            "jobIds": sorted(made),
            "commands": [import_command(address, j) for j in sorted(made)],
        },
    )


def _dataset_recreated(
    work: Planning, dataset_address: str | None, dataset_id: str | None, run: Run
) -> str | None:
    if dataset_address is not None:
        planned = work.dataset_plans.get(dataset_address)
        if planned == "replace":
            return f"its destination {dataset_address} is replaced; a new run writes into the new dataset"
        if planned == "create":
            return f"its destination {dataset_address} is created again; a new run writes into it"
    if dataset_id is not None and run.datasetId is not None and run.datasetId != dataset_id:
        return f"its destination dataset changed from {run.datasetId} to {dataset_id}"
    return None


def _plan_first_run(
    work: Planning, doc: ExportJobDoc, canonical: Mapping[str, Any], depends: tuple[str, ...]
) -> None:
    address = doc.address
    if address in work.ambiguous:
        return  # held back: the finding names the jobs and the import that settles it
    match = work.adoptions.get(address)
    if match is not None:
        if address in work.replace:
            work.find(
                address,
                BLOCKED,
                f"--replace: live job {match.job_id} ({match.status}) was made from this "
                "document and is adopted first; after this apply, 'reconciler apply --replace "
                f"{address}' starts the new run",
                {"action": "rerun", "adoptId": match.job_id},
            )
        work.act(
            GROUP_JOB,
            Action(
                address,
                "exportjob",
                "adopt",
                f"live job {match.job_id} ({match.status}) was made from this request; take it into state",
                request=canonical,
                adopt_id=str(match.job_id),
                depends_on=depends,
            ),
        )
        return
    work.act(
        GROUP_JOB,
        Action(
            address, "exportjob", "create", "new document", request=canonical, depends_on=depends
        ),
    )


def _plan_same_spec(
    work: Planning, doc: ExportJobDoc, run: Run, canonical: Mapping[str, Any], cancel: int | None
) -> None:
    address = doc.address
    live_run = work.live.runs.get(run.jobId)
    status = live_run.status if live_run is not None else run.status
    planned: list[Action] = []

    def rerun(reason: str) -> None:
        planned.append(Action(address, "exportjob", "rerun", reason, request=canonical))

    if run.jobId in work.live.missing_runs:
        work.find(
            address, "missing", f"job {run.jobId} is gone from the platform", {"jobId": run.jobId}
        )
        rerun(f"rerun: job {run.jobId} is missing")
        status = "missing"
    elif not is_terminal(status):
        planned.append(Action(address, "exportjob", "wait", f"job {run.jobId} is {status}"))
    elif status == "FAILED":
        errors = [dict(e) for e in live_run.errors] if live_run is not None else []
        work.find(
            address, "failed", f"job {run.jobId} FAILED", {"jobId": run.jobId, "errors": errors}
        )
        if doc.spec.onFailure == "retry":
            rerun("rerun: failed (onFailure: retry)")
        elif doc.spec.refresh is not None:
            # report: no immediate retry; the schedule still holds, counted from the failed run
            age = work.now - finished_at(run, live_run)
            if age >= doc.spec.refresh:
                rerun(
                    f"refresh due: job {run.jobId} FAILED {human(age)} ago (onFailure: report), "
                    f"refresh every {human(doc.spec.refresh)}"
                )
    elif is_cancelled(status):
        if not cancel_asked(run):
            work.find(
                address,
                "cancelled",
                f"job {run.jobId} was cancelled outside reconciler",
                {"jobId": run.jobId},
            )
            rerun(f"rerun: job {run.jobId} was cancelled outside reconciler")
        else:
            rerun(f"rerun: job {run.jobId} was cancelled by reconciler")
    elif status == "SUCCEEDED" and doc.spec.refresh is not None:
        age = work.now - finished_at(run, live_run)
        if age >= doc.spec.refresh:
            rerun(
                f"refresh due: last success {human(age)} ago, refresh every {human(doc.spec.refresh)}"
            )
    if address in work.replace:
        planned = [_requested(address, run.jobId, status, canonical, cancel)]
    for action in planned:
        work.act(GROUP_JOB, action)


def _requested(
    address: str, job_id: int, status: str, canonical: Mapping[str, Any], cancel: int | None
) -> Action:
    """plan/apply --replace: a new run of the current spec, whatever the current run did.

    A run still in flight is cancelled first (as a spec change does): the user asked for a new
    run now, and two runs of one document writing at once would leave two batches to choose from.
    A run whose cancel this tool already asked is not asked again.
    """
    if cancel is not None:
        now = f"job {job_id} is {status}"  # the plan says `cancels job N` beside it
    elif not is_terminal(status) and status != "missing":
        now = f"job {job_id} is {status}, its cancel already asked"
    else:
        now = f"last run job {job_id} {status}"
    return Action(
        address,
        "exportjob",
        "rerun",
        f"rerun: requested (--replace; {now})",
        request=canonical,
        cancel_job_id=cancel,
    )


def finished_at(run: Run, live_run: LiveRun | None) -> datetime:
    """When the run ended: as recorded, else the platform's last update, else its creation."""
    if run.finishedAt is not None:
        return run.finishedAt
    if live_run is not None and live_run.updated_ms is not None:
        return datetime.fromtimestamp(live_run.updated_ms / 1000, UTC)
    return run.createdAt
