"""apply says what it did: the closing summary (text), the JSON report, and both on failure."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]
from engine_harness import Project

BOTH_PROFILES = True
ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "apply-format.schema.json").read_text(encoding="utf-8"))


def _report(out: str) -> dict:  # type: ignore[type-arg]
    document = json.loads(out)  # stdout is the document and nothing else
    jsonschema.validate(document, SCHEMA)
    return document  # type: ignore[no-any-return]


def test_json_report_of_a_first_apply_with_wait(project: Project) -> None:
    done = project.run("apply", "--auto-approve", "--wait", "--format", "json")
    assert done.code == 0, done.err
    report = _report(done.out)
    assert report["outcome"] == "complete" and report["error"] is None
    assert report["sandbox"] == project.sandbox and report["state"] == str(project.state_path)
    assert [(a["address"], a["result"]) for a in report["actions"]] == [
        ("dataset/audience-exports", "done"),
        ("dataset/crm-profiles", "done"),
        ("exportjob/daily-emails", "done"),
        ("exportjob/newsletter-audience", "done"),
    ]
    state = project.state()
    for action in report["actions"]:
        res = state.resources[action["address"]]
        if action["kind"] == "dataset":
            assert action["datasetId"] == res.datasetId
        else:
            assert action["jobId"] == res.newest_run().jobId  # type: ignore[union-attr]
    assert {r["status"] for r in report["runs"]} == {"SUCCEEDED"} and len(report["runs"]) == 2
    assert all(r["batchId"] for r in report["runs"])
    assert report["summary"]["created"] == 4 and report["summary"]["succeeded"] == 2
    assert report["inFlight"] == []
    again = _report(project.run("apply", "--auto-approve", "--format", "json").out)
    assert again["outcome"] == "nothing" and again["actions"] == []


def test_without_wait_the_runs_started_are_in_flight(project: Project) -> None:
    project.admin("POST", "/config", {"job_processing_seconds": 30})
    try:
        done = project.run("apply", "--auto-approve")
        assert done.code == 0, done.err
        lines = done.out.splitlines()
        assert lines[-2].startswith(
            "Summary: 4 created, 0 replaced, 0 cancelled, 0 failed, 2 still in flight (elapsed "
        )
        assert lines[-1] == "Apply complete: 4 actions done."
    finally:
        project.admin("POST", "/config", {"job_processing_seconds": 0.3})


def test_json_needs_approval_given_beforehand(project: Project) -> None:
    done = project.run("apply", "--format", "json")
    assert done.code == 1 and done.out == ""
    assert done.err.strip().splitlines() == [
        "error: apply --format json cannot ask for approval; add --auto-approve or apply a "
        "saved plan (nothing was changed)"
    ]
    assert not project.state_path.exists() or not project.state().resources


def test_failed_runs_the_summary_comes_before_the_error(project: Project) -> None:
    project.admin("POST", "/faults", {"endpoint": "*", "jobs": {"fail": 1}})
    try:
        process = subprocess.run(
            [*_cli(project), "apply", "--auto-approve", "--wait"],
            env=project.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )
    finally:
        project.admin("DELETE", "/faults")
    lines = process.stdout.splitlines()
    assert process.returncode == 1, process.stdout
    assert lines[-1].startswith("error: 1 run did not succeed: exportjob/")
    assert lines[-3].startswith("Summary: 4 created, 0 replaced, 0 cancelled, 1 failed, 0 still")
    assert lines[-2].startswith("Apply complete: 4 actions done; 2 runs followed: 1 failed, 1 ")


def test_failed_runs_the_json_report_carries_the_error(project: Project) -> None:
    project.admin("POST", "/faults", {"endpoint": "*", "jobs": {"fail": 1}})
    try:
        done = project.run("apply", "--auto-approve", "--wait", "--format", "json")
    finally:
        project.admin("DELETE", "/faults")
    assert done.code == 1
    report = _report(done.out)
    assert report["outcome"] == "partial"
    assert report["error"]["type"] == "RunsFailed"
    assert done.err.strip().splitlines() == [f"error: {report['error']['message']}"]
    assert sorted(r["status"] for r in report["runs"]) == ["FAILED", "SUCCEEDED"]
    assert report["summary"]["failed"] == 1


def test_a_wait_timeout_reports_the_runs_still_in_flight(project: Project) -> None:
    project.admin("POST", "/faults", {"endpoint": "*", "jobs": {"stuck": 2}})
    try:
        done = project.run("apply", "--auto-approve", "--wait", "--timeout", "1s")
        assert done.code == 1
        assert "timed out after 1s" in done.err and done.err.count("\n") == 1
        assert "Summary: 4 created, 0 replaced, 0 cancelled, 0 failed, 2 still in flight" in (
            done.out
        )
        assert "Apply complete" not in done.out  # the runs did not end
        as_json = project.run(
            "apply", "--auto-approve", "--wait", "--timeout", "1s", "--format", "json"
        )
        report = _report(as_json.out)
        assert report["error"]["type"] == "WaitTimeout" and report["outcome"] == "failed"
        assert sorted(r["address"] for r in report["inFlight"]) == [
            "exportjob/daily-emails",
            "exportjob/newsletter-audience",
        ]
    finally:
        project.admin("DELETE", "/faults")
        for res in project.state().resources.values():
            newest = getattr(res, "newest_run", lambda: None)()
            if newest is not None and newest.status in ("NEW", "PROCESSING"):
                project.admin("POST", f"/exportJobs/{newest.jobId}/cancel")


def _cli(project: Project) -> list[str]:
    import sys

    return [sys.executable, "-m", "reconciler", "-C", str(project.root)]


def test_a_stopped_address_is_in_the_summary_and_the_report(project: Project) -> None:
    """Three creates in a row with no answer and no job: that address stops, the rest go on."""
    project.admin(
        "POST",
        "/faults",
        {"endpoint": "POST /data/core/ups/export/jobs", "schedule": ["500", "500", "500"]},
    )
    try:
        done = project.run("apply", "--auto-approve", "--format", "json")
    finally:
        project.admin("DELETE", "/faults")
    assert done.code == 1
    report = _report(done.out)
    assert report["outcome"] == "partial" and report["error"]["type"] == "AddressesStopped"
    [stopped] = report["stopped"]
    assert stopped["message"].startswith(f"{stopped['address']}: stopped: three creates")
    results = {a["address"]: a["result"] for a in report["actions"]}
    assert results[stopped["address"]] == "skipped"
    assert sorted(results.values()) == ["done", "done", "done", "skipped"]
    assert report["summary"]["skipped"] == 1 and report["summary"]["created"] == 3
    assert done.err.strip().splitlines() == [f"error: {report['error']['message']}"]
    again = project.run("apply", "--auto-approve")  # the next apply carries it out
    assert again.code == 0, again.err
    assert "Summary: 1 created, 0 replaced, 0 cancelled, 0 failed, " in again.out
