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
    }


def test_text_table() -> None:
    text = render_status([ENTRY], "text")
    assert text.splitlines()[0].split() == [
        "ADDRESS",
        "STATUS",
        "DATASET",
        "JOB",
        "RUNS",
        "FINISHED",
        "BATCHES",
    ]
    assert "24001" in text and "b1" in text
