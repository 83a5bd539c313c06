"""The client against the emulator's documented behaviours: fault schedules, committed-then-failed
POSTs, listings that loop or ignore `start`, terse job records, marked cancels, unreadable records.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from platform_helpers import (
    Admin,
    RewritingProxy,
    credentials,
    dataset_body,
    job_body,
    make_client,
    rewrite_json,
)

from reconciler.emulator import defaults
from reconciler.emulator.server import RunningEmulator
from reconciler.platform import (
    Endpoints,
    OutcomeUnknown,
    PlatformClient,
    UnexpectedResponseError,
    UnreadableRecord,
)

CATALOG = "/data/foundation/catalog"
JOBS = "/data/core/ups/export/jobs"


def jobs_on_platform(admin: Admin) -> list[dict[str, Any]]:
    """Every job record, read past the client (the admin has no faults)."""
    records: list[dict[str, Any]] = admin.session.get(
        f"{admin.base_url}{JOBS}",
        headers=platform_headers(admin),
        params={"limit": 100},
        timeout=10,
    ).json()["records"]
    return records


def platform_headers(admin: Admin) -> dict[str, str]:
    token = admin.session.post(
        f"{admin.base_url}/ims/token/v3",
        data={
            "client_id": defaults.CLIENT_ID,
            "client_secret": defaults.CLIENT_SECRET,
            "grant_type": "client_credentials",
            "scope": ",".join(defaults.SCOPES),
        },
        timeout=10,
    ).json()["access_token"]
    return {
        "Authorization": f"Bearer {token}",
        "x-api-key": defaults.CLIENT_ID,
        "x-gw-ims-org-id": defaults.ORG_ID,
        "x-sandbox-name": "prod",
    }


# Fault schedules


@pytest.mark.parametrize("entry", ["commit_500", "commit_drop"])
def test_a_job_post_carried_out_then_failed_is_unknown_and_the_job_exists(
    client: PlatformClient, admin: Admin, entry: str
) -> None:
    dataset_id = client.create_dataset(dataset_body())
    admin.fault(endpoint="POST " + JOBS, schedule=[entry], error_body="gateway")
    with pytest.raises(OutcomeUnknown) as info:
        client.create_export_job(job_body(dataset_id))
    assert info.value.status == (500 if entry == "commit_500" else None)
    assert admin.route_count("POST " + JOBS) == 1
    assert [r["destination"].get("datasetId") for r in jobs_on_platform(admin)] == [dataset_id]


def test_a_job_post_answered_past_the_read_timeout_is_unknown(
    emulator: RunningEmulator, admin: Admin
) -> None:
    with make_client(emulator.base_url, timeout=1.0) as client:
        dataset_id = client.create_dataset(dataset_body())
        admin.fault(endpoint="POST " + JOBS, schedule=["commit_slow"], slow_seconds=2)
        started = time.monotonic()
        with pytest.raises(OutcomeUnknown, match="no answer within 1 s"):
            client.create_export_job(job_body(dataset_id))
        assert time.monotonic() - started < 1.8
    assert admin.route_count("POST " + JOBS) == 1
    assert len(jobs_on_platform(admin)) == 1  # carried out all the same


@pytest.mark.slow
def test_a_job_post_answered_after_the_default_read_timeout_is_unknown(
    client: PlatformClient, admin: Admin
) -> None:
    # The emulator's default commit_slow (35 s) against the client's default timeout (30 s).
    dataset_id = client.create_dataset(dataset_body())
    admin.fault(endpoint="POST " + JOBS, schedule=["commit_slow"])
    endpoints = Endpoints(admin.base_url, admin.base_url)
    with (
        PlatformClient(endpoints, credentials(), "prod") as slow,
        pytest.raises(OutcomeUnknown, match="no answer within 30 s"),
    ):
        slow.create_export_job(job_body(dataset_id))
    assert admin.route_count("POST " + JOBS) == 1
    assert len(jobs_on_platform(admin)) == 1


def test_a_dataset_post_carried_out_then_answered_500_is_unknown(
    client: PlatformClient, admin: Admin
) -> None:
    admin.fault(endpoint=f"POST {CATALOG}/dataSets", schedule=["commit_500"])
    with pytest.raises(OutcomeUnknown):
        client.create_dataset(dataset_body("committed"))
    assert [d.name for d in client.iter_datasets()] == ["committed"]


def test_a_job_delete_carried_out_then_answered_500_is_unknown_and_not_resent(
    client: PlatformClient, admin: Admin
) -> None:
    admin.config(job_new_seconds=30)
    job = client.create_export_job(job_body(client.create_dataset(dataset_body())))
    admin.fault(endpoint=f"DELETE {JOBS}/{{}}", schedule=["commit_500"])
    with pytest.raises(OutcomeUnknown):
        client.cancel_export_job(job.id)
    assert admin.route_count(f"DELETE {JOBS}/{{}}") == 1
    record = client.get_export_job(job.id)
    assert record is not None and record.is_cancelled and record.is_terminal


@pytest.mark.parametrize(
    "route",
    [
        f"GET {CATALOG}/dataSets",
        f"GET {CATALOG}/dataSets/{{}}",
        f"PATCH {CATALOG}/dataSets/{{}}",
        f"GET {JOBS}",
        f"GET {JOBS}/{{}}",
        "GET /data/core/ups/segment/definitions",
        "POST /ims/token/v3",
    ],
)
def test_a_mixed_overload_schedule_is_ridden_out(
    emulator: RunningEmulator, admin: Admin, route: str
) -> None:
    with make_client(emulator.base_url) as setup:
        dataset_id = setup.create_dataset(dataset_body())
    admin.fault(endpoint=route, schedule=["500", "503", "429", "502", "504"], error_body="gateway")
    with make_client(emulator.base_url) as client:
        client.update_dataset(dataset_id, {"description": "after the storm"})
        assert client.get_dataset(dataset_id) is not None
        assert [d.id for d in client.iter_datasets()] == [dataset_id]
        assert list(client.iter_export_jobs()) == []
        assert client.get_export_job(1) is None
        assert client.list_segment_definitions()
    assert admin.call("GET", "faults")["endpoints"][0]["schedule"] == []  # all five consumed


# Listings that loop or skip


def test_a_job_listing_that_repeats_its_records_stops_with_one_line(
    client: PlatformClient, admin: Admin
) -> None:
    dataset_id = client.create_dataset(dataset_body())
    for _ in range(3):
        client.create_export_job(job_body(dataset_id))
    admin.fault(endpoint="GET " + JOBS, listing="repeat")
    started = time.monotonic()
    with pytest.raises(UnexpectedResponseError) as info:
        list(client.iter_export_jobs(page_size=2))
    assert time.monotonic() - started < 5
    text = str(info.value)
    assert "\n" not in text and "holds only records already listed" in text
    assert admin.route_count("GET " + JOBS) == 2


def test_a_catalog_that_ignores_start_stops_with_one_line(
    client: PlatformClient, admin: Admin
) -> None:
    for n in range(5):
        client.create_dataset(dataset_body(f"ds {n}"))
    admin.fault(endpoint=f"GET {CATALOG}/dataSets", listing="ignore_start")
    with pytest.raises(UnexpectedResponseError) as info:
        list(client.iter_datasets(page_size=2))
    assert "page 2 of the listing (start=2)" in str(info.value)
    assert admin.route_count(f"GET {CATALOG}/dataSets") == 2


def test_a_listing_stops_at_the_page_cap(client: PlatformClient, admin: Admin) -> None:
    dataset_id = client.create_dataset(dataset_body())
    for _ in range(4):
        client.create_export_job(job_body(dataset_id))
    assert len(list(client.iter_export_jobs(page_size=1, max_pages=4))) == 4
    with pytest.raises(UnexpectedResponseError, match="did not end after 3 pages"):
        list(client.iter_export_jobs(page_size=1, max_pages=3))
    for n in range(3):
        client.create_dataset(dataset_body(f"more {n}"))
    with pytest.raises(UnexpectedResponseError, match="did not end after 2 pages"):
        list(client.iter_datasets(page_size=1, max_pages=2))
    # Exactly max_pages full pages: the empty page after them ends the listing normally.
    assert len(list(client.iter_datasets(page_size=1, max_pages=4))) == 4


def test_the_catalog_is_listed_oldest_first(client: PlatformClient, admin: Admin) -> None:
    admin.call("POST", "behaviour", {"catalog": "realistic"})  # default order is not creation
    made = []
    for n in range(5):
        made.append(client.create_dataset(dataset_body(f"ordered {n}")))
        admin.advance_clock(1)
    listed = [d.id for d in client.iter_datasets(page_size=2)]
    mine = [i for i in listed if i in made]
    assert mine == made
    assert len(listed) == len(set(listed))


# Terse job records, marked cancels


def test_terse_records_are_read_in_every_answer(client: PlatformClient, admin: Admin) -> None:
    admin.call("POST", "behaviour", {"echo": "terse"})
    dataset_id = client.create_dataset(dataset_body())
    created = client.create_export_job(job_body(dataset_id))
    assert created.raw()["destination"].get("datasetId") is None  # spelled dataSetId
    assert created.destination.datasetId == dataset_id
    assert created.fields is None and created.additionalFields is None
    deadline = time.monotonic() + 5
    while not (got := client.get_export_job(created.id)) or not got.is_terminal:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert got.destination.datasetId == dataset_id and got.batch_ids
    listed = list(client.iter_export_jobs())
    assert [j.id for j in listed] == [created.id]
    assert listed[0].raw()["destination"].get("dataSetId") is None  # spelled datasetId
    assert listed[0].destination.datasetId == dataset_id
    assert all(isinstance(s, str) for b in listed[0].destination.batches for s in b.status)


def test_terse_per_segment_batches_with_a_plain_string_status(
    client: PlatformClient, admin: Admin
) -> None:
    admin.call("POST", "behaviour", {"echo": "terse"})
    segments = [s.id for s in client.list_segment_definitions()][:2]
    body = job_body(client.create_dataset(dataset_body()))
    body["destination"]["segmentPerBatch"] = True
    body["filter"] = {"segments": [{"segmentId": s} for s in segments]}
    job = client.create_export_job(body)
    deadline = time.monotonic() + 5
    while not (got := client.get_export_job(job.id)) or not got.is_terminal:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    raw_batches = got.raw()["destination"]["batches"]
    statuses = [
        b["status"] for b in (raw_batches if isinstance(raw_batches, list) else [raw_batches])
    ]
    assert {type(s) for s in statuses} <= {str, list}
    assert [b.segmentId for b in got.destination.batches] == segments
    assert all(
        b.status and all(isinstance(s, str) for s in b.status) for b in got.destination.batches
    )
    filled = got.filter or {}
    assert all(s.get("status") == ["realized", "existing"] for s in filled.get("segments", []))


@pytest.mark.parametrize("ends", ["CANCELLED", "FAILED"])
def test_a_marked_cancel_answers_marked_and_the_job_ends_later(
    client: PlatformClient, admin: Admin, ends: str
) -> None:
    admin.config(job_new_seconds=30, delete_style="200")
    admin.call(
        "POST", "behaviour", {"cancel": "marked", "cancel_delay_seconds": 0.3, "cancel_ends": ends}
    )
    job = client.create_export_job(job_body(client.create_dataset(dataset_body())))
    answer = client.cancel_export_job(job.id)
    assert answer.marked and not answer.deleted
    still = client.get_export_job(job.id)
    assert still is not None and not still.is_terminal  # marked, not done
    time.sleep(0.5)
    done = client.get_export_job(job.id)
    assert done is not None and done.is_terminal and done.status == ends
    assert done.is_cancelled == (ends == "CANCELLED")
    gone = client.cancel_export_job(job.id)  # a finished job: its record is deleted
    assert gone.deleted and not gone.marked
    assert client.get_export_job(job.id) is None


# Unreadable records (through a proxy that changes one record on its way back)


def _spoil_second_record(body: Any) -> Any:
    records = body.get("records", [])
    if len(records) >= 2:
        records[1]["status"] = {"not": "a status"}
        records[1].pop("creationTime", None)
    return body


def test_an_unreadable_record_is_kept_aside_and_the_listing_goes_on(
    emulator: RunningEmulator, admin: Admin
) -> None:
    with make_client(emulator.base_url) as setup:
        dataset_id = setup.create_dataset(dataset_body())
        ids = [setup.create_export_job(job_body(dataset_id)).id for _ in range(3)]
    with (
        RewritingProxy(emulator.base_url, rewrite_json("GET", JOBS, _spoil_second_record)) as proxy,
        make_client(proxy.base_url) as client,
    ):
        unreadable: list[UnreadableRecord] = []
        listed = [j.id for j in client.iter_export_jobs(unreadable=unreadable)]
        newest_first = sorted(ids, reverse=True)
        assert listed == [newest_first[0], newest_first[2]]
        assert [u.id for u in unreadable] == [newest_first[1]]
        assert "ExportJobRecord.status" in unreadable[0].reason
        with pytest.raises(UnexpectedResponseError) as info:
            list(client.iter_export_jobs())
        assert f"job {newest_first[1]} cannot be read" in str(info.value)


def test_get_of_an_unreadable_record_is_one_line(emulator: RunningEmulator) -> None:
    def spoil(body: Any) -> Any:
        body["creationTime"] = "yesterday"
        return body

    with make_client(emulator.base_url) as setup:
        job = setup.create_export_job(job_body(setup.create_dataset(dataset_body())))
    with (
        RewritingProxy(emulator.base_url, rewrite_json("GET", f"{JOBS}/", spoil)) as proxy,
        make_client(proxy.base_url) as client,
        pytest.raises(UnexpectedResponseError, match=r"ExportJobRecord\.creationTime"),
    ):
        client.get_export_job(job.id)


def test_a_2xx_job_answer_that_cannot_be_read_is_unknown_with_its_id(
    emulator: RunningEmulator, admin: Admin
) -> None:
    def spoil(body: Any) -> Any:
        return {"id": body["id"], "status": None}

    with make_client(emulator.base_url) as setup:
        dataset_id = setup.create_dataset(dataset_body())
    with (
        RewritingProxy(emulator.base_url, rewrite_json("POST", JOBS, spoil)) as proxy,
        make_client(proxy.base_url) as client,
    ):
        with pytest.raises(OutcomeUnknown) as info:
            client.create_export_job(job_body(dataset_id))
        created = jobs_on_platform(admin)
        assert info.value.job_id == created[0]["id"]
        assert f"naming job {created[0]['id']}" in str(info.value)


def test_a_2xx_job_answer_cut_short_is_unknown_without_an_id(
    emulator: RunningEmulator, admin: Admin
) -> None:
    def cut(method: str, path: str, status: int, body: bytes) -> tuple[int, bytes]:
        return (
            (status, body[: len(body) // 2])
            if method == "POST" and path == JOBS
            else (
                status,
                body,
            )
        )

    with make_client(emulator.base_url) as setup:
        dataset_id = setup.create_dataset(dataset_body())
    with RewritingProxy(emulator.base_url, cut) as proxy, make_client(proxy.base_url) as client:
        with pytest.raises(OutcomeUnknown, match="not JSON") as info:
            client.create_export_job(job_body(dataset_id))
        assert info.value.job_id is None and info.value.status == 200
    assert len(jobs_on_platform(admin)) == 1


def test_a_dataset_answer_without_its_reference_is_unknown(emulator: RunningEmulator) -> None:
    with (
        RewritingProxy(
            emulator.base_url, rewrite_json("POST", f"{CATALOG}/dataSets", lambda body: {})
        ) as proxy,
        make_client(proxy.base_url) as client,
        pytest.raises(OutcomeUnknown, match="no dataset reference"),
    ):
        client.create_dataset(dataset_body())


def test_proxy_passes_answers_through_unchanged(emulator: RunningEmulator) -> None:
    with (
        RewritingProxy(emulator.base_url, lambda m, p, s, b: (s, b)) as proxy,
        make_client(proxy.base_url) as client,
    ):
        dataset_id = client.create_dataset(dataset_body())
        dataset = client.get_dataset(dataset_id)
        assert dataset is not None and json.dumps(dataset.schemaRef)
        assert client.platform_now_ms() is not None  # the Date header is passed on
