"""A long history over real HTTP, on both backends: the head holds the newest runs, every command
that decides reads only it, and audit, lineage and state show still see every run (issue 16)."""

from __future__ import annotations

import json

from engine_harness import Project, live_jobs, on_postgres

from reconciler.state.models import HEAD_RUNS

EMULATOR_PROFILES = ("documented",)  # and on PostgreSQL: conftest.POSTGRES_MODULES

AUDIENCE = "exportjob/newsletter-audience"
RERUNS = 2 * HEAD_RUNS + 1


def test_a_long_history_moves_out_of_the_head_and_stays_whole(project: Project) -> None:
    first = project.run("apply", "--auto-approve", "--no-estimate", "--wait", "--timeout", "60s")
    assert first.code == 0, first.out + first.err
    for _ in range(RERUNS):
        again = project.run(
            "apply", "--auto-approve", "--no-estimate", "--wait", "--timeout", "60s",
            "--replace", AUDIENCE,
        )  # fmt: skip
        assert again.code == 0, again.out + again.err
    total = RERUNS + 1

    head = project.state()
    res = head.export_job(AUDIENCE)
    assert res is not None
    assert res.archivedRuns >= HEAD_RUNS and len(res.runs) < 2 * HEAD_RUNS
    assert res.run_count == total
    assert head.is_head
    whole = project.store().read_history()
    runs = whole.export_job(AUDIENCE)
    assert runs is not None and runs.archivedRuns == 0 and len(runs.runs) == total
    assert [r.jobId for r in runs.runs[-len(res.runs) :]] == [r.jobId for r in res.runs]
    oldest = runs.runs[0]
    assert oldest.jobId not in {r.jobId for r in res.runs}
    if not on_postgres():
        assert project.state_path.with_name(project.state_path.name + ".history").exists()

    # every live job is claimed, the oldest through the history's index
    live = {job_id for job_id, _, _ in live_jobs(project)}
    claimed = head.claimed_job_ids()
    assert claimed.among(live) == live
    assert oldest.jobId in claimed
    assert claimed.max() == max(live)

    # a plan, incremental or full (every job listed again), is clean: no old job is unmanaged
    for mode in ("incremental", "full"):
        plan = project.run("plan", "--no-estimate", "--detailed-exitcode", "--refresh", mode)
        assert plan.code == 0, mode + plan.out + plan.err

    # what shows history sees all of it
    audit = project.run("audit", "--format", "json")
    assert audit.code == 0, audit.err
    jobs = {
        int(o["id"])
        for o in json.loads(audit.out)["objects"]
        if o["type"] == "exportjob" and o["managedBy"] == AUDIENCE
    }
    assert {r.jobId for r in runs.runs} <= jobs
    lineage = project.run("lineage", str(oldest.jobId), "--format", "json")
    assert lineage.code == 0, lineage.err
    (match,) = json.loads(lineage.out)["runs"]
    assert match["address"] == AUDIENCE and match["jobId"] == oldest.jobId
    assert len(match["otherRuns"]) + match["moreRuns"] == total - 1
    shown = project.run("state", "show", AUDIENCE)
    assert shown.code == 0, shown.err
    assert len(json.loads(shown.out)["resource"]["runs"]) == total
    listing = project.run("state", "list")
    assert f"{total} runs" in listing.out
    status = project.run("status", "--history", "--format", "json")
    assert status.code == 0, status.err
    (entry,) = [e for e in json.loads(status.out)["resources"] if e["address"] == AUDIENCE]
    assert entry["runs"] == total
    assert [r["jobId"] for r in entry["history"]] == [r.jobId for r in reversed(runs.runs)]
    plain = project.run("status", "--format", "json")
    assert all("history" not in e for e in json.loads(plain.out)["resources"])
    text = project.run("status", "--history")
    assert f"{AUDIENCE}: {total} runs, newest first" in text.out
    assert str(oldest.jobId) in text.out.split(f"{AUDIENCE}: {total} runs")[1]

    # forgetting the document keeps every run claimed and findable
    project.write("specs/exports/audiences.yaml", "")
    removed = project.run("apply", "--auto-approve", "--no-estimate", "--wait", "--timeout", "60s")
    assert removed.code == 0, removed.out + removed.err
    after = project.run("plan", "--no-estimate", "--detailed-exitcode", "--refresh", "full")
    assert after.code == 0, after.out + after.err
    gone = project.run("lineage", str(oldest.jobId), "--format", "json")
    assert gone.code == 0, gone.err
    assert json.loads(gone.out)["runs"][0]["retired"] is not None
