"""Export jobs: validation, the clock-driven lifecycle, cancellation, listing and isolation."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from .helpers import DATASETS, JOBS, UNION, Api

SEGMENT = "52c26d0d-45f2-47a2-ab30-ed06abc981ff"
PROFILE = {"name": "_xdm.context.profile"}


def _body(dataset_id: str, **extra: Any) -> dict[str, Any]:
    return {"destination": {"datasetId": dataset_id}, "schema": dict(PROFILE), **extra}


def test_new_job_record_has_the_seed_fields(api: Api) -> None:
    dataset_id = api.create_dataset()
    job = api.create_job(dataset_id, fields="identities.id")
    assert isinstance(job["id"], int)
    assert (
        job["status"] == "NEW" and job["jobType"] == "BATCH" and job["profileInstanceId"] == "ups"
    )
    assert job["imsOrgId"] == api.org and len(job["requestId"]) == 32
    assert job["computeGatewayJobId"] == {}
    assert job["metrics"] == {"totalTime": {"startTimeInMs": job["creationTime"]}}
    assert job["destination"]["datasetId"] == job["destination"]["dataSetId"] == dataset_id
    assert job["destination"]["segmentPerBatch"] is False
    assert len(job["destination"]["batchId"]) == 32
    assert job["mergePolicy"] == {"id": "0bf16e61-90e9-4204-b8fa-ad250360957b", "version": 1}
    assert job["fields"] == "identities.id" and "errors" not in job


def test_lifecycle_follows_the_clock(api: Api) -> None:
    api.admin("POST", "/config", {"job_new_seconds": 10, "job_processing_seconds": 20})
    job = api.create_job(api.create_dataset())
    created = job["creationTime"]
    api.advance(9.9)
    assert api.job(job["id"])["status"] == "NEW"
    api.advance(0.1)
    processing = api.job(job["id"])
    assert processing["status"] == "PROCESSING" and processing["updateTime"] == created + 10_000
    assert set(processing["computeGatewayJobId"]) == {"exportJob"}
    assert processing["metrics"]["profileExportTime"] == {"startTimeInMs": created + 10_000}
    api.advance(19.9)
    assert api.job(job["id"])["status"] == "PROCESSING"
    api.advance(0.1)
    done = api.job(job["id"])
    assert done["status"] == "SUCCEEDED" and done["updateTime"] == created + 30_000
    assert set(done["computeGatewayJobId"]) == {"exportJob", "pushJob"}
    total = done["metrics"]["totalTime"]
    assert total == {
        "startTimeInMs": created,
        "endTimeInMs": created + 30_000,
        "totalTimeInMs": 30_000,
    }
    write = done["metrics"]["aCPDatasetWriteTime"]
    assert write["endTimeInMs"] == created + 30_000
    api.advance(3600)
    assert api.job(job["id"]) == done  # a finished job no longer changes


def test_timings_are_fixed_at_creation(api: Api) -> None:
    api.admin("POST", "/config", {"job_new_seconds": 1, "job_processing_seconds": 1})
    job = api.create_job(api.create_dataset())
    api.admin("POST", "/config", {"job_new_seconds": 100, "job_processing_seconds": 100})
    api.advance(2)
    assert api.job(job["id"])["status"] == "SUCCEEDED"


def test_running_clock_finishes_a_demo_in_seconds(api: Api) -> None:
    api.admin("POST", "/config", {"job_new_seconds": 0.05, "job_processing_seconds": 0.1})
    api.admin("POST", "/clock", {"freeze": False})
    job = api.create_job(api.create_dataset())
    import time

    deadline = time.monotonic() + 5
    while api.job(job["id"])["status"] != "SUCCEEDED":
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.parametrize("advance", [0, 1.5])
def test_cancelling_an_in_flight_job(api: Api, advance: float) -> None:
    job = api.create_job(api.create_dataset())
    api.advance(advance)
    answer = api.delete(f"{JOBS}/{job['id']}")
    assert answer.status_code == 204 and answer.content == b""
    cancelled = api.job(job["id"])
    assert cancelled["status"] == "CANCELLED" and cancelled["destination"]["batchId"] == ""
    api.advance(60)
    assert api.job(job["id"])["status"] == "CANCELLED"
    assert cancelled["metrics"]["totalTime"]["endTimeInMs"] == cancelled["updateTime"]


def test_delete_answer_style_follows_the_config(api: Api) -> None:
    api.admin("POST", "/config", {"delete_style": "200"})
    job = api.create_job(api.create_dataset())
    answer = api.delete(f"{JOBS}/{job['id']}")
    assert answer.status_code == 200
    assert answer.json() == {"status": True, "message": "Export job has been marked for cancelling"}


def test_deleting_a_finished_job_removes_its_record_but_keeps_the_batch(api: Api) -> None:
    job = api.create_job(api.create_dataset())
    api.advance(5)
    batch_id = api.job(job["id"])["destination"]["batchId"]
    assert api.delete(f"{JOBS}/{job['id']}").status_code == 204
    assert api.get(f"{JOBS}/{job['id']}").status_code == 404
    assert api.delete(f"{JOBS}/{job['id']}").status_code == 404
    batch = api.get(f"/data/foundation/catalog/batches/{batch_id}").json()[batch_id]
    assert batch["status"] == "success"


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda b: b.pop("destination"), "destination"),
        (lambda b: b["destination"].pop("datasetId"), "destination.datasetId"),
        (lambda b: b.pop("schema"), "schema"),
        (lambda b: b["schema"].pop("name"), "schema.name"),
        (lambda b: b["schema"].update(name="_xdm.context.experienceevent"), "schema.name"),
        (lambda b: b["destination"].update(datasetId="000000000000000000000000"), "does not exist"),
        (lambda b: b.update(fields=["identities.id"]), "fields"),
        (lambda b: b.update(fields="identities..id"), "fields"),
        (lambda b: b.update(mergePolicy={"id": "no-such-policy"}), "mergePolicy.id"),
        (lambda b: b.update(mergePolicy={"version": 1}), "mergePolicy.id"),
        (
            lambda b: b.update(mergePolicy={"id": "timestampOrdered-none-mp", "version": 7}),
            "version",
        ),
        (lambda b: b.update(filter={"segments": [{"segmentId": "nope"}]}), "segmentId"),
        (lambda b: b.update(filter={"segments": [{"segmentNs": "ups"}]}), "segmentId"),
        (
            lambda b: b.update(filter={"segments": [{"segmentId": SEGMENT, "status": ["gone"]}]}),
            "status",
        ),
        (lambda b: b.update(filter={"fromIngestTimestamp": "yesterday"}), "fromIngestTimestamp"),
        (lambda b: b.update(filter={"fromIngestTimestamp": "2018-01-01T00:00:00"}), "zone"),
        (lambda b: b.update(filter={"emptyProfiles": "yes"}), "emptyProfiles"),
        (
            lambda b: b.update(
                filter={
                    "segmentQualificationTime": {
                        "startTime": "2018-02-01T00:00:00Z",
                        "endTime": "2018-01-01T00:00:00Z",
                    }
                }
            ),
            "after",
        ),
        (lambda b: b.update(evaluationInfo={"segmentation": "yes"}), "evaluationInfo"),
        (lambda b: b.update(evaluationInfo=True), "evaluationInfo"),
        (
            lambda b: b.update(
                additionalFields={
                    "eventList": {
                        "filter": {
                            "fromIngestTimestamp": "2018-12-01T00:00:00Z",
                            "toIngestTimestamp": "2018-11-01T00:00:00Z",
                        }
                    }
                }
            ),
            "toIngestTimestamp",
        ),
        (lambda b: b["destination"].update(segmentPerBatch="true"), "segmentPerBatch"),
        (
            lambda b: b.update(
                additionalFields={"eventList": {"filter": {"fromIngestTimestamp": 5}}}
            ),
            "fromIngestTimestamp",
        ),
        (lambda b: b.update(additionalFields={"other": {}}), "other"),
        (lambda b: b.update(surprise=True), "surprise"),
    ],
)
def test_each_validation_failure_is_a_400_naming_the_field(
    api: Api, mutate: Any, fragment: str
) -> None:
    body = _body(api.create_dataset())
    mutate(body)
    answer = api.post(JOBS, json=body)
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert problem["status"] == 400 and fragment in problem["detail"], problem


def test_dataset_must_be_based_on_the_profile_union_schema(api: Api) -> None:
    other = {
        "id": "https://ns.adobe.com/tenant/schemas/events",
        "contentType": UNION["contentType"],
    }
    created = api.post(DATASETS, json={"name": "events", "schemaRef": other})
    dataset_id = created.json()[0].rsplit("/", 1)[1]
    answer = api.post(JOBS, json=_body(dataset_id))
    assert answer.status_code == 400 and "union schema" in answer.json()["detail"]


def test_dataset_of_another_sandbox_is_not_found(api: Api) -> None:
    dev_dataset = api.in_sandbox("dev").create_dataset()
    answer = api.post(JOBS, json=_body(dev_dataset))
    assert answer.status_code == 400 and "does not exist" in answer.json()["detail"]


def test_create_also_answers_on_the_trailing_slash_path(api: Api) -> None:
    body = _body(api.create_dataset())
    answer = api.post(JOBS + "/", json=body)
    assert answer.status_code == 200 and answer.json()["status"] == "NEW"


def test_dataSetId_spelling_is_accepted_on_input(api: Api) -> None:
    dataset_id = api.create_dataset()
    answer = api.post(
        JOBS, json={"destination": {"dataSetId": dataset_id}, "schema": dict(PROFILE)}
    )
    assert answer.status_code == 200 and answer.json()["destination"]["datasetId"] == dataset_id


def test_unknown_and_foreign_job_ids_are_404(api: Api) -> None:
    job = api.create_job(api.create_dataset())
    for bad in ("999999", "abc", "-1", "1" * 30):
        assert api.get(f"{JOBS}/{bad}").status_code == 404
    dev = api.in_sandbox("dev")
    assert dev.get(f"{JOBS}/{job['id']}").status_code == 404
    assert dev.delete(f"{JOBS}/{job['id']}").status_code == 404
    assert dev.get(JOBS).json()["records"] == []


def _walk(api: Api, limit: int, **params: Any) -> list[int]:
    seen: list[int] = []
    query: dict[str, Any] = {"limit": limit, **params}
    while True:
        page = api.get(JOBS, params=query).json()
        seen.extend(r["id"] for r in page["records"])
        nxt = page["link"].get("next")
        if not nxt:
            return seen
        assert nxt.startswith("/export/jobs/?limit=")
        query = {"limit": limit, "offset": nxt.split("offset=")[1].split("&")[0], **params}


def test_list_pages_newest_first_with_the_seed_cursor(api: Api) -> None:
    dataset_id = api.create_dataset()
    ids = []
    for _ in range(5):
        ids.append(api.create_job(dataset_id)["id"])
        api.advance(0.001)
    first = api.get(JOBS, params={"limit": 2}).json()
    assert [r["id"] for r in first["records"]] == ids[::-1][:2]
    last = first["records"][-1]
    assert first["page"] == {
        "sortField": "createdTime",
        "sort": "desc",
        "pageOffset": f"{last['creationTime']}_{last['id']}",
        "pageSize": 2,
    }
    assert (
        first["link"]["next"] == f"/export/jobs/?limit=2&offset={last['creationTime']}_{last['id']}"
    )
    assert _walk(api, 2) == ids[::-1]
    assert api.get(JOBS + "/", params={"limit": 2}).json() == first  # the seeds' trailing slash


def test_paging_loses_and_repeats_nothing_while_jobs_are_created(api: Api) -> None:
    dataset_id = api.create_dataset()
    before = [api.create_job(dataset_id)["id"] for _ in range(7)]
    seen: list[int] = []
    query: dict[str, Any] = {"limit": 3}
    while True:
        api.create_job(dataset_id)  # newer jobs land before the cursor, never in the walk
        page = api.get(JOBS, params=query).json()
        seen.extend(r["id"] for r in page["records"])
        if not page["link"].get("next"):
            break
        query = {"limit": 3, "offset": page["page"]["pageOffset"]}
    assert len(seen) == len(set(seen))
    assert set(before) <= set(seen)


def test_frozen_clock_jobs_share_a_time_and_still_page_by_id(api: Api) -> None:
    dataset_id = api.create_dataset()
    ids = [api.create_job(dataset_id)["id"] for _ in range(6)]
    assert _walk(api, 4) == sorted(ids, reverse=True)


def test_status_filter_start_page_and_sort(api: Api) -> None:
    dataset_id = api.create_dataset()
    old = api.create_job(dataset_id)["id"]
    api.advance(10)
    new = [api.create_job(dataset_id)["id"] for _ in range(3)]
    ok = api.get(JOBS, params={"status": "SUCCEEDED"}).json()["records"]
    assert [r["id"] for r in ok] == [old]
    assert [r["id"] for r in api.get(JOBS, params={"status": "NEW"}).json()["records"]] == new[::-1]
    assert api.get(JOBS, params={"status": "BOGUS"}).status_code == 400
    assert [r["id"] for r in api.get(JOBS, params={"start": 1, "limit": 2}).json()["records"]] == [
        new[1],
        new[0],
    ]
    assert [r["id"] for r in api.get(JOBS, params={"page": 2, "limit": 2}).json()["records"]] == [
        new[0],
        old,
    ]
    ascending = api.get(JOBS, params={"sort": "updateTime:asc"}).json()["records"]
    times = [r["updateTime"] for r in ascending]
    assert times == sorted(times)
    assert api.get(JOBS, params={"sort": "bogus:asc"}).status_code == 400
    assert api.get(JOBS, params={"offset": "yesterday"}).status_code == 400
    assert api.get(JOBS, params={"limit": 0}).status_code == 400


def test_concurrent_creation_is_safe(api: Api) -> None:
    dataset_id = api.create_dataset()
    made: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = api.in_sandbox(api.sandbox)
        for _ in range(5):
            job_id = mine.create_job(dataset_id)["id"]
            with lock:
                made.append(job_id)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(made)) == 30
    assert sorted(_walk(api, 7)) == sorted(made)


def test_out_of_band_job_create_cancel_and_fail(api: Api) -> None:
    dataset_id = api.create_dataset()
    made = api.admin("POST", "/exportJobs", _body(dataset_id))
    assert made.status_code == 200
    ui_job = made.json()
    assert api.job(ui_job["id"])["status"] == "NEW"
    cancelled = api.admin("POST", f"/exportJobs/{ui_job['id']}/cancel")
    assert cancelled.json()["status"] == "CANCELLED"
    assert api.admin("POST", f"/exportJobs/{ui_job['id']}/cancel").status_code == 409
    other = api.create_job(dataset_id)
    api.advance(1.5)
    errors = [{"code": "0100000003", "msg": "Error in Export Job", "callStack": "x"}]
    failed = api.admin("POST", f"/exportJobs/{other['id']}/fail", {"errors": errors}).json()
    assert failed["status"] == "FAILED" and failed["errors"] == errors
    assert failed["destination"]["batchId"] == ""
    api.advance(60)
    assert api.job(other["id"])["status"] == "FAILED"
    assert api.admin("POST", "/exportJobs/424242/fail").status_code == 404


def test_job_fails_when_its_dataset_is_deleted_before_it_finishes(api: Api) -> None:
    dataset_id = api.create_dataset()
    job = api.create_job(dataset_id)
    api.admin("DELETE", f"/dataSets/{dataset_id}")
    api.advance(5)
    record = api.job(job["id"])
    assert record["status"] == "FAILED"
    assert dataset_id in record["errors"][0]["msg"]
