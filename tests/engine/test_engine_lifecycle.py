"""Removal, deletion policy, refresh schedules and dataset import, end to end."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from typing import Any

from engine_harness import Project

from reconciler.state import write_atomic

BOTH_PROFILES = True  # conftest: every test runs under cooperative and documented

AUDIENCE = "specs/exports/audiences.yaml"


def applied(project: Project, *extra: str) -> None:
    result = project.run("apply", "--auto-approve", "--wait", "--timeout", "60s", *extra)
    assert result.code == 0, result.out + result.err


def plan_actions(project: Project) -> set[tuple[str, str]]:
    result = project.run("plan", "--format", "json")
    assert result.code == 0, result.err
    doc: dict[str, Any] = json.loads(result.out)
    return {(a["address"], a["action"]) for a in doc["actions"]}


def test_removed_document_with_a_run_in_flight_is_cancelled(project: Project) -> None:
    project.admin("POST", "/clock", {"freeze": True})
    try:
        assert project.run("apply", "--auto-approve").code == 0
        (project.root / AUDIENCE).unlink()
        assert plan_actions(project) == {
            ("exportjob/newsletter-audience", "cancel"),
            ("exportjob/daily-emails", "wait"),
        }
        assert project.run("apply", "--auto-approve").code == 0
    finally:
        project.admin("POST", "/clock", {"freeze": False})
    res = project.state().export_job("exportjob/newsletter-audience")
    assert res is not None and res.runs[-1].cancelledAt is not None
    # an immediate cancel ends the job at once; a marked one (documented) winds down first
    assert res.runs[-1].status in ("CANCELLED", "CANCELLING")
    deadline = time.monotonic() + 15
    while ("exportjob/newsletter-audience", "forget") not in plan_actions(project):
        assert time.monotonic() < deadline, plan_actions(project)
        time.sleep(0.3)
    applied(project)
    assert project.state().export_job("exportjob/newsletter-audience") is None


def test_removed_dataset_follows_its_deletion_policy(project: Project) -> None:
    datasets = project.root / "specs" / "datasets.yaml"
    datasets.write_text(
        datasets.read_text().replace("deletionPolicy: Orphan", "deletionPolicy: Delete")
    )
    applied(project)
    doomed = project.state().dataset("dataset/audience-exports")
    kept = project.state().dataset("dataset/crm-profiles")
    assert doomed is not None and doomed.deletionPolicy == "Delete" and kept is not None
    (project.root / AUDIENCE).unlink()
    text = datasets.read_text()
    datasets.write_text(text[: text.index("---")])  # only crm-profiles is left
    assert ("dataset/audience-exports", "delete") in plan_actions(project)
    applied(project)
    with project.client() as client:
        assert client.get_dataset(doomed.datasetId) is None
        assert client.get_dataset(kept.datasetId) is not None
    assert project.state().dataset("dataset/audience-exports") is None


def test_refresh_due_reruns_and_keeps_the_history(project: Project) -> None:
    applied(project)
    assert plan_actions(project) == set()
    state = project.state()
    res = state.export_job("exportjob/daily-emails")
    assert res is not None and res.runs[0].finishedAt is not None
    res.runs[0].finishedAt = res.runs[0].finishedAt - timedelta(hours=25)
    write_atomic(project.state_path, state.to_json())
    assert plan_actions(project) == {("exportjob/daily-emails", "rerun")}
    applied(project)
    res = project.state().export_job("exportjob/daily-emails")
    assert res is not None and len(res.runs) == 2
    assert res.runs[1].reason.startswith("rerun: refresh due")
    assert res.runs[0].fingerprint == res.runs[1].fingerprint  # same spec, asked by the schedule


def test_import_a_dataset_then_plan_updates_it_to_the_document(project: Project) -> None:
    created = project.admin(
        "POST",
        "/dataSets",
        {
            "name": "made in the UI",
            "schemaRef": {
                "id": "https://ns.adobe.com/xdm/context/profile__union",
                "contentType": "application/vnd.adobe.xed+json;version=1",
            },
        },
    )
    dataset_id = created[0].rsplit("/", 1)[-1]
    result = project.run("import", "dataset/crm-profiles", dataset_id)
    assert result.code == 0, result.err
    assert ("dataset/crm-profiles", "update") in plan_actions(project)
    applied(project)
    assert project.state().dataset("dataset/crm-profiles").datasetId == dataset_id  # type: ignore[union-attr]
    with project.client() as client:
        live = client.get_dataset(dataset_id)
    assert live is not None and live.name == "CRM profile export"
    assert live.tags["reconciler/address"] == ["dataset/crm-profiles"]
    project.run("state", "rm", "dataset/audience-exports")
    other = project.run("import", "dataset/audience-exports", dataset_id)
    assert other.code == 1 and "already managed as dataset/crm-profiles" in other.err


def test_dropping_a_dataset_description_converges(project: Project) -> None:
    applied(project)
    datasets = project.root / "specs" / "datasets.yaml"
    text = datasets.read_text()
    datasets.write_text(
        text.replace(
            "  description: Daily snapshot of profile identities and emails for the CRM sync.\n", ""
        )
    )
    assert plan_actions(project) == {("dataset/crm-profiles", "update")}
    applied(project)
    assert plan_actions(project) == set()
    with project.client() as client:
        live = client.get_dataset(project.state().dataset("dataset/crm-profiles").datasetId)  # type: ignore[union-attr]
    assert live is not None and not live.description


def test_apply_wait_exits_1_when_a_run_fails(project: Project) -> None:
    error = {"code": "0090000009", "msg": "Error writing profiles", "callStack": "x"}
    project.admin("POST", "/faults", {"jobs": {"fail": 1, "errors": [error]}})
    try:
        result = project.run("apply", "--auto-approve", "--wait", "--timeout", "60s")
    finally:
        project.admin("DELETE", "/faults")
    assert result.code == 1
    assert "exportjob/daily-emails: job" in result.out and "FAILED" in result.out
    assert "1 run did not succeed" in result.err and "Error writing profiles" in result.err
    res = project.state().export_job("exportjob/daily-emails")
    assert res is not None and res.runs[0].status == "FAILED"  # recorded before exiting


def test_apply_wait_gives_up_at_the_timeout(project: Project) -> None:
    project.admin("POST", "/clock", {"freeze": True})
    try:
        result = project.run("apply", "--auto-approve", "--wait", "--timeout", "1s")
    finally:
        project.admin("POST", "/clock", {"freeze": False})
    assert result.code == 1
    assert "timed out after 1s" in result.err and "apply --wait" in result.err
    assert len(project.state().claimed_job_ids()) == 2  # the runs were recorded all the same


def test_saved_plan_is_refused_when_the_live_platform_changed(project: Project) -> None:
    applied(project)
    saved = project.root / "plan.json"
    assert project.run("plan", "--out", str(saved)).code == 0
    dataset = project.state().dataset("dataset/crm-profiles")
    assert dataset is not None
    project.admin("PATCH", f"/dataSets/{dataset.datasetId}", {"name": "renamed"})
    stale = project.run("apply", str(saved))
    assert stale.code == 1 and "the live platform changed" in stale.err


def test_audit_lists_recorded_runs_the_platform_no_longer_has(project: Project) -> None:
    applied(project)
    state = project.state()
    res = state.export_job("exportjob/daily-emails")
    assert res is not None
    gone = res.runs[0].model_copy(update={"jobId": 999_999, "batchId": "feedbeef"})
    res.runs.insert(0, gone)
    write_atomic(project.state_path, state.to_json())
    result = project.run("audit", "--format", "json")
    assert result.code == 0, result.err
    objects = {o["id"]: o for o in json.loads(result.out)["objects"]}
    assert objects["999999"]["status"] == "not on platform"
    assert objects["999999"]["managedBy"] == "exportjob/daily-emails"
    assert objects["999999"]["batches"] == ["feedbeef"]
    live = objects[str(res.runs[1].jobId)]
    assert live["fingerprint"] == res.fingerprint and live["reason"] == "create"


def plan_doc(project: Project, *extra: str) -> dict[str, Any]:
    result = project.run("plan", "--format", "json", *extra)
    assert result.code == 0, result.err
    doc: dict[str, Any] = json.loads(result.out)
    return doc


def test_a_removed_document_is_kept_as_history_and_its_objects_stay_claimed(
    project: Project,
) -> None:
    applied(project)
    before = project.state()
    old = before.export_job("exportjob/newsletter-audience")
    old_dataset = before.dataset("dataset/audience-exports")
    assert old is not None and old_dataset is not None and old.runs[0].batches
    datasets = project.root / "specs" / "datasets.yaml"
    original = datasets.read_text(), (project.root / AUDIENCE).read_text()
    (project.root / AUDIENCE).unlink()
    datasets.write_text(original[0][: original[0].index("---")])  # only crm-profiles is left
    assert plan_actions(project) == {
        ("exportjob/newsletter-audience", "forget"),
        ("dataset/audience-exports", "forget"),
    }
    applied(project)

    state = project.state()
    assert state.export_job("exportjob/newsletter-audience") is None
    retired = {r.address: r for r in state.retired}
    assert {r.reason for r in retired.values()} == {"forget"}
    assert retired["exportjob/newsletter-audience"].resource == old  # job -> batches kept
    assert retired["dataset/audience-exports"].resource == old_dataset
    # Claimed by the history: not unmanaged, whether the refresh lists recent jobs or all of them.
    for mode in ("incremental", "full"):
        doc = plan_doc(project, f"--refresh={mode}")
        own = project.own_findings(doc["findings"])
        assert doc["actions"] == [] and own == [], (mode, doc["findings"])
        drift = project.run("plan", "--refresh-only", f"--refresh={mode}", "--format", "json")
        assert drift.code == 0 and project.own_findings(json.loads(drift.out)["findings"]) == []
    listed = project.run("state", "list").out
    assert "exportjob/newsletter-audience" in listed.split("Retired")[1]

    # The document written again: a fresh resource with a new run; the history stays.
    datasets.write_text(original[0])
    project.write(AUDIENCE, original[1])
    refused = project.run("import", "exportjob/newsletter-audience", str(old.runs[0].jobId))
    assert refused.code == 1 and "kept in the state's history" in refused.err
    assert plan_actions(project) == {
        ("dataset/audience-exports", "adopt"),  # its own tagged dataset is taken back
        ("exportjob/newsletter-audience", "create"),
    }
    applied(project)
    fresh = project.state().export_job("exportjob/newsletter-audience")
    assert fresh is not None and len(fresh.runs) == 1
    assert fresh.runs[0].jobId != old.runs[0].jobId
    shown = json.loads(project.run("state", "show", "exportjob/newsletter-audience").out)
    assert shown["resource"]["runs"][0]["jobId"] == fresh.runs[0].jobId
    assert [r["resource"]["runs"][0]["jobId"] for r in shown["retired"]] == [old.runs[0].jobId]
    assert plan_actions(project) == set()


def test_a_plan_saved_from_a_full_refresh_applies(project: Project) -> None:
    daily = project.root / "specs" / "exports" / "daily-emails.yaml"
    for fields in ("identities.id", "identities.id,homeAddress"):
        applied(project)
        # later jobs are newer than the watermark; a full refresh also lists the older ones
        project.admin("POST", "/clock", {"advance_seconds": 60})
        daily.write_text(
            re.sub(r"^  fields: .*$", f"  fields: {fields}", daily.read_text(), flags=re.M)
        )
    saved = project.root / "plan.json"
    made = project.run("plan", "--refresh=full", "--out", str(saved))
    assert made.code == 0, made.err
    assert json.loads(saved.read_text())["refresh"] == "full"
    result = project.run("apply", str(saved))  # read the way the plan read it: not stale
    assert result.code == 0, result.err
    res = project.state().export_job("exportjob/daily-emails")
    assert res is not None and res.runs[-1].reason == "replace"


def test_a_saved_plan_is_refused_naming_the_run_that_finished_since(project: Project) -> None:
    project.admin("POST", "/clock", {"freeze": True})
    try:
        assert project.run("apply", "--auto-approve").code == 0
        saved = project.root / "plan.json"
        assert project.run("plan", "--out", str(saved)).code == 0
        assert {a["action"] for a in json.loads(saved.read_text())["actions"]} == {"wait"}
    finally:
        project.admin("POST", "/clock", {"freeze": False})
    res = project.state().export_job("exportjob/daily-emails")
    assert res is not None
    job = res.runs[-1].jobId
    with project.client() as client:  # let it finish without touching the state
        for _ in range(100):
            record = client.get_export_job(job)
            if record is not None and record.status == "SUCCEEDED":
                break
            time.sleep(0.1)
    stale = project.run("apply", str(saved))
    assert stale.code == 1 and stale.err.count("\n") == 1
    assert "the live platform changed (" in stale.err
    assert f"job {job} " in stale.err and "-> SUCCEEDED" in stale.err


def test_after_state_rm_a_finished_job_is_unmanaged_in_every_plan_and_importable(
    project: Project,
) -> None:
    applied(project)
    res = project.state().export_job("exportjob/newsletter-audience")
    assert res is not None
    job = res.runs[-1].jobId
    # A newer job moves the watermark past it, so an incremental refresh no longer lists it.
    project.admin("POST", "/clock", {"advance_seconds": 60})
    daily = project.root / "specs" / "exports" / "daily-emails.yaml"
    original = daily.read_text()
    daily.write_text(original.replace("personalEmail.address", "homeAddress"))
    applied(project)
    applied(project)  # its refresh lists the new job: the watermark is now past `job`
    mark = project.state().observed.watermarkMs or 0
    assert mark > res.runs[-1].createdAt.timestamp() * 1000
    assert project.run("state", "rm", "exportjob/newsletter-audience").code == 0
    audience = (project.root / AUDIENCE).read_text()
    (project.root / AUDIENCE).unlink()
    for mode in ("incremental", "full"):
        doc = plan_doc(project, f"--refresh={mode}")
        found = {(f["address"], f["finding"]) for f in project.own_findings(doc["findings"])}
        assert found == {(f"exportjob@{job}", "unmanaged")}, (mode, found)
        assert doc["actions"] == []
    project.write(AUDIENCE, audience)
    imported = project.run("import", "exportjob/newsletter-audience", str(job))
    assert imported.code == 0, imported.err
    assert plan_actions(project) == set()
    history = project.state().retired_at("exportjob/newsletter-audience")
    assert [r.reason for r in history] == ["state rm"]
