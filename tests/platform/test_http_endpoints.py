"""Every client call over real HTTP against the emulator: answers, paging, DELETE styles, pool."""

from __future__ import annotations

import threading
import time

import pytest
from platform_helpers import Admin, dataset_body, job_body, make_client

from reconciler.emulator import defaults
from reconciler.emulator.server import RunningEmulator
from reconciler.platform import PlatformClient

JOBS = "/data/core/ups/export/jobs"


def wait_terminal(client: PlatformClient, job_id: int, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get_export_job(job_id)
        assert job is not None
        if job.is_terminal:
            return job.status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def test_datasets_create_get_list_update_delete(client: PlatformClient) -> None:
    ids = [client.create_dataset(dataset_body(f"ds {n}")) for n in range(7)]
    assert len(set(ids)) == 7
    dataset = client.get_dataset(ids[0])
    assert dataset is not None
    assert (dataset.id, dataset.name) == (ids[0], "ds 0")
    assert dataset.schemaRef is not None and dataset.schemaRef["id"].endswith("profile__union")
    listed = list(client.iter_datasets(page_size=3))  # three pages
    assert sorted(d.id for d in listed) == sorted(ids)
    named = list(client.iter_datasets(filters={"name": "ds 3"}))
    assert [d.id for d in named] == [ids[3]]
    client.update_dataset(ids[1], {"description": "changed", "tags": {"team": ["crm"]}})
    changed = client.get_dataset(ids[1])
    assert changed is not None and changed.description == "changed"
    assert changed.tags["team"] == ["crm"]
    client.delete_dataset(ids[2])
    assert client.get_dataset(ids[2]) is None
    assert client.get_dataset("5c8c3c555033b814b69f947f") is None


def test_export_job_lifecycle_batch_and_files(client: PlatformClient) -> None:
    dataset_id = client.create_dataset(dataset_body())
    job = client.create_export_job(job_body(dataset_id))
    assert job.status == "NEW" and job.destination.datasetId == dataset_id
    assert job.raw()["destination"]["datasetId"] == dataset_id
    assert wait_terminal(client, job.id) == "SUCCEEDED"
    done = client.get_export_job(job.id)
    assert done is not None and done.batch_ids
    batch = client.get_batch(done.batch_ids[0])
    assert batch is not None and batch.id == done.batch_ids[0]
    assert batch.record_count is not None and batch.record_count > 0
    files = client.list_batch_files(batch.id)
    assert files
    content = client.read_file(files[0].dataSetFileId)
    assert content[:4] == b"PAR1"  # parquet
    assert client.get_batch("0" * 32) is None


def test_segments_and_merge_policies(client: PlatformClient) -> None:
    segments = client.list_segment_definitions()
    assert {s.id for s in segments} == set(defaults.SEGMENT_IDS)
    policy = client.get_merge_policy(defaults.DEFAULT_MERGE_POLICY_ID)
    assert policy is not None and policy.id == defaults.DEFAULT_MERGE_POLICY_ID
    assert client.get_merge_policy("no-such-policy") is None


@pytest.mark.parametrize("style", ["204", "200"])
def test_cancel_accepts_both_delete_answers(
    client: PlatformClient, admin: Admin, style: str
) -> None:
    admin.config(delete_style=style, job_new_seconds=30)
    dataset_id = client.create_dataset(dataset_body())
    job = client.create_export_job(job_body(dataset_id))
    client.cancel_export_job(job.id)
    cancelled = client.get_export_job(job.id)
    assert cancelled is not None and cancelled.status == "CANCELLED" and cancelled.is_terminal
    assert admin.route_count(f"DELETE {JOBS}/{{}}") == 1


def test_paging_while_jobs_are_created_loses_and_repeats_nothing(
    client: PlatformClient, emulator: RunningEmulator
) -> None:
    dataset_id = client.create_dataset(dataset_body())
    before = [client.create_export_job(job_body(dataset_id)).id for _ in range(23)]
    stop = threading.Event()
    created_meanwhile: list[int] = []

    def keep_creating() -> None:
        with make_client(emulator.base_url) as other:
            while not stop.is_set():
                created_meanwhile.append(other.create_export_job(job_body(dataset_id)).id)

    writer = threading.Thread(target=keep_creating)
    writer.start()
    try:
        seen = []
        for record in client.iter_export_jobs(page_size=4):  # six pages
            seen.append(record.id)
            time.sleep(0.01)  # let the writer interleave with the pages
    finally:
        stop.set()
        writer.join()
    assert created_meanwhile, "the writer created nothing while the listing ran"
    assert len(seen) == len(set(seen))  # nothing repeated
    assert set(before) <= set(seen)  # nothing lost
    assert seen[-len(before) :] == sorted(before, reverse=True)  # newest first


def test_incremental_listing_stops_at_the_known_creation_time(
    client: PlatformClient, admin: Admin
) -> None:
    dataset_id = client.create_dataset(dataset_body())
    old = [client.create_export_job(job_body(dataset_id)) for _ in range(6)]
    admin.advance_clock(10)
    new = [client.create_export_job(job_body(dataset_id)) for _ in range(3)]
    since = min(j.creationTime for j in new)
    assert since > max(j.creationTime for j in old)
    requests_before = admin.route_count("GET " + JOBS)
    recent = list(client.iter_export_jobs(page_size=2, created_since_ms=since))
    assert [j.id for j in recent] == [j.id for j in reversed(new)]
    # Pages of 2: the third job is on page 2, the first old one on page 2 too: two requests.
    assert admin.route_count("GET " + JOBS) - requests_before == 2


def test_status_filter(client: PlatformClient, admin: Admin) -> None:
    dataset_id = client.create_dataset(dataset_body())
    finished = client.create_export_job(job_body(dataset_id))
    wait_terminal(client, finished.id)
    admin.config(job_new_seconds=30)
    pending = client.create_export_job(job_body(dataset_id))
    assert [j.id for j in client.iter_export_jobs(status="SUCCEEDED")] == [finished.id]
    assert [j.id for j in client.iter_export_jobs(status="NEW")] == [pending.id]


def test_map_runs_on_a_bounded_pool_under_the_rate_limit(
    emulator: RunningEmulator, admin: Admin
) -> None:
    with make_client(emulator.base_url, max_workers=4) as client:
        dataset_id = client.create_dataset(dataset_body())
        ids = [client.create_export_job(job_body(dataset_id)).id for _ in range(8)]
        admin.fault(endpoint=f"GET {JOBS}/{{}}", latency_ms=200)
        started = time.monotonic()
        jobs = client.map(client.get_export_job, ids)
        elapsed = time.monotonic() - started
    assert [j.id for j in jobs if j is not None] == ids  # in order
    assert elapsed < 1.2  # 8 x 200 ms on 4 workers, not 1.6 s in a row
    # The platform allows 10 requests a second; a client limited to 4/s never meets a 429.
    admin.fault(endpoint=f"GET {JOBS}/{{}}", rate_limit_per_second=10)
    with make_client(emulator.base_url, max_workers=8, rate_limit=4) as limited:
        started = time.monotonic()
        fetched = limited.map(limited.get_export_job, ids + ids[:2])
        elapsed = time.monotonic() - started
        assert limited.calls == 11  # the token and 10 GETs: nothing refused, nothing retried
    assert [j.id for j in fetched if j is not None] == ids + ids[:2]
    assert admin.route_count(f"GET {JOBS}/{{}}") == 8 + 10
    assert elapsed >= 1.4  # 11 requests at 4/s after a burst of 4 take at least 1.75 s
