"""Property: applying plans in a simulated platform converges and never duplicates a run.

The simulated apply below is the executor's contract in miniature (record observations, carry
out each action, record the result); the platform is a dict of datasets and jobs.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from plan_fixtures import NOW, Specs, dataset_doc, job_doc

from reconciler.engine.model import Action, LiveDataset, LiveRun, LiveSnapshot, Plan, is_terminal
from reconciler.engine.planner import make_plan, record_observations
from reconciler.spec.canonical import (
    canonical_request,
    fingerprint,
    normalize_request,
    request_body,
)
from reconciler.spec.models import PROFILE_UNION_SCHEMA, DatasetDoc, ExportJobDoc
from reconciler.state import DatasetResource, ExportJobResource, Run, State

OTHER_SCHEMA = "https://ns.adobe.com/tenant/schemas/other"
TERSE_DROPS = ("fields", "additionalFields")
FIELDS = ("identities.id", "identities.id,personalEmail.address", "person.name")


@dataclass
class World:
    """The simulated platform, and the documents the repository holds right now."""

    datasets: dict[str, LiveDataset] = field(default_factory=dict)
    jobs: dict[int, LiveRun] = field(default_factory=dict)
    docs: dict[str, DatasetDoc | ExportJobDoc] = field(default_factory=dict)
    clock_ms: int = int(NOW.timestamp() * 1000)
    next_id: int = 1
    posts: list[str] = field(default_factory=list)  # addresses of every job POST
    # job records as the Profile guide shows them: no fields, no additionalFields
    terse: bool = False

    def tick(self) -> int:
        self.clock_ms += 1000
        return self.clock_ms

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock_ms / 1000, UTC)

    def specs(self) -> Specs:
        return Specs(
            datasets={d.metadata.name: d for d in self.docs.values() if isinstance(d, DatasetDoc)},
            export_jobs={
                d.metadata.name: d for d in self.docs.values() if isinstance(d, ExportJobDoc)
            },
        )

    def snapshot(self, state: State) -> LiveSnapshot:
        mark = state.observed.watermarkMs
        runs = [
            r
            for res in state.resources.values()
            if isinstance(res, ExportJobResource)
            for r in res.runs
        ]
        listed = {j for j, run in self.jobs.items() if mark is None or run.created_ms >= mark}
        # like the real refresh: re-read only what state still believes is in flight
        in_flight = {r.jobId for r in runs if r.jobId in self.jobs and not is_terminal(r.status)}
        return LiveSnapshot(
            datasets=dict(self.datasets),
            runs={j: self.jobs[j] for j in listed | in_flight},
            missing_runs=frozenset(
                r.jobId for r in runs if r.jobId not in self.jobs and not is_terminal(r.status)
            ),
            new_jobs=tuple(sorted(listed)),
            watermark_ms=max((self.jobs[j].created_ms for j in listed), default=mark),
        )

    def full_snapshot(self, state: State) -> LiveSnapshot:
        """`--refresh=full`: every job listed, every recorded run re-read."""
        listed = dict(self.jobs)
        recorded = [
            r.jobId
            for res in state.resources.values()
            if isinstance(res, ExportJobResource)
            for r in res.runs
        ]
        return LiveSnapshot(
            datasets=dict(self.datasets),
            runs=listed,
            missing_runs=frozenset(j for j in recorded if j not in self.jobs),
            new_jobs=tuple(sorted(listed)),
            watermark_ms=max((r.created_ms for r in listed.values()), default=None),
            full=True,
        )

    def post_job(self, body: dict[str, object], address: str) -> LiveRun:
        job_id = self.next_id
        self.next_id += 1
        dest = body["destination"]
        assert isinstance(dest, dict)
        run = LiveRun(
            job_id=job_id,
            status="NEW",
            created_ms=self.tick(),
            dataset_id=str(dest["datasetId"]),
            request=normalize_request(
                {k: v for k, v in body.items() if not self.terse or k not in TERSE_DROPS}
            ),
        )
        self.jobs[job_id] = run
        self.posts.append(address)
        return run

    def post_dataset(self, body: dict[str, object]) -> LiveDataset:
        ds_id = f"{self.next_id:024x}"
        self.next_id += 1
        tags = body["tags"]
        schema = body["schemaRef"]
        assert isinstance(tags, dict) and isinstance(schema, dict)
        ds = LiveDataset(
            id=ds_id,
            name=str(body["name"]),
            description=body.get("description"),  # type: ignore[arg-type]
            tags={k: tuple(v) for k, v in tags.items()},
            schema_id=schema["id"],
            created_ms=self.tick(),
        )
        self.datasets[ds_id] = ds
        return ds

    def finish_all(self, outcome: str = "SUCCEEDED") -> None:
        for job_id, run in list(self.jobs.items()):
            if not run.terminal:
                self.jobs[job_id] = dataclasses.replace(
                    run, status=outcome, updated_ms=self.tick(), batch_id=f"batch-{job_id}"
                )


def apply(world: World, state: State, *, wait: bool = True) -> State:
    """One `apply --auto-approve [--wait]`: observe, plan, carry out, (let the runs finish,) observe."""
    state = record_observations(state, world.snapshot(state))
    plan = make_plan(world.specs(), state, world.snapshot(state), now=world.now())
    for action in plan.actions:
        state = carry_out(world, state, action)
    if wait:
        world.finish_all()
    return record_observations(state, world.snapshot(state))


def carry_out(world: World, state: State, action: Action) -> State:
    resources = dict(state.resources)
    doc = world.docs.get(action.address)
    now = world.now()
    if action.action == "forget":  # kept as history, as the executor does
        state = state.model_copy(deep=True)
        state.retire(action.address, reason="forget", at=now)
        return state
    if action.action == "delete":
        res = resources.pop(action.address)
        if isinstance(res, DatasetResource):
            world.datasets.pop(res.datasetId, None)
    elif action.kind == "dataset":
        assert isinstance(doc, DatasetDoc) and action.request is not None
        if action.action == "update":
            old = resources[action.address]
            assert isinstance(old, DatasetResource)
            live = world.datasets[old.datasetId]
            world.datasets[old.datasetId] = dataclasses.replace(
                live,
                name=action.request["name"],
                description=action.request.get("description", live.description),  # a merge
                tags={k: tuple(v) for k, v in action.request["tags"].items()},
            )
            ds = world.datasets[old.datasetId]
        elif action.action == "adopt":
            assert action.adopt_id is not None
            ds = world.datasets[action.adopt_id]
        else:
            ds = world.post_dataset(dict(action.request))
        resources[action.address] = DatasetResource(
            datasetId=ds.id,
            name=ds.name,
            description=ds.description,
            tags={k: list(v) for k, v in ds.tags.items()},
            schemaId=ds.schema_id or "",
            deletionPolicy=doc.spec.deletionPolicy,
            createdAt=now,
        )
    elif action.action == "cancel" or action.cancel_job_id is not None:
        assert action.cancel_job_id is not None
        run = world.jobs[action.cancel_job_id]
        world.jobs[run.job_id] = dataclasses.replace(
            run, status="CANCELLED", updated_ms=world.tick()
        )
        res = resources[action.address]
        assert isinstance(res, ExportJobResource)
        runs = [
            r.model_copy(update={"status": "CANCELLED", "cancelledAt": now})
            if r.jobId == run.job_id
            else r
            for r in res.runs
        ]
        resources[action.address] = res.model_copy(update={"runs": runs})
    if action.kind == "exportjob" and action.action in ("create", "replace", "rerun", "adopt"):
        assert isinstance(doc, ExportJobDoc)
        resources[action.address] = _start_run(world, dict(resources), doc, action, now)
    return state.model_copy(update={"resources": resources})


def _start_run(
    world: World, resources: dict[str, object], doc: ExportJobDoc, action: Action, now: datetime
) -> ExportJobResource:
    dest = doc.spec.destination
    if dest.datasetId is not None:
        dataset_id = dest.datasetId
    else:
        ds_res = resources[f"dataset/{dest.dataset}"]
        assert isinstance(ds_res, DatasetResource)
        dataset_id = ds_res.datasetId
    old = resources.get(action.address)
    if action.action == "adopt":
        assert action.adopt_id is not None
        live = world.jobs[int(action.adopt_id)]
    else:
        if isinstance(old, ExportJobResource):
            check_new_run_is_asked_for(world, old, doc, dataset_id)
        live = world.post_job(request_body(doc, dataset_id), action.address)
    runs = list(old.runs) if isinstance(old, ExportJobResource) else []
    runs.append(
        Run(
            jobId=live.job_id,
            fingerprint=fingerprint(doc),
            status=live.status,
            datasetId=dataset_id,
            createdAt=datetime.fromtimestamp(live.created_ms / 1000, UTC),
            reason=action.action,
        )
    )
    return ExportJobResource(
        fingerprint=fingerprint(doc),
        request=canonical_request(doc),
        datasetAddress=f"dataset/{dest.dataset}" if dest.dataset else None,
        datasetId=dest.datasetId,
        runs=runs,
    )


def check_new_run_is_asked_for(
    world: World, res: ExportJobResource, doc: ExportJobDoc, dataset_id: str
) -> None:
    """A second run of the same request into the same dataset only after the last one ended badly."""
    newest = res.newest_run()
    if newest is None or newest.fingerprint != fingerprint(doc) or newest.datasetId != dataset_id:
        return
    live = world.jobs.get(newest.jobId)
    assert live is None or live.status in ("FAILED", "CANCELLED"), (
        f"{newest.jobId} is {live.status}: a duplicate run of {res.fingerprint[:8]}"
    )


# Events: spec edits and out-of-band changes


def edit(world: World, kind: str, n: int) -> None:
    ds_names, job_names = ("crm", "web"), ("daily", "weekly", "hourly")
    if kind == "job":
        name, dataset = job_names[n % 3], ds_names[n % 2]
        # the loader refuses a job whose destination has no Dataset document
        world.docs.setdefault(f"dataset/{dataset}", dataset_doc(dataset))
        world.docs[f"exportjob/{name}"] = job_doc(
            name, ds_names[n % 2], fields=FIELDS[n % 3], onFailure=("retry", "report")[n % 2]
        )
    elif kind == "dataset":
        name = ds_names[n % 2]
        schema = {"schemaRef": {"id": OTHER_SCHEMA}} if n % 4 == 3 else {}
        world.docs[f"dataset/{name}"] = dataset_doc(
            name,
            description=f"v{n % 3}" if n % 3 else None,
            deletionPolicy=("Orphan", "Delete")[n % 2],
            **schema,
        )
    elif kind == "remove-job":
        world.docs.pop(f"exportjob/{job_names[n % 3]}", None)
    if kind == "remove-dataset":  # only when no job still points at it (the loader refuses that)
        name = ds_names[n % 2]
        if not any(
            isinstance(d, ExportJobDoc) and d.spec.destination.dataset == name
            for d in world.docs.values()
        ):
            world.docs.pop(f"dataset/{name}", None)


def out_of_band(world: World, kind: str, n: int) -> None:
    jobs = sorted(world.jobs)
    if kind in ("fail", "cancel", "lose", "start") and jobs:
        job = world.jobs[jobs[n % len(jobs)]]
        if kind == "lose":
            world.jobs.pop(job.job_id)
        else:
            status = {"fail": "FAILED", "cancel": "CANCELLED", "start": "PROCESSING"}[kind]
            world.jobs[job.job_id] = dataclasses.replace(
                job, status=status, errors=({"code": "x", "msg": "boom"},) if kind == "fail" else ()
            )
    datasets = sorted(world.datasets)
    if kind in ("rename", "drop") and datasets:
        ds_id = datasets[n % len(datasets)]
        if kind == "rename":
            world.datasets[ds_id] = dataclasses.replace(world.datasets[ds_id], name=f"renamed {n}")
        else:
            world.datasets.pop(ds_id)
    if kind == "lost-post":  # a POST whose answer never reached the state (a crash, a timeout)
        docs = [d for d in world.docs.values() if isinstance(d, ExportJobDoc)]
        ids = {ds.tags.get("reconciler/address", ("",))[0]: ds.id for ds in world.datasets.values()}
        if docs:
            doc = docs[n % len(docs)]
            dataset_id = ids.get(f"dataset/{doc.spec.destination.dataset}")
            if dataset_id is not None:
                world.post_job(request_body(doc, dataset_id), doc.address)
    if kind == "stranger":
        world.post_job(
            request_body(job_doc("stranger", fields=FIELDS[n % 3]), "f" * 24), "(out of band)"
        )


EVENTS = st.one_of(
    st.tuples(
        st.just("edit"),
        st.sampled_from(["job", "dataset", "remove-job", "remove-dataset"]),
        st.integers(0, 11),
    ),
    st.tuples(
        st.just("oob"),
        st.sampled_from(
            ["fail", "cancel", "lose", "start", "rename", "drop", "stranger", "lost-post"]
        ),
        st.integers(0, 11),
    ),
    st.tuples(st.just("apply"), st.sampled_from(["wait", "no-wait"]), st.just(0)),
)

# ambiguous: two lost POSTs left two jobs a new document could adopt: it stops (no guess, no
# twin) until `reconciler import` settles it; blocked: a Delete kept for a writer
ALLOWED_AFTER_CONVERGENCE = {"unmanaged", "failed", "ambiguous", "blocked"}


def check_converged(world: World, plan: Plan) -> None:
    """Converged: nothing but `wait` to do (what --detailed-exitcode exits 0 on), allowed findings."""
    assert not plan.has_changes, [(a.address, a.action, a.reason) for a in plan.actions]
    assert all(a.action == "wait" for a in plan.actions)
    for finding in plan.findings:
        assert finding.finding in ALLOWED_AFTER_CONVERGENCE, finding
        if finding.finding == "failed":  # only a run this repository asked to report
            doc = world.docs[finding.address]
            assert isinstance(doc, ExportJobDoc) and doc.spec.onFailure == "report"
        kind = str(finding.finding)  # (kinds beyond drift: engine.plan_context)
        if kind == "ambiguous" and finding.address.startswith("exportjob/"):
            ids = finding.evidence["jobIds"]  # live, unmanaged jobs, each named with its import
            assert len(ids) > 1 or len(finding.evidence["documents"]) > 1
            assert all(j in world.jobs for j in ids)
            commands = finding.evidence["commands"]
            assert all(f"reconciler import {finding.address} {j}" in commands for j in ids)
        elif kind == "ambiguous":
            assert all(i in world.datasets for i in finding.evidence["datasetIds"])
        if kind == "blocked" and finding.address.startswith("dataset/"):
            assert finding.evidence["writers"]
        elif kind == "blocked" and "datasetId" in finding.evidence:
            # a destination the platform would refuse: no dataset with that id in the sandbox
            live = world.datasets.get(finding.evidence["datasetId"])
            assert live is None or live.schema_id != PROFILE_UNION_SCHEMA
        elif kind == "blocked":  # what it waits for is named
            evidence = finding.evidence
            assert evidence.get("needs") or evidence.get("jobIds") or "intent" in evidence


def unmanaged(plan: Plan) -> set[str]:
    return {f.address for f in plan.findings if f.finding == "unmanaged"}


@settings(max_examples=150, deadline=None)
@given(st.lists(EVENTS, min_size=1, max_size=12), st.booleans())
def test_two_applies_converge_and_never_duplicate_a_run(
    events: list[tuple[str, str, int]], terse: bool
) -> None:
    world = World(terse=terse)
    state = State()
    for phase, kind, n in events:
        if phase == "edit":
            edit(world, kind, n)
        elif phase == "oob":
            out_of_band(world, kind, n)
        else:
            state = apply(world, state, wait=kind == "wait")
        world.tick()
    posts_before = len(world.posts)
    for _ in range(2):
        state = apply(world, state)
        world.tick()
    # at most one new run per document while converging: no duplicate for any fingerprint
    converging = Counter(world.posts[posts_before:])
    assert all(count == 1 for count in converging.values()), converging
    final = make_plan(world.specs(), state, world.snapshot(state), now=world.now())
    check_converged(world, final)
    # a full refresh finds the same unmanaged objects as the incremental one: nothing this
    # repository made (a forgotten document's runs included) shows up only when listing all
    full = world.full_snapshot(state)
    seen_all = record_observations(state, full)
    in_full = make_plan(world.specs(), seen_all, full, now=world.now())
    # (an incremental plan may still remember a job deleted since; a full one forgets it, and
    # the incremental plans after it agree)
    assert unmanaged(in_full) <= unmanaged(final)
    later = world.snapshot(seen_all)
    after_full = make_plan(
        world.specs(), record_observations(seen_all, later), later, now=world.now()
    )
    assert unmanaged(after_full) == unmanaged(in_full)
    # and a further apply changes nothing live
    posts, datasets = len(world.posts), dict(world.datasets)
    state = apply(world, state)
    assert len(world.posts) == posts and world.datasets == datasets


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["job", "dataset"]), st.integers(0, 11)), min_size=1, max_size=6
    )
)
def test_plan_after_apply_is_empty_when_nothing_happened_outside(
    edits: list[tuple[str, int]],
) -> None:
    world = World()
    for kind, n in edits:
        edit(world, kind, n)
    if not any(isinstance(d, ExportJobDoc) for d in world.docs.values()):
        return
    for kind in ("dataset",):
        for n in range(2):
            edit(world, kind, n * 2)  # every job's destination exists, default schema
    state = apply(world, State())
    plan = make_plan(world.specs(), state, world.snapshot(state), now=world.now())
    assert not plan.has_changes and plan.actions == () and plan.findings == ()
    # every document got exactly one run, and each run's request matches its document
    assert sorted(world.posts) == sorted(a for a in world.docs if a.startswith("exportjob/"))


def test_same_fingerprint_never_posted_twice_without_a_reason() -> None:
    world = World()
    world.docs = {"dataset/crm": dataset_doc("crm"), "exportjob/daily": job_doc("daily")}
    state = apply(world, State())
    for _ in range(3):
        state = apply(world, state)
    assert world.posts == ["exportjob/daily"]
    _ = timedelta  # refresh policy is covered in test_planner


@settings(max_examples=40, deadline=None)
@given(st.lists(EVENTS, min_size=1, max_size=10))
def test_the_plan_does_not_depend_on_the_order_of_its_inputs(
    events: list[tuple[str, str, int]],
) -> None:
    world, state = World(), State()
    for phase, kind, n in events:
        if phase == "edit":
            edit(world, kind, n)
        elif phase == "oob":
            out_of_band(world, kind, n)
        else:
            state = apply(world, state, wait=kind == "wait")
    specs, live = world.specs(), world.snapshot(state)
    plan = make_plan(specs, state, live, now=world.now())
    shuffled = Specs(
        datasets=dict(reversed(list(specs.datasets.items()))),
        export_jobs=dict(reversed(list(specs.export_jobs.items()))),
    )
    live_shuffled = dataclasses.replace(
        live,
        datasets=dict(reversed(list(live.datasets.items()))),
        runs=dict(reversed(list(live.runs.items()))),
        new_jobs=tuple(reversed(live.new_jobs)),
    )
    state_shuffled = state.model_copy(
        update={"resources": dict(reversed(list(state.resources.items())))}
    )
    again = make_plan(shuffled, state_shuffled, live_shuffled, now=world.now())
    assert again.to_json() == plan.to_json()
