"""The planner's adoption rules, decided for every export job document at once (docs/engine.md).

A live job is adopted only when it is the one job that could answer its document and that
document is the only one it could answer. Anything else is not guessed: the addresses are held
back with a finding naming the jobs and the `reconciler import` command that settles them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.engine.plan_context import (
    AMBIGUOUS,
    BLOCKED,
    Candidate,
    Planning,
    import_command,
)
from reconciler.spec.canonical import (
    fingerprint,
    normal_forms_agree,
    normalize_request,
    request_body,
    request_matches,
)
from reconciler.spec.models import ExportJobDoc
from reconciler.state.models import ExportJobResource


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
            and request_matches(i.request, c.request, policy_id=False)
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
