"""The impact of an action in the saved plan: round trip, older files, malformed values."""

from __future__ import annotations

import json

import pytest

from reconciler.engine.impact_model import Impact, LastRun
from reconciler.engine.model import Action, Plan, PlanFileError

READY = Impact(
    "ready",
    "segments",
    profiles=12_345,
    low=12_100,
    high=12_590,
    level=0.95,
    segments=("a", "b"),
    merge_policy_id="mp",
    last_run=LastRun(12, records=11_980, bytes=3_100_000, batches=2),
    max_profiles=20_000,
)


def plan(*impacts: Impact | None) -> Plan:
    actions = tuple(
        Action(f"exportjob/j{i}", "exportjob", "create", "new document", impact=impact)
        for i, impact in enumerate(impacts)
    )
    return Plan(actions, (), "l", 1, "s", "d", live_facts={})


@pytest.mark.parametrize(
    "impact",
    [
        READY,
        Impact("pending", "segments", segments=("a",), reason="not settled within 20 s"),
        Impact("failed", "store", reason="the profile store has no sample yet"),
        Impact("skipped", "store", reason="--no-estimate", max_profiles=5),
        Impact("ready", "store", profiles=9, low=9, high=9, max_profiles=1, allowed=True),
        None,
    ],
)
def test_the_impact_round_trips_through_the_plan_file(impact: Impact | None) -> None:
    original = plan(impact)
    assert Plan.from_json(original.to_json()) == original


def test_the_json_shape_is_stable() -> None:
    doc = plan(READY).to_dict()["actions"][0]["impact"]
    assert doc == {
        "state": "ready",
        "basis": "segments",
        "profiles": 12_345,
        "interval": {"low": 12_100, "high": 12_590, "level": 0.95},
        "segments": ["a", "b"],
        "mergePolicyId": "mp",
        "reason": None,
        "lastRun": {"jobId": 12, "records": 11_980, "bytes": 3_100_000, "batches": 2},
        "maxProfiles": 20_000,
        "overLimit": False,
        "allowedLarge": False,
    }
    assert plan(Impact("pending", "store")).to_dict()["actions"][0]["impact"]["interval"] is None


def test_over_limit_is_the_lower_bound_of_a_ready_estimate() -> None:
    assert Impact("ready", "store", profiles=10, low=6, high=14, max_profiles=5).over_limit
    assert not Impact("ready", "store", profiles=10, low=5, high=14, max_profiles=5).over_limit
    assert not Impact("pending", "store", profiles=10, low=6, high=14, max_profiles=5).over_limit
    assert not Impact("ready", "store", profiles=10, low=6, high=14).over_limit


def test_a_plan_file_from_before_impact_reads() -> None:
    doc = plan(READY).to_dict()
    del doc["actions"][0]["impact"]
    back = Plan.from_json(json.dumps(doc))
    assert back.actions[0].impact is None


@pytest.mark.parametrize(
    "bad",
    [
        {"state": "guessed", "basis": "store"},
        {"state": "ready", "basis": "sum"},
        {"state": "ready", "basis": "store", "profiles": "12"},
        {"state": "ready", "basis": "store", "interval": [1, 2]},
        {"basis": "store"},
    ],
)
def test_a_malformed_impact_is_one_clear_error(bad: dict[str, object]) -> None:
    doc = plan(READY).to_dict()
    doc["actions"][0]["impact"] = bad
    with pytest.raises(PlanFileError) as caught:
        Plan.from_json(json.dumps(doc), source="plan.json")
    assert str(caught.value).startswith("plan.json is not a saved plan (")
    assert "\n" not in str(caught.value)
