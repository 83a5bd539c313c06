"""apply's report: golden files of the JSON document and the text closing lines, a schema test.

Regenerate with UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]
import pytest

from reconciler.engine.events import Where
from reconciler.engine.results import ActionOutcome, ApplyReport, InFlight, WaitedRun
from reconciler.render.apply_json import apply_document, render_apply_json
from reconciler.render.apply_text import closing_lines, summary_line

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
SCHEMA = json.loads((ROOT / "docs" / "apply-format.schema.json").read_text(encoding="utf-8"))
WHERE = Where("prod", "the embedded local platform", "/repo/.reconciler/state/prod.json")


def waited_report() -> ApplyReport:
    """apply --wait: two datasets and two jobs created, one run failed."""
    return ApplyReport(
        where=WHERE,
        actions=[
            ActionOutcome(
                "dataset/crm-profiles",
                "dataset",
                "create",
                "done",
                "dataset/crm-profiles: created dataset ds-1",
                dataset_id="ds-1",
            ),
            ActionOutcome(
                "exportjob/daily-emails",
                "exportjob",
                "replace",
                "done",
                "exportjob/daily-emails: cancelled job 11, started job 12 (replace)",
                job_id=12,
            ),
            ActionOutcome(
                "exportjob/newsletter-audience",
                "exportjob",
                "create",
                "done",
                "exportjob/newsletter-audience: started job 13 (create)",
                job_id=13,
            ),
        ],
        runs=[
            WaitedRun("exportjob/daily-emails", 12, "SUCCEEDED", "batch-12", ()),
            WaitedRun(
                "exportjob/newsletter-audience", 13, "FAILED", None, ({"msg": "out of memory"},)
            ),
        ],
        waited=True,
        executed=True,
        followed=True,
        planned=3,
        elapsed_s=12.4,
        error="1 run did not succeed: exportjob/newsletter-audience job 13 FAILED (out of memory)",
        error_type="RunsFailed",
    )


def interrupted_report() -> ApplyReport:
    """Ctrl-C while creating: one done, one failed mid-way, one not reached, one run going on."""
    return ApplyReport(
        where=WHERE,
        planfile=Path("plan.json"),
        actions=[
            ActionOutcome(
                "exportjob/daily-emails",
                "exportjob",
                "rerun",
                "done",
                "exportjob/daily-emails: started job 21 (rerun)",
                job_id=21,
            ),
            ActionOutcome(
                "dataset/audience-exports",
                "dataset",
                "update",
                "failed",
                "dataset/audience-exports: interrupted (Ctrl-C)",
            ),
            ActionOutcome(
                "exportjob/newsletter-audience",
                "exportjob",
                "create",
                "skipped",
                "exportjob/newsletter-audience: not reached",
            ),
        ],
        in_flight=[InFlight("exportjob/daily-emails", 21, "PROCESSING")],
        stopped={"exportjob/old": "exportjob/old: not cancelled: the record cannot be read"},
        held_back=["exportjob/ambiguous"],
        planned=3,
        pending=1,
        elapsed_s=3.0,
        error="interrupted",
        error_type="KeyboardInterrupt",
        interrupted=True,
    )


REPORTS = {"apply-waited": waited_report, "apply-interrupted": interrupted_report}


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_golden_json(name: str) -> None:
    _golden(f"{name}.json", render_apply_json(REPORTS[name]()))


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_golden_text(name: str) -> None:
    _golden(f"{name}.txt", "".join(line + "\n" for line in closing_lines(REPORTS[name]())))


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_the_document_follows_its_schema(name: str) -> None:
    jsonschema.validate(apply_document(REPORTS[name]()), SCHEMA)


def test_the_schema_refuses_what_the_format_is_not() -> None:
    """The schema can fail: a missing key, an unknown result, another format version."""
    good = apply_document(waited_report())
    for broken in (
        {k: v for k, v in good.items() if k != "summary"},
        {**good, "formatVersion": 2},
        {**good, "actions": [{**good["actions"][0], "result": "maybe"}]},
        {**good, "outcome": "fine"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)


def test_the_summary_counts_each_kind() -> None:
    report = waited_report()
    assert report.counts()["created"] == 2 and report.counts()["replaced"] == 1
    assert report.counts()["failed"] == 1 and report.counts()["succeeded"] == 1
    assert report.outcome == "partial"
    assert interrupted_report().outcome == "interrupted"
    assert summary_line(report) == (
        "Summary: 2 created, 1 replaced, 0 cancelled, 1 failed, 0 still in flight (elapsed 12 s)."
    )
