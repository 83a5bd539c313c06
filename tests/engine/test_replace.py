"""apply --replace ADDR over real HTTP, in both behaviour profiles: exactly one new run (issue 14)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from engine_harness import Project, live_jobs

BOTH_PROFILES = True

AUDIENCE = "exportjob/newsletter-audience"
DAILY = "exportjob/daily-emails"
JOBS_POST = "POST /data/core/ups/export/jobs"


@pytest.fixture(autouse=True)
def no_faults_left(project: Project) -> Iterator[None]:
    yield
    project.admin("DELETE", "/faults")


def converge(project: Project) -> None:
    applied = project.run("apply", "--auto-approve", "--no-estimate", "--wait", "--timeout", "60s")
    assert applied.code == 0, applied.out + applied.err


def job_ids(project: Project) -> set[int]:
    return {job_id for job_id, _, _ in live_jobs(project)}


def runs_of(project: Project, address: str) -> list[tuple[int, str]]:
    res = project.state().export_job(address)
    assert res is not None
    return [(r.jobId, r.reason or "") for r in res.runs]


def assert_clean(project: Project) -> None:
    done = project.run("plan", "--no-estimate", "--detailed-exitcode")
    assert done.code == 0, done.out + done.err


def test_replace_starts_exactly_one_new_run_of_a_succeeded_job(project: Project) -> None:
    converge(project)
    assert_clean(project)
    before = job_ids(project)
    plan = project.run("plan", "--no-estimate", "--replace", AUDIENCE, "--detailed-exitcode")
    assert plan.code == 2, plan.out + plan.err
    (line,) = [x for x in plan.out.splitlines() if AUDIENCE in x]
    assert "rerun: requested (--replace; last run job " in line and "SUCCEEDED)" in line
    assert "Plan: 1 to rerun" in plan.out

    applied = project.run("apply", "--auto-approve", "--no-estimate", "--replace", AUDIENCE)
    assert applied.code == 0, applied.out + applied.err
    new = job_ids(project) - before
    assert len(new) == 1
    (new_id,) = new
    runs = runs_of(project, AUDIENCE)
    assert runs[-1][0] == new_id and runs[-1][1].startswith("rerun: requested (--replace;")
    assert len(runs_of(project, DAILY)) == 1  # the other job was left alone
    converge(project)
    assert job_ids(project) - before == new  # nothing more was started
    assert_clean(project)


def test_replace_a_failed_report_only_job(project: Project) -> None:
    project.admin("POST", "/faults", {"jobs": {"fail": 2}})
    failed = project.run("apply", "--auto-approve", "--no-estimate", "--wait", "--timeout", "60s")
    assert failed.code == 1  # both first runs FAILED
    project.admin("DELETE", "/faults")
    plan = json.loads(project.run("plan", "--no-estimate", "--format", "json").out)
    # daily-emails retries on its own; the audience (onFailure: report) only reports
    assert [(a["address"], a["action"]) for a in plan["actions"]] == [(DAILY, "rerun")]
    before = job_ids(project)
    plan = json.loads(
        project.run("plan", "--no-estimate", "--format", "json", "--replace", AUDIENCE).out
    )
    actions = {a["address"]: a for a in plan["actions"]}
    assert actions[AUDIENCE]["action"] == "rerun"
    assert actions[AUDIENCE]["reason"].endswith("FAILED)")
    assert "failed" in {f["finding"] for f in plan["findings"] if f["address"] == AUDIENCE}
    converged = project.run(
        "apply",
        "--auto-approve",
        "--no-estimate",
        "--replace",
        AUDIENCE,
        "--wait",
        "--timeout",
        "60s",
    )
    assert converged.code == 0, converged.out + converged.err
    assert len(job_ids(project) - before) == 2  # one for each document, no more
    assert_clean(project)


def test_replace_of_a_run_in_flight_cancels_it_and_starts_one(project: Project) -> None:
    project.admin("POST", "/faults", {"jobs": {"stuck": 1}})
    assert project.run("apply", "--auto-approve", "--no-estimate", "--target", AUDIENCE).code == 0
    project.admin("DELETE", "/faults")
    ((old, _),) = runs_of(project, AUDIENCE)
    before = job_ids(project)
    applied = project.run(
        "apply",
        "--auto-approve",
        "--no-estimate",
        *("--target", AUDIENCE, "--replace", AUDIENCE),
        *("--wait", "--timeout", "60s"),
    )
    assert applied.code == 0, applied.out + applied.err
    assert f"cancels job {old} (still in flight)" in applied.out
    (done,) = [
        x for x in applied.out.splitlines() if x.startswith(f"{AUDIENCE}: ") and "started" in x
    ]
    assert "cancel" in done and f"job {old}" in done
    assert len(job_ids(project) - before) == 1
    res = project.state().export_job(AUDIENCE)
    assert res is not None and len(res.runs) == 2
    assert res.runs[0].cancelledAt is not None and res.runs[0].status == "CANCELLED"
    assert res.newest_run().status == "SUCCEEDED"  # type: ignore[union-attr]


@pytest.mark.parametrize("answer", ["commit_500", "500"])
def test_replace_under_a_500_on_the_post_starts_exactly_one_run(
    project: Project, answer: str
) -> None:
    """commit_500: the job is made, the answer is a 500; 500: refused before anything is made."""
    converge(project)
    before = job_ids(project)
    project.admin("POST", "/faults", {"endpoint": JOBS_POST, "schedule": [answer]})
    applied = project.run("apply", "--auto-approve", "--no-estimate", "--replace", DAILY)
    assert applied.code == 0, applied.out + applied.err
    new = job_ids(project) - before
    assert len(new) == 1
    assert runs_of(project, DAILY)[-1][0] in new
    assert project.state().pending == []
    assert_clean(project)


def test_a_bad_replace_address_is_one_line_and_changes_nothing(project: Project) -> None:
    converge(project)
    before = job_ids(project)
    serial = project.state().serial
    for address, words in (
        ("dataset/crm-profiles", "is a dataset; --replace starts a new run of an export job"),
        ("exportjob/daily-email", "did you mean exportjob/daily-emails?"),
    ):
        for command in ("plan", "apply"):
            extra = ("--auto-approve",) if command == "apply" else ()
            result = project.run(command, *extra, "--no-estimate", "--replace", address)
            assert result.code == 1
            (line,) = result.err.splitlines()
            assert line.startswith(f"error: --replace {address} ") and words in line
    outside = project.run("plan", "--no-estimate", "--target", DAILY, "--replace", AUDIENCE)
    assert outside.code == 1 and "is outside --target" in outside.err
    assert job_ids(project) == before
    assert project.state().serial == serial


def test_a_saved_plan_with_replace_applies_the_requested_run(project: Project) -> None:
    converge(project)
    before = job_ids(project)
    saved = project.root / "plan.json"
    planned = project.run("plan", "--no-estimate", "--replace", DAILY, "--out", str(saved))
    assert planned.code == 0, planned.err
    refused = project.run("apply", str(saved), "--replace", DAILY)
    assert refused.code == 1 and "cannot be combined with a saved plan" in refused.err
    applied = project.run("apply", str(saved))
    assert applied.code == 0, applied.out + applied.err
    assert len(job_ids(project) - before) == 1
