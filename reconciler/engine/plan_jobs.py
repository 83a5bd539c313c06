"""The planner's export job rules: create, adopt, replace, rerun, wait (docs/engine.md).

Adoption is decided for every document at once: a live job is adopted only when it is the one
job that could answer its document and that document is the only one it could answer. Anything
else is not guessed: the addresses are held back with a finding naming the jobs and the
`reconciler import` command that settles them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.engine.model import Action, LiveRun, field_changes, is_terminal
from reconciler.engine.plan_context import (
    AMBIGUOUS,
    BLOCKED,
    GROUP_JOB,
    Candidate,
    Planning,
    cancel_asked,
    import_command,
    is_cancelled,
)
from reconciler.spec.canonical import (
    canonical_request,
    fingerprint,
    normal_forms_agree,
    normalize_request,
    request_body,
    request_matches,
)
from reconciler.spec.models import PROFILE_UNION_SCHEMA, ExportJobDoc
from reconciler.state.models import ExportJobResource, Run


def human(delta: timedelta) -> str:
    """`25h`, `90m`, `3d`: the largest unit that still reads naturally (hours up to two days)."""
    seconds = max(int(delta.total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size or (unit == "m" and seconds >= size):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def destination(
    work: Planning, doc: ExportJobDoc
) -> tuple[str | None, str | None, tuple[str, ...]]:
    """The dataset address (if managed), its id when known now, and what the job waits for.

    A dataset the plan creates, replaces or adopts is a prerequisite: the job cannot be sent
    (or its old run cancelled) before that dataset is in state.
    """
    dest = doc.spec.destination
    if dest.datasetId is not None:
        return None, dest.datasetId, ()
    address = f"dataset/{dest.dataset}"
    planned = work.dataset_plans.get(address)
    if planned in ("create", "replace"):
        return address, None, (address,)
    if planned == "adopt":
        return address, work.dataset_ids.get(address), (address,)
    if address in work.dataset_ids:
        return address, work.dataset_ids[address], ()
    res = work.state.dataset(address)
    return address, (res.datasetId if res is not None else None), ()


# Adoption


def adoption_candidates(work: Planning) -> dict[int, Candidate]:
    """Live jobs no run claims: read by this refresh, or remembered from an earlier one.

    Incremental refreshes list only jobs newer than the watermark; the observations keep the
    older ones with their request, so a plan adopts the same job under either refresh.
    """
    skip = work.claimed_jobs | set(work.unreadable) | set(work.live.missing_runs)
    found = {
        job_id: Candidate(job_id, run.status, run.created_ms, run.request)
        for job_id, run in work.live.runs.items()
        if job_id not in skip
    }
    for job_id, seen in work.state.observed.unmanagedJobs.items():
        if job_id not in skip and job_id not in found and seen.request is not None:
            found[job_id] = Candidate(job_id, seen.status, seen.createdMs, seen.request)
    return found


def decide_adoptions(work: Planning) -> None:
    """Which document adopts which live job; the rest create, or are held back as ambiguous."""
    wanting: dict[str, dict[str, Any]] = {}
    prints: dict[str, str] = {}
    pending = pending_addresses(work)
    for name in sorted(work.specs.export_jobs):
        doc = work.specs.export_jobs[name]
        res = work.state.export_job(doc.address)
        if res is not None and res.runs:
            continue  # it has runs: a first run is never adopted again
        _, dataset_id, _ = destination(work, doc)
        if dataset_id is not None:
            wanting[doc.address] = normalize_request(request_body(doc, dataset_id))
            prints[doc.address] = fingerprint(doc)
    if not wanting:
        return
    candidates = _not_pending(work, adoption_candidates(work))
    jobs_of: dict[str, list[int]] = {a: [] for a in wanting}
    docs_of: dict[int, list[str]] = {}
    for job_id in sorted(candidates):
        written_to = _dataset_of(candidates[job_id].request)
        for address, body in wanting.items():
            # the destination is always carried: a cheap test before the full comparison
            if written_to not in (None, body["destination"]["datasetId"]):
                continue
            # both sides are normal forms already (LiveRun.request, observed requests)
            if normal_forms_agree(body, candidates[job_id].request):
                jobs_of[address].append(job_id)
                docs_of.setdefault(job_id, []).append(address)
    unknown = _requests_unknown(work)
    for address, jobs in jobs_of.items():
        if address in pending:
            continue  # a pending address counts as a document a job could answer, adopts none
        if not jobs:
            maybe = [
                job_id
                for job_id, known in unknown.get(wanting[address]["destination"]["datasetId"], [])
                if known is None or known == prints[address]
            ]
            if maybe:
                work.ambiguous.add(address)  # no create: it could be a twin
                _unknown_request_finding(work, address, maybe)
            continue
        if len(jobs) == 1 and docs_of[jobs[0]] == [address]:
            work.adoptions[address] = candidates[jobs[0]]
            work.adopted_jobs.add(jobs[0])
            continue
        work.ambiguous.add(address)
        _ambiguity_finding(work, address, jobs, docs_of, candidates)


def _requests_unknown(work: Planning) -> dict[str, list[tuple[int, str | None]]]:
    """Unmanaged jobs remembered without their request (state written before requests were
    kept, or an older spec's run let go by `state rm`), by the dataset they write into, with
    the fingerprint the history knows them by (None: nothing says whose they are)."""
    skip = work.claimed_jobs | work.adopted_jobs | set(work.unreadable) | set(work.live.runs)
    unknown = {
        job_id: seen
        for job_id, seen in work.state.observed.unmanagedJobs.items()
        if seen.request is None and seen.datasetId is not None and job_id not in skip
    }
    if not unknown:
        return {}
    known = {
        run.jobId: run.fingerprint
        for entry in work.state.retired
        if isinstance(entry.resource, ExportJobResource)
        for run in entry.resource.runs
        if run.jobId in unknown
    }
    out: dict[str, list[tuple[int, str | None]]] = {}
    for job_id, seen in sorted(unknown.items()):
        assert seen.datasetId is not None
        out.setdefault(seen.datasetId, []).append((job_id, known.get(job_id)))
    return out


def _unknown_request_finding(work: Planning, address: str, jobs: list[int]) -> None:
    ids = ", ".join(str(j) for j in jobs)
    several = len(jobs) > 1
    what = f"unmanaged jobs {ids} write" if several else f"unmanaged job {ids} writes"
    were, they = ("were", "they") if several else ("was", "it")
    work.find(
        address,
        BLOCKED,
        f"{what} into this document's dataset and {were} seen before requests were "
        f"remembered, so {they} may be this document's: 'reconciler plan --refresh=full --out "
        "plan.json' then 'reconciler apply plan.json' reads them again and adopts or creates "
        f"(or '{import_command(address, jobs[0])}')",
        {"jobIds": jobs},
    )


def _dataset_of(request: Mapping[str, Any]) -> Any:
    destination = request.get("destination")
    return destination.get("datasetId") if isinstance(destination, Mapping) else None


def pending_addresses(work: Planning) -> dict[str, str]:
    """Export job addresses with a write-ahead intent not resolved yet -> the intent's id."""
    return {i.address: i.id for i in work.state.pending if i.kind == "exportjob"}


def _not_pending(work: Planning, candidates: dict[int, Candidate]) -> dict[int, Candidate]:
    """Leave the jobs an unresolved create may have made to that create's resolution.

    Adopting one for a document would hold one live record for two documents, and the
    intent, finding it claimed, would be sent again.
    """
    intents = [i for i in work.state.pending if i.kind == "exportjob"]
    if not intents:
        return candidates
    return {
        job_id: c
        for job_id, c in candidates.items()
        if not any(
            (i.watermarkJobId is None or job_id > i.watermarkJobId)
            and request_matches(i.request, c.request)
            for i in intents
        )
    }


def _ambiguity_finding(
    work: Planning,
    address: str,
    jobs: list[int],
    docs_of: Mapping[int, list[str]],
    candidates: Mapping[int, Candidate],
) -> None:
    others = sorted({a for j in jobs for a in docs_of[j]} - {address})
    ids = ", ".join(str(j) for j in jobs)
    if len(jobs) > 1:
        what = f"live jobs {ids} could each have been made from this document"
    else:
        what = f"live job {ids} could have been made from this document"
    commands = [import_command(address, j) for j in jobs]
    if others:
        what += f" or from {', '.join(others)}"
        alternative = f" (or '{import_command(others[0], jobs[0])}')"
    else:
        alternative = " (or another of the ids)" if len(jobs) > 1 else ""
    work.find(
        address,
        AMBIGUOUS,
        f"{what}; not guessed: nothing is created or adopted here until "
        f"'{commands[0]}'{alternative} says whose it is",
        {
            "jobIds": jobs,
            "documents": [address, *others],
            "statuses": {str(j): candidates[j].status for j in jobs},
            "commands": commands,
        },
    )


# Per document


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
        and request_matches(intent.request, c.request)
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
