"""Issue 13's planning, state and import cases end to end, over the emulator (real HTTP).

Case 3 (adopt under either refresh), one job two documents could answer (no guess), case 6
(import a job before its dataset), case 9 (Delete keeps a dataset still written into), case 10
(--target keeps a dataset adopt), case 11 (report-only failure on a schedule), case 13 (a saved
plan on a large state), case 17 (the journal is private).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import requests
from engine_harness import Project

from reconciler.config import load_settings
from reconciler.spec.canonical import request_body
from reconciler.spec.loader import load_specs
from reconciler.spec.models import ExportJobDoc
from reconciler.state import StateStore, write_atomic
from reconciler.state import store as store_module

DAILY = "specs/exports/daily-emails.yaml"
AUDIENCE = "specs/exports/audiences.yaml"
BOTH_PROFILES = True  # conftest: every test runs under cooperative and documented


def applied(project: Project, *extra: str) -> str:
    result = project.run("apply", "--auto-approve", "--wait", "--timeout", "60s", *extra)
    assert result.code == 0, result.out + result.err
    return result.out


def plan_doc(project: Project, *extra: str) -> dict[str, Any]:
    result = project.run("plan", "--format", "json", *extra)
    assert result.code == 0, result.err
    doc: dict[str, Any] = json.loads(result.out)
    return doc


def actions(doc: dict[str, Any]) -> set[tuple[str, str, str | None]]:
    return {(a["address"], a["action"], a["adoptId"]) for a in doc["actions"]}


def export_doc(project: Project, name: str) -> ExportJobDoc:
    specs = load_specs(load_settings(project.root, env={}))
    return specs.export_jobs[name]


def dataset_id(project: Project, address: str) -> str:
    res = project.state().dataset(address)
    assert res is not None
    return res.datasetId


@contextmanager
def echo(project: Project, mode: str) -> Iterator[None]:
    """The emulator's job records in `mode` (full or terse) while inside."""
    url = f"{project.base_url}/_emulator/behaviour"
    before = requests.get(url, timeout=10).json()["echo"]
    requests.post(url, json={"echo": mode}, timeout=10).raise_for_status()
    try:
        yield
    finally:
        requests.post(url, json={"echo": before}, timeout=10).raise_for_status()


def test_adopt_is_the_same_under_incremental_and_full_refresh(project: Project) -> None:
    daily_text = (project.root / DAILY).read_text()
    daily = export_doc(project, "daily-emails")
    (project.root / DAILY).unlink()
    applied(project)  # datasets and the audience job
    crm = dataset_id(project, "dataset/crm-profiles")
    with project.client() as client:  # the same export, started outside reconciler
        outside = client.create_export_job(request_body(daily, crm)).id
    applied(project)  # its refresh lists the job: remembered as unmanaged, with its request
    seen = project.state().observed.unmanagedJobs[outside]
    assert seen.request is not None and seen.request["destination"]["datasetId"] == crm
    # A newer job moves the watermark past it: an incremental refresh no longer lists it.
    project.admin("POST", "/clock", {"advance_seconds": 60})
    audience = (project.root / AUDIENCE).read_text()
    (project.root / AUDIENCE).write_text(audience.replace("status: [realized]", "status: [exited]"))
    applied(project)
    applied(project)
    mark = project.state().observed.watermarkMs or 0
    assert mark > seen.createdMs
    project.write(DAILY, daily_text)
    incremental, full = plan_doc(project), plan_doc(project, "--refresh=full")
    wanted = ("exportjob/daily-emails", "adopt", str(outside))
    assert wanted in actions(incremental), incremental["actions"]
    assert wanted in actions(full), full["actions"]
    out = applied(project)
    assert f"adopted job {outside}" in out
    res = project.state().export_job("exportjob/daily-emails")
    assert res is not None and [r.jobId for r in res.runs] == [outside]  # no twin created


def test_a_job_two_documents_could_answer_is_held_back_until_imported(project: Project) -> None:
    daily_text = (project.root / DAILY).read_text()
    (project.root / DAILY).unlink()
    applied(project)
    # A second document that differs only in `fields`, which terse records do not carry.
    project.write(DAILY, daily_text)
    twin = daily_text.replace("name: daily-emails", "name: daily-ids").replace(
        "fields: identities.id,personalEmail.address", "fields: identities.id"
    )
    project.write("specs/exports/daily-ids.yaml", twin)
    crm = dataset_id(project, "dataset/crm-profiles")
    with echo(project, "terse"):
        with project.client() as client:
            outside = client.create_export_job(
                request_body(export_doc(project, "daily-emails"), crm)
            ).id
        doc = plan_doc(project)
        findings = {f["address"]: f for f in doc["findings"]}
        assert {a for a, _, _ in actions(doc)} == set()  # neither document creates a twin
        for address in ("exportjob/daily-emails", "exportjob/daily-ids"):
            assert findings[address]["finding"] == "ambiguous"
            assert findings[address]["evidence"]["jobIds"] == [outside]
            assert f"reconciler import {address} {outside}" in findings[address]["reason"]
        text = project.run("plan")
        assert text.code == 0 and f"reconciler import exportjob/daily-emails {outside}" in text.out
        assert project.state().export_job("exportjob/daily-emails") is None
        imported = project.run("import", "exportjob/daily-emails", str(outside))
        assert imported.code == 0, imported.err
        settled = {a for a in actions(plan_doc(project)) if a[1] != "wait"}
        assert settled == {("exportjob/daily-ids", "create", None)}
        applied(project)
    ids = project.state().export_job("exportjob/daily-ids")
    assert ids is not None and outside not in [r.jobId for r in ids.runs]


def test_importing_a_job_before_its_dataset_needs_no_replace(project: Project) -> None:
    applied(project)
    res = project.state().export_job("exportjob/daily-emails")
    assert res is not None
    job, crm = res.runs[-1].jobId, dataset_id(project, "dataset/crm-profiles")
    for address in ("exportjob/daily-emails", "dataset/crm-profiles"):
        assert project.run("state", "rm", address).code == 0
    first = project.run("import", "exportjob/daily-emails", str(job))
    assert first.code == 0, first.err
    assert "matches the document" in first.out
    assert f"reconciler import dataset/crm-profiles {crm}" in first.out
    assert project.run("import", "dataset/crm-profiles", crm).code == 0
    # Dataset first or job first: the same fingerprint, so nothing to replace.
    assert actions(plan_doc(project)) == set()
    imported = project.state().export_job("exportjob/daily-emails")
    assert imported is not None
    assert imported.fingerprint == res.fingerprint == imported.runs[-1].fingerprint


def test_delete_keeps_a_dataset_another_document_still_writes_into(project: Project) -> None:
    datasets = project.root / "specs" / "datasets.yaml"
    datasets.write_text(
        datasets.read_text().replace("deletionPolicy: Orphan", "deletionPolicy: Delete")
    )
    applied(project)
    doomed = dataset_id(project, "dataset/audience-exports")
    # The dataset's document goes; a job written against its id stays.
    text = datasets.read_text()
    datasets.write_text(text[: text.index("---")])
    audience = (project.root / AUDIENCE).read_text()
    project.write(
        AUDIENCE,
        audience.replace("dataset: audience-exports", f"datasetId: {doomed}").replace(
            "status: [realized]", "status: [exited]"
        ),
    )
    doc = plan_doc(project)
    assert not any(a["address"] == "dataset/audience-exports" for a in doc["actions"])
    blocked = [f for f in doc["findings"] if f["address"] == "dataset/audience-exports"]
    assert [f["finding"] for f in blocked] == ["blocked"]
    assert "exportjob/newsletter-audience (destination.datasetId)" in blocked[0]["reason"]
    applied(project)
    with project.client() as client:
        assert client.get_dataset(doomed) is not None
    res = project.state().export_job("exportjob/newsletter-audience")
    assert res is not None and res.runs[-1].status == "SUCCEEDED"  # it wrote into it
    assert project.state().dataset("dataset/audience-exports") is not None  # policy kept
    # Once nothing writes into it, the policy applies.
    (project.root / AUDIENCE).unlink()
    assert ("dataset/audience-exports", "delete", None) in actions(plan_doc(project))
    applied(project)
    with project.client() as client:
        assert client.get_dataset(doomed) is None


def test_target_keeps_the_dataset_adopt_before_cancelling_the_running_job(
    project: Project,
) -> None:
    project.admin("POST", "/clock", {"freeze": True})  # jobs stay in flight
    try:
        assert project.run("apply", "--auto-approve").code == 0
        res = project.state().export_job("exportjob/daily-emails")
        assert res is not None
        running, crm = res.runs[-1].jobId, dataset_id(project, "dataset/crm-profiles")
        assert project.run("state", "rm", "dataset/crm-profiles").code == 0  # tagged: adopted back
        daily = (project.root / DAILY).read_text()
        project.write(DAILY, daily.replace("identities.id,personalEmail.address", "identities.id"))
        doc = plan_doc(project, "--target", "exportjob/daily-emails")
        assert actions(doc) == {
            ("dataset/crm-profiles", "adopt", crm),
            ("exportjob/daily-emails", "replace", None),
        }
        result = project.run("apply", "--auto-approve", "--target", "exportjob/daily-emails")
        assert result.code == 0, result.out + result.err
        assert re.search(rf"cancel(led)? job {running}\b", result.out), result.out  # or marked
    finally:
        project.admin("POST", "/clock", {"freeze": False})
    state = project.state()
    assert state.dataset("dataset/crm-profiles") is not None
    res = state.export_job("exportjob/daily-emails")
    assert res is not None and res.runs[-1].jobId != running  # the replacement was started


def test_report_only_failure_runs_again_when_the_refresh_is_due(project: Project) -> None:
    (project.root / DAILY).unlink()  # the only job is the report-only one
    audience = (project.root / AUDIENCE).read_text()
    project.write(
        AUDIENCE, audience.replace("onFailure: report", "onFailure: report\n  refresh: 1h")
    )
    project.admin("POST", "/faults", {"jobs": {"fail": 1}})
    try:
        result = project.run("apply", "--auto-approve", "--wait", "--timeout", "60s")
    finally:
        project.admin("DELETE", "/faults")
    assert result.code == 1 and "FAILED" in result.out
    state = project.state()
    res = state.export_job("exportjob/newsletter-audience")
    assert res is not None and res.runs[-1].status == "FAILED"
    # Just failed: reported, not retried at once.
    doc = plan_doc(project)
    assert doc["actions"] == []
    mine = [f["finding"] for f in doc["findings"] if f["address"].startswith("exportjob/")]
    assert mine == ["failed"]
    finished = res.runs[-1].finishedAt
    assert finished is not None
    res.runs[-1].finishedAt = finished - timedelta(hours=2)
    write_atomic(project.state_path, state.to_json())
    doc = plan_doc(project)
    assert [(a["address"], a["action"]) for a in doc["actions"]] == [
        ("exportjob/newsletter-audience", "rerun")
    ]
    reason = doc["actions"][0]["reason"]
    assert re.search(r"FAILED (2h|1\d\dm) ago \(onFailure: report\), refresh every 60m", reason), (
        reason
    )
    applied(project)
    res = project.state().export_job("exportjob/newsletter-audience")
    assert res is not None and res.runs[-1].status == "SUCCEEDED" and len(res.runs) == 2


def test_a_saved_plan_on_a_large_state_is_not_stale(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Above SETTLE_BYTES the journal stays between commands; 0 stands in for a 10,000-run state.
    monkeypatch.setattr(store_module, "SETTLE_BYTES", 0)
    applied(project)
    store = StateStore(project.state_path, project.sandbox)
    with store.lock() as writer:  # journal lines until the next lock compacts them
        state = writer.read()
        while store.journal_path.stat().st_size < project.state_path.stat().st_size:
            state = writer.write(state, ["exportjob/daily-emails"])
    assert store.journal_path.stat().st_mode & 0o777 == 0o600  # case 17: private like the snapshot
    assert project.state_path.stat().st_mode & 0o777 == 0o600
    saved = project.root / "plan.json"
    daily = (project.root / DAILY).read_text()
    project.write(DAILY, daily.replace("identities.id,personalEmail.address", "identities.id"))
    assert project.run("plan", "--out", str(saved)).code == 0
    serial = json.loads(saved.read_text())["state"]["serial"]
    result = project.run("apply", str(saved))
    assert result.code == 0, result.out + result.err
    assert "stale" not in result.err
    assert project.state().serial > serial


@pytest.mark.slow
def test_a_saved_plan_on_a_state_with_10000_runs_is_not_stale(project: Project) -> None:
    # Issue 13 case 13 as it was seen: one job with 10,000 runs. Since issue 16 the write moves
    # them to the history (the head keeps the newest), so the snapshot stays small; the saved
    # plan must still be current, and every run kept.
    applied(project)
    store = StateStore(project.state_path, project.sandbox)
    with store.lock() as writer:
        state = writer.read()
        res = state.export_job("exportjob/daily-emails")
        assert res is not None
        first = res.runs[0]
        res.runs = [
            first.model_copy(update={"jobId": 10_000_000 + n, "createdAt": first.createdAt})
            for n in range(10_000)
        ] + res.runs
        state = writer.write(state)
        for _ in range(2):  # an apply recording a run journals the resource's head
            state = writer.write(state, ["exportjob/daily-emails"])
    head = store.read().export_job("exportjob/daily-emails")
    assert head is not None and head.archivedRuns >= 9_900 and len(head.runs) < 20
    assert project.state_path.stat().st_size < 100_000  # the head, not 10,000 runs
    saved = project.root / "plan.json"
    daily = (project.root / DAILY).read_text()
    project.write(DAILY, daily.replace("identities.id,personalEmail.address", "identities.id"))
    assert project.run("plan", "--out", str(saved)).code == 0
    result = project.run("apply", str(saved))
    assert result.code == 0, result.out + result.err
    res = project.state().export_job("exportjob/daily-emails")
    assert res is not None and res.run_count == 10_002
    whole = store.read_history().export_job("exportjob/daily-emails")
    assert whole is not None and len(whole.runs) == 10_002
