"""The planner's rules, one scenario each, with plain values (no I/O)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
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

from reconciler.engine.model import LiveDataset, LiveSnapshot, Plan
from reconciler.engine.planner import ADDRESS_TAG, UnknownTarget, make_plan, record_observations
from reconciler.spec.canonical import canonical_request
from reconciler.state import State


def brief(plan: Plan) -> list[tuple[str, str]]:
    return [(a.address, a.action) for a in plan.actions]


def found(plan: Plan) -> list[tuple[str, str]]:
    return [(f.address, f.finding) for f in plan.findings]


def test_empty_state_creates_datasets_before_jobs_that_depend_on_them() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily", "crm")
    plan = make_plan(specs(job, ds), State(), LiveSnapshot(), now=NOW)
    assert brief(plan) == [("dataset/crm", "create"), ("exportjob/daily", "create")]
    create_ds, create_job = plan.actions
    assert create_ds.request is not None and create_ds.request["tags"][ADDRESS_TAG] == [
        "dataset/crm"
    ]
    assert create_ds.request["schemaRef"]["id"].endswith("profile__union")
    assert create_job.depends_on == ("dataset/crm",)
    assert create_job.request == canonical_request(job)
    assert plan.summary() == "Plan: 2 to create"
    assert plan.has_changes


def test_steady_state_plans_nothing() -> None:
    plan = make_plan(*steady(dataset_doc("crm"), job_doc("daily")), now=NOW)
    assert plan.actions == () and plan.findings == ()
    assert not plan.has_changes
    assert plan.summary() == "No changes. Live state matches the specs."
    assert (plan.state_lineage, plan.state_serial, plan.spec_digest) == (
        "lineage-1",
        3,
        "spec-digest",
    )


def test_spec_change_is_a_replace_with_the_field_diff_and_cancels_the_run_in_flight() -> None:
    old = job_doc("daily")
    new = job_doc("daily", fields="identities.id,homeAddress.city")
    ds = dataset_doc("crm")
    _, state, live = steady(ds, old)
    res = state.export_job("exportjob/daily")
    assert res is not None
    res.runs = [run_for(old, 7, "PROCESSING")]
    plan = make_plan(specs(ds, new), state, live, now=NOW)
    assert brief(plan) == [("exportjob/daily", "replace")]
    action = plan.actions[0]
    assert action.cancel_job_id == 7
    assert [(c.path, c.old, c.new) for c in action.diff] == [
        ("fields", "identities.id,personalEmail.address", "identities.id,homeAddress.city")
    ]
    assert "fields" in action.reason
    # a finished old run is not cancelled
    res.runs = [run_for(old, 7, "SUCCEEDED")]
    assert make_plan(specs(ds, new), state, live, now=NOW).actions[0].cancel_job_id is None


def test_run_in_flight_is_a_wait_that_is_not_a_change() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily")
    docs, state, live = steady(ds, job)
    res = state.export_job("exportjob/daily")
    assert res is not None
    res.runs = [run_for(job, 9, "SUCCEEDED")]
    live = dataclasses.replace(live, runs={9: live_run(job, 9, "PROCESSING")})
    plan = make_plan(docs, state, live, now=NOW)
    assert brief(plan) == [("exportjob/daily", "wait")]
    assert "job 9 is PROCESSING" in plan.actions[0].reason
    assert not plan.has_changes


def test_unknown_status_counts_as_in_flight() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily")
    docs, state, live = steady(ds, job)
    live = dataclasses.replace(live, runs={101: live_run(job, 101, "QUEUED_SOMEWHERE")})
    assert brief(make_plan(docs, state, live, now=NOW)) == [("exportjob/daily", "wait")]


@pytest.mark.parametrize(("policy", "rerun"), [("retry", True), ("report", False)])
def test_failed_run_is_reported_with_its_errors_and_rerun_on_retry(
    policy: str, rerun: bool
) -> None:
    ds, job = dataset_doc("crm"), job_doc("daily", onFailure=policy)
    docs, state, live = steady(ds, job)
    errors = ({"code": "0090-500", "msg": "merge policy not found"},)
    live = dataclasses.replace(live, runs={101: live_run(job, 101, "FAILED", errors=errors)})
    plan = make_plan(docs, state, live, now=NOW)
    assert found(plan) == [("exportjob/daily", "failed")]
    assert plan.findings[0].evidence["errors"] == [dict(errors[0])]
    assert brief(plan) == ([("exportjob/daily", "rerun")] if rerun else [])
    if rerun:
        assert plan.actions[0].reason == "rerun: failed (onFailure: retry)"
        assert plan.actions[0].request == canonical_request(job)


def test_cancelled_outside_is_a_finding_and_a_rerun_but_our_own_cancel_is_not_drift() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily")
    docs, state, live = steady(ds, job)
    live = dataclasses.replace(live, runs={101: live_run(job, 101, "CANCELLED")})
    plan = make_plan(docs, state, live, now=NOW)
    assert found(plan) == [("exportjob/daily", "cancelled")]
    assert brief(plan) == [("exportjob/daily", "rerun")]
    res = state.export_job("exportjob/daily")
    assert res is not None
    res.runs = [run_for(job, 101, "CANCELLED", cancelledAt=NOW)]
    plan = make_plan(docs, state, live, now=NOW)
    assert found(plan) == [] and brief(plan) == [("exportjob/daily", "rerun")]


def test_run_missing_live_is_a_finding_and_a_rerun() -> None:
    docs, state, live = steady(dataset_doc("crm"), job_doc("daily"))
    live = dataclasses.replace(live, missing_runs=frozenset({101}))
    plan = make_plan(docs, state, live, now=NOW)
    assert found(plan) == [("exportjob/daily", "missing")]
    assert brief(plan) == [("exportjob/daily", "rerun")]


def test_refresh_reruns_once_the_last_success_is_old_enough() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily", refresh="24h")
    docs, state, live = steady(ds, job)
    res = state.export_job("exportjob/daily")
    assert res is not None
    res.runs = [run_for(job, 5, age=timedelta(hours=25))]
    plan = make_plan(docs, state, live, now=NOW)
    assert brief(plan) == [("exportjob/daily", "rerun")]
    assert plan.actions[0].reason == "refresh due: last success 25h ago, refresh every 24h"
    res.runs = [run_for(job, 5, age=timedelta(hours=23))]
    assert make_plan(docs, state, live, now=NOW).actions == ()


def test_newest_run_decides() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily")
    docs, state, live = steady(ds, job)
    res = state.export_job("exportjob/daily")
    assert res is not None
    res.runs = [
        run_for(job, 2, age=timedelta(hours=1)),
        run_for(job, 1, "FAILED", age=timedelta(hours=3)),
    ]
    assert make_plan(docs, state, live, now=NOW).actions == ()


def test_removed_job_document_cancels_a_run_in_flight_else_forgets() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily")
    _, state, live = steady(ds, job)
    in_flight = dataclasses.replace(live, runs={101: live_run(job, 101, "NEW")})
    plan = make_plan(specs(ds), state, in_flight, now=NOW)
    assert brief(plan) == [("exportjob/daily", "cancel")]
    assert plan.actions[0].cancel_job_id == 101
    plan = make_plan(specs(ds), state, live, now=NOW)
    assert brief(plan) == [("exportjob/daily", "forget")]


def test_dataset_tagged_with_its_address_is_adopted_and_its_id_lets_the_job_adopt_too() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily")
    res = dataset_resource(ds, "a" * 24)
    live = LiveSnapshot(
        datasets={"a" * 24: live_dataset(res)},
        runs={55: live_run(job, 55, "SUCCEEDED", dataset_id="a" * 24)},
        new_jobs=(55,),
    )
    plan = make_plan(specs(ds, job), State(), live, now=NOW)
    assert brief(plan) == [("dataset/crm", "adopt"), ("exportjob/daily", "adopt")]
    assert plan.actions[0].adopt_id == "a" * 24
    assert plan.actions[1].adopt_id == "55"
    assert found(plan) == []


def test_a_document_that_two_live_jobs_could_answer_is_held_back_not_guessed() -> None:
    # Issue 13: no guessing. Before, the planner adopted the success and left the failure
    # unmanaged; which one the document "is" is the user's call.
    ds, job = dataset_doc("crm"), job_doc("daily")
    _, state, live = steady(ds, job)
    state.resources.pop("exportjob/daily")
    live = dataclasses.replace(
        live,
        runs={
            60: live_run(job, 60, "FAILED", created_ms=NOW_MS - 1000),
            59: live_run(job, 59, "SUCCEEDED", created_ms=NOW_MS - 2000),
        },
        new_jobs=(60, 59),
    )
    plan = make_plan(specs(ds, job), state, live, now=NOW)
    assert brief(plan) == []  # neither adopt nor create
    assert found(plan) == [
        ("exportjob/daily", "ambiguous"),
        ("exportjob@59", "unmanaged"),
        ("exportjob@60", "unmanaged"),
    ]
    finding = plan.findings[0]
    assert finding.evidence["jobIds"] == [59, 60]
    assert "59, 60" in finding.reason
    assert "'reconciler import exportjob/daily 59'" in finding.reason
    assert finding.evidence["commands"] == [
        "reconciler import exportjob/daily 59",
        "reconciler import exportjob/daily 60",
    ]


def test_dataset_deleted_outside_is_missing_created_again_and_the_job_replaced() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily")
    docs, state, _ = steady(ds, job)
    plan = make_plan(docs, state, LiveSnapshot(), now=NOW)
    assert found(plan) == [("dataset/crm", "missing")]
    assert brief(plan) == [("dataset/crm", "create"), ("exportjob/daily", "replace")]
    assert plan.actions[1].depends_on == ("dataset/crm",)
    assert "dataset/crm" in plan.actions[1].reason


def test_dataset_renamed_outside_is_modified_and_updated_back() -> None:
    ds = dataset_doc("crm")
    docs, state, live = steady(ds)
    res = state.dataset("dataset/crm")
    assert res is not None
    live = LiveSnapshot(datasets={res.datasetId: live_dataset(res, name="Renamed by hand")})
    plan = make_plan(docs, state, live, now=NOW)
    assert found(plan) == [("dataset/crm", "modified")]
    assert plan.findings[0].evidence["changes"] == [
        {"path": "name", "old": "crm export", "new": "Renamed by hand"}
    ]
    assert brief(plan) == [("dataset/crm", "update")]
    assert [(c.path, c.old, c.new) for c in plan.actions[0].diff] == [
        ("name", "Renamed by hand", "crm export")
    ]


def test_platform_tags_are_not_drift() -> None:
    ds = dataset_doc("crm")
    docs, state, _ = steady(ds)
    res = state.dataset("dataset/crm")
    assert res is not None
    tags = {
        **{k: tuple(v) for k, v in res.tags.items()},
        "adobe/pqs/table": ("crm",),
        "unifiedProfile": ("enabled:false",),
    }
    live = LiveSnapshot(datasets={res.datasetId: live_dataset(res, tags=tags)})
    assert make_plan(docs, state, live, now=NOW).actions == ()


def test_document_change_of_name_description_tags_is_an_update_with_the_diff() -> None:
    old = dataset_doc("crm")
    _, state, live = steady(old)
    new = dataset_doc("crm", description="for the CRM team", tags={"team": ["crm"]})
    plan = make_plan(specs(new), state, live, now=NOW)
    assert brief(plan) == [("dataset/crm", "update")]
    assert [(c.path, c.old, c.new) for c in plan.actions[0].diff] == [
        ("description", None, "for the CRM team"),
        ("tags.team", None, ["crm"]),
    ]
    assert found(plan) == []


def test_schema_change_replaces_the_dataset_and_its_jobs() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily")
    _, state, live = steady(ds, job)
    new = dataset_doc("crm", schemaRef={"id": "https://ns.adobe.com/tenant/schemas/other"})
    plan = make_plan(specs(new, job), state, live, now=NOW)
    assert brief(plan) == [("dataset/crm", "replace"), ("exportjob/daily", "replace")]
    assert "--confirm-replace-dataset" in plan.actions[0].reason
    assert plan.actions[0].diff[0].path == "schemaRef.id"


@pytest.mark.parametrize(("policy", "action"), [("Delete", "delete"), ("Orphan", "forget")])
def test_removed_dataset_document_follows_its_remembered_deletion_policy(
    policy: str, action: str
) -> None:
    ds = dataset_doc("crm", deletionPolicy=policy)
    _, state, live = steady(ds)
    plan = make_plan(specs(), state, live, now=NOW)
    assert brief(plan) == [("dataset/crm", action)]
    # Delete of a dataset already gone is just a forget
    assert brief(make_plan(specs(), state, LiveSnapshot(), now=NOW)) == [("dataset/crm", "forget")]


def test_unmanaged_datasets_and_jobs_are_reported_new_and_remembered() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily")
    docs, state, live = steady(ds, job)
    stranger = job_doc("other", dataset_id="f" * 24)
    state.observed.unmanagedJobs = {3: {"status": "SUCCEEDED", "createdMs": 1, "datasetId": None}}  # type: ignore[dict-item]
    state = State.model_validate(state.model_dump())
    live = dataclasses.replace(
        live,
        datasets={**live.datasets, "e" * 24: LiveDataset(id="e" * 24, name="hand made")},
        runs={77: live_run(stranger, 77, "PROCESSING")},
        new_jobs=(77,),
    )
    plan = make_plan(docs, state, live, now=NOW)
    assert found(plan) == [
        ("dataset@" + "e" * 24, "unmanaged"),
        ("exportjob@3", "unmanaged"),
        ("exportjob@77", "unmanaged"),
    ]
    assert plan.actions == ()
    assert not plan.has_changes  # shown, but nothing to do: --detailed-exitcode exits 0
    assert plan.summary() == "Plan: no actions; 3 drift findings"
    drift_check = make_plan(docs, state, live, now=NOW, refresh_only=True)
    assert drift_check.has_changes  # the drift check (--refresh-only) exits 2 on any finding


def test_dataset_referenced_by_id_is_not_unmanaged() -> None:
    job = job_doc("daily", dataset_id="f" * 24)
    live = LiveSnapshot(datasets={"f" * 24: LiveDataset(id="f" * 24, name="theirs")})
    plan = make_plan(specs(job), State(), live, now=NOW)
    assert brief(plan) == [("exportjob/daily", "create")] and found(plan) == []


def test_targets_keep_their_dependencies_and_unknown_targets_are_refused() -> None:
    ds, job, other = dataset_doc("crm"), job_doc("daily"), job_doc("weekly")
    plan = make_plan(
        specs(ds, job, other), State(), LiveSnapshot(), now=NOW, targets=["exportjob/daily"]
    )
    assert brief(plan) == [("dataset/crm", "create"), ("exportjob/daily", "create")]
    assert plan.targets == ("exportjob/daily",)
    with pytest.raises(UnknownTarget, match="--target exportjob/nope names no document"):
        make_plan(specs(ds), State(), LiveSnapshot(), now=NOW, targets=["exportjob/nope"])


def test_refresh_only_reports_drift_without_actions() -> None:
    docs, state, live = steady(dataset_doc("crm"), job_doc("daily"))
    live = dataclasses.replace(live, missing_runs=frozenset({101}))
    plan = make_plan(docs, state, live, now=NOW, refresh_only=True)
    assert plan.actions == () and found(plan) == [("exportjob/daily", "missing")]
    assert plan.refresh_only


def test_actions_are_grouped_then_sorted_by_address() -> None:
    a, b = dataset_doc("b-set"), dataset_doc("a-set")
    j1, j2 = job_doc("zeta", "a-set"), job_doc("alpha", "b-set")
    gone = job_doc("gone", "a-set")
    state = state_of((gone.address, job_resource(gone, run_for(gone, 1))))
    plan = make_plan(specs(j1, a, j2, b), state, LiveSnapshot(), now=NOW)
    assert brief(plan) == [
        ("dataset/a-set", "create"),
        ("dataset/b-set", "create"),
        ("exportjob/alpha", "create"),
        ("exportjob/zeta", "create"),
        ("exportjob/gone", "forget"),
    ]


def test_recorded_run_in_an_older_dataset_is_replaced() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily")
    docs, state, live = steady(ds, job)
    res = state.export_job("exportjob/daily")
    assert res is not None
    res.runs = [run_for(job, 4, dataset_id=ds_id("old"))]
    plan = make_plan(docs, state, live, now=NOW)
    assert brief(plan) == [("exportjob/daily", "replace")]
    assert "changed from" in plan.actions[0].reason


def test_a_job_claimed_by_another_document_is_never_adopted() -> None:
    ds, daily = dataset_doc("crm"), job_doc("daily")
    twin = job_doc("twin")  # the very same request under another name
    _, state, live = steady(ds, daily)
    live = dataclasses.replace(live, runs={101: live_run(daily, 101)}, new_jobs=(101,))
    plan = make_plan(specs(ds, daily, twin), state, live, now=NOW)
    assert brief(plan) == [("exportjob/twin", "create")]
    assert found(plan) == []


def test_update_keeps_platform_tags_and_clears_a_description_with_empty_text() -> None:
    old = dataset_doc("crm", description="old text")
    _, state, _ = steady(old)
    res = state.dataset("dataset/crm")
    assert res is not None
    platform_tags = {
        **{k: tuple(v) for k, v in res.tags.items()},
        "unifiedProfile": ("enabled:true",),
    }
    live = LiveSnapshot(datasets={res.datasetId: live_dataset(res, tags=platform_tags)})
    plan = make_plan(specs(dataset_doc("crm")), state, live, now=NOW)
    assert brief(plan) == [("dataset/crm", "update")]
    request = plan.actions[0].request
    assert request is not None
    assert request["description"] == ""
    assert request["tags"] == {ADDRESS_TAG: ["dataset/crm"], "unifiedProfile": ["enabled:true"]}
    assert [(c.path, c.old, c.new) for c in plan.actions[0].diff] == [
        ("description", "old text", None)
    ]
    # once cleared (live shows ""), nothing more to do
    cleared = state.model_copy(deep=True)
    cleared_res = cleared.dataset("dataset/crm")
    assert cleared_res is not None
    cleared_res.description = ""
    live = LiveSnapshot(datasets={res.datasetId: live_dataset(cleared_res)})
    assert make_plan(specs(dataset_doc("crm")), cleared, live, now=NOW).actions == ()


def test_a_cancel_already_asked_for_is_waited_on_not_repeated() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily")
    _, state, live = steady(ds, job)
    res = state.export_job("exportjob/daily")
    assert res is not None
    res.runs = [run_for(job, 101, "PROCESSING", cancelledAt=NOW)]
    live = dataclasses.replace(live, runs={101: live_run(job, 101, "PROCESSING")})
    plan = make_plan(specs(ds), state, live, now=NOW)
    assert brief(plan) == [("exportjob/daily", "wait")]
    assert "cancellation of job 101 is under way" in plan.actions[0].reason


def test_a_live_job_with_the_merge_policy_the_platform_filled_in_is_adopted() -> None:
    ds, job = dataset_doc("crm"), job_doc("daily")  # no mergePolicy: the platform picks one
    _, state, live = steady(ds, job)
    state.resources.pop("exportjob/daily")
    filled = live_run(job, 70)
    request = {**filled.request, "mergePolicy": {"id": "default-mp", "version": 1}}
    live = dataclasses.replace(
        live, runs={70: dataclasses.replace(filled, request=request)}, new_jobs=(70,)
    )
    plan = make_plan(specs(ds, job), state, live, now=NOW)
    assert brief(plan) == [("exportjob/daily", "adopt")] and found(plan) == []
    assert plan.actions[0].adopt_id == "70"
    # a policy the spec names is still compared: another one is not this job
    pinned = job_doc("daily", mergePolicy={"id": "other-mp", "version": 1})
    plan = make_plan(specs(ds, pinned), state, live, now=NOW)
    assert brief(plan) == [("exportjob/daily", "create")]
    assert found(plan) == [("exportjob@70", "unmanaged")]


def _retired_world(reason: str) -> tuple[State, LiveSnapshot]:
    """crm and daily applied, then both retired; the live listing shows everything (full refresh)."""
    ds, job = dataset_doc("crm"), job_doc("daily")
    _, state, live = steady(ds, job)
    state.retire("exportjob/daily", reason=reason, at=NOW)  # type: ignore[arg-type]
    state.retire("dataset/crm", reason=reason, at=NOW)  # type: ignore[arg-type]
    live = dataclasses.replace(live, runs={101: live_run(job, 101)}, new_jobs=(101,))
    return state, live


def test_a_forgotten_job_and_its_orphaned_dataset_stay_claimed_by_the_history() -> None:
    state, live = _retired_world("forget")
    plan = make_plan(specs(), state, live, now=NOW)
    assert brief(plan) == [] and found(plan) == []
    observed = record_observations(state, live)
    assert observed.observed.unmanagedJobs == {}  # never remembered as unmanaged either


def test_after_state_rm_the_objects_are_unmanaged() -> None:
    state, live = _retired_world("state rm")
    plan = make_plan(specs(), state, live, now=NOW)
    assert found(plan) == [
        ("dataset@" + ds_id("crm"), "unmanaged"),
        ("exportjob@101", "unmanaged"),
    ]


def test_a_document_written_again_after_forget_starts_a_fresh_resource() -> None:
    state, live = _retired_world("forget")
    ds, job = dataset_doc("crm"), job_doc("daily")
    plan = make_plan(specs(ds, job), state, live, now=NOW)
    # The dataset carries this address's tag, so it is taken back; the job's finished run is
    # history, so the document gets a new run rather than adopting the old one.
    assert brief(plan) == [("dataset/crm", "adopt"), ("exportjob/daily", "create")]
    assert plan.actions[0].adopt_id == ds_id("crm")
    assert found(plan) == []
