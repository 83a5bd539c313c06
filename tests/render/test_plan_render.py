"""Rendered plans: golden files (regenerate with UPDATE_GOLDEN=1 and review the diff) and limits."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.engine.impact_model import Impact, LastRun
from reconciler.engine.model import Action, DriftFinding, FieldChange, Plan
from reconciler.render.plan import render_plan
from reconciler.render.plan_markdown import MARKDOWN_LIMIT, render_markdown

GOLDEN = Path(__file__).parent / "golden"


def sample_plan() -> Plan:
    """One of every action and a few findings, as a real plan would carry them."""
    return Plan(
        actions=(
            Action("dataset/crm", "dataset", "create", "new document", request={"name": "CRM"}),
            Action(
                "dataset/web",
                "dataset",
                "update",
                "set the fields changed outside reconciler back to the document",
                diff=(FieldChange("name", "Renamed | by hand", "Web events"),),
            ),
            Action(
                "dataset/legacy",
                "dataset",
                "replace",
                "the schema cannot change in place (needs --confirm-replace-dataset)",
                diff=(
                    FieldChange("schemaRef.id", "https://ns.adobe.com/a", "https://ns.adobe.com/b"),
                ),
            ),
            Action(
                "dataset/found",
                "dataset",
                "adopt",
                "live dataset is tagged",
                adopt_id="5c8c3c555033b814b69f947f",
            ),
            Action(
                "exportjob/stale",
                "exportjob",
                "cancel",
                "document removed; job 7 is still in flight",
                cancel_job_id=7,
            ),
            Action(
                "exportjob/daily",
                "exportjob",
                "create",
                "new document",
                depends_on=("dataset/crm",),
                impact=Impact(
                    "ready",
                    "segments",
                    profiles=12_345,
                    low=12_100,
                    high=12_590,
                    level=0.95,
                    segments=("seg-a", "seg-b"),
                    last_run=LastRun(12, records=11_980, bytes=3_100_000, batches=2),
                    max_profiles=20_000,
                ),
            ),
            Action(
                "exportjob/emails",
                "exportjob",
                "replace",
                "the spec changed (fields, filter.segments[0].segmentId)",
                diff=(
                    FieldChange("fields", "identities.id", "identities.id,personalEmail.address"),
                    FieldChange("filter.segments[0].segmentId", "seg-a", "seg-b"),
                    FieldChange("filter.emptyProfiles", None, True),
                ),
                cancel_job_id=12,
                impact=Impact(
                    "pending",
                    "segments",
                    segments=("seg-b",),
                    reason="not settled within 20 s",
                    max_profiles=1_000,
                ),
            ),
            Action(
                "exportjob/hourly",
                "exportjob",
                "rerun",
                "refresh due: last success 25h ago, refresh every 24h",
                impact=Impact(
                    "ready",
                    "store",
                    profiles=2_500_000,
                    low=2_500_000,
                    high=2_500_000,
                    last_run=LastRun(30, records=2_480_112, bytes=870_000_000, batches=1),
                    max_profiles=1_000_000,
                    allowed=True,
                ),
            ),
            Action("exportjob/slow", "exportjob", "wait", "job 31 is PROCESSING"),
            Action(
                "dataset/old", "dataset", "delete", "document removed and deletionPolicy is Delete"
            ),
            Action(
                "exportjob/gone", "exportjob", "forget", "document removed; its runs are finished"
            ),
        ),
        findings=(
            DriftFinding(
                "dataset/web",
                "modified",
                "dataset was changed outside reconciler (name)",
                {"changes": [{"path": "name", "old": "Web events", "new": "Renamed | by hand"}]},
            ),
            DriftFinding(
                "exportjob/hourly",
                "failed",
                "job 30 FAILED",
                {"jobId": 30, "errors": [{"code": "0090", "msg": "merge policy ``` not found"}]},
            ),
            DriftFinding(
                "exportjob/huge",
                "blocked",
                "the create is held back: its estimate is ~2,500,000 profiles "
                "(2,400,000-2,600,000), over maxProfiles 1,000,000; "
                "apply --allow-large exportjob/huge to allow it",
                {
                    "action": "create",
                    "maxProfiles": 1_000_000,
                    "profiles": 2_500_000,
                    "low": 2_400_000,
                    "high": 2_600_000,
                    "segments": [],
                    "command": "reconciler apply --allow-large exportjob/huge",
                },
            ),
            DriftFinding(
                "exportjob@99",
                "unmanaged",
                "export job 99 (SUCCEEDED) is claimed by no document",
                {"jobId": 99},
            ),
        ),
        state_lineage="2f1c0e4e-0c55-4f55-9f0e-3a0b6f1e2d11",
        state_serial=12,
        spec_digest="a" * 64,
        live_digest="b" * 64,
        live_facts={
            "dataset@5b020a27e7040801dedba61b": "present 3c9e0f1a2b4d6e8f",
            "exportjob@12": "PROCESSING 9a1b2c3d4e5f6a7b",
            "exportjob@99": "SUCCEEDED 0f1e2d3c4b5a6978",
        },
    )


def empty_plan() -> Plan:
    return Plan((), (), "l", 1, "a" * 64, "b" * 64)


CASES = {
    "plan.txt": lambda: render_plan(sample_plan(), "text"),
    "plan-color.txt": lambda: render_plan(sample_plan(), "text", color=True),
    "plan.md": lambda: render_plan(sample_plan(), "markdown"),
    "plan.json": lambda: render_plan(sample_plan(), "json"),
    "empty.txt": lambda: render_plan(empty_plan(), "text"),
    "empty.md": lambda: render_plan(empty_plan(), "markdown"),
    "targeted-refresh-only.txt": lambda: render_plan(
        Plan(
            (),
            sample_plan().findings[:1],
            "l",
            1,
            "s",
            "d",
            refresh_only=True,
            targets=("dataset/web",),
        ),
        "text",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    text = CASES[name]()
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8")


def test_text_has_no_escape_codes_unless_asked() -> None:
    assert "\x1b[" not in render_plan(sample_plan(), "text")
    assert "\x1b[" in render_plan(sample_plan(), "text", color=True)


def test_text_ends_with_the_summary() -> None:
    text = render_plan(sample_plan(), "text")
    assert text.rstrip().splitlines()[-1] == (
        "Plan: 1 to create, 1 to update, 2 to replace, 1 to rerun, 1 to adopt, 1 to cancel, 1 to delete, "
        "1 to forget, 1 to wait for; 4 drift findings"
    ).replace("1 to create", "2 to create")


def test_json_output_is_the_saved_plan() -> None:
    text = render_plan(sample_plan(), "json")
    assert Plan.from_json(text) == Plan.from_json(sample_plan().to_json())
    assert json.loads(text)["formatVersion"] == 1


def big_plan(n: int, diff_size: int = 5) -> Plan:
    actions = tuple(
        Action(
            f"exportjob/job-{i:05d}",
            "exportjob",
            "replace",
            "the spec changed (fields)",
            diff=tuple(FieldChange(f"field{j}", "x" * 40, "y" * 40) for j in range(diff_size)),
        )
        for i in range(n)
    )
    return Plan(actions, (), "l", 1, "s", "d")


def test_markdown_is_cut_with_an_explicit_note() -> None:
    text = render_markdown(big_plan(500))
    assert len(text) <= MARKDOWN_LIMIT
    assert text.startswith(
        "## Reconciler plan\n\n**Plan: 500 to replace**\n\n| `-/+` replace |\n|---|\n| 500 |\n\n| |"
    )
    assert "| `-/+` | `exportjob/job-00499` | replace |" in text  # the whole table fits
    assert "detail sections omitted" in text and "Run `reconciler plan` for the full plan." in text
    # details that are shown are whole: every opened <details> is closed
    assert text.count("<details>") == text.count("</details>")


def test_markdown_cuts_the_table_too_when_it_alone_is_too_long() -> None:
    text = render_markdown(big_plan(3000, diff_size=1))
    assert len(text) <= MARKDOWN_LIMIT
    assert "table rows and 3000 detail sections omitted" in text
    assert "<details>" not in text


def test_small_markdown_is_not_cut() -> None:
    text = render_markdown(sample_plan())
    assert "omitted" not in text
    assert text.index("| `+` | `dataset/crm` |") < text.index("<details>")  # table first


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 400), diff_size=st.integers(0, 30), limit=st.integers(2_000, 60_000))
def test_markdown_never_exceeds_its_limit(n: int, diff_size: int, limit: int) -> None:
    text = render_markdown(big_plan(n, diff_size), limit=limit)
    assert len(text) <= limit
    full = render_markdown(big_plan(n, diff_size), limit=10**9)
    if len(full) <= limit - 400:
        assert text == full
    if len(full) > limit:
        assert "omitted. Run `reconciler plan` for the full plan." in text


def test_the_documented_example_has_the_keys_the_plan_writes() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "plan-format.md").read_text(encoding="utf-8")
    example = json.loads(doc.split("```json\n", 1)[1].split("```", 1)[0])
    written = sample_plan().to_dict()
    assert example.keys() == written.keys()
    assert example["summary"].keys() == written["summary"].keys()
    assert example["actions"][0].keys() == written["actions"][0].keys()
    assert example["findings"][0].keys() == written["findings"][0].keys()
    assert Plan.from_json(json.dumps(example)).summary() == example["summary"]["text"]
