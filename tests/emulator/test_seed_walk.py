"""Every request example of the seeds is accepted as written; answers match the examples' keys."""

from __future__ import annotations

import json
from typing import Any

from . import seed_examples as ex
from .helpers import DATASETS, JOBS, UNION, Api

JSON = {"Content-Type": "application/json"}
# The datasets the examples name, created as if in the platform UI.
EN_DATASET = "5b020a27e7040801dedba61b"
TW_DATASET = "5b7c86968f7b6501e21ba9df"


def mismatches(
    example: Any, actual: Any, path: str = "$", skip: frozenset[str] = frozenset()
) -> list[str]:
    """Where actual lacks a key of example, or holds another JSON type; [] when it matches."""
    if path in skip:
        return []
    if isinstance(example, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        found = []
        for key, value in example.items():
            # The Segmentation guide shows errors on a SUCCEEDED record; they belong to FAILED ones.
            if key == "errors" and example.get("status") != "FAILED":
                continue
            if key not in actual:
                found.append(f"{path}.{key}: missing")
            else:
                found += mismatches(value, actual[key], f"{path}.{key}", skip)
        return found
    if isinstance(example, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list, got {actual!r}"]
        found = []
        for item in actual if example else []:
            found += mismatches(example[0], item, f"{path}[]", skip)
        return found
    kinds = (bool, int, float, str, type(None))
    want = next(k for k in kinds if isinstance(example, k))
    if not isinstance(actual, want) or (want is int and isinstance(actual, bool)):
        return [f"{path}: expected {want.__name__}, got {actual!r}"]
    return []


def assert_list_matches(example_text: str, answer: dict[str, Any], paged: dict[str, Any]) -> None:
    """Records by status (each example record against every actual one like it); page and
    link against a page that has a next one, as the examples do."""
    example = json.loads(example_text)
    by_status: dict[str, list[dict[str, Any]]] = {}
    for record in answer["records"]:
        by_status.setdefault(record["status"], []).append(record)
    for record in example["records"]:
        actual = by_status.get(record["status"])
        assert actual, f"no {record['status']} record to compare with"
        for one in actual:
            assert mismatches(record, one) == []
    assert mismatches({k: v for k, v in example.items() if k != "records"}, paged) == []
    assert paged["link"]["next"].startswith("/export/jobs/?limit=")


def _created_id(answer: Any) -> str:
    return str(answer.json()[0].rsplit("/", 1)[1])


def test_profile_guide_examples(api: Api) -> None:
    made = api.admin("POST", "/dataSets", {"id": EN_DATASET, "name": "seed", "schemaRef": UNION})
    assert made.status_code == 201

    answer = api.post(DATASETS, data=ex.EN_CREATE_DATASET_REQUEST, headers=JSON)
    assert answer.status_code == 201
    assert mismatches(json.loads(ex.EN_CREATE_DATASET_RESPONSE), answer.json()) == []
    answer = api.post(DATASETS, data=ex.ZH_CREATE_DATASET_REQUEST, headers=JSON)
    assert answer.status_code == 201
    record = api.get(f"{DATASETS}/{_created_id(answer)}").json()
    assert next(iter(record.values()))["fileDescription"]["persisted"] is True

    created = api.post(JOBS, data=ex.EN_CREATE_JOB_REQUEST, headers=JSON)
    assert created.status_code == 200
    assert mismatches(json.loads(ex.EN_CREATE_JOB_RESPONSE), created.json()) == []

    # The Simplified Chinese revision's body lacks a comma after additionalFields, so it is
    # not JSON as written: a clear 400. With the comma it is the English body.
    broken = api.post(JOBS, data=ex.ZH_CREATE_JOB_REQUEST, headers=JSON)
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["detail"]
    fixed = ex.ZH_CREATE_JOB_REQUEST.replace(
        '    }\n    "destination"', '    },\n    "destination"'
    )
    assert json.loads(fixed) == json.loads(ex.EN_CREATE_JOB_REQUEST)

    for body in (
        ex.EN_PROFILE_ONLY_REQUEST,
        ex.EN_EVENTS_ONLY_REQUEST,
        ex.ZH_PROFILE_ONLY_REQUEST,
        ex.ZH_EVENTS_ONLY_REQUEST,
    ):
        assert api.post(JOBS, data=body, headers=JSON).status_code == 200

    # GET /export/jobs/24115 and DELETE /export/jobs/726, with the examples' ids.
    for job_id in (24115, 726):
        answer = api.admin(
            "POST", "/exportJobs", {"id": job_id, **json.loads(ex.EN_CREATE_JOB_REQUEST)}
        )
        assert answer.status_code == 200 and answer.json()["id"] == job_id
    failing = {
        **json.loads(ex.EN_PROFILE_ONLY_REQUEST),
        "mergePolicy": {"id": "7972e3d6-96ea-4ece-9627-cbfd62709c5d", "version": 1},
        "filter": {"segments": [{"segmentId": "7a93d2ff-a220-4bae-9a4e-5f3c35032be3"}]},
    }
    api.admin("POST", "/faults", {"jobs": {"fail": 1}})
    assert api.post(JOBS, json=failing).status_code == 200
    api.advance(5)

    got = api.get(f"{JOBS}/24115")
    assert got.status_code == 200 and got.json()["status"] == "SUCCEEDED"
    assert mismatches(json.loads(ex.EN_GET_RESPONSE), got.json()) == []

    listing = api.get(JOBS + "/")  # the guide's request, trailing slash included
    assert listing.status_code == 200
    two = api.get(JOBS + "/", params={"limit": 2}).json()  # the example is a page of 2 with a next
    assert_list_matches(ex.EN_LIST_RESPONSE, listing.json(), two)
    assert two["page"]["pageSize"] == 2

    # The guide's curl says -X POST, but its API format (and title) is DELETE.
    assert api.post(f"{JOBS}/726").status_code == 405
    deleted = api.delete(f"{JOBS}/726")
    assert deleted.status_code == 204 and deleted.content == b""


def test_segmentation_guide_examples(api: Api) -> None:
    tw = api.in_sandbox("segmentation-walk")
    assert (
        tw.admin(
            "POST", "/dataSets", {"id": TW_DATASET, "name": "seed", "schemaRef": UNION}
        ).status_code
        == 201
    )
    tw.admin("POST", "/config", {"delete_style": "200"})

    created = tw.post(JOBS, data=ex.TW_CREATE_JOB_REQUEST, headers=JSON)
    assert created.status_code == 200
    # Answered at once the job is NEW, so its metrics and gateway ids are not there yet.
    later = frozenset({"$.metrics", "$.computeGatewayJobId"})
    assert mismatches(json.loads(ex.TW_CREATE_JOB_RESPONSE), created.json(), skip=later) == []
    job_id = created.json()["id"]
    for _ in range(2):
        assert tw.post(JOBS, data=ex.TW_CREATE_JOB_REQUEST, headers=JSON).status_code == 200
    tw.advance(5)

    got = tw.get(f"{JOBS}/{job_id}")
    assert got.status_code == 200
    assert mismatches(json.loads(ex.TW_GET_RESPONSE), got.json()) == []
    assert mismatches(json.loads(ex.TW_CREATE_JOB_RESPONSE), got.json()) == []

    listing = tw.get(JOBS, params={"status": "SUCCEEDED"})
    assert listing.status_code == 200
    assert {r["status"] for r in listing.json()["records"]} == {"SUCCEEDED"}
    paged = tw.get(JOBS, params={"status": "SUCCEEDED", "limit": 2}).json()
    assert_list_matches(ex.TW_LIST_RESPONSE, listing.json(), paged)

    pending = tw.post(JOBS, data=ex.TW_CREATE_JOB_REQUEST, headers=JSON).json()
    deleted = tw.delete(f"{JOBS}/{pending['id']}")
    assert deleted.status_code == 200
    assert mismatches(json.loads(ex.TW_DELETE_RESPONSE), deleted.json()) == []
    assert deleted.json() == json.loads(ex.TW_DELETE_RESPONSE)


def test_the_matcher_notices_missing_keys_and_wrong_types() -> None:
    assert mismatches({"a": {"b": 1}}, {"a": {}}) == ["$.a.b: missing"]
    assert mismatches({"a": [{"b": "x"}]}, {"a": [{"b": 2}]}) == ["$.a[].b: expected str, got 2"]
    assert mismatches({"a": 1}, {"a": True}) == ["$.a: expected int, got True"]
    assert mismatches({"a": 1}, {"a": 2, "extra": 3}) == []
