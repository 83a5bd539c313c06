"""Crash safety: apply killed (SIGKILL) at random points, then run again; lost POST answers."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from engine_harness import Project, live_jobs

from reconciler.state import STATE_VERSION, StateStore

BOTH_PROFILES = True  # conftest: every test runs under cooperative and documented

JOBS = 5
KILLS = 20


def job_doc(index: int, version: int) -> str:
    """An export job whose request changes with `version` (so every edit is a replace)."""
    return (
        "apiVersion: reconciler/v1\nkind: ExportJob\n"
        f"metadata: {{name: job-{index}}}\n"
        "spec:\n"
        "  fields: identities.id,personalEmail.address\n"
        "  mergePolicy: {id: timestampOrdered-none-mp, version: 1}\n"
        "  additionalFields:\n"
        "    eventList:\n"
        "      fields: environment.browserDetails.name\n"
        f'      filter: {{fromIngestTimestamp: "2020-01-01T00:{index:02d}:{version:02d}Z"}}\n'
        "  destination: {dataset: crm-profiles}\n"
        "  schema: {name: _xdm.context.profile}\n"
    )


def write_jobs(project: Project, version: int) -> None:
    for index in range(JOBS):
        project.write(f"specs/exports/job-{index}.yaml", job_doc(index, version))


@pytest.fixture
def crash_project(project: Project) -> Iterator[Project]:
    """The example specs plus five more jobs; POSTs slowed so kills land inside them."""
    write_jobs(project, 0)
    project.admin(
        "POST", "/faults", {"endpoint": "POST /data/core/ups/export/jobs", "latency_ms": 60}
    )
    try:
        yield project
    finally:
        project.admin("DELETE", "/faults")


def test_apply_killed_at_random_points_never_duplicates_or_loses_a_job(
    crash_project: Project,
) -> None:
    project = crash_project
    rng = random.Random(20261122)
    kills_mid_apply = 0
    interrupted = 0  # kills that left a write-ahead intent for the next apply to resolve
    for attempt in range(KILLS):
        if attempt % 2:
            write_jobs(project, attempt)  # a spec change between crashes: replaces pile up
        process = project.spawn("apply", "--auto-approve")
        store = StateStore(project.state_path)
        deadline = time.monotonic() + 20
        while store.holder() is None and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)  # until the apply holds the lock: from here on it may POST
        time.sleep(rng.uniform(0.0, 0.5))
        if process.poll() is None:
            kills_mid_apply += 1
        process.kill()
        process.communicate(timeout=30)
        state = project.state()  # the state file always parses
        assert state.version == STATE_VERSION
        interrupted += bool(state.pending)
    assert kills_mid_apply >= KILLS // 2  # most kills really landed inside an apply
    assert interrupted >= 3, "too few kills between a write-ahead intent and its record"

    final = project.run("apply", "--auto-approve", "--wait", "--timeout", "60s")
    assert final.code == 0, final.out + final.err
    state = project.state()
    assert state.pending == []
    jobs = live_jobs(project)
    claimed = state.claimed_job_ids()
    assert {job_id for job_id, _, _ in jobs} <= claimed, "a live job is missing from state"
    twins = [req for req, n in Counter(req for _, _, req in jobs).items() if n > 1]
    assert not twins, f"duplicate jobs for one request: {twins}"
    done = project.run("plan", "--detailed-exitcode")
    assert done.code == 0, done.out


def test_lost_post_answers_are_found_not_repeated(project: Project) -> None:
    """The platform commits a POST but the answer is lost: apply searches and adopts it."""
    daily = project.root / "specs" / "exports" / "daily-emails.yaml"
    # Without a merge policy the platform fills in its default: the search must allow that.
    daily.write_text(
        daily.read_text().replace(
            "  mergePolicy: {id: e5bc94de-cd14-4cdf-a2bc-88b6e8cbfac2, version: 1}\n", ""
        )
    )
    assert "mergePolicy" not in daily.read_text()
    for path in ("POST /data/core/ups/export/jobs", "POST /data/foundation/catalog/dataSets"):
        project.admin("POST", "/faults", {"endpoint": path, "drop_after_commit": 1})
    try:
        result = project.run("apply", "--auto-approve")
    finally:
        project.admin("DELETE", "/faults")
    assert result.code == 0, result.out + result.err
    with project.client() as client:
        datasets = [d for d in client.iter_datasets() if d.id not in project.baseline_datasets]
    assert len(datasets) == 2  # not three: the lost create was found by its address tag
    jobs = live_jobs(project)
    assert len(jobs) == 2 and {j for j, _, _ in jobs} == project.state().claimed_job_ids()
    assert project.state().pending == []
