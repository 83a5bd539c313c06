"""The GitOps loop end to end: the real CLI against the emulator over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from engine_harness import Project

from reconciler.emulator import defaults
from reconciler.state import ExportJobResource

DAILY = "specs/exports/daily-emails.yaml"


@pytest.fixture
def frozen(project: Project) -> Iterator[Project]:
    """The emulator's clock stands still (jobs stay in flight) until the test ends."""
    project.admin("POST", "/clock", {"freeze": True})
    try:
        yield project
    finally:
        project.admin("POST", "/clock", {"freeze": False})


def applied(project: Project) -> Project:
    result = project.run("apply", "--auto-approve", "--wait", "--timeout", "60s")
    assert result.code == 0, result.err
    return project


def job_of(project: Project, address: str) -> int:
    res = project.state().export_job(address)
    assert res is not None
    newest = res.newest_run()
    assert newest is not None
    return newest.jobId


def dataset_of(project: Project, address: str) -> str:
    res = project.state().dataset(address)
    assert res is not None
    return res.datasetId


def plan_json(project: Project) -> dict[str, Any]:
    result = project.run("plan", "--format", "json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert isinstance(doc, dict)
    return doc


def actions(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(a["address"], a["action"]) for a in doc["actions"]}


def findings(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["address"], f["finding"]) for f in doc["findings"]}


def assert_converged(project: Project) -> None:
    result = project.run("plan", "--detailed-exitcode")
    assert result.code == 0, result.out + result.err
    assert "No changes" in result.out


def test_plan_apply_then_nothing_to_do(project: Project) -> None:
    first = project.run("plan", "--detailed-exitcode")
    assert first.code == 2, first.err
    assert "Plan: 4 to create" in first.out
    assert not project.state_path.exists()  # plan never writes state

    applied(project)
    state = project.state()
    assert set(state.resources) == {
        "dataset/crm-profiles",
        "dataset/audience-exports",
        "exportjob/daily-emails",
        "exportjob/newsletter-audience",
    }
    daily = state.export_job("exportjob/daily-emails")
    assert daily is not None and daily.runs[0].status == "SUCCEEDED"
    assert daily.runs[0].batchId and daily.runs[0].finishedAt is not None
    assert daily.runs[0].datasetId == dataset_of(project, "dataset/crm-profiles")
    audience = state.export_job("exportjob/newsletter-audience")
    assert audience is not None and audience.runs[0].batches  # segmentPerBatch: per segment
    assert state.pending == []
    assert_converged(project)

    jobs = project.state().claimed_job_ids()
    again = project.run("apply", "--auto-approve", "--wait")
    assert again.code == 0, again.err
    assert "Nothing to apply" in again.out
    assert project.state().claimed_job_ids() == jobs
    # The second apply may only have recorded the watermark; a third one writes nothing.
    serial = project.state().serial
    assert project.run("apply", "--auto-approve").code == 0
    assert project.state().serial == serial


def test_spec_edit_is_a_replace_with_the_diff_shown(project: Project) -> None:
    applied(project)
    old_job = job_of(project, "exportjob/daily-emails")
    text = (project.root / DAILY).read_text()
    project.write(DAILY, text.replace("personalEmail.address", "personalEmail.address,homeAddress"))

    shown = project.run("plan", "--detailed-exitcode")
    assert shown.code == 2
    assert "exportjob/daily-emails" in shown.out and "replace" in shown.out
    assert "fields" in shown.out and "homeAddress" in shown.out
    doc = plan_json(project)
    assert actions(doc) == {("exportjob/daily-emails", "replace")}

    applied(project)
    res = project.state().export_job("exportjob/daily-emails")
    assert res is not None
    assert res.runs[0].jobId == old_job  # runs are history, never replaced
    assert len(res.runs) == 2 and res.runs[1].reason == "replace"
    assert "homeAddress" in res.request["fields"]
    assert_converged(project)


def test_failed_job_is_reported_and_rerun(frozen: Project) -> None:
    project = frozen
    started = project.run("apply", "--auto-approve")
    assert started.code == 0, started.err
    job = job_of(project, "exportjob/daily-emails")
    error = {"code": "0090000009", "msg": "Error writing profiles", "callStack": "x"}
    project.admin("POST", f"/exportJobs/{job}/fail", {"errors": [error]})

    doc = plan_json(project)
    assert ("exportjob/daily-emails", "failed") in findings(doc)
    assert ("exportjob/daily-emails", "rerun") in actions(doc)
    failed = next(f for f in doc["findings"] if f["finding"] == "failed")
    assert failed["evidence"]["errors"][0]["msg"] == "Error writing profiles"

    project.admin("POST", "/clock", {"freeze": False})
    applied(project)
    res = project.state().export_job("exportjob/daily-emails")
    assert res is not None and [r.status for r in res.runs] == ["FAILED", "SUCCEEDED"]
    assert res.runs[1].reason.startswith("rerun: failed")
    assert_converged(project)


def test_report_only_failure_is_a_finding_without_rerun(frozen: Project) -> None:
    project = frozen
    assert project.run("apply", "--auto-approve").code == 0
    job = job_of(project, "exportjob/newsletter-audience")
    project.admin("POST", f"/exportJobs/{job}/fail")
    doc = plan_json(project)
    assert ("exportjob/newsletter-audience", "failed") in findings(doc)
    assert not {a for a in actions(doc) if a[0] == "exportjob/newsletter-audience"} - {
        ("exportjob/newsletter-audience", "wait")
    }


def test_cancelled_outside_is_reported_and_rerun(frozen: Project) -> None:
    project = frozen
    assert project.run("apply", "--auto-approve").code == 0
    job = job_of(project, "exportjob/daily-emails")
    project.admin("POST", f"/exportJobs/{job}/cancel")
    doc = plan_json(project)
    assert ("exportjob/daily-emails", "cancelled") in findings(doc)
    assert ("exportjob/daily-emails", "rerun") in actions(doc)
    project.admin("POST", "/clock", {"freeze": False})
    applied(project)
    assert_converged(project)


def test_renamed_dataset_is_modified_and_updated_back(project: Project) -> None:
    applied(project)
    dataset = dataset_of(project, "dataset/crm-profiles")
    with project.client() as client:
        tags = client.get_dataset(dataset).tags  # type: ignore[union-attr]
    platform_tag = {"unifiedProfile": ["enabled:true"]}  # set by the platform, not a document
    project.admin(
        "PATCH",
        f"/dataSets/{dataset}",
        {"name": "renamed in the UI", "tags": {**tags, "owner": ["someone"], **platform_tag}},
    )
    doc = plan_json(project)
    assert findings(doc) == {("dataset/crm-profiles", "modified")}
    assert actions(doc) == {("dataset/crm-profiles", "update")}
    applied(project)
    with project.client() as client:
        live = client.get_dataset(dataset)
    assert live is not None and live.name == "CRM profile export"
    assert "owner" not in live.tags  # the document's tags are set back ...
    assert live.tags["unifiedProfile"] == ["enabled:true"]  # ... the platform's are kept
    assert_converged(project)


def test_deleted_dataset_is_missing_and_created_again_with_its_job(project: Project) -> None:
    applied(project)
    old = dataset_of(project, "dataset/crm-profiles")
    project.admin("DELETE", f"/dataSets/{old}")
    doc = plan_json(project)
    assert ("dataset/crm-profiles", "missing") in findings(doc)
    assert ("dataset/crm-profiles", "create") in actions(doc)
    assert ("exportjob/daily-emails", "replace") in actions(doc)
    applied(project)
    new = dataset_of(project, "dataset/crm-profiles")
    assert new != old
    res = project.state().export_job("exportjob/daily-emails")
    assert res is not None and res.runs[-1].datasetId == new  # the new id flowed into the job
    assert_converged(project)


def test_unmanaged_job_is_found_and_can_be_imported(project: Project) -> None:
    applied(project)
    dataset = dataset_of(project, "dataset/crm-profiles")
    body = {
        "fields": "identities.id",
        "mergePolicy": {"id": "timestampOrdered-none-mp", "version": 1},
        "destination": {"datasetId": dataset, "segmentPerBatch": False},
        "schema": {"name": "_xdm.context.profile"},
    }
    job = project.admin("POST", "/exportJobs", body)["id"]
    doc = plan_json(project)
    assert findings(doc) == {(f"exportjob@{job}", "unmanaged")}
    assert not actions(doc)

    project.write(
        "specs/exports/ids.yaml",
        "apiVersion: reconciler/v1\nkind: ExportJob\nmetadata: {name: ids}\nspec:\n"
        "  mergePolicy: {id: timestampOrdered-none-mp, version: 1}\n"
        "  fields: identities.id\n  destination: {dataset: crm-profiles}\n"
        "  schema: {name: _xdm.context.profile}\n",
    )
    doc = plan_json(project)
    assert actions(doc) == {("exportjob/ids", "adopt")}  # the matching live job, not a duplicate
    assert findings(doc) == set()
    applied(project)
    assert job_of(project, "exportjob/ids") == job
    assert_converged(project)


def test_import_adopts_a_job_for_a_document(project: Project) -> None:
    applied(project)
    dataset = dataset_of(project, "dataset/crm-profiles")
    body = {
        "fields": "identities.id",
        "mergePolicy": {"id": "timestampOrdered-none-mp", "version": 1},
        "destination": {"datasetId": dataset, "segmentPerBatch": False},
        "schema": {"name": "_xdm.context.profile"},
    }
    job = project.admin("POST", "/exportJobs", body)["id"]
    project.write(
        "specs/exports/ids.yaml",
        "apiVersion: reconciler/v1\nkind: ExportJob\nmetadata: {name: ids}\nspec:\n"
        "  mergePolicy: {id: timestampOrdered-none-mp, version: 1}\n"
        "  fields: identities.id,personalEmail.address\n  destination: {dataset: crm-profiles}\n"
        "  schema: {name: _xdm.context.profile}\n",
    )
    result = project.run("import", "exportjob/ids", str(job))
    assert result.code == 0, result.err
    assert "differs from the document (fields)" in result.out
    res = project.state().export_job("exportjob/ids")
    assert isinstance(res, ExportJobResource) and res.runs[0].jobId == job
    doc = plan_json(project)
    assert actions(doc) == {("exportjob/ids", "replace")}
    again = project.run("import", "exportjob/ids", str(job))
    assert again.code == 1 and "already in state" in again.err


def test_saved_plan_applies_exactly_and_a_stale_one_is_refused(project: Project) -> None:
    saved = project.root / "plan.json"
    assert project.run("plan", "--out", str(saved)).code == 0
    result = project.run("apply", str(saved))  # a saved plan needs no approval
    assert result.code == 0, result.err
    assert len(project.state().resources) == 4

    assert project.run("plan", "--out", str(saved)).code == 0
    text = (project.root / DAILY).read_text()
    project.write(DAILY, text.replace("refresh: 24h", "refresh: 12h"))
    stale = project.run("apply", str(saved))
    assert stale.code == 1
    assert "stale" in stale.err and "the specs changed" in stale.err
    assert stale.err.count("\n") == 1  # one line

    project.write(DAILY, text)
    assert project.run("plan", "--out", str(saved)).code == 0
    project.run("state", "rm", "exportjob/daily-emails")
    stale = project.run("apply", str(saved))
    assert stale.code == 1 and "the state changed" in stale.err


def test_apply_refuses_to_ask_without_a_terminal(project: Project) -> None:
    result = project.run("apply")
    assert result.code == 1
    assert "stdin is not a terminal" in result.err and "--auto-approve" in result.err
    assert not project.state_path.exists() or not project.state().resources


def test_dataset_replace_needs_confirmation(project: Project) -> None:
    applied(project)
    # a dataset of another schema cannot be exported into: its export job goes first
    (project.root / "specs" / "exports" / "daily-emails.yaml").unlink()
    path = project.root / "specs" / "datasets.yaml"
    text = path.read_text()
    project.write(
        "specs/datasets.yaml",
        text.replace(
            "  name: CRM profile export\n",
            "  name: CRM profile export\n  schemaRef: {id: https://ns.adobe.com/acme/schemas/crm}\n",
        ),
    )
    refused = project.run("apply", "--auto-approve")
    assert refused.code == 1 and "--confirm-replace-dataset" in refused.err
    old = dataset_of(project, "dataset/crm-profiles")
    assert project.run("apply", "--auto-approve", "--confirm-replace-dataset").code in (0, 1)
    assert dataset_of(project, "dataset/crm-profiles") != old or "schema" in refused.err


def test_verbose_logs_requests_and_count_but_no_secret(project: Project) -> None:
    result = project.run("-v", "plan")
    assert result.code == 0, result.err
    lines = result.err.splitlines()
    assert any(line.startswith("http: GET /data/foundation/catalog/dataSets") for line in lines)
    assert any(line.startswith("http: POST /ims/token/v3 200") for line in lines)
    assert lines[-1].startswith("http: ") and lines[-1].endswith(" requests")
    for secret in (defaults.CLIENT_SECRET, "Bearer", "access_token"):
        assert secret not in result.err + result.out


def test_status_audit_and_state_commands(project: Project) -> None:
    applied(project)
    status = project.run("status", "--format", "json")
    assert status.code == 0, status.err
    rows = {r["address"]: r for r in json.loads(status.out)["resources"]}
    assert rows["exportjob/daily-emails"]["status"] == "SUCCEEDED"
    assert rows["exportjob/daily-emails"]["batches"]
    assert rows["dataset/crm-profiles"]["status"] == "present"
    assert "exportjob/daily-emails" in project.run("status").out

    audit = project.run("audit", "--format", "csv")
    assert audit.code == 0, audit.err
    header, *records = audit.out.splitlines()
    assert header.startswith("type,id,status,managedBy")
    assert len(records) == 4 and all("/" in r for r in records)
    for fmt in ("text", "markdown", "json"):
        assert project.run("audit", "--format", fmt).code == 0

    listed = project.run("state", "list")
    assert "exportjob/daily-emails" in listed.out and "dataset/crm-profiles" in listed.out
    job = job_of(project, "exportjob/daily-emails")
    shown = json.loads(project.run("state", "show", "exportjob/daily-emails").out)
    assert shown["resource"]["runs"][0]["jobId"] == job and shown["retired"] == []
    assert project.run("state", "rm", "exportjob/daily-emails").code == 0
    after = json.loads(project.run("state", "show", "exportjob/daily-emails").out)
    assert after["resource"] is None  # no longer managed ...
    assert [r["reason"] for r in after["retired"]] == ["state rm"]  # ... but its record is kept
    assert after["retired"][0]["resource"]["runs"][0]["jobId"] == job
    listed = project.run("state", "list").out
    assert "Retired" in listed and "(state rm " in listed.split("Retired")[1]
    missing = project.run("state", "show", "exportjob/nope")
    assert missing.code == 1 and "not in state" in missing.err
    # Not tracked any more, the job is claimed by no run: the next plan reports it as unmanaged
    # (incremental refresh included) or, when it sees the job's request, adopts it back.
    doc = plan_json(project)
    assert (f"exportjob@{job}", "unmanaged") in findings(doc) or actions(doc) == {
        ("exportjob/daily-emails", "adopt")
    }
    full = json.loads(project.run("plan", "--refresh=full", "--format", "json").out)
    assert actions(full) == {("exportjob/daily-emails", "adopt")}
    imported = project.run("import", "exportjob/daily-emails", str(job))
    assert imported.code == 0, imported.err
    assert_converged(project)


def test_a_job_made_outside_from_a_spec_without_merge_policy_is_adopted(project: Project) -> None:
    applied(project)
    dataset = dataset_of(project, "dataset/crm-profiles")
    body = {
        "fields": "identities.id",
        "destination": {"datasetId": dataset, "segmentPerBatch": False},
        "schema": {"name": "_xdm.context.profile"},
    }
    job = project.admin("POST", "/exportJobs", body)["id"]
    with project.client() as client:
        record = client.get_export_job(job)
    assert record is not None and record.mergePolicy  # the platform filled in its default
    project.write(
        "specs/exports/ids.yaml",
        "apiVersion: reconciler/v1\nkind: ExportJob\nmetadata: {name: ids}\nspec:\n"
        "  fields: identities.id\n  destination: {dataset: crm-profiles}\n"
        "  schema: {name: _xdm.context.profile}\n",
    )
    doc = plan_json(project)
    assert actions(doc) == {("exportjob/ids", "adopt")}, doc["actions"]
    applied(project)
    assert job_of(project, "exportjob/ids") == job
    res = project.state().export_job("exportjob/ids")
    assert res is not None and len(res.runs) == 1  # adopted, not duplicated
    assert_converged(project)


def test_unmanaged_objects_are_shown_but_only_the_drift_check_exits_2(project: Project) -> None:
    applied(project)
    schema = {
        "id": "https://ns.adobe.com/xdm/context/profile__union",
        "contentType": "application/vnd.adobe.xed+json;version=1",
    }
    project.admin("POST", "/dataSets", {"name": "made by hand", "schemaRef": schema})
    shown = project.run("plan", "--detailed-exitcode")
    assert shown.code == 0, shown.out + shown.err  # nothing to do: a clean plan
    assert "unmanaged" in shown.out and "Plan: no actions; 1 drift finding" in shown.out
    doc = plan_json(project)
    assert doc["summary"]["hasChanges"] is False and doc["summary"]["findings"] == {"unmanaged": 1}
    drift = project.run("plan", "--refresh-only", "--detailed-exitcode")
    assert drift.code == 2, drift.out + drift.err


def test_import_accepts_the_merge_policy_the_platform_filled_in(project: Project) -> None:
    applied(project)
    dataset = dataset_of(project, "dataset/crm-profiles")
    body = {
        "fields": "identities.id",
        "destination": {"datasetId": dataset, "segmentPerBatch": False},
        "schema": {"name": "_xdm.context.profile"},
    }
    job = project.admin("POST", "/exportJobs", body)["id"]
    project.write(
        "specs/exports/ids.yaml",
        "apiVersion: reconciler/v1\nkind: ExportJob\nmetadata: {name: ids}\nspec:\n"
        "  fields: identities.id\n  destination: {dataset: crm-profiles}\n"
        "  schema: {name: _xdm.context.profile}\n",
    )
    result = project.run("import", "exportjob/ids", str(job))
    assert result.code == 0 and "matches the document" in result.out, result.out + result.err
    applied(project)
    assert_converged(project)
    res = project.state().export_job("exportjob/ids")
    assert res is not None and [r.jobId for r in res.runs] == [job]  # not replaced
