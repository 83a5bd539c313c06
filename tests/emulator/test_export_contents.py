"""What a successful job writes: exactly the profiles its filter selects, projected, readable."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pyarrow.parquet as pq
import pytest

from .helpers import JOBS, Api

NEWSLETTER = "52c26d0d-45f2-47a2-ab30-ed06abc981ff"
FIREFOX = "7a93d2ff-a220-4bae-9a4e-5f3c35032be3"
CATALOG_BATCHES = "/data/foundation/catalog/batches"
EXPORT = "/data/foundation/export"


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _run(api: Api, dataset_id: str, **body: Any) -> dict[str, Any]:
    job = api.create_job(dataset_id, **body)
    api.advance(5)
    done = api.job(job["id"])
    assert done["status"] == "SUCCEEDED", done
    return done


def _read(api: Api, batch_id: str) -> list[dict[str, Any]]:
    listing = api.get(f"{EXPORT}/batches/{batch_id}/files").json()
    rows: list[dict[str, Any]] = []
    for entry in listing["data"]:
        parts = api.get(f"{EXPORT}/files/{entry['dataSetFileId']}").json()["data"]
        for part in parts:
            raw = api.get(f"{EXPORT}/files/{entry['dataSetFileId']}", params={"path": part["name"]})
            assert raw.status_code == 200 and raw.headers["content-type"] == "application/parquet"
            assert len(raw.content) == int(part["length"])
            rows.extend(pq.read_table(io.BytesIO(raw.content)).to_pylist())
    return rows


@pytest.fixture
def population(api: Api) -> list[dict[str, Any]]:
    """Every profile of a seeded population, read back through a full export."""
    assert api.admin("POST", "/seed", {"profiles": 150, "seed": 11}).status_code == 200
    api.admin("POST", "/config", {"rows_per_file": 40})
    dataset_id = api.create_dataset("everything")
    done = _run(api, dataset_id)
    rows = _read(api, done["destination"]["batchId"])
    assert len(rows) == 150
    return rows


def _ecid(row: dict[str, Any]) -> str:
    return str(row["identities"][0]["id"])


def _member(row: dict[str, Any], segment: str, statuses: set[str], start: int, end: int) -> bool:
    entry = ((row.get("segmentMembership") or {}).get("ups") or {}).get(segment)
    return (
        entry is not None
        and entry["status"] in statuses
        and start <= _ms(entry["lastQualificationTime"]) <= end
    )


def test_a_full_export_is_split_into_files_and_counted_in_catalog(
    api: Api, population: list[dict[str, Any]]
) -> None:
    batches = api.get(CATALOG_BATCHES).json()
    (record,) = batches.values()
    assert record["status"] == "success" and record["metrics"]["recordsWritten"] == 150
    assert record["metrics"]["partitionCount"] == 4  # 150 rows at 40 per file
    assert record["relatedObjects"][0]["type"] == "dataSet"
    assert len({_ecid(r) for r in population}) == 150


def test_segment_filter_selects_exactly_the_qualifying_profiles(
    api: Api, population: list[dict[str, Any]]
) -> None:
    window = ("2018-01-01T00:00:00Z", "2018-02-01T00:00:00Z")
    done = _run(
        api,
        api.create_dataset("newsletter"),
        fields="identities.id,personalEmail.address",
        filter={
            "segments": [{"segmentId": NEWSLETTER, "segmentNs": "ups", "status": ["realized"]}],
            "segmentQualificationTime": {"startTime": window[0], "endTime": window[1]},
        },
    )
    rows = _read(api, done["destination"]["batchId"])
    expected = {
        _ecid(r)
        for r in population
        if _member(r, NEWSLETTER, {"realized"}, _ms(window[0]), _ms(window[1]))
    }
    assert expected and {_ecid(r) for r in rows} == expected
    assert len(rows) == len(expected)
    for row in rows:
        assert set(row) <= {"identities", "personalEmail"}
        assert all(set(i) == {"id"} for i in row["identities"])
        if row.get("personalEmail") is not None:
            assert set(row["personalEmail"]) == {"address"}


def test_profile_ingest_filter(api: Api, population: list[dict[str, Any]]) -> None:
    cut = "2018-02-15T00:00:00Z"
    done = _run(
        api,
        api.create_dataset("recent"),
        fields="identities.id",
        filter={"fromIngestTimestamp": cut},
    )
    rows = _read(api, done["destination"]["batchId"])
    expected = {_ecid(r) for r in population if r["_acp_system_metadata"]["ingestTime"] >= _ms(cut)}
    assert 0 < len(expected) < 150 and {_ecid(r) for r in rows} == expected


def test_event_list_is_filtered_by_ingest_time_and_projected(
    api: Api, population: list[dict[str, Any]]
) -> None:
    cut = "2018-10-25T13:22:04-07:00"
    done = _run(
        api,
        api.create_dataset("events"),
        fields="identityMap",
        additionalFields={
            "eventList": {
                "fields": "environment.browserDetails.name,_acp_system_metadata.ingestTime",
                "filter": {"fromIngestTimestamp": cut},
            }
        },
    )
    rows = _read(api, done["destination"]["batchId"])
    assert len(rows) == 150
    total_events = 0
    for row in rows:
        assert set(row) == {"identityMap", "eventList"}
        for event in row["eventList"]:
            assert set(event) == {"environment", "_acp_system_metadata"}
            assert set(event["environment"]["browserDetails"]) == {"name"}
            assert event["_acp_system_metadata"]["ingestTime"] >= _ms(cut)
            total_events += 1
    assert total_events > 0


def test_empty_profiles_are_left_out_unless_asked_for(
    api: Api, population: list[dict[str, Any]]
) -> None:
    with_email = sum(1 for r in population if r.get("personalEmail"))
    assert 0 < with_email < 150
    dataset_id = api.create_dataset("emails")
    done = _run(api, dataset_id, fields="personalEmail.address")
    assert len(_read(api, done["destination"]["batchId"])) == with_email
    done = _run(api, dataset_id, fields="personalEmail.address", filter={"emptyProfiles": True})
    assert len(_read(api, done["destination"]["batchId"])) == 150


def test_segment_per_batch_writes_one_batch_per_segment(
    api: Api, population: list[dict[str, Any]]
) -> None:
    statuses = ["realized", "existing"]
    done = _run(
        api,
        api.create_dataset("per segment"),
        fields="identities.id",
        filter={
            "segments": [
                {"segmentId": NEWSLETTER, "status": statuses},
                {"segmentId": FIREFOX, "status": statuses},
            ]
        },
        destination={"datasetId": api.create_dataset("per segment 2"), "segmentPerBatch": True},
    )
    entries = done["destination"]["batches"]
    assert [e["segmentId"] for e in entries] == [NEWSLETTER, FIREFOX]
    assert len({e["batchId"] for e in entries}) == 2
    assert done["destination"]["batchId"] == entries[0]["batchId"]
    for entry in entries:
        rows = _read(api, entry["batchId"])
        expected = {
            _ecid(r) for r in population if _member(r, entry["segmentId"], set(statuses), 0, 2**62)
        }
        assert {_ecid(r) for r in rows} == expected


def test_one_segment_batch_is_one_object_as_in_the_segmentation_guide(api: Api) -> None:
    done = _run(api, api.create_dataset(), filter={"segments": [{"segmentId": NEWSLETTER}]})
    batches = done["destination"]["batches"]
    assert isinstance(batches, dict) and batches["batchId"] == done["destination"]["batchId"]


def test_the_same_seed_exports_the_same_rows(api: Api) -> None:
    api.admin("POST", "/seed", {"profiles": 20, "seed": 5})
    dataset_id = api.create_dataset()
    first = _read(api, _run(api, dataset_id)["destination"]["batchId"])
    second = _read(api, _run(api, dataset_id)["destination"]["batchId"])
    assert first == second
    api.admin("POST", "/seed", {"profiles": 20, "seed": 6})
    third = _read(api, _run(api, dataset_id)["destination"]["batchId"])
    assert {_ecid(r) for r in third}.isdisjoint({_ecid(r) for r in first})


def test_batch_status_follows_the_job(api: Api) -> None:
    dataset_id = api.create_dataset()
    job = api.create_job(dataset_id)
    batch_id = job["destination"]["batchId"]
    assert api.get(f"{CATALOG_BATCHES}/{batch_id}").json()[batch_id]["status"] == "loading"
    assert api.get(f"{EXPORT}/batches/{batch_id}/files").json()["data"] == []
    api.delete(f"{JOBS}/{job['id']}")
    assert api.get(f"{CATALOG_BATCHES}/{batch_id}").json()[batch_id]["status"] == "aborted"
    api.admin("POST", "/faults", {"jobs": {"fail": 1}})
    failing = api.create_job(dataset_id)
    api.advance(5)
    api.delete(f"{JOBS}/{failing['id']}")  # deletes the finished record
    failed_batch = failing["destination"]["batchId"]
    assert api.get(f"{CATALOG_BATCHES}/{failed_batch}").json()[failed_batch]["status"] == "failed"
    other = api.create_job(dataset_id)
    api.advance(5)
    # Reading the batch alone (no job GET first) is enough to see it exported.
    other_batch = other["destination"]["batchId"]
    record = api.get(f"{CATALOG_BATCHES}/{other_batch}").json()[other_batch]
    assert record["status"] == "success" and record["metrics"]["recordsWritten"] > 0
    dataset = api.get(f"/data/foundation/catalog/dataSets/{dataset_id}").json()[dataset_id]
    assert dataset["lastBatchId"] == other_batch and dataset["lastBatchStatus"] == "success"
    listed = api.get(CATALOG_BATCHES, params={"dataSet": dataset_id, "orderBy": "desc:created"})
    assert set(listed.json()) == {batch_id, other_batch, failed_batch}


def test_range_requests_and_unknown_files(api: Api) -> None:
    done = _run(api, api.create_dataset())
    batch_id = done["destination"]["batchId"]
    file_id = api.get(f"{EXPORT}/batches/{batch_id}/files").json()["data"][0]["dataSetFileId"]
    assert file_id == f"{batch_id}-1"
    name = api.get(f"{EXPORT}/files/{file_id}").json()["data"][0]["name"]
    part = api.get(
        f"{EXPORT}/files/{file_id}", params={"path": name}, headers={"Range": "bytes=0-3"}
    )
    assert part.status_code == 206 and part.content == b"PAR1"
    head = api.call("HEAD", f"{EXPORT}/files/{file_id}", params={"path": name})
    full = api.get(f"{EXPORT}/files/{file_id}", params={"path": name})
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(full.content) > 4
    assert (
        api.get(f"{EXPORT}/files/{file_id}", params={"path": "../emulator.sqlite3"}).status_code
        == 404
    )
    assert api.get(f"{EXPORT}/files/nope-1").status_code == 404
    assert api.get(f"{EXPORT}/batches/{'0' * 32}/files").status_code == 404
    assert api.in_sandbox("dev").get(f"{EXPORT}/files/{file_id}").status_code == 404


def test_an_expired_batch_is_inactive_and_unreadable(api: Api) -> None:
    done = _run(api, api.create_dataset())
    batch_id = done["destination"]["batchId"]
    expired = api.admin("POST", f"/batches/{batch_id}/expire")
    assert expired.status_code == 200 and expired.json()[batch_id]["status"] == "inactive"
    assert api.get(f"{CATALOG_BATCHES}/{batch_id}").json()[batch_id]["status"] == "inactive"
    assert api.get(f"{EXPORT}/batches/{batch_id}/files").status_code == 404
    assert api.get(f"{EXPORT}/files/{batch_id}-1").status_code == 404


def test_a_filter_matching_nobody_writes_an_empty_batch(api: Api) -> None:
    done = _run(
        api,
        api.create_dataset(),
        fields="identities.id",
        filter={"fromIngestTimestamp": "2100-01-01T00:00:00Z"},
    )
    batch_id = done["destination"]["batchId"]
    assert _read(api, batch_id) == []
    record = api.get(f"{CATALOG_BATCHES}/{batch_id}").json()[batch_id]
    assert record["status"] == "success" and record["metrics"]["recordsWritten"] == 0


@pytest.mark.parametrize("odd", ["²", "٣", "9" * 5000, "1e3", "-1", " 1"])
def test_numbers_that_are_not_ascii_digits_are_4xx_everywhere(api: Api, odd: str) -> None:
    checks = [
        api.get(f"{JOBS}/{odd}"),
        api.get(JOBS, params={"limit": odd}),
        api.get(JOBS, params={"offset": f"{odd}_1"}),
        api.get("/data/foundation/catalog/dataSets", params={"limit": odd}),
        api.get("/data/foundation/catalog/dataSets", params={"start": odd}),
        api.get(CATALOG_BATCHES, params={"createdAfter": odd}),
        api.get("/data/core/ups/segment/definitions", params={"page": odd}),
        api.get("/data/core/ups/config/mergePolicies", params={"limit": odd}),
        api.get(f"{EXPORT}/batches/{'0' * 32}/files", params={"limit": odd}),
    ]
    assert [a.status_code // 100 for a in checks] == [4] * len(checks), [a.text for a in checks]


def test_current_documents_requests_are_accepted(
    api: Api, population: list[dict[str, Any]]
) -> None:
    # evaluationInfo, eventList.filter.toIngestTimestamp (SEG current, OAS) and segmentPerBatch
    # without segments (refused by no document) are all accepted.
    dataset_id = api.create_dataset("current")
    done = _run(
        api,
        dataset_id,
        fields="identities.id",
        evaluationInfo={"segmentation": True},
        additionalFields={
            "eventList": {
                "fields": "_acp_system_metadata",
                "filter": {
                    "fromIngestTimestamp": "2018-10-01T00:00:00Z",
                    "toIngestTimestamp": "2018-11-01T00:00:00Z",
                },
            }
        },
        destination={"datasetId": dataset_id, "segmentPerBatch": True},
    )
    assert done["destination"]["segmentPerBatch"] is True
    assert "batches" not in done["destination"]  # one batch for the whole export
    rows = _read(api, done["destination"]["batchId"])
    assert len(rows) == len(population)
    low = datetime(2018, 10, 1, tzinfo=UTC).timestamp() * 1000
    high = datetime(2018, 11, 1, tzinfo=UTC).timestamp() * 1000
    times = [e["_acp_system_metadata"]["ingestTime"] for r in rows for e in r["eventList"]]
    assert times and all(low <= t <= high for t in times)
    open_ended = _run(
        api,
        dataset_id,
        fields="identities.id",
        additionalFields={
            "eventList": {
                "fields": "_acp_system_metadata",
                "filter": {"fromIngestTimestamp": "2018-10-01T00:00:00Z"},
            }
        },
    )
    later = _read(api, open_ended["destination"]["batchId"])
    assert sum(len(r["eventList"]) for r in later) > len(times)  # the window dropped some
