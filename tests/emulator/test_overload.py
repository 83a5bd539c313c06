"""Overload schedules (gateway 5xx/429, committed-then-500/drop/slow) and misbehaving listings."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from .helpers import DATASETS, JOBS, Api

JOB_BODY_KEYS = {"schema": {"name": "_xdm.context.profile"}}


def _fault(api: Api, **body: Any) -> dict[str, Any]:
    answer = api.admin("POST", "/faults", body)
    assert answer.status_code == 200, answer.text
    shown: dict[str, Any] = answer.json()
    return shown


def _job_body(dataset_id: str) -> dict[str, Any]:
    return {"destination": {"datasetId": dataset_id}, **JOB_BODY_KEYS}


def test_a_schedule_is_consumed_one_entry_per_request_then_answers_normally(api: Api) -> None:
    shown = _fault(api, endpoint=f"GET {DATASETS}", schedule=["500", "ok", "503", "429", "504"])
    assert shown["endpoints"][0]["schedule"] == ["500", "ok", "503", "429", "504"]
    answers = [api.get(DATASETS) for _ in range(7)]
    assert [a.status_code for a in answers] == [500, 200, 503, 429, 504, 200, 200]
    # The gateway body, as the troubleshooting guide's 500 ("the API limit was reached").
    assert set(answers[0].json()) == {"error_code", "message"}
    assert answers[0].json()["error_code"] == "500000"
    assert answers[3].json() == {"error_code": "429050", "message": "Too many requests"}
    assert answers[3].headers["Retry-After"] == "1"
    assert api.get(JOBS).status_code == 200  # another endpoint is untouched
    assert api.admin("GET", "/faults").json()["endpoints"][0]["schedule"] == []


def test_a_scheduled_error_is_answered_before_doing_anything(api: Api) -> None:
    _fault(api, endpoint=f"POST {DATASETS}", schedule=["502"])
    answer = api.post(DATASETS, json={"name": "x", "schemaRef": {"id": "a", "contentType": "b"}})
    assert answer.status_code == 502
    assert api.get(DATASETS).json() == {}


def test_commit_500_creates_the_job_then_answers_500(api: Api) -> None:
    dataset_id = api.create_dataset()
    _fault(api, endpoint=f"POST {JOBS}", schedule=["commit_500"])
    answer = api.post(JOBS, json=_job_body(dataset_id))
    assert answer.status_code == 500
    assert set(answer.json()) == {"error_code", "message"}
    assert len(api.get(JOBS).json()["records"]) == 1  # carried out although answered 500


def test_commit_drop_creates_the_job_then_closes_the_connection(api: Api) -> None:
    dataset_id = api.create_dataset()
    _fault(api, endpoint="*", schedule=["commit_drop"])
    with pytest.raises(requests.ConnectionError):
        api.post(JOBS, json=_job_body(dataset_id))
    assert len(api.get(JOBS).json()["records"]) == 1


def test_commit_slow_answers_only_after_slow_seconds(api: Api) -> None:
    dataset_id = api.create_dataset()
    _fault(api, endpoint=f"POST {JOBS}", schedule=["commit_slow"], slow_seconds=3)
    with pytest.raises(requests.ReadTimeout):
        requests.post(
            api.base_url + JOBS, json=_job_body(dataset_id), headers=api.headers(), timeout=1
        )
    assert len(api.get(JOBS).json()["records"]) == 1  # committed before the answer was held
    _fault(api, endpoint=f"POST {JOBS}", schedule=["commit_slow"], slow_seconds=1.5)
    started = time.monotonic()
    answer = api.post(JOBS, json=_job_body(dataset_id))
    assert answer.status_code == 200 and time.monotonic() - started >= 1.5
    assert answer.json()["id"] in {r["id"] for r in api.get(JOBS).json()["records"]}


@pytest.mark.parametrize(
    "body",
    [
        {"schedule": ["500", "418"]},
        {"schedule": "500"},
        {"slow_seconds": -1},
        {"listing": "loop"},
        {"error_body": "html"},
    ],
)
def test_bad_schedule_settings_are_400s(api: Api, body: dict[str, Any]) -> None:
    answer = api.admin("POST", "/faults", {"endpoint": "*", **body})
    assert answer.status_code == 400
    assert "faults." in answer.json()["detail"]


def test_error_rate_can_answer_with_the_gateway_body(api: Api) -> None:
    _fault(api, endpoint="*", error_rate=1, error_status=500, error_count=1, error_body="gateway")
    answer = api.get(DATASETS)
    assert answer.status_code == 500 and set(answer.json()) == {"error_code", "message"}


def test_listing_repeat_gives_the_same_records_with_a_fresh_next_offset(api: Api) -> None:
    dataset_id = api.create_dataset()
    for _ in range(3):
        api.create_job(dataset_id)
        api.advance(1)
    _fault(api, endpoint=f"GET {JOBS}", listing="repeat")
    seen_offsets, seen_pages = set(), []
    path = f"{JOBS}?limit=2"
    for _ in range(4):
        page = api.get(path).json()
        seen_pages.append([r["id"] for r in page["records"]])
        next_link = page["link"]["next"]
        assert next_link not in seen_offsets
        seen_offsets.add(next_link)
        path = "/data/core/ups" + next_link
    assert all(ids == seen_pages[0] for ids in seen_pages) and len(seen_pages[0]) == 2
    api.admin("DELETE", "/faults").raise_for_status()
    last = api.get("/data/core/ups" + api.get(f"{JOBS}?limit=2").json()["link"]["next"]).json()
    assert len(last["records"]) == 1 and last["link"] == {}


@pytest.mark.parametrize("endpoint", [f"GET {DATASETS}", "*"])
def test_listing_ignore_start_always_gives_the_first_catalog_page(api: Api, endpoint: str) -> None:
    for i in range(3):
        api.create_dataset(f"d{i}")
    first = list(api.get(f"{DATASETS}?limit=2").json())
    assert list(api.get(f"{DATASETS}?limit=2&start=2").json()) != first
    _fault(api, endpoint=endpoint, listing="ignore_start")
    assert list(api.get(f"{DATASETS}?limit=2&start=2").json()) == first
    assert len(api.get(f"{JOBS}?limit=2").json()["records"]) == 0  # jobs list unaffected


def test_listing_ignore_start_applies_to_catalog_batches(api: Api) -> None:
    dataset_id = api.create_dataset()
    for _ in range(3):
        api.create_job(dataset_id)
    batches = "/data/foundation/catalog/batches"
    first = list(api.get(f"{batches}?limit=2").json())
    assert len(first) == 2 and list(api.get(f"{batches}?limit=2&start=2").json()) != first
    _fault(api, endpoint=f"GET {batches}", listing="ignore_start")
    assert list(api.get(f"{batches}?limit=2&start=2").json()) == first


def test_commit_500_on_a_delete_carries_out_the_cancel(api: Api) -> None:
    api.admin(
        "POST", "/behaviour", {"cancel": "marked", "cancel_delay_seconds": 1}
    ).raise_for_status()
    job = api.create_job(api.create_dataset())
    _fault(api, endpoint="DELETE /data/core/ups/export/jobs/{id}", schedule=["commit_500"])
    assert api.delete(f"{JOBS}/{job['id']}").status_code == 500
    api.advance(1)
    assert api.job(job["id"])["status"] == "CANCELLED"  # the mark was made before the 500


def test_the_endpoint_and_the_wildcard_schedules_each_consume_an_entry(api: Api) -> None:
    _fault(api, endpoint=f"GET {DATASETS}", schedule=["ok", "503"])
    _fault(api, endpoint="*", schedule=["502", "ok"])
    assert [api.get(DATASETS).status_code for _ in range(3)] == [502, 503, 200]
