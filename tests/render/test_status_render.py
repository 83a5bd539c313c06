"""`reconciler status` rendered: the JSON keys are camelCase like the plan JSON and the state."""

from __future__ import annotations

import json

from reconciler.render.status import StatusEntry, render_status

ENTRY = StatusEntry(
    "exportjob/daily-emails",
    "exportjob",
    "SUCCEEDED",
    "5b020a27e7040801dedba61b",
    job_id=24001,
    batches=("b1",),
    finished_at="2026-11-22T12:00:00Z",
    runs=2,
    commit="0123abcd" * 5,
    actor="octo-engineer",
    ci_run="https://github.com/data/specs/actions/runs/4242",
    tool_version="0.1.0",
)


def test_json_keys_are_camel_case() -> None:
    (resource,) = json.loads(render_status([ENTRY], "json"))["resources"]
    assert resource == {
        "address": "exportjob/daily-emails",
        "kind": "exportjob",
        "status": "SUCCEEDED",
        "datasetId": "5b020a27e7040801dedba61b",
        "jobId": 24001,
        "batches": ["b1"],
        "finishedAt": "2026-11-22T12:00:00Z",
        "runs": 2,
        "note": "",
        "commit": "0123abcd" * 5,
        "actor": "octo-engineer",
        "ciRun": "https://github.com/data/specs/actions/runs/4242",
        "toolVersion": "0.1.0",
    }


def test_text_table() -> None:
    text = render_status([ENTRY], "text")
    assert text.splitlines()[0].split() == [
        "ADDRESS",
        "STATUS",
        "REASON",
        "DATASET",
        "JOB",
        "RUNS",
        "FINISHED",
        "BY",
        "BATCHES",
    ]
    assert "24001" in text and "b1" in text and "octo-engineer at 0123abc" in text


def test_the_status_is_one_word_and_the_reason_a_column_of_its_own() -> None:
    due = StatusEntry(
        "exportjob/daily-emails",
        "exportjob",
        "SUCCEEDED",
        "5b020a27e7040801dedba61b",
        job_id=24001,
        runs=2,
        note="rerun: refresh due",
    )
    header, row = render_status([due], "text", width=None).splitlines()
    assert header.index("REASON") > header.index("STATUS")
    status_cell = row[header.index("STATUS") : header.index("REASON")].strip()
    assert status_cell == "SUCCEEDED"
    assert row[header.index("REASON") :].startswith("rerun: refresh due")


def test_text_fits_the_width_and_json_keeps_everything() -> None:
    long_note = StatusEntry(
        "exportjob/" + "a-very-long-document-name" * 3,
        "exportjob",
        "SUCCEEDED",
        "5b020a27e7040801dedba61b",
        job_id=24001,
        batches=tuple(f"batch-{i:030d}" for i in range(4)),
        finished_at="2026-11-22T12:00:00Z",
        runs=2,
    )
    text = render_status([ENTRY, long_note], "text", width=80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "\u2026" in text
    assert "24001" in text
    wide = render_status([ENTRY, long_note], "text", width=None)
    assert max(len(line) for line in wide.splitlines()) > 80
    full = json.loads(render_status([long_note], "json"))["resources"][0]
    assert full["address"] == long_note.address and len(full["batches"]) == 4


def test_audit_text_fits_80_columns() -> None:
    from datetime import UTC, datetime

    from reconciler.render.audit import AuditEntry, render_audit

    now = datetime(2026, 11, 22, tzinfo=UTC)
    entry = AuditEntry(
        "exportjob",
        "24001",
        "SUCCEEDED",
        "exportjob/" + "x" * 60,
        "5b020a27e7040801dedba61b",
        tuple(f"batch-{i:030d}" for i in range(3)),
        "ab" * 32,
        "create",
        now,
        records=10,
    )
    text = render_audit([entry], "text", now, width=80)
    table_lines = text.splitlines()[:-1]
    assert max(len(line) for line in table_lines) <= 80
