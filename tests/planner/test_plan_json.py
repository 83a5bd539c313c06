"""Plan.to_json / from_json: saved plans read back exactly; anything else is a clear error."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.engine.model import (
    ACTION_KINDS,
    FINDING_KINDS,
    Action,
    DriftFinding,
    FieldChange,
    LiveDataset,
    LiveRun,
    LiveSnapshot,
    Plan,
    PlanFileError,
    live_changes,
)

json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
addresses = st.from_regex(r"(dataset|exportjob)/[a-z][a-z0-9-]{0,10}", fullmatch=True)

actions = st.builds(
    Action,
    address=addresses,
    kind=st.sampled_from(["dataset", "exportjob"]),
    action=st.sampled_from(ACTION_KINDS),
    reason=st.text(max_size=40),
    diff=st.lists(
        st.builds(FieldChange, st.text(min_size=1, max_size=10), json_values, json_values),
        max_size=3,
    ).map(tuple),
    request=st.none() | st.dictionaries(st.text(max_size=6), json_values, max_size=3),
    cancel_job_id=st.none() | st.integers(1, 10**12),
    adopt_id=st.none() | st.text(min_size=1, max_size=24),
    depends_on=st.lists(addresses, max_size=2).map(tuple),
)
findings = st.builds(
    DriftFinding,
    address=addresses,
    finding=st.sampled_from(FINDING_KINDS),
    reason=st.text(max_size=40),
    evidence=st.dictionaries(st.text(max_size=6), json_values, max_size=3),
)
plans = st.builds(
    Plan,
    actions=st.lists(actions, max_size=4).map(tuple),
    findings=st.lists(findings, max_size=3).map(tuple),
    state_lineage=st.uuids().map(str),
    state_serial=st.integers(0, 10**6),
    spec_digest=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    live_digest=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    refresh_only=st.booleans(),
    targets=st.lists(addresses, max_size=2).map(tuple),
    refresh=st.sampled_from(["incremental", "full"]),
    live_facts=st.dictionaries(st.text(max_size=12), st.text(max_size=20), max_size=3),
)


@given(plans)
def test_plans_round_trip_through_json(plan: Plan) -> None:
    text = plan.to_json()
    back = Plan.from_json(text)
    assert back.to_json() == text
    assert back.actions == plan.actions or [a.to_dict() for a in back.actions] == [
        a.to_dict() for a in plan.actions
    ]
    assert json.loads(text)["formatVersion"] == 1
    assert json.loads(text)["summary"]["hasChanges"] == plan.has_changes
    assert (back.refresh, back.live_facts) == (plan.refresh, plan.live_facts)


def test_a_plan_saved_before_refresh_and_live_facts_reads_as_incremental() -> None:
    doc = json.loads(Plan((), (), "l", 1, "s", "d", refresh="full").to_json())
    del doc["refresh"], doc["liveFacts"]
    back = Plan.from_json(json.dumps(doc))
    assert back.refresh == "incremental" and back.live_facts is None


def test_live_changes_name_the_objects_that_moved() -> None:
    job = LiveRun(12, "PROCESSING", 1, dataset_id="d")
    ds = LiveDataset("d" * 24, "crm")
    before = LiveSnapshot(datasets={ds.id: ds}, runs={12: job, 13: job}).fact_index()
    after = LiveSnapshot(
        datasets={ds.id: dataclasses.replace(ds, name="renamed")},
        runs={12: dataclasses.replace(job, status="SUCCEEDED"), 14: job},
        missing_runs=frozenset({13}),
    ).fact_index()
    assert live_changes(before, after) == [
        f"dataset {'d' * 24} changed",
        "job 12 PROCESSING -> SUCCEEDED",
        "job 13 PROCESSING -> missing",
        "job 14 is new",
    ]
    assert live_changes(after, after) == []
    # a batch appearing on a run that is still PROCESSING is a change too
    batch = LiveSnapshot(runs={12: dataclasses.replace(job, batch_id="b1")}).fact_index()
    assert live_changes(LiveSnapshot(runs={12: job}).fact_index(), batch) == ["job 12 changed"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nope", "Expecting value"),
        ("[]", "it is not a JSON object"),
        ('{"formatVersion": 2}', "formatVersion is 2, this reconciler reads 1"),
        ('{"formatVersion": 1, "actions": []}', "missing key 'state'"),
    ],
)
def test_not_a_plan_is_a_one_line_error(text: str, expected: str) -> None:
    with pytest.raises(PlanFileError) as info:
        Plan.from_json(text, source="plan.json")
    message = str(info.value)
    assert message.startswith("plan.json is not a saved plan (") and expected in message
    assert "reconciler plan --out" in message and "\n" not in message


def test_summary_counts_in_a_fixed_order() -> None:
    def act(kind: str, address: str) -> Action:
        return Action(address, "exportjob", kind, "r")  # type: ignore[arg-type]

    plan = Plan(
        actions=(
            act("cancel", "exportjob/a"),
            act("create", "exportjob/b"),
            act("replace", "exportjob/c"),
            act("create", "exportjob/d"),
        ),
        findings=(DriftFinding("exportjob/c", "failed", "r"),),
        state_lineage="l",
        state_serial=1,
        spec_digest="s",
        live_digest="d",
    )
    assert plan.summary() == "Plan: 2 to create, 1 to replace, 1 to cancel; 1 drift finding"
    only_wait = Plan((act("wait", "exportjob/a"),), (), "l", 1, "s", "d")
    assert not only_wait.has_changes and only_wait.summary() == "Plan: 1 to wait for"


def test_has_changes_counts_actions_but_findings_only_in_the_drift_check() -> None:
    unmanaged = DriftFinding("exportjob@7", "unmanaged", "r", {"jobId": 7})
    wait = Action("exportjob/a", "exportjob", "wait", "job 3 is NEW")
    rerun = Action("exportjob/a", "exportjob", "rerun", "r")
    cases = [
        ((), (unmanaged,), False, False),
        ((wait,), (unmanaged,), False, False),
        ((wait, rerun), (), False, True),
        ((), (unmanaged,), True, True),
        ((), (), True, False),
    ]
    for acts, finds, refresh_only, expected in cases:
        plan = Plan(acts, finds, "l", 1, "s", "d", refresh_only=refresh_only)
        assert plan.has_changes is expected, (acts, finds, refresh_only)
        doc = json.loads(plan.to_json())
        assert doc["summary"]["hasChanges"] is expected
        if finds:  # the summary line still counts what was found
            assert doc["summary"]["text"].endswith("; 1 drift finding")


def test_a_stale_plan_names_what_moved_and_an_old_plan_file_says_less() -> None:
    from reconciler.engine.workflow import stale_reasons
    from reconciler.state import State

    runs = {n: LiveRun(n, "NEW", n) for n in range(1, 6)}
    before = LiveSnapshot(runs=runs)
    after = LiveSnapshot(
        runs={n: dataclasses.replace(r, status="SUCCEEDED") for n, r in runs.items()}
    )
    state = State(lineage="l", serial=1)
    saved = Plan((), (), "l", 1, "s", before.digest(), live_facts=before.fact_index())
    assert stale_reasons(saved, state, "s", before) == []
    assert stale_reasons(saved, state, "s", after) == [
        "the live platform changed (job 1 NEW -> SUCCEEDED, job 2 NEW -> SUCCEEDED, "
        "job 3 NEW -> SUCCEEDED and 2 more)"
    ]
    old_file = dataclasses.replace(saved, live_facts=None)
    assert stale_reasons(old_file, state, "s", after) == ["the live platform changed"]
