"""plan/apply --replace ADDR: a new run of an export job whatever its status (`rerun: requested`)."""

from __future__ import annotations

from dataclasses import replace as changed
from datetime import timedelta

import pytest
from plan_fixtures import (
    NOW,
    Specs,
    dataset_doc,
    job_doc,
    job_resource,
    live_run,
    run_for,
    specs,
    state_of,
    steady,
)

from reconciler.engine.model import Action, LiveSnapshot, Plan
from reconciler.engine.planner import UnknownReplace, UnknownTarget, make_plan
from reconciler.errors import ReconcilerError
from reconciler.state import State

CRM = dataset_doc("crm")
DAILY = job_doc("daily", refresh="24h", onFailure="report")
WEEKLY = job_doc("weekly", fields="identities.id")


def job_actions(plan: Plan) -> list[tuple[str, str]]:
    return [(a.address, a.action) for a in plan.actions if a.kind == "exportjob"]


def one(plan: Plan, address: str) -> Action:
    (action,) = [a for a in plan.actions if a.address == address]
    return action


def world(status: str, *, age: timedelta = timedelta(hours=1)) -> tuple[Specs, State, LiveSnapshot]:
    """CRM and DAILY applied; DAILY's one run (job 100) in `status`, read live."""
    docs, state, live = steady(CRM, DAILY)
    run = run_for(DAILY, 100, status, age=age)
    state = state_of(
        ("dataset/crm", state.resources["dataset/crm"]), (DAILY.address, job_resource(DAILY, run))
    )
    live = changed(live, runs={100: live_run(DAILY, 100, status)})
    return docs, state, live


def test_steady_state_without_replace_does_nothing() -> None:
    docs, state, live = world("SUCCEEDED")
    assert make_plan(docs, state, live, now=NOW).actions == ()


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED", "CANCELLED"])
def test_a_finished_run_gets_a_requested_rerun(status: str) -> None:
    docs, state, live = world(status)
    plan = make_plan(docs, state, live, now=NOW, replace=[DAILY.address])
    action = one(plan, DAILY.address)
    assert action.action == "rerun" and action.cancel_job_id is None
    assert action.reason == f"rerun: requested (--replace; last run job 100 {status})"
    assert action.request is not None
    assert plan.has_changes


def test_a_failed_report_only_run_keeps_its_failed_finding() -> None:
    docs, state, live = world("FAILED")
    plain = make_plan(docs, state, live, now=NOW)
    assert plain.actions == () and [f.finding for f in plain.findings] == ["failed"]
    plan = make_plan(docs, state, live, now=NOW, replace=[DAILY.address])
    assert job_actions(plan) == [(DAILY.address, "rerun")]
    assert [f.finding for f in plan.findings] == ["failed"]


def test_a_due_refresh_becomes_one_requested_rerun_not_two() -> None:
    docs, state, live = world("SUCCEEDED", age=timedelta(hours=30))
    assert job_actions(make_plan(docs, state, live, now=NOW)) == [(DAILY.address, "rerun")]
    plan = make_plan(docs, state, live, now=NOW, replace=[DAILY.address])
    assert job_actions(plan) == [(DAILY.address, "rerun")]
    assert one(plan, DAILY.address).reason.startswith("rerun: requested (--replace;")


def test_a_run_in_flight_is_cancelled_first() -> None:
    docs, state, live = world("PROCESSING")
    plain = make_plan(docs, state, live, now=NOW)
    assert job_actions(plain) == [(DAILY.address, "wait")]
    plan = make_plan(docs, state, live, now=NOW, replace=[DAILY.address])
    action = one(plan, DAILY.address)
    assert (action.action, action.cancel_job_id) == ("rerun", 100)
    assert action.reason == "rerun: requested (--replace; job 100 is PROCESSING)"


def test_a_run_whose_cancel_was_asked_is_not_cancelled_again() -> None:
    docs, state, live = world("PROCESSING")
    res = state.export_job(DAILY.address)
    assert res is not None
    asked = res.runs[0].model_copy(update={"status": "CANCELLING", "cancelledAt": NOW})
    state.resources[DAILY.address] = res.model_copy(update={"runs": [asked]})
    plan = make_plan(docs, state, live, now=NOW, replace=[DAILY.address])
    action = one(plan, DAILY.address)
    assert (action.action, action.cancel_job_id) == ("rerun", None)
    assert "its cancel already asked" in action.reason


def test_a_missing_run_is_rerun_once_with_its_finding() -> None:
    docs, state, live = world("SUCCEEDED")
    live = changed(live, runs={}, missing_runs=frozenset({100}))
    plan = make_plan(docs, state, live, now=NOW, replace=[DAILY.address])
    assert job_actions(plan) == [(DAILY.address, "rerun")]
    assert (
        one(plan, DAILY.address).reason == "rerun: requested (--replace; last run job 100 missing)"
    )
    assert [f.finding for f in plan.findings] == ["missing"]


def test_never_run_and_changed_specs_already_start_a_run() -> None:
    docs, state, live = steady(CRM)
    docs = specs(CRM, DAILY)
    plan = make_plan(docs, state, live, now=NOW, replace=[DAILY.address])
    assert job_actions(plan) == [(DAILY.address, "create")]
    docs, state, live = world("SUCCEEDED")
    edited = job_doc("daily", refresh="24h", onFailure="report", fields="identities.id")
    plan = make_plan(specs(CRM, edited), state, live, now=NOW, replace=[DAILY.address])
    assert job_actions(plan) == [(DAILY.address, "replace")]


def test_only_the_named_address_is_rerun() -> None:
    docs, state, live = steady(CRM, DAILY, WEEKLY)
    plan = make_plan(docs, state, live, now=NOW, replace=[WEEKLY.address])
    assert job_actions(plan) == [(WEEKLY.address, "rerun")]


def test_an_adoption_goes_first_and_says_the_rerun_waits() -> None:
    _, state, live = steady(CRM)
    state = state_of(("dataset/crm", state.resources["dataset/crm"]))
    live = changed(live, runs={300: live_run(DAILY, 300)}, new_jobs=(300,))
    plan = make_plan(specs(CRM, DAILY), state, live, now=NOW, replace=[DAILY.address])
    assert job_actions(plan) == [(DAILY.address, "adopt")]
    (finding,) = [f for f in plan.findings if f.address == DAILY.address]
    assert finding.finding == "blocked" and "is adopted first" in finding.reason
    assert f"'reconciler apply --replace {DAILY.address}'" in finding.reason


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (
            "dataset/crm",
            "--replace dataset/crm is a dataset; --replace starts a new run of an export job "
            "(the export jobs writing into it: exportjob/daily, exportjob/weekly)",
        ),
        (
            "exportjob/daly",
            "--replace exportjob/daly names no export job document; did you mean exportjob/daily?",
        ),
        ("daily", "--replace daily names no export job document; did you mean exportjob/daily?"),
        (
            "exportjob/zzz",
            "--replace exportjob/zzz names no export job document; the exportjob addresses are: "
            "exportjob/daily, exportjob/weekly",
        ),
    ],
)
def test_an_address_that_is_no_export_job_document_is_one_clear_error(
    address: str, expected: str
) -> None:
    docs, state, live = steady(CRM, DAILY, WEEKLY)
    with pytest.raises(UnknownReplace) as raised:
        make_plan(docs, state, live, now=NOW, replace=[address])
    assert str(raised.value) == expected
    assert isinstance(raised.value, ReconcilerError) and isinstance(raised.value, UnknownTarget)


def test_a_removed_document_in_state_is_refused() -> None:
    _, state, live = steady(CRM, DAILY)
    with pytest.raises(UnknownReplace, match="is in state only: its document was removed"):
        make_plan(specs(CRM), state, live, now=NOW, replace=[DAILY.address])


def test_replace_must_lie_inside_the_targets() -> None:
    docs, state, live = steady(CRM, DAILY, WEEKLY)
    with pytest.raises(UnknownReplace) as raised:
        make_plan(docs, state, live, now=NOW, targets=[WEEKLY.address], replace=[DAILY.address])
    assert str(raised.value) == (
        f"--replace {DAILY.address} is outside --target ({WEEKLY.address}); add --target "
        f"{DAILY.address} or drop that --replace"
    )
    plan = make_plan(
        docs, state, live, now=NOW, targets=[DAILY.address, WEEKLY.address], replace=[DAILY.address]
    )
    assert job_actions(plan) == [(DAILY.address, "rerun")]


def test_refresh_only_and_replace_are_refused_together() -> None:
    docs, state, live = steady(CRM, DAILY)
    with pytest.raises(UnknownReplace, match="cannot be combined with --refresh-only"):
        make_plan(docs, state, live, now=NOW, refresh_only=True, replace=[DAILY.address])
