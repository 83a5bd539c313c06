"""echo: terse: job records as the Profile guide's answers show them."""

from __future__ import annotations

from typing import Any

from reconciler.emulator import defaults

from .helpers import JOBS, Api

SEGMENT, OTHER = defaults.SEGMENT_IDS[0], defaults.SEGMENT_IDS[1]


def _terse(api: Api) -> None:
    api.admin("POST", "/behaviour", {"echo": "terse"}).raise_for_status()


def _full_request(dataset_id: str) -> dict[str, Any]:
    return {
        "fields": "identities.id,personalEmail.address",
        "filter": {"segments": [{"segmentId": SEGMENT, "status": ["exited"]}]},
        "additionalFields": {"eventList": {"fields": "environment"}},
        "destination": {"datasetId": dataset_id},
        "schema": {"name": "_xdm.context.profile"},
    }


def test_full_echo_carries_every_request_field_and_both_spellings(api: Api) -> None:
    dataset_id = api.create_dataset()
    answer = api.post(JOBS, json=_full_request(dataset_id)).json()
    assert answer["fields"] == "identities.id,personalEmail.address"
    assert "additionalFields" in answer
    assert answer["destination"]["datasetId"] == answer["destination"]["dataSetId"] == dataset_id
    assert answer["destination"]["batches"]["status"] == ["exited"]


def test_terse_single_answers_drop_fields_and_spell_dataSetId(api: Api) -> None:
    _terse(api)
    dataset_id = api.create_dataset()
    created = api.post(JOBS, json=_full_request(dataset_id)).json()
    for record in (created, api.job(created["id"])):
        assert "fields" not in record and "additionalFields" not in record
        assert record["destination"]["dataSetId"] == dataset_id
        assert "datasetId" not in record["destination"]
        # One segment: batches is one object, its one status a plain string.
        assert record["destination"]["batches"]["status"] == "exited"
        assert record["filter"]["segments"] == [
            {"segmentId": SEGMENT, "segmentNs": "ups", "status": ["exited"]}
        ]
        assert record["mergePolicy"] == {"version": 1, "id": defaults.DEFAULT_MERGE_POLICY_ID}


def test_terse_list_answers_spell_datasetId(api: Api) -> None:
    _terse(api)
    dataset_id = api.create_dataset()
    api.post(JOBS, json=_full_request(dataset_id)).raise_for_status()
    (record,) = api.get(JOBS).json()["records"]
    assert record["destination"]["datasetId"] == dataset_id
    assert "dataSetId" not in record["destination"]
    assert "fields" not in record


def test_terse_fills_in_the_defaults_the_platform_applies(api: Api) -> None:
    _terse(api)
    dataset_id = api.create_dataset()
    body = {"filter": {"segments": [{"segmentId": SEGMENT}, {"segmentId": OTHER}]}}
    record = api.create_job(dataset_id, **body)
    filled = {"segmentNs": "ups", "status": ["realized", "existing"]}
    assert record["filter"]["segments"] == [
        {"segmentId": SEGMENT, **filled},
        {"segmentId": OTHER, **filled},
    ]
    batches = record["destination"]["batches"]
    assert isinstance(batches, list) and [b["status"] for b in batches] == [
        ["realized", "existing"],
        ["realized", "existing"],
    ]
    assert record["mergePolicy"]["id"] == defaults.DEFAULT_MERGE_POLICY_ID


def test_switching_back_to_full_shows_the_stored_request_again(api: Api) -> None:
    _terse(api)
    dataset_id = api.create_dataset()
    job_id = api.post(JOBS, json=_full_request(dataset_id)).json()["id"]
    api.admin("POST", "/behaviour", {"echo": "full"}).raise_for_status()
    assert api.job(job_id)["fields"] == "identities.id,personalEmail.address"
