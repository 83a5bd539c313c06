"""Injected faults (latency, 429, 5xx, dropped connections, job outcomes) and request counts."""

from __future__ import annotations

import time

import pytest
import requests

from .helpers import DATASETS, JOBS, Api


def _fault(api: Api, **body: object) -> None:
    answer = api.admin("POST", "/faults", body)
    assert answer.status_code == 200, answer.text


def test_latency_applies_to_its_endpoint_only(api: Api) -> None:
    _fault(api, endpoint=f"GET {DATASETS}", latency_ms=1000)
    started = time.monotonic()
    assert api.get(DATASETS).status_code == 200
    assert time.monotonic() - started >= 1.0
    started = time.monotonic()
    assert api.get(JOBS).status_code == 200
    assert time.monotonic() - started < 1.0  # generous: a busy machine must not fail this


def test_rate_limit_answers_429_with_retry_after(api: Api) -> None:
    _fault(api, endpoint=f"GET {DATASETS}", rate_limit_per_second=2)
    answers = [api.get(DATASETS) for _ in range(8)]
    assert [a.status_code for a in answers[:2]] == [200, 200]
    limited = next(a for a in answers if a.status_code == 429)
    assert limited.json() == {"error_code": "429050", "message": "Too many requests"}
    wait = int(limited.headers["Retry-After"])
    assert wait >= 1
    time.sleep(wait)
    assert api.get(DATASETS).status_code == 200


@pytest.mark.parametrize("status", [500, 503])
def test_error_count_fails_the_next_requests_then_recovers(api: Api, status: int) -> None:
    _fault(api, endpoint="*", error_rate=1.0, error_status=status, error_count=2)
    answers = [api.get(DATASETS) for _ in range(3)]
    assert [a.status_code for a in answers] == [status, status, 200]
    assert answers[0].json()["status"] == status and "retry" in answers[0].json()["detail"]


def test_error_rate_is_reproducible_with_a_seed(api: Api) -> None:
    def run() -> list[int]:
        _fault(api, endpoint=f"GET {DATASETS}", error_rate=0.5, seed=7)
        return [api.get(DATASETS).status_code for _ in range(20)]

    first = run()
    assert first == run()
    assert 0 < first.count(503) < 20


def test_path_templates_match_any_id(api: Api) -> None:
    _fault(
        api, endpoint="GET /data/core/ups/export/jobs/{EXPORT_JOB_ID}", error_rate=1, error_count=1
    )
    assert api.get(f"{JOBS}/123").status_code == 503
    assert api.get(f"{JOBS}/123").status_code == 404


def test_dropped_connection_after_commit(api: Api) -> None:
    dataset_id = api.create_dataset()
    _fault(api, endpoint=f"POST {JOBS}", drop_after_commit=1)
    body = {"destination": {"datasetId": dataset_id}, "schema": {"name": "_xdm.context.profile"}}
    with pytest.raises(requests.ConnectionError):
        api.post(JOBS, json=body)
    records = api.get(JOBS).json()["records"]
    assert len(records) == 1  # the job exists although the client never heard back
    assert api.post(JOBS, json=body).status_code == 200
    assert len(api.get(JOBS).json()["records"]) == 2


def test_next_jobs_fail_with_platform_errors(api: Api) -> None:
    _fault(api, jobs={"fail": 1})
    dataset_id = api.create_dataset()
    doomed, fine = api.create_job(dataset_id), api.create_job(dataset_id)
    api.advance(5)
    failed = api.job(doomed["id"])
    assert failed["status"] == "FAILED" and failed["destination"]["batchId"] == ""
    assert {"code", "msg", "callStack"} <= set(failed["errors"][0])
    assert "aCPDatasetWriteTime" not in failed["metrics"]
    assert api.job(fine["id"])["status"] == "SUCCEEDED"


def test_job_failure_errors_can_be_given(api: Api) -> None:
    errors = [{"code": "0100000003", "msg": "Error in Export Job", "callStack": "c"}]
    _fault(api, jobs={"fail": 1, "errors": errors})
    job = api.create_job(api.create_dataset())
    api.advance(5)
    assert api.job(job["id"])["errors"] == errors


def test_stuck_jobs_stay_processing_until_cancelled(api: Api) -> None:
    _fault(api, jobs={"stuck": 1})
    job = api.create_job(api.create_dataset())
    api.advance(20 * 3600)  # well past any timing, within the token lifetime
    assert api.job(job["id"])["status"] == "PROCESSING"
    assert api.delete(f"{JOBS}/{job['id']}").status_code == 204
    assert api.job(job["id"])["status"] == "CANCELLED"


def test_faults_are_listed_and_cleared(api: Api) -> None:
    _fault(api, endpoint=f"GET {DATASETS}", latency_ms=5)
    _fault(api, endpoint=f"GET {JOBS}", error_rate=1)
    listed = api.admin("GET", "/faults").json()
    assert {f["endpoint"] for f in listed["endpoints"]} == {f"GET {DATASETS}", f"GET {JOBS}"}
    api.session.delete(f"{api.base_url}/_emulator/faults", params={"endpoint": f"GET {JOBS}"})
    assert api.get(JOBS).status_code == 200
    api.admin("DELETE", "/faults")
    assert api.admin("GET", "/faults").json()["endpoints"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"endpoint": "jobs"},
        {"endpoint": "FETCH /x"},
        {"endpoint": "*", "error_rate": 2},
        {"endpoint": "*", "error_status": 404},
        {"endpoint": "*", "latency_ms": -1},
        {"endpoint": "*", "rate_limit_per_second": 0},
        {"jobs": {"fail": -1}},
        {"jobs": {"explode": 1}},
        {},
    ],
)
def test_bad_fault_bodies_are_400(api: Api, body: dict[str, object]) -> None:
    assert api.admin("POST", "/faults", body).status_code == 400


def test_faults_never_touch_admin_endpoints(api: Api) -> None:
    _fault(api, endpoint="*", error_rate=1)
    assert api.admin("GET", "/clock").status_code == 200
    assert api.get(DATASETS).status_code == 503


def test_stats_count_requests_per_route(api: Api) -> None:
    api.admin("DELETE", "/stats")
    dataset_id = api.create_dataset()
    api.get(f"{DATASETS}/{dataset_id}")
    api.get(f"{DATASETS}/{dataset_id}")
    api.get(f"{JOBS}/")
    stats = api.admin("GET", "/stats").json()
    assert stats["routes"] == {
        f"POST {DATASETS}": 1,
        f"GET {DATASETS}/{{}}": 2,
        f"GET {JOBS}": 1,
    }
    assert stats["total"] == 4
    api.admin("DELETE", "/stats")
    assert api.admin("GET", "/stats").json() == {"total": 0, "routes": {}}
