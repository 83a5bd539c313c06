"""The pure planner: (desired documents, state, live snapshot) -> Plan. No I/O, clock or randomness.

The semantics are written down in docs/engine.md; this module is their only implementation.
`record_observations` is the other pure half: it folds a snapshot's facts into the state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from reconciler.engine.model import (
    Action,
    DriftFinding,
    LiveRun,
    LiveSnapshot,
    Plan,
    field_changes,
    is_terminal,
)
from reconciler.errors import ReconcilerError
from reconciler.spec.canonical import (
    canonical_request,
    fingerprint,
    request_body,
    request_matches,
)
from reconciler.spec.models import DatasetDoc, ExportJobDoc
from reconciler.state.models import (
    BatchRef,
    DatasetResource,
    ExportJobResource,
    Run,
    State,
    UnmanagedJob,
)

# Every dataset the tool creates carries its address here, so a lost create can be found again.
ADDRESS_TAG = "reconciler/address"
# Tags the platform itself sets or reserves: never compared, never sent back.
_RESERVED_TAG_PREFIXES = ("adobe", "unifiedProfile", "unifiedIdentity")

_GROUP_DATASET, _GROUP_JOB, _GROUP_REMOVE = 0, 1, 2


class DesiredSpecs(Protocol):
    """What the planner reads of a loaded `SpecSet`."""

    @property
    def datasets(self) -> Mapping[str, DatasetDoc]: ...

    @property
    def export_jobs(self) -> Mapping[str, ExportJobDoc]: ...

    @property
    def digest(self) -> str: ...


class UnknownTarget(ReconcilerError):
    """A --target address that names no document and no state entry."""


def unmanaged_address(kind: str, live_id: str | int) -> str:
    """How a live object no document claims is named in findings: `dataset@<id>`, `exportjob@<id>`."""
    return f"{kind}@{live_id}"


def dataset_request(doc: DatasetDoc) -> dict[str, Any]:
    """The Catalog body that creates the dataset of `doc`, ownership tag included."""
    body: dict[str, Any] = {
        "name": doc.spec.name,
        "schemaRef": doc.spec.schemaRef.model_dump(),
        "fileDescription": doc.spec.fileDescription.model_dump(),
        "tags": _desired_tags(doc),
    }
    if doc.spec.description is not None:
        body["description"] = doc.spec.description
    return body


def _desired_tags(doc: DatasetDoc) -> dict[str, list[str]]:
    tags = {k: sorted(v) for k, v in doc.spec.tags.items()}
    tags[ADDRESS_TAG] = [doc.address]
    return dict(sorted(tags.items()))


def _managed_tags(tags: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    return {
        k: sorted(v) for k, v in sorted(tags.items()) if not k.startswith(_RESERVED_TAG_PREFIXES)
    }


def _dataset_fields(
    name: str, description: str | None, tags: Mapping[str, Iterable[str]]
) -> dict[str, Any]:
    # "" and no description are the same to a reader (and the only way to clear one by PATCH)
    return {"name": name, "description": description or None, "tags": _managed_tags(tags)}


def _human(delta: timedelta) -> str:
    """`25h`, `90m`, `3d`: the largest unit that still reads naturally (hours up to two days)."""
    seconds = max(int(delta.total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size or (unit == "m" and seconds >= size):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass
class _Planning:
    """The mutable scratch of one make_plan call (never escapes it)."""

    specs: DesiredSpecs
    state: State
    live: LiveSnapshot
    now: datetime
    actions: list[tuple[int, Action]] = field(default_factory=list)
    findings: list[DriftFinding] = field(default_factory=list)
    # dataset address -> "create" | "replace" | "adopt", and the id once known
    dataset_plans: dict[str, str] = field(default_factory=dict)
    dataset_ids: dict[str, str] = field(default_factory=dict)
    adopted_jobs: set[int] = field(default_factory=set)
    adopted_datasets: set[str] = field(default_factory=set)
    # every job id a state run records, gathered once: with a long history it is 100,000 ids
    claimed_jobs: set[int] = field(default_factory=set)

    def act(self, group: int, action: Action) -> None:
        self.actions.append((group, action))

    def find(self, address: str, finding: Any, reason: str, evidence: Mapping[str, Any]) -> None:
        self.findings.append(DriftFinding(address, finding, reason, dict(evidence)))


def make_plan(
    specs: DesiredSpecs,
    state: State,
    live: LiveSnapshot,
    *,
    now: datetime,
    targets: Iterable[str] = (),
    refresh_only: bool = False,
) -> Plan:
    """Compare the documents with state and the live snapshot; return the actions and drift."""
    targets = tuple(sorted(set(targets)))
    _check_targets(specs, state, targets)
    work = _Planning(specs, state, live, now, claimed_jobs=state.claimed_job_ids())
    for name in sorted(specs.datasets):
        _plan_dataset(work, specs.datasets[name])
    for name in sorted(specs.export_jobs):
        _plan_export_job(work, specs.export_jobs[name])
    _plan_removed(work)
    _find_unmanaged(work)
    actions = sorted(work.actions, key=lambda ga: (ga[0], ga[1].address))
    chosen = [a for _, a in actions]
    findings = sorted(work.findings, key=lambda f: (f.address, f.finding))
    if targets:
        chosen = _with_dependencies(chosen, targets)
        findings = [f for f in findings if f.address in targets]
    return Plan(
        actions=() if refresh_only else tuple(chosen),
        findings=tuple(findings),
        state_lineage=state.lineage,
        state_serial=state.serial,
        spec_digest=specs.digest,
        live_digest=live.digest(),
        refresh_only=refresh_only,
        targets=targets,
        refresh="full" if live.full else "incremental",
        live_facts=live.fact_index(),
    )


def _check_targets(specs: DesiredSpecs, state: State, targets: tuple[str, ...]) -> None:
    known = set(state.resources)
    known.update(doc.address for doc in specs.datasets.values())
    known.update(doc.address for doc in specs.export_jobs.values())
    unknown = [t for t in targets if t not in known]
    if unknown:
        raise UnknownTarget(
            f"--target {unknown[0]} names no document and no state entry; "
            "use an address such as exportjob/<name> (see 'reconciler state list')"
        )


def _with_dependencies(actions: list[Action], targets: tuple[str, ...]) -> list[Action]:
    wanted = set(targets)
    for action in actions:
        if action.address in targets:
            wanted.update(action.depends_on)
    return [a for a in actions if a.address in wanted]


# Datasets


def _plan_dataset(work: _Planning, doc: DatasetDoc) -> None:
    address = doc.address
    res = work.state.dataset(address)
    body = dataset_request(doc)
    if res is None:
        found = _tagged_dataset(work, address)
        if found is not None:
            live_ds = work.live.datasets[found]
            work.adopted_datasets.add(found)
            work.dataset_plans[address] = "adopt"
            work.dataset_ids[address] = found
            work.act(
                _GROUP_DATASET,
                Action(
                    address,
                    "dataset",
                    "adopt",
                    f"live dataset {found} is tagged {ADDRESS_TAG}={address}; take it into state",
                    diff=field_changes(
                        _dataset_fields(live_ds.name, live_ds.description, live_ds.tags),
                        _dataset_fields(doc.spec.name, doc.spec.description, body["tags"]),
                    ),
                    request=body,
                    adopt_id=found,
                ),
            )
            return
        work.dataset_plans[address] = "create"
        work.act(_GROUP_DATASET, Action(address, "dataset", "create", "new document", request=body))
        return
    if res.datasetId not in work.live.datasets:
        work.find(
            address,
            "missing",
            f"dataset {res.datasetId} is gone from the platform",
            {"datasetId": res.datasetId},
        )
        work.dataset_plans[address] = "create"
        work.act(
            _GROUP_DATASET,
            Action(
                address,
                "dataset",
                "create",
                f"dataset {res.datasetId} was deleted outside reconciler; create it again",
                request=body,
            ),
        )
        return
    if doc.spec.schemaRef.id != res.schemaId:
        work.dataset_plans[address] = "replace"
        work.act(
            _GROUP_DATASET,
            Action(
                address,
                "dataset",
                "replace",
                "the schema cannot change in place: a new dataset is created and "
                f"{res.datasetId} is orphaned (needs --confirm-replace-dataset)",
                diff=field_changes(
                    {"schemaRef": {"id": res.schemaId}},
                    {"schemaRef": {"id": doc.spec.schemaRef.id}},
                ),
                request=body,
            ),
        )
        return
    work.dataset_ids[address] = res.datasetId
    _plan_dataset_update(work, doc, res, body)


def _plan_dataset_update(
    work: _Planning, doc: DatasetDoc, res: DatasetResource, body: Mapping[str, Any]
) -> None:
    address = doc.address
    live_ds = work.live.datasets[res.datasetId]
    recorded = _dataset_fields(res.name, res.description, res.tags)
    seen = _dataset_fields(live_ds.name, live_ds.description, live_ds.tags)
    desired = _dataset_fields(doc.spec.name, doc.spec.description, body["tags"])
    changes = _update_request(
        doc, body, live_ds.tags, baseline=seen if seen != recorded else recorded
    )
    if seen != recorded:
        drift = field_changes(recorded, seen)
        work.find(
            address,
            "modified",
            f"dataset {res.datasetId} was changed outside reconciler ({', '.join(c.path for c in drift)})",
            {"datasetId": res.datasetId, "changes": [c.to_dict() for c in drift]},
        )
        work.act(
            _GROUP_DATASET,
            Action(
                address,
                "dataset",
                "update",
                "set the fields changed outside reconciler back to the document",
                diff=field_changes(seen, desired),
                request=changes,
            ),
        )
    elif desired != recorded:
        work.act(
            _GROUP_DATASET,
            Action(
                address,
                "dataset",
                "update",
                "the document changed",
                diff=field_changes(recorded, desired),
                request=changes,
            ),
        )


def _update_request(
    doc: DatasetDoc,
    body: Mapping[str, Any],
    live_tags: Mapping[str, Iterable[str]],
    *,
    baseline: Mapping[str, Any],
) -> dict[str, Any]:
    """The PATCH (merge) body: every field the tool manages, so state can record all of them."""
    # A merge replaces `tags` whole: keep the platform's own tags or the PATCH would drop them.
    reserved = {k: list(v) for k, v in live_tags.items() if k.startswith(_RESERVED_TAG_PREFIXES)}
    changes: dict[str, Any] = {
        "name": doc.spec.name,
        "tags": dict(sorted({**body["tags"], **reserved}.items())),
    }
    if doc.spec.description:
        changes["description"] = doc.spec.description
    elif baseline["description"]:
        changes["description"] = ""  # Catalog takes no null; an empty text clears it
    return changes


def _tagged_dataset(work: _Planning, address: str) -> str | None:
    # Only datasets a managed resource holds are off limits: one retired from this address (its
    # document was removed, then written again) carries this address's tag and is taken back.
    claimed = {r.datasetId for r in work.state.resources.values() if isinstance(r, DatasetResource)}
    tagged = [
        ds
        for ds in work.live.datasets.values()
        if list(ds.tags.get(ADDRESS_TAG, ())) == [address] and ds.id not in claimed
    ]
    if not tagged:
        return None
    # The oldest one: a second copy can only come from a duplicate create.
    return min(tagged, key=lambda ds: (ds.created_ms or 0, ds.id)).id


# Export jobs


def _plan_export_job(work: _Planning, doc: ExportJobDoc) -> None:
    address = doc.address
    wanted = fingerprint(doc)
    canonical = canonical_request(doc)
    dataset_address, dataset_id, depends = _destination(work, doc)
    res = work.state.export_job(address)
    newest = res.newest_run() if res is not None else None
    if res is None or newest is None:
        _plan_first_run(work, doc, canonical, dataset_id, depends)
        return
    in_flight = _in_flight(work, newest)
    cancel = newest.jobId if in_flight else None
    if newest.fingerprint != wanted:
        diff = field_changes(res.request, canonical)
        paths = ", ".join(c.path for c in diff) or "the request"
        work.act(
            _GROUP_JOB,
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
            _GROUP_JOB,
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
    _plan_same_spec(work, doc, newest, canonical)


def _destination(
    work: _Planning, doc: ExportJobDoc
) -> tuple[str | None, str | None, tuple[str, ...]]:
    """The dataset address (if managed), its id when known now, and what the job waits for."""
    dest = doc.spec.destination
    if dest.datasetId is not None:
        return None, dest.datasetId, ()
    address = f"dataset/{dest.dataset}"
    planned = work.dataset_plans.get(address)
    if planned in ("create", "replace"):
        return address, None, (address,)
    if address in work.dataset_ids:
        return address, work.dataset_ids[address], ()
    res = work.state.dataset(address)
    return address, (res.datasetId if res is not None else None), ()


def _dataset_recreated(
    work: _Planning, dataset_address: str | None, dataset_id: str | None, run: Run
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
    work: _Planning,
    doc: ExportJobDoc,
    canonical: Mapping[str, Any],
    dataset_id: str | None,
    depends: tuple[str, ...],
) -> None:
    address = doc.address
    if dataset_id is not None:
        match = _matching_live_job(work, request_body(doc, dataset_id))
        if match is not None:
            work.adopted_jobs.add(match.job_id)
            work.act(
                _GROUP_JOB,
                Action(
                    address,
                    "exportjob",
                    "adopt",
                    f"live job {match.job_id} ({match.status}) was made from this request; take it into state",
                    request=canonical,
                    adopt_id=str(match.job_id),
                ),
            )
            return
    work.act(
        _GROUP_JOB,
        Action(
            address, "exportjob", "create", "new document", request=canonical, depends_on=depends
        ),
    )


def _matching_live_job(work: _Planning, resolved: Mapping[str, Any]) -> LiveRun | None:
    # request_matches, like crash recovery: the platform fills in what the spec left out (a
    # default merge policy, its newest version), so strict equality would create a twin.
    matches = [
        run
        for run in work.live.runs.values()
        if run.job_id not in work.claimed_jobs
        and run.job_id not in work.adopted_jobs
        and request_matches(resolved, run.request)
    ]
    if not matches:
        return None
    # Prefer a run that is or may become a success; then the newest.
    return min(
        matches,
        key=lambda r: (r.status in ("FAILED", "CANCELLED"), -r.created_ms, r.job_id),
    )


def _in_flight(work: _Planning, run: Run) -> bool:
    if run.jobId in work.live.missing_runs:
        return False
    live_run = work.live.runs.get(run.jobId)
    return not is_terminal(live_run.status if live_run is not None else run.status)


def _plan_same_spec(
    work: _Planning, doc: ExportJobDoc, run: Run, canonical: Mapping[str, Any]
) -> None:
    address = doc.address
    live_run = work.live.runs.get(run.jobId)
    status = live_run.status if live_run is not None else run.status

    def rerun(reason: str) -> None:
        work.act(_GROUP_JOB, Action(address, "exportjob", "rerun", reason, request=canonical))

    if run.jobId in work.live.missing_runs:
        work.find(
            address, "missing", f"job {run.jobId} is gone from the platform", {"jobId": run.jobId}
        )
        rerun(f"rerun: job {run.jobId} is missing")
    elif not is_terminal(status):
        work.act(_GROUP_JOB, Action(address, "exportjob", "wait", f"job {run.jobId} is {status}"))
    elif status == "FAILED":
        errors = [dict(e) for e in live_run.errors] if live_run is not None else []
        work.find(
            address, "failed", f"job {run.jobId} FAILED", {"jobId": run.jobId, "errors": errors}
        )
        if doc.spec.onFailure == "retry":
            rerun("rerun: failed (onFailure: retry)")
    elif status == "CANCELLED":
        if run.cancelledAt is None:
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
        finished = _finished_at(run, live_run)
        age = work.now - finished
        if age >= doc.spec.refresh:
            rerun(
                f"refresh due: last success {_human(age)} ago, refresh every {_human(doc.spec.refresh)}"
            )


def _finished_at(run: Run, live_run: LiveRun | None) -> datetime:
    if run.finishedAt is not None:
        return run.finishedAt
    if live_run is not None and live_run.updated_ms is not None:
        return datetime.fromtimestamp(live_run.updated_ms / 1000, UTC)
    return run.createdAt


# Removed documents and unmanaged objects


def _plan_removed(work: _Planning) -> None:
    documents = {d.address for d in work.specs.datasets.values()}
    documents.update(d.address for d in work.specs.export_jobs.values())
    for address in sorted(set(work.state.resources) - documents):
        res = work.state.resources[address]
        if isinstance(res, ExportJobResource):
            newest = res.newest_run()
            if newest is not None and _in_flight(work, newest) and newest.cancelledAt is not None:
                # asked already; the platform is still winding the job down
                reason = f"document removed; cancellation of job {newest.jobId} is under way"
                work.act(_GROUP_JOB, Action(address, "exportjob", "wait", reason))
            elif newest is not None and _in_flight(work, newest):
                work.act(
                    _GROUP_JOB,
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
                    _GROUP_REMOVE,
                    Action(
                        address, "exportjob", "forget", "document removed; its runs are finished"
                    ),
                )
        elif res.deletionPolicy == "Delete" and res.datasetId in work.live.datasets:
            work.act(
                _GROUP_REMOVE,
                Action(
                    address,
                    "dataset",
                    "delete",
                    f"document removed and deletionPolicy is Delete: dataset {res.datasetId} is deleted",
                ),
            )
        else:
            reason = (
                f"document removed; dataset {res.datasetId} is left in place (deletionPolicy Orphan)"
                if res.deletionPolicy == "Orphan"
                else f"document removed; dataset {res.datasetId} is already gone"
            )
            work.act(_GROUP_REMOVE, Action(address, "dataset", "forget", reason))


def _find_unmanaged(work: _Planning) -> None:
    state, live = work.state, work.live
    referenced = {
        d.spec.destination.datasetId
        for d in work.specs.export_jobs.values()
        if d.spec.destination.datasetId
    }
    claimed = state.claimed_dataset_ids() | work.adopted_datasets | referenced
    for ds in live.datasets.values():
        if ds.id in claimed:
            continue
        work.find(
            unmanaged_address("dataset", ds.id),
            "unmanaged",
            f"dataset {ds.id} '{ds.name}' is claimed by no document; 'reconciler import' can adopt it",
            {"datasetId": ds.id, "name": ds.name},
        )
    taken = work.claimed_jobs | work.adopted_jobs
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
        return {
            "jobId": job_id,
            "status": seen.status,
            "createdMs": seen.createdMs,
            "datasetId": seen.datasetId,
        }
    return {"jobId": job_id, "status": "unknown"}


def record_observations(state: State, live: LiveSnapshot) -> State:
    """Fold what a refresh saw into the state: run statuses and batches, unmanaged jobs, watermark.

    Pure: returns a new State for the caller to write. Runs in `live.missing_runs` keep their last
    known status (the plan reports them as `missing`).
    """
    resources: dict[str, Any] = {}
    seen = live.runs.keys()
    for address, res in state.resources.items():
        # Only resources with a run this refresh saw get a new object; the rest stay the same
        # objects, so comparing and journaling the result costs what changed, not the history.
        if isinstance(res, ExportJobResource) and any(run.jobId in seen for run in res.runs):
            runs = [
                _observed_run(run, live.runs[run.jobId]) if run.jobId in seen else run
                for run in res.runs
            ]
            res = res.model_copy(update={"runs": runs})
        resources[address] = res
    claimed = state.claimed_job_ids()
    unmanaged = {k: v for k, v in state.observed.unmanagedJobs.items() if k not in claimed}
    for job_id, run in live.runs.items():
        if job_id not in claimed:
            unmanaged[job_id] = UnmanagedJob(
                status=run.status, createdMs=run.created_ms, datasetId=run.dataset_id
            )
    listed = [live.runs[j].created_ms for j in live.new_jobs if j in live.runs]
    marks = [m for m in (state.observed.watermarkMs, live.watermark_ms, *listed) if m is not None]
    observed = state.observed.model_copy(
        update={
            "watermarkMs": max(marks) if marks else None,
            "unmanagedJobs": dict(sorted(unmanaged.items())),
        }
    )
    return state.model_copy(update={"resources": resources, "observed": observed})


def _observed_run(run: Run, live_run: LiveRun | None) -> Run:
    if live_run is None:
        return run
    update: dict[str, Any] = {
        "status": live_run.status,
        "batchId": live_run.batch_id,
        "batches": [BatchRef(segmentId=s, batchId=b) for s, b in live_run.batches],
        "datasetId": live_run.dataset_id or run.datasetId,
    }
    if is_terminal(live_run.status) and run.finishedAt is None:
        update["finishedAt"] = datetime.fromtimestamp(
            (live_run.updated_ms or live_run.created_ms) / 1000, UTC
        )
    return run.model_copy(update=update)
