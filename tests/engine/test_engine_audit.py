"""`reconciler audit` against the emulator: ownership, labels, newest runs, records, filters."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from engine_harness import Project


def applied(project: Project) -> None:
    result = project.run("apply", "--auto-approve", "--wait", "--timeout", "60s")
    assert result.code == 0, result.out + result.err


def audit_json(project: Project, *args: str) -> dict[str, Any]:
    result = project.run("audit", "--format", "json", *args)
    assert result.code == 0, result.err
    doc: dict[str, Any] = json.loads(result.out)
    return doc


def by_id(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["id"]: o for o in doc["objects"]}


def out_of_band(project: Project) -> tuple[str, str]:
    """An export job and a dataset created in the platform UI, in no document."""
    dataset = project.admin(
        "POST",
        "/dataSets",
        {
            "name": "Made in the UI",
            "schemaRef": {
                "id": "https://ns.adobe.com/xdm/context/profile__union",
                "contentType": "application/vnd.adobe.xed+json;version=1",
            },
        },
    )
    dataset_id = str(dataset[0]).rsplit("/", 1)[-1]  # ["@/dataSets/<id>"], as the Catalog answers
    job = project.admin(
        "POST",
        "/exportJobs",
        {
            "fields": "identities.id",
            "destination": {"datasetId": dataset_id, "segmentPerBatch": False},
            "schema": {"name": "_xdm.context.profile"},
        },
    )["id"]
    return str(job), dataset_id


def test_audit_shows_owners_labels_newest_runs_and_records(project: Project) -> None:
    applied(project)
    job, dataset = out_of_band(project)
    doc = audit_json(project)
    assert doc["formatVersion"] == 1
    objects = by_id(doc)

    unmanaged_job = objects[job]
    assert unmanaged_job["managedBy"] is None and unmanaged_job["labels"] == {}
    assert objects[dataset]["managedBy"] is None
    assert objects[dataset]["name"] == "Made in the UI"

    state = project.state()
    daily = state.export_job("exportjob/daily-emails")
    assert daily is not None
    run = objects[str(daily.runs[-1].jobId)]
    assert run["managedBy"] == "exportjob/daily-emails"
    assert run["labels"] == {"team": "crm"}
    assert run["newest"] is True
    assert run["status"] == "SUCCEEDED"
    assert run["batches"] and isinstance(run["records"], int) and run["records"] > 0
    assert run["fingerprint"] == daily.fingerprint
    assert 0 <= run["ageSeconds"] < 600

    crm = state.dataset("dataset/crm-profiles")
    assert crm is not None
    assert objects[crm.datasetId]["labels"] == {"owner": "marketing-ops", "team": "crm"}


def test_only_the_newest_run_of_a_document_is_marked(project: Project) -> None:
    applied(project)
    project.write(
        "specs/exports/daily-emails.yaml",
        (project.root / "specs/exports/daily-emails.yaml")
        .read_text(encoding="utf-8")
        .replace("identities.id,personalEmail.address", "identities.id"),
    )
    applied(project)
    runs = [o for o in audit_json(project)["objects"] if o["managedBy"] == "exportjob/daily-emails"]
    assert len(runs) == 2
    assert [r["newest"] for r in runs] == [True, False]  # newest first
    assert runs[0]["created"] >= runs[1]["created"]


def test_audit_filters(project: Project) -> None:
    applied(project)
    job, dataset = out_of_band(project)

    crm = by_id(audit_json(project, "--label", "team=crm"))
    assert crm and all(o["labels"].get("team") == "crm" for o in crm.values())
    assert job not in crm and dataset not in crm
    both = by_id(audit_json(project, "--label", "team=crm", "--label", "owner=marketing-ops"))
    assert [o["type"] for o in both.values()] == ["dataset"]

    succeeded = by_id(audit_json(project, "--status", "succeeded"))
    assert succeeded and all(o["status"] == "SUCCEEDED" for o in succeeded.values())
    present_or_new = by_id(audit_json(project, "--status", "present", "--status", "NEW"))
    assert dataset in present_or_new and all(
        o["status"] in ("present", "NEW") for o in present_or_new.values()
    )

    assert len(by_id(audit_json(project, "--since", "1h"))) == len(by_id(audit_json(project)))
    assert by_id(audit_json(project, "--since", "2999-01-01T00:00:00Z")) == {}


def test_audit_csv_and_human_formats(project: Project) -> None:
    applied(project)
    out_of_band(project)
    result = project.run("audit", "--format", "csv")
    assert result.code == 0, result.err
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert {r["type"] for r in rows} == {"dataset", "exportjob"}
    assert any(r["managedBy"] == "" for r in rows)
    text = project.run("audit")
    assert "(unmanaged)" in text.out and "managed," in text.out
    markdown = project.run("audit", "--format", "markdown")
    assert markdown.out.startswith("**Audit:**") and "| Type |" in markdown.out


def test_bad_filters_are_one_line_errors(project: Project) -> None:
    for args, needle in (
        (("--label", "team"), "--label 'team' is not key=value"),
        (("--since", "yesterday"), "--since 'yesterday'"),
    ):
        result = project.run("audit", *args)
        assert result.code == 1
        assert needle in result.err
        assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1


def test_runs_of_a_removed_document_stay_attributed(project: Project) -> None:
    applied(project)
    res = project.state().export_job("exportjob/newsletter-audience")
    assert res is not None
    job_id = str(res.runs[-1].jobId)
    (project.root / "specs/exports/audiences.yaml").unlink()
    applied(project)  # forget: the document is gone, its finished run is history
    doc = audit_json(project)
    run = by_id(doc)[job_id]
    assert run["managedBy"] == "exportjob/newsletter-audience"
    assert run["retired"] is True and run["newest"] is False
    assert run["batches"]  # what it wrote stays on record
    text = project.run("audit").out
    assert "exportjob/newsletter-audience (removed)" in text
    assert "of removed documents" in text
