"""cancel: marked (SEG: "marked for cancelling"), and the platform clock (offset, steps back)."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from reconciler.emulator.server import start_in_thread

from .helpers import DATASETS, JOBS, Api, get_token

MARKED = {"status": True, "message": "Export job has been marked for cancelling"}


def _marked(api: Api, **extra: object) -> None:
    api.admin("POST", "/behaviour", {"cancel": "marked", **extra}).raise_for_status()


def test_immediate_cancel_is_done_at_once(api: Api) -> None:
    job = api.create_job(api.create_dataset())
    assert api.delete(f"{JOBS}/{job['id']}").status_code == 204
    assert api.job(job["id"])["status"] == "CANCELLED"


def test_a_marked_job_stays_in_flight_then_ends_cancelled(api: Api) -> None:
    _marked(api)
    api.admin("POST", "/config", {"job_processing_seconds": 2}).raise_for_status()
    job = api.create_job(api.create_dataset())
    api.advance(1.5)  # PROCESSING, half a second before it would succeed
    answer = api.delete(f"{JOBS}/{job['id']}")
    assert answer.status_code == 200 and answer.json() == MARKED
    assert api.job(job["id"])["status"] == "PROCESSING"
    api.advance(2.9)  # past its own end: a marked job no longer succeeds
    assert api.job(job["id"])["status"] == "PROCESSING"
    again = api.delete(f"{JOBS}/{job['id']}")  # a second DELETE while marked changes nothing
    assert again.status_code == 200 and again.json() == MARKED
    api.advance(0.1)
    record = api.job(job["id"])
    assert record["status"] == "CANCELLED"
    assert record["updateTime"] == job["creationTime"] + 1500 + 3000
    batch_id = record["destination"]["batchId"] or job["destination"]["batchId"]
    batch = api.get(f"/data/foundation/catalog/batches/{batch_id}").json()[batch_id]
    assert batch["status"] == "aborted"


def test_marked_cancel_can_end_failed_with_a_cancel_error(api: Api) -> None:
    _marked(api, cancel_ends="FAILED", cancel_delay_seconds=10)
    job = api.create_job(api.create_dataset())
    assert api.delete(f"{JOBS}/{job['id']}").json() == MARKED
    api.advance(9.9)
    assert api.job(job["id"])["status"] == "PROCESSING"  # in flight, past its own end
    api.advance(0.1)
    record = api.job(job["id"])
    assert record["status"] == "FAILED"
    assert "cancelled on request" in record["errors"][0]["msg"]


def test_a_delete_of_a_finished_job_deletes_its_record(api: Api) -> None:
    _marked(api, cancel_delay_seconds=0)
    dataset_id = api.create_dataset()
    done = api.create_job(dataset_id)
    api.advance(10)
    assert api.job(done["id"])["status"] == "SUCCEEDED"
    answer = api.delete(f"{JOBS}/{done['id']}")
    assert answer.status_code == 200
    assert answer.json() == {"status": True, "message": "Export job has been deleted"}
    assert api.get(f"{JOBS}/{done['id']}").status_code == 404
    # A marked job that has ended is finished too: its second DELETE deletes the record.
    running = api.create_job(dataset_id)
    assert api.delete(f"{JOBS}/{running['id']}").json() == MARKED
    assert api.job(running["id"])["status"] == "CANCELLED"
    assert api.delete(f"{JOBS}/{running['id']}").json()["message"] == "Export job has been deleted"
    assert api.get(f"{JOBS}/{running['id']}").status_code == 404


def test_the_mark_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "platform"
    with start_in_thread(data) as first:
        api = Api(first.base_url, get_token(first.base_url))
        api.admin("POST", "/clock", {"freeze": True})
        _marked(api, cancel_delay_seconds=30)
        job = api.create_job(api.create_dataset())
        api.delete(f"{JOBS}/{job['id']}")
    with start_in_thread(data) as second:
        api = Api(second.base_url, api.token)
        api.advance(10)  # past its own end: still in flight, because it was marked
        assert api.job(job["id"])["status"] == "PROCESSING"
        api.advance(20)
        assert api.job(job["id"])["status"] == "CANCELLED"


def test_a_clock_offset_moves_every_time_field_and_the_date_header(api: Api) -> None:
    api.admin("POST", "/profile", {"name": "documented"}).raise_for_status()
    wall = time.time()
    answer = api.get(DATASETS)
    header = parsedate_to_datetime(answer.headers["Date"]).timestamp()
    assert abs(header - (wall + 7200)) < 5
    dataset_id = api.create_dataset()
    created = api.get(f"{DATASETS}/{dataset_id}").json()[dataset_id]["created"]
    assert abs(created / 1000 - (wall + 7200)) < 5
    job = api.create_job(dataset_id)
    assert abs(job["creationTime"] / 1000 - (wall + 7200)) < 5


def test_a_step_back_moves_timestamps_but_jobs_do_not_unfinish(api: Api) -> None:
    dataset_id = api.create_dataset()
    done = api.create_job(dataset_id)
    running = api.create_job(dataset_id, filter={"emptyProfiles": True})
    api.advance(1.5)
    api.delete(f"{JOBS}/{running['id']}")
    stopped = api.job(running["id"])
    api.advance(2)
    done_record = api.job(done["id"])
    assert done_record["status"] == "SUCCEEDED" and stopped["status"] == "CANCELLED"
    api.advance(-3600)
    clock = api.admin("GET", "/clock").json()
    assert clock["skew_ms"] == 3_600_000
    assert api.job(done["id"]) == done_record  # the same record, times as recorded
    assert api.job(running["id"])["status"] == "CANCELLED"
    later = api.create_job(dataset_id)
    assert later["creationTime"] < done["creationTime"]  # timestamps do go back
    assert later["status"] == "NEW"
    api.advance(1.5)
    assert api.job(later["id"])["status"] == "PROCESSING"  # and new jobs run normally
    api.advance(2)
    finished = api.job(later["id"])
    assert finished["status"] == "SUCCEEDED"
    assert finished["updateTime"] == later["creationTime"] + 3000
    date = parsedate_to_datetime(api.get(DATASETS).headers["Date"]).timestamp()
    assert abs(date * 1000 - clock["now_ms"] - 3500) < 1500


@pytest.mark.parametrize("how", ["advance", "set_ms"])
def test_both_ways_of_stepping_back_are_counted(api: Api, how: str) -> None:
    now = api.admin("GET", "/clock").json()["now_ms"]
    body = {"advance_seconds": -10} if how == "advance" else {"set_ms": now - 10_000}
    shown = api.admin("POST", "/clock", body).json()
    assert shown["now_ms"] == now - 10_000 and shown["skew_ms"] == 10_000
    forward = api.admin("POST", "/clock", {"advance_seconds": 20}).json()
    assert forward["skew_ms"] == 10_000
