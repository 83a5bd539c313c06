"""Issue 13's planning rules with plain values: adoption without guessing, under either refresh;
deletion that would break a writer; --target prerequisites; report-only failures on a schedule;
unreadable records; cancels never sent twice."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from plan_fixtures import (
    NOW,
    NOW_MS,
    dataset_doc,
    dataset_resource,
    ds_id,
    job_doc,
    job_resource,
    live_dataset,
    live_run,
    run_for,
    specs,
    state_of,
    steady,
)

from reconciler.engine.model import Action, LiveDataset, LiveRun, LiveSnapshot, Plan
from reconciler.engine.observations import record_observations
from reconciler.engine.plan_context import Planning
from reconciler.engine.planner import _hold_without_prerequisites, make_plan
from reconciler.engine.records import status_entries
from reconciler.platform.models import UnreadableRecord
from reconciler.spec.canonical import normalize_request, request_body, request_matches
from reconciler.spec.models import PROFILE_UNION_SCHEMA, ExportJobDoc
from reconciler.state import Intent, State, UnmanagedJob


def brief(plan: Plan) -> list[tuple[str, str]]:
    return [(a.address, a.action) for a in plan.actions]


def found(plan: Plan) -> list[tuple[str, str]]:
    return [(f.address, f.finding) for f in plan.findings]


def terse(run: LiveRun) -> LiveRun:
    """The same job as a documented terse record shows it: no fields, no additionalFields."""
    request = {k: v for k, v in run.request.items() if k not in ("fields", "additionalFields")}
    return dataclasses.replace(run, request=normalize_request(request))


def adopts(plan: Plan) -> dict[str, str | None]:
    return {a.address: a.adopt_id for a in plan.actions if a.action == "adopt"}


# Case 3: adopt works the same under incremental and full refresh


def test_a_job_below_the_watermark_is_adopted_under_an_incremental_refresh_too() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily")
    base_specs, state, _ = steady(ds)
    live_ds = LiveSnapshot(datasets={ds_id("crm"): live_dataset(dataset_resource(ds))})
    listed = live_run(job, 24001, "SUCCEEDED", created_ms=NOW_MS - 86_400_000)
    # An earlier refresh (before the document existed) listed the job: it is remembered.
    first = dataclasses.replace(live_ds, runs={24001: listed}, new_jobs=(24001,))
    state = record_observations(state, first)
    remembered = state.observed.unmanagedJobs[24001]
    assert remembered.request == normalize_request(request_body(job, ds_id("crm")))
    full = dataclasses.replace(first, full=True)
    incremental = dataclasses.replace(live_ds)  # nothing newer than the watermark
    with_doc = specs(ds, job)
    plan_full = make_plan(with_doc, record_observations(state, full), full, now=NOW)
    plan_incr = make_plan(with_doc, record_observations(state, incremental), incremental, now=NOW)
    assert brief(plan_full) == brief(plan_incr) == [("exportjob/daily", "adopt")]
    assert adopts(plan_full) == adopts(plan_incr) == {"exportjob/daily": "24001"}
    assert base_specs.digest == with_doc.digest  # (the fixture's digest is constant)


def test_a_job_remembered_without_its_request_holds_back_a_create_into_its_dataset() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily")
    other = job_doc("other", dataset_id="f" * 24)
    _, state, live = steady(ds)
    elsewhere = LiveDataset(id="f" * 24, name="elsewhere", schema_id=PROFILE_UNION_SCHEMA)
    live = dataclasses.replace(live, datasets={**live.datasets, elsewhere.id: elsewhere})
    old = State.model_validate(
        {
            **state.model_dump(mode="json"),
            "observed": {
                "unmanagedJobs": {
                    "24001": {"status": "SUCCEEDED", "createdMs": 5, "datasetId": ds_id("crm")}
                }
            },
        }
    )
    # Written before requests were kept: it may be daily's, so daily does not create a twin;
    # `other` writes elsewhere and creates.
    plan = make_plan(specs(ds, job, other), old, live, now=NOW)
    assert brief(plan) == [("exportjob/other", "create")]
    assert ("exportjob/daily", "blocked") in found(plan)
    assert ("exportjob@24001", "unmanaged") in found(plan)
    reason = next(f.reason for f in plan.findings if f.address == "exportjob/daily")
    assert "--refresh=full" in reason and "reconciler import exportjob/daily 24001" in reason
    # A full refresh reads it again: then it is adopted (or, being someone else's, not).
    full = dataclasses.replace(live, runs={24001: live_run(job, 24001)}, full=True)
    plan = make_plan(specs(ds, job, other), record_observations(old, full), full, now=NOW)
    assert ("exportjob/daily", "adopt") in brief(plan)


def test_an_older_specs_run_let_go_by_state_rm_does_not_hold_back_the_new_spec() -> None:
    ds, v1 = dataset_doc("crm"), job_doc("daily")
    v2 = job_doc("daily", fields="identities.id")
    _, state, live = steady(ds)
    state.resources[v1.address] = job_resource(v1, run_for(v1, 5))
    state.retire(v1.address, reason="state rm", at=NOW)
    state.observed.unmanagedJobs[5] = UnmanagedJob(
        status="SUCCEEDED", createdMs=1, datasetId=ds_id("crm")
    )  # what state rm remembers of a run whose request it does not know
    assert brief(make_plan(specs(ds, v2), state, live, now=NOW)) == [("exportjob/daily", "create")]
    # Its fingerprint is the document's: it may be the document's job, no create.
    plan = make_plan(specs(ds, v1), state, live, now=NOW)
    assert brief(plan) == [] and ("exportjob/daily", "blocked") in found(plan)


# Never one live record for two documents


def test_one_job_two_documents_could_answer_is_adopted_by_neither() -> None:
    ds = dataset_doc("crm")
    a = job_doc("a", fields="identities.id")
    b = job_doc("b", fields="identities.id,personalEmail.address")
    _, state, live = steady(ds)
    # The record does not carry `fields`: it could be either document's.
    live = dataclasses.replace(live, runs={7: terse(live_run(a, 7))}, new_jobs=(7,))
    plan = make_plan(specs(ds, a, b), state, live, now=NOW)
    assert brief(plan) == []
    assert found(plan) == [
        ("exportjob/a", "ambiguous"),
        ("exportjob/b", "ambiguous"),
        ("exportjob@7", "unmanaged"),
    ]
    reason = plan.findings[0].reason
    assert "live job 7" in reason and "exportjob/b" in reason
    assert "'reconciler import exportjob/a 7'" in reason
    # A full record tells them apart: a adopts, b creates.
    live = dataclasses.replace(live, runs={7: live_run(a, 7)})
    plan = make_plan(specs(ds, a, b), state, live, now=NOW)
    assert brief(plan) == [("exportjob/a", "adopt"), ("exportjob/b", "create")]


def test_after_import_settles_it_the_other_document_creates() -> None:
    ds = dataset_doc("crm")
    a, b = job_doc("a", fields="identities.id"), job_doc("b", fields="homeAddress.city")
    _, state, live = steady(ds)
    live = dataclasses.replace(live, runs={7: terse(live_run(a, 7))}, new_jobs=(7,))
    state.resources[a.address] = job_resource(a, run_for(a, 7))  # reconciler import exportjob/a 7
    plan = make_plan(specs(ds, a, b), state, live, now=NOW)
    assert brief(plan) == [("exportjob/b", "create")]
    assert found(plan) == []


# Hypothesis: whatever the documents and live jobs, no job is adopted twice, nothing is guessed,
# and an incremental plan adopts exactly what a full one does.

FIELD_SETS = ["identities.id", "identities.id,personalEmail.address", "homeAddress.city"]
SCHEMAS = ["_xdm.context.profile", "_xdm.context.other"]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[ExportJobDoc], dict[int, LiveRun]]:
    n = draw(st.integers(1, 4))
    docs = []
    for i in range(n):
        spec: dict[str, Any] = {"schema": {"name": draw(st.sampled_from(SCHEMAS))}}
        fields = draw(st.sampled_from([None, *FIELD_SETS]))
        if fields is not None:
            spec["fields"] = fields
        docs.append(job_doc(f"job-{i}", **spec))
    runs: dict[int, LiveRun] = {}
    for job_id in range(100, 100 + draw(st.integers(0, 5))):
        source = draw(st.sampled_from(docs))
        status = draw(st.sampled_from(["NEW", "PROCESSING", "SUCCEEDED", "FAILED"]))
        run = live_run(source, job_id, status, created_ms=NOW_MS - job_id * 1000)
        runs[job_id] = terse(run) if draw(st.booleans()) else run
    return docs, runs


@settings(max_examples=150, deadline=None)
@given(worlds())
def test_adoption_never_guesses_and_does_not_depend_on_the_refresh_mode(
    world: tuple[list[ExportJobDoc], dict[int, LiveRun]],
) -> None:
    docs, runs = world
    ds = dataset_doc("crm")
    wanted = specs(ds, *docs)
    _, state, live_ds = steady(ds)
    full = dataclasses.replace(live_ds, runs=runs, new_jobs=tuple(sorted(runs)), full=True)
    seen = record_observations(state, full)
    plan_full = make_plan(wanted, seen, full, now=NOW)
    plan_incr = make_plan(wanted, record_observations(seen, live_ds), live_ds, now=NOW)
    assert brief(plan_full) == brief(plan_incr)
    assert adopts(plan_full) == adopts(plan_incr)
    adopted = adopts(plan_full)
    assert len(set(adopted.values())) == len(adopted)  # never one job for two documents
    bodies = {d.address: request_body(d, ds_id("crm")) for d in docs}
    matching = {
        addr: [j for j, r in runs.items() if request_matches(body, r.request)]
        for addr, body in bodies.items()
    }
    for address, job_id in adopted.items():
        assert job_id is not None
        assert matching[address] == [int(job_id)]  # the one candidate
        assert [a for a, js in matching.items() if int(job_id) in js] == [address]
    ambiguous = {f.address for f in plan_full.findings if str(f.finding) == "ambiguous"}
    for address, jobs in matching.items():
        planned = [a.action for a in plan_full.actions if a.address == address]
        if not jobs:
            assert planned == ["create"]
        elif address in adopted:
            assert planned == ["adopt"]
        else:
            assert planned == [] and address in ambiguous


# Case 9: deletionPolicy Delete and a dataset still written into


def test_delete_keeps_a_dataset_another_document_writes_into_by_id() -> None:
    ds = dataset_doc("crm", deletionPolicy="Delete")
    writer = job_doc("by-id", dataset_id=ds_id("crm"))
    _, state, live = steady(ds)
    state.resources[writer.address] = job_resource(
        writer, run_for(writer, 9, dataset_id=ds_id("crm"))
    )
    plan = make_plan(specs(writer), state, live, now=NOW)
    assert brief(plan) == []
    assert found(plan) == [("dataset/crm", "blocked")]
    assert "exportjob/by-id (destination.datasetId)" in plan.findings[0].reason
    assert "kept until nothing does" in plan.findings[0].reason
    # once no document writes into it, the policy applies
    assert brief(make_plan(specs(), state, live, now=NOW))[:1] == [("dataset/crm", "delete")]


def test_delete_waits_for_a_removed_documents_run_still_writing() -> None:
    ds, job = dataset_doc("crm", deletionPolicy="Delete"), job_doc("daily")
    _, state, live = steady(ds, job)
    res = state.export_job(job.address)
    assert res is not None
    res.runs = [run_for(job, 7, "PROCESSING")]
    live = dataclasses.replace(live, runs={7: live_run(job, 7, "PROCESSING")})
    plan = make_plan(specs(), state, live, now=NOW)
    assert brief(plan) == [("exportjob/daily", "cancel")]
    assert found(plan) == [("dataset/crm", "blocked")]
    assert "job 7 still in flight" in plan.findings[0].reason


# Case 10: --target keeps prerequisites; no cancel without its replacement's prerequisites


def test_target_keeps_the_dataset_adopt_its_job_needs() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily")
    res = dataset_resource(ds, "a" * 24)
    live = LiveSnapshot(datasets={"a" * 24: live_dataset(res)})
    plan = make_plan(specs(ds, job), State(), live, now=NOW, targets=["exportjob/daily"])
    assert brief(plan) == [("dataset/crm", "adopt"), ("exportjob/daily", "create")]
    assert plan.actions[1].depends_on == ("dataset/crm",)


def test_target_replace_with_a_running_job_keeps_the_dataset_adopt() -> None:
    ds, old = dataset_doc("crm"), job_doc("daily")
    new = job_doc("daily", fields="identities.id")
    res = dataset_resource(ds, "a" * 24)
    # The job is in state (running) but its dataset was never adopted (state rm, then edited).
    state = state_of((old.address, job_resource(old, run_for(old, 7, "PROCESSING"))))
    live = LiveSnapshot(
        datasets={"a" * 24: live_dataset(res)},
        runs={7: live_run(old, 7, "PROCESSING", dataset_id="a" * 24)},
    )
    plan = make_plan(specs(ds, new), state, live, now=NOW, targets=["exportjob/daily"])
    assert brief(plan) == [("dataset/crm", "adopt"), ("exportjob/daily", "replace")]
    assert plan.actions[1].cancel_job_id == 7


def test_an_action_whose_prerequisite_is_not_planned_is_held_back_with_its_cancel() -> None:
    work = Planning(specs(), State(), LiveSnapshot(), NOW)
    replace = Action(
        "exportjob/daily",
        "exportjob",
        "replace",
        "the spec changed",
        cancel_job_id=7,
        depends_on=("dataset/crm",),
    )
    wait = Action("exportjob/other", "exportjob", "wait", "job 8 is NEW")
    assert _hold_without_prerequisites(work, [replace, wait]) == [wait]
    assert [(f.address, f.finding) for f in work.findings] == [("exportjob/daily", "blocked")]
    assert "job 7 is not cancelled" in work.findings[0].reason
    adopt = Action("dataset/crm", "dataset", "adopt", "tagged", adopt_id="a")
    assert _hold_without_prerequisites(work, [adopt, replace]) == [adopt, replace]


# Case 11: onFailure report with refresh


def test_report_only_failure_runs_again_when_the_refresh_is_due() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily", refresh="24h", onFailure="report")
    docs, state, live = steady(ds, job)
    res = state.export_job(job.address)
    assert res is not None
    res.runs = [
        run_for(job, 5, "SUCCEEDED", age=timedelta(hours=50)),
        run_for(job, 6, "FAILED", age=timedelta(hours=25)),
    ]
    plan = make_plan(docs, state, live, now=NOW)
    assert brief(plan) == [("exportjob/daily", "rerun")]
    assert plan.actions[0].reason == (
        "refresh due: job 6 FAILED 25h ago (onFailure: report), refresh every 24h"
    )
    assert found(plan) == [("exportjob/daily", "failed")]
    # Just failed: reported, not retried at once (that is what report means).
    res.runs[1] = run_for(job, 6, "FAILED", age=timedelta(hours=1))
    plan = make_plan(docs, state, live, now=NOW)
    assert brief(plan) == [] and found(plan) == [("exportjob/daily", "failed")]


# Unreadable records


def test_unreadable_records_are_findings_and_hold_back_their_address() -> None:
    ds = dataset_doc("crm")
    old, new = job_doc("daily"), job_doc("daily", fields="identities.id")
    _, state, live = steady(ds)
    state.resources[old.address] = job_resource(old, run_for(old, 7, "PROCESSING"))
    live = dataclasses.replace(
        live,
        unreadable=(
            UnreadableRecord(id=7, reason="status is not a string"),
            UnreadableRecord(id=9, reason="creationTime is missing"),
        ),
    )
    plan = make_plan(specs(ds, new), state, live, now=NOW)
    # The spec change would cancel job 7: not while its record cannot be read.
    assert brief(plan) == []
    assert found(plan) == [("exportjob/daily", "unreadable"), ("exportjob@9", "unreadable")]
    daily, stranger = plan.findings
    assert "job 7 cannot be read (status is not a string)" in daily.reason
    assert "held back: replace" in daily.reason
    assert stranger.evidence == {"jobId": 9, "reason": "creationTime is missing"}
    # Without the unreadable record, the replace is planned as before.
    plan = make_plan(specs(ds, new), state, dataclasses.replace(live, unreadable=()), now=NOW)
    assert brief(plan) == [("exportjob/daily", "replace")]


def test_an_unreadable_old_run_does_not_hold_back_the_current_one() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily", refresh="1h")
    docs, state, live = steady(ds, job)
    res = state.export_job(job.address)
    assert res is not None
    res.runs = [run_for(job, 3, age=timedelta(hours=9)), run_for(job, 4, age=timedelta(hours=2))]
    live = dataclasses.replace(live, unreadable=(UnreadableRecord(id=3, reason="bad"),))
    plan = make_plan(docs, state, live, now=NOW)
    assert brief(plan) == [("exportjob/daily", "rerun")]
    assert found(plan) == [("exportjob/daily", "unreadable")]


# Cancels are never sent twice


def test_a_cancelling_run_is_not_cancelled_again_by_a_replace_or_a_removal() -> None:
    ds, old = dataset_doc("crm"), job_doc("daily")
    new = job_doc("daily", fields="identities.id")
    _, state, live = steady(ds, old)
    res = state.export_job(old.address)
    assert res is not None
    res.runs = [run_for(old, 7, "CANCELLING")]
    live = dataclasses.replace(live, runs={7: live_run(old, 7, "PROCESSING")})
    state = record_observations(state, live)
    res = state.export_job(old.address)
    assert res is not None and res.runs[0].status == "CANCELLING"  # kept while in flight
    plan = make_plan(specs(ds, new), state, live, now=NOW)
    assert brief(plan) == [("exportjob/daily", "replace")]
    assert plan.actions[0].cancel_job_id is None
    plan = make_plan(specs(ds), state, live, now=NOW)
    assert brief(plan) == [("exportjob/daily", "wait")]
    ended = dataclasses.replace(live, runs={7: live_run(old, 7, "CANCELLED", updated_ms=NOW_MS)})
    after = record_observations(state, ended).export_job(old.address)
    assert after is not None and after.runs[0].status == "CANCELLED"
    assert after.runs[0].finishedAt is not None


def test_the_highest_listed_job_id_is_observed() -> None:
    job = job_doc("daily", dataset_id="f" * 24)
    live = LiveSnapshot(runs={12: live_run(job, 12), 30: live_run(job, 30)}, new_jobs=(30, 12))
    state = record_observations(State(), live)
    assert state.observed.watermarkJobId == 30
    assert record_observations(state, LiveSnapshot()).observed.watermarkJobId == 30


# An unresolved create: its address waits, and the jobs it may have made are left to it


def test_an_unresolved_create_holds_its_address_and_its_candidate_jobs() -> None:
    ds = dataset_doc("crm")
    a = job_doc("a", fields="identities.id")
    b = job_doc("b", fields="identities.id,personalEmail.address")
    _, state, live = steady(ds)
    made = terse(live_run(a, 24002))  # what a's lost POST made; b could take it too
    live = dataclasses.replace(live, runs={24002: made}, new_jobs=(24002,))
    state.pending = [
        Intent(
            id="i-1",
            address=a.address,
            kind="exportjob",
            fingerprint="f",
            request=normalize_request(request_body(a, ds_id("crm"))),
            watermarkJobId=24001,
            outcome="unknown",
            createdAt=NOW,
        )
    ]
    plan = make_plan(specs(ds, a, b), state, live, now=NOW)
    # a: no create, no adopt; b: the job is not its to take, so b creates its own.
    assert brief(plan) == [("exportjob/b", "create")]
    assert ("exportjob/a", "blocked") in found(plan)
    pending = next(f for f in plan.findings if f.address == "exportjob/a")
    assert "intent i-1" in pending.reason and "job 24002 may be what it made" in pending.reason
    assert pending.evidence["jobIds"] == [24002]
    # Two candidates: named, with the import that settles it.
    twin = dataclasses.replace(made, job_id=24003)
    two = dataclasses.replace(live, runs={24002: made, 24003: twin}, new_jobs=(24003, 24002))
    pending = next(
        f
        for f in make_plan(specs(ds, a, b), state, two, now=NOW).findings
        if f.address == "exportjob/a"
    )
    assert "jobs 24002, 24003 could each be what it made" in pending.reason
    assert "'reconciler import exportjob/a 24002'" in pending.reason
    # A job at or below the intent's watermark existed before the POST: not the intent's,
    # but still a record that could answer a or b: b does not guess either.
    state.pending[0] = state.pending[0].model_copy(update={"watermarkJobId": 24002})
    plan = make_plan(specs(ds, a, b), state, live, now=NOW)
    assert brief(plan) == []
    assert ("exportjob/b", "ambiguous") in found(plan)
    # With full records, b is told apart from it and creates.
    live = dataclasses.replace(live, runs={24002: live_run(a, 24002)})
    assert brief(make_plan(specs(ds, a, b), state, live, now=NOW)) == [("exportjob/b", "create")]


def test_a_full_refresh_forgets_unmanaged_jobs_that_are_gone() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily")
    _, state, live = steady(ds)
    seen = dataclasses.replace(
        live, runs={5: live_run(job, 5), 6: live_run(job, 6)}, new_jobs=(6, 5)
    )
    state = record_observations(state, seen)
    assert sorted(state.observed.unmanagedJobs) == [5, 6]
    # incremental: not listed again, still remembered
    assert sorted(record_observations(state, live).observed.unmanagedJobs) == [5, 6]
    # full: job 6 was deleted on the platform; job 5's record did not parse this time
    full = dataclasses.replace(
        live, full=True, unreadable=(UnreadableRecord(id=5, reason="bad"),), runs={}
    )
    assert sorted(record_observations(state, full).observed.unmanagedJobs) == [5]
    plan = make_plan(specs(ds, job), record_observations(state, full), full, now=NOW)
    assert brief(plan) == [("exportjob/daily", "create")]  # nothing gone or unreadable adopted


def test_a_saved_plan_with_the_new_finding_kinds_reads_back() -> None:
    ds = dataset_doc("crm")
    a = job_doc("a", fields="identities.id")
    b = job_doc("b", fields="identities.id,personalEmail.address")
    _, state, live = steady(ds)
    live = dataclasses.replace(
        live,
        runs={7: terse(live_run(a, 7))},
        new_jobs=(7,),
        unreadable=(UnreadableRecord(id=9, reason="bad"),),
    )
    plan = make_plan(specs(ds, a, b), state, live, now=NOW)
    assert {f.finding for f in plan.findings} >= {"ambiguous", "unreadable"}
    assert Plan.from_json(plan.to_json()) == plan


def test_delete_waits_for_the_old_run_of_a_document_now_pointed_elsewhere() -> None:
    ds = dataset_doc("crm", deletionPolicy="Delete")
    old = job_doc("daily")
    moved = job_doc("daily", dataset_id="f" * 24)  # now writes into another dataset, by id
    _, state, live = steady(ds, old)
    res = state.export_job(old.address)
    assert res is not None
    res.runs = [run_for(old, 7, "PROCESSING")]
    elsewhere = LiveDataset(id="f" * 24, name="elsewhere", schema_id=PROFILE_UNION_SCHEMA)
    live = dataclasses.replace(
        live,
        runs={7: live_run(old, 7, "PROCESSING")},
        datasets={**live.datasets, elsewhere.id: elsewhere},
    )
    plan = make_plan(specs(moved), state, live, now=NOW)
    assert brief(plan) == [("exportjob/daily", "replace")]  # cancels 7, starts into f...f
    assert found(plan) == [("dataset/crm", "blocked")]
    assert "exportjob/daily (job 7 still in flight)" in plan.findings[0].reason


# Datasets tagged with the address: the schema decides, two copies are not guessed between


def test_the_tagged_dataset_with_the_documents_schema_is_adopted_not_the_replaced_one() -> None:
    old_schema = "https://ns.adobe.com/tenant/schemas/old"
    ds, job = dataset_doc("crm"), job_doc("daily")
    orphan = dataset_resource(dataset_doc("crm", schemaRef={"id": old_schema}), "0" * 24)
    current = dataset_resource(ds, "a" * 24)
    live = LiveSnapshot(
        datasets={
            "0" * 24: live_dataset(orphan, created_ms=1),  # older: left by a schema replace
            "a" * 24: live_dataset(current, created_ms=2),
        }
    )
    plan = make_plan(specs(ds, job), State(), live, now=NOW)
    assert brief(plan) == [("dataset/crm", "adopt"), ("exportjob/daily", "create")]
    assert plan.actions[0].adopt_id == "a" * 24
    assert ("dataset@" + "0" * 24, "unmanaged") in found(plan)


def test_two_tagged_copies_with_the_documents_schema_are_held_back_with_their_jobs() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily")
    first, second = dataset_resource(ds, "a" * 24), dataset_resource(ds, "b" * 24)
    live = LiveSnapshot(
        datasets={"a" * 24: live_dataset(first), "b" * 24: live_dataset(second)},
        runs={5: live_run(job, 5, dataset_id="a" * 24)},
        new_jobs=(5,),
    )
    plan = make_plan(specs(ds, job), State(), live, now=NOW)
    assert brief(plan) == []
    assert ("dataset/crm", "ambiguous") in found(plan)
    assert ("exportjob/daily", "blocked") in found(plan)
    ambiguous = next(f for f in plan.findings if f.address == "dataset/crm")
    assert ambiguous.evidence["datasetIds"] == ["a" * 24, "b" * 24]
    assert f"'reconciler import dataset/crm {'a' * 24}'" in ambiguous.reason
    # settled by importing one: the job adopts its run in it
    state = state_of((ds.address, first))
    plan = make_plan(specs(ds, job), state, live, now=NOW)
    assert brief(plan) == [("exportjob/daily", "adopt")]


def test_status_shows_a_current_run_whose_record_does_not_parse_as_unreadable() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily")
    _, state, live = steady(ds, job)
    live = dataclasses.replace(live, unreadable=(UnreadableRecord(id=101, reason="bad"),))
    entries = {e.address: e for e in status_entries(state, live)}
    assert entries["exportjob/daily"].status == "unreadable"
    assert entries["dataset/crm"].status == "present"
