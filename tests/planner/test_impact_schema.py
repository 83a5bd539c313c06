"""The `impact` object of the plan JSON against its published schema (docs/plan-impact.schema.json),
for any impact the engine can build, and the plan-format page naming that schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.engine.impact_model import Impact, LastRun
from reconciler.engine.model import Action, Plan

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "plan-impact.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
counts = st.integers(0, 10**9)


@st.composite
def impacts(draw: st.DrawFn) -> Impact:
    state = draw(st.sampled_from(["ready", "pending", "failed", "skipped"]))
    basis = draw(st.sampled_from(["segments", "store"]))
    ready = state == "ready"
    low, high = sorted((draw(counts), draw(counts)))
    return Impact(
        state,  # type: ignore[arg-type]
        basis,  # type: ignore[arg-type]
        profiles=draw(st.integers(low, high)) if ready else None,
        low=low if ready else None,
        high=high if ready else None,
        level=draw(st.sampled_from([None, 0.95])) if ready else None,
        segments=tuple(draw(st.lists(st.text(min_size=1, max_size=8), max_size=3))),
        merge_policy_id=draw(st.one_of(st.none(), st.text(max_size=8))),
        reason=None if ready else draw(st.text(max_size=30)),
        last_run=draw(
            st.one_of(
                st.none(),
                st.builds(
                    LastRun,
                    st.integers(1, 10**12),
                    st.one_of(st.none(), counts),
                    st.one_of(st.none(), counts),
                    st.integers(0, 50),
                ),
            )
        ),
        max_profiles=draw(st.one_of(st.none(), st.integers(1, 10**9))),
        allowed=draw(st.booleans()),
    )


@given(impacts())
def test_every_impact_the_engine_builds_matches_the_schema(impact: Impact) -> None:
    plan = Plan(
        (Action("exportjob/a", "exportjob", "create", "r", impact=impact),), (), "l", 1, "s", "d"
    )
    written = json.loads(plan.to_json())["actions"][0]["impact"]
    VALIDATOR.validate(written)
    assert Impact.from_dict(written) == impact


def test_no_impact_is_null_and_valid() -> None:
    VALIDATOR.validate(Action("dataset/a", "dataset", "create", "r").to_dict()["impact"])


@pytest.mark.parametrize(
    "change",
    [
        {"state": "guessed"},
        {"basis": "sum"},
        {"profiles": -1},
        {"interval": {"low": 1}},
        {"overLimit": True, "state": "pending"},
        {"state": "ready", "profiles": None},
    ],
)
def test_the_schema_refuses_what_the_format_does_not_allow(change: dict[str, object]) -> None:
    good = Impact("ready", "store", profiles=5, low=5, high=5).to_dict()
    VALIDATOR.validate(good)
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate({**good, **change})


def test_the_format_page_names_the_schema() -> None:
    page = (ROOT / "docs" / "plan-format.md").read_text(encoding="utf-8")
    assert "docs/plan-impact.schema.json" in page


def test_the_golden_plan_and_the_documented_example_match_the_schema() -> None:
    golden = json.loads((ROOT / "tests" / "render" / "golden" / "plan.json").read_text("utf-8"))
    page = (ROOT / "docs" / "plan-format.md").read_text(encoding="utf-8")
    example = json.loads(page.split("```json\n", 1)[1].split("```", 1)[0])
    found = [a["impact"] for doc in (golden, example) for a in doc["actions"]]
    assert sum(i is not None for i in found) >= 4
    for impact in found:
        VALIDATOR.validate(impact)
