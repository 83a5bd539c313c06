"""record_observations: folding a refresh into state (statuses, batches, unmanaged jobs, watermark)."""

from __future__ import annotations

from datetime import UTC, datetime

from plan_fixtures import NOW_MS, dataset_doc, job_doc, job_resource, live_run, run_for, state_of

from reconciler.engine.model import LiveSnapshot
from reconciler.engine.planner import record_observations
from reconciler.state import State


def test_runs_take_the_live_status_batches_and_finish_time() -> None:
    job = job_doc("daily")
    state = state_of((job.address, job_resource(job, run_for(job, 5, "PROCESSING"))))
    done = live_run(
        job,
        5,
        "SUCCEEDED",
        updated_ms=NOW_MS,
        batch_id="b-1",
        batches=(("seg-1", "b-1"), ("seg-2", "b-2")),
    )
    after = record_observations(state, LiveSnapshot(runs={5: done}))
    res = after.export_job(job.address)
    assert res is not None
    run = res.runs[0]
    assert (run.status, run.batchId) == ("SUCCEEDED", "b-1")
    assert [(b.segmentId, b.batchId) for b in run.batches] == [("seg-1", "b-1"), ("seg-2", "b-2")]
    assert run.finishedAt == datetime.fromtimestamp(NOW_MS / 1000, UTC)
    # the input state is left alone (pure)
    before = state.export_job(job.address)
    assert before is not None and before.runs[0].status == "PROCESSING"


def test_unmanaged_jobs_are_remembered_and_the_watermark_advances() -> None:
    job, stranger = job_doc("daily"), job_doc("other", dataset_id="f" * 24)
    state = state_of((job.address, job_resource(job, run_for(job, 5))))
    live = LiveSnapshot(
        runs={
            5: live_run(job, 5, created_ms=100),
            8: live_run(stranger, 8, "NEW", created_ms=300),
        },
        new_jobs=(8, 5),
        watermark_ms=300,
    )
    after = record_observations(state, live)
    assert after.observed.watermarkMs == 300
    assert list(after.observed.unmanagedJobs) == [8]
    assert after.observed.unmanagedJobs[8].status == "NEW"
    # a later refresh that re-reads job 8 updates it; one that does not list it keeps it
    later = record_observations(
        after, LiveSnapshot(runs={8: live_run(stranger, 8, "FAILED", created_ms=300)})
    )
    assert later.observed.unmanagedJobs[8].status == "FAILED"
    assert record_observations(later, LiveSnapshot()).observed == later.observed


def test_a_job_claimed_later_leaves_the_unmanaged_list() -> None:
    job = job_doc("daily")
    state = State.model_validate(
        {
            "observed": {
                "watermarkMs": 10,
                "unmanagedJobs": {"5": {"status": "SUCCEEDED", "createdMs": 9}},
            }
        }
    )
    state.resources = {job.address: job_resource(job, run_for(job, 5))}
    after = record_observations(state, LiveSnapshot())
    assert after.observed.unmanagedJobs == {} and after.observed.watermarkMs == 10
    assert dataset_doc("crm").address == "dataset/crm"
