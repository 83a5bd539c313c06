"""Overload 500s on every endpoint the engine calls, and what a POST or DELETE may have done.

Over real HTTP against the emulator with its fault switches: a 500 on a call that may be
repeated (GET, PATCH, the token) is retried; a job or dataset POST and a job DELETE that may have
reached the platform are never resent and raise `OutcomeUnknown`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from platform_helpers import Admin, RewritingProxy, dataset_body, job_body, make_client

from reconciler.emulator import defaults
from reconciler.emulator.server import RunningEmulator
from reconciler.platform import (
    CancelAnswer,
    CatalogDataset,
    NotFoundError,
    OutcomeUnknown,
    PlatformClient,
    ServerError,
)

CATALOG = "/data/foundation/catalog"
JOBS = "/data/core/ups/export/jobs"


def finished_job(client: PlatformClient) -> int:
    """A SUCCEEDED job with a batch (the admin fixture makes jobs finish in 0.15 s)."""
    job = client.create_export_job(job_body(client.create_dataset(dataset_body())))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        record = client.get_export_job(job.id)
        assert record is not None
        if record.is_terminal:
            assert record.status == "SUCCEEDED" and record.batch_ids
            return job.id
        time.sleep(0.05)
    raise AssertionError(f"job {job.id} did not finish")


@dataclass(frozen=True)
class Call:
    """One client call, the emulator route it uses, and what must come back."""

    route: str
    setup: Callable[[PlatformClient], Any]
    call: Callable[[PlatformClient, Any], Any]
    check: Callable[[Any, Any], bool]


def patched(client: PlatformClient, dataset_id: str) -> CatalogDataset | None:
    client.update_dataset(dataset_id, {"description": "patched"})
    return client.get_dataset(dataset_id)


def _first_batch(client: PlatformClient) -> str:
    record = client.get_export_job(finished_job(client))
    assert record is not None
    return record.batch_ids[0]


RETRIED = {
    "datasets list": Call(
        f"GET {CATALOG}/dataSets",
        lambda c: c.create_dataset(dataset_body()),
        lambda c, ds: [d.id for d in c.iter_datasets()],
        lambda got, ds: ds in got,
    ),
    "dataset get": Call(
        f"GET {CATALOG}/dataSets/{{}}",
        lambda c: c.create_dataset(dataset_body()),
        lambda c, ds: c.get_dataset(ds),
        lambda got, ds: got is not None and got.id == ds,
    ),
    "dataset patch": Call(
        f"PATCH {CATALOG}/dataSets/{{}}",
        lambda c: c.create_dataset(dataset_body()),
        lambda c, ds: patched(c, ds),
        lambda got, ds: got is not None and got.description == "patched",
    ),
    "batch get": Call(
        f"GET {CATALOG}/batches/{{}}",
        _first_batch,
        lambda c, batch: c.get_batch(batch),
        lambda got, batch: got is not None and got.id == batch,
    ),
    "batch files": Call(
        "GET /data/foundation/export/batches/{}/files",
        _first_batch,
        lambda c, batch: c.list_batch_files(batch),
        lambda got, batch: len(got) >= 1,
    ),
    "job list": Call(
        f"GET {JOBS}",
        finished_job,
        lambda c, job: [j.id for j in c.iter_export_jobs()],
        lambda got, job: got == [job],
    ),
    "job get": Call(
        f"GET {JOBS}/{{}}",
        finished_job,
        lambda c, job: c.get_export_job(job),
        lambda got, job: got is not None and got.id == job,
    ),
    "segment definitions": Call(
        "GET /data/core/ups/segment/definitions",
        lambda c: None,
        lambda c, _: c.list_segment_definitions(),
        lambda got, _: len(got) >= 1,
    ),
    "merge policy": Call(
        "GET /data/core/ups/config/mergePolicies/{}",
        lambda c: defaults.DEFAULT_MERGE_POLICY_ID,
        lambda c, policy: c.get_merge_policy(policy),
        lambda got, policy: got is not None and got.id == policy,
    ),
}


@pytest.mark.parametrize("name", sorted(RETRIED))
def test_overload_500s_are_retried_on_every_repeatable_call(
    client: PlatformClient, admin: Admin, name: str
) -> None:
    case = RETRIED[name]
    subject = case.setup(client)
    before = admin.route_count(case.route)
    admin.fault(endpoint=case.route, error_rate=1.0, error_status=500, error_count=3)
    got = case.call(client, subject)
    assert case.check(got, subject), got
    assert admin.route_count(case.route) - before >= 4  # three 500s, then the answer


def test_an_ims_token_500_is_retried(emulator: RunningEmulator, admin: Admin) -> None:
    admin.fault(endpoint="POST /ims/token/v3", error_rate=1.0, error_status=500, error_count=2)
    with make_client(emulator.base_url) as client:
        assert client.get_export_job(1) is None
    assert admin.route_count("POST /ims/token/v3") == 3


def test_a_500_with_retry_after_waits_that_long(emulator: RunningEmulator) -> None:
    answered: list[int] = []

    def overloaded_once(
        method: str, path: str, status: int, body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        if method == "GET" and path == JOBS and not answered:
            answered.append(500)
            gateway = b'{"error_code": "500001", "message": "API limit reached"}'
            return 500, gateway, {"Retry-After": "1"}
        return status, body, {}

    with (
        RewritingProxy(emulator.base_url, overloaded_once) as proxy,
        make_client(proxy.base_url) as client,  # backoff at most 0.1 s: the wait is the server's
    ):
        started = time.monotonic()
        assert list(client.iter_export_jobs()) == []
        assert 0.9 <= time.monotonic() - started < 3
    assert answered == [500]


def test_endless_500s_give_up_at_the_budget_with_one_line(
    emulator: RunningEmulator, admin: Admin
) -> None:
    admin.fault(endpoint=f"GET {CATALOG}/dataSets", error_rate=1.0, error_status=500)
    with make_client(emulator.base_url, retry_budget=0.5) as client:
        started = time.monotonic()
        with pytest.raises(ServerError) as info:
            list(client.iter_datasets())
    assert time.monotonic() - started < 2.0
    text = str(info.value)
    assert "\n" not in text and "HTTP 500" in text and "retry budget 0.5 s" in text


@pytest.mark.parametrize(
    "fault",
    [
        {"error_rate": 1.0, "error_status": 500, "error_count": 1},
        {"error_rate": 1.0, "error_status": 502, "error_count": 1},
        {"drop_after_commit": 1},
        {"latency_ms": 1500},  # past the client's read timeout
    ],
    ids=["500", "502", "dropped", "read-timeout"],
)
def test_a_job_post_that_may_have_arrived_is_unknown_and_never_resent(
    emulator: RunningEmulator, admin: Admin, fault: dict[str, Any]
) -> None:
    with make_client(emulator.base_url, timeout=1.0) as client:
        dataset_id = client.create_dataset(dataset_body())
        admin.fault(endpoint="POST " + JOBS, **fault)
        with pytest.raises(OutcomeUnknown) as info:
            client.create_export_job(job_body(dataset_id))
    assert info.value.job_id is None  # no answer named a job
    assert "\n" not in str(info.value)
    assert admin.route_count("POST " + JOBS) == 1


def test_a_job_post_committed_then_dropped_created_the_job(
    client: PlatformClient, admin: Admin
) -> None:
    dataset_id = client.create_dataset(dataset_body())
    admin.fault(endpoint="POST " + JOBS, drop_after_commit=1)
    with pytest.raises(OutcomeUnknown, match="may have been carried out"):
        client.create_export_job(job_body(dataset_id))
    assert [j.destination.datasetId for j in client.iter_export_jobs()] == [dataset_id]


@pytest.mark.parametrize(
    "fault",
    [{"error_rate": 1.0, "error_status": 500, "error_count": 1}, {"drop_after_commit": 1}],
    ids=["500", "dropped"],
)
def test_a_dataset_post_that_may_have_arrived_is_unknown(
    client: PlatformClient, admin: Admin, fault: dict[str, Any]
) -> None:
    list(client.iter_datasets())
    admin.fault(endpoint=f"POST {CATALOG}/dataSets", **fault)
    with pytest.raises(OutcomeUnknown):
        client.create_dataset(dataset_body("maybe"))
    assert admin.route_count(f"POST {CATALOG}/dataSets") == 1
    made = [d.name for d in client.iter_datasets()]
    assert made == (["maybe"] if "drop_after_commit" in fault else [])


def test_a_job_delete_answers_what_the_platform_said(client: PlatformClient, admin: Admin) -> None:
    dataset_id = client.create_dataset(dataset_body())
    admin.config(job_new_seconds=30)  # stays in flight
    in_flight = client.create_export_job(job_body(dataset_id))
    assert client.cancel_export_job(in_flight.id) == CancelAnswer(marked=False)  # 204
    admin.config(delete_style="200")
    second = client.create_export_job(job_body(dataset_id))
    answer = client.cancel_export_job(second.id)
    assert answer.marked and answer.message == "Export job has been marked for cancelling"
    assert not answer.deleted
    with pytest.raises(NotFoundError):
        client.cancel_export_job(999_999)
    assert admin.route_count(f"DELETE {JOBS}/{{}}") == 3


@pytest.mark.parametrize(
    "fault",
    [
        {"error_rate": 1.0, "error_status": 500, "error_count": 1},
        {"error_rate": 1.0, "error_status": 503, "error_count": 1},
        {"drop_after_commit": 1},
    ],
    ids=["500", "503", "dropped"],
)
def test_a_job_delete_is_never_retried(
    client: PlatformClient, admin: Admin, fault: dict[str, Any]
) -> None:
    admin.config(job_new_seconds=30)
    job = client.create_export_job(job_body(client.create_dataset(dataset_body())))
    admin.fault(endpoint=f"DELETE {JOBS}/{{}}", **fault)
    with pytest.raises(OutcomeUnknown) as info:
        client.cancel_export_job(job.id)
    assert info.value.method == "DELETE"
    assert admin.route_count(f"DELETE {JOBS}/{{}}") == 1
    record = client.get_export_job(job.id)  # the read that settles it
    assert record is not None
    assert record.is_terminal == ("drop_after_commit" in fault)


def test_a_dataset_delete_answered_500_is_sent_again_once_a_get_shows_it_still_there(
    client: PlatformClient, admin: Admin
) -> None:
    dataset_id = client.create_dataset(dataset_body())
    admin.fault(
        endpoint=f"DELETE {CATALOG}/dataSets/{{}}", error_rate=1.0, error_status=500, error_count=1
    )
    client.delete_dataset(dataset_id)
    assert admin.route_count(f"DELETE {CATALOG}/dataSets/{{}}") == 2
    assert admin.route_count(f"GET {CATALOG}/dataSets/{{}}") == 1
    assert client.get_dataset(dataset_id) is None


def test_a_dataset_delete_that_keeps_failing_is_unknown_after_three(
    client: PlatformClient, admin: Admin
) -> None:
    dataset_id = client.create_dataset(dataset_body())
    admin.fault(endpoint=f"DELETE {CATALOG}/dataSets/{{}}", error_rate=1.0, error_status=500)
    with pytest.raises(OutcomeUnknown, match="still there after 3 DELETEs"):
        client.delete_dataset(dataset_id)
    assert admin.route_count(f"DELETE {CATALOG}/dataSets/{{}}") == 3


def test_a_patch_dropped_after_commit_is_repeated(client: PlatformClient, admin: Admin) -> None:
    dataset_id = client.create_dataset(dataset_body())
    admin.fault(endpoint=f"PATCH {CATALOG}/dataSets/{{}}", drop_after_commit=1)
    client.update_dataset(dataset_id, {"description": "twice is the same"})
    assert admin.route_count(f"PATCH {CATALOG}/dataSets/{{}}") == 2
    dataset = client.get_dataset(dataset_id)
    assert dataset is not None and dataset.description == "twice is the same"


def test_waiting_on_retries_is_announced_in_one_line(
    emulator: RunningEmulator, admin: Admin
) -> None:
    lines: list[str] = []
    with make_client(emulator.base_url, notify=lines.append, notify_after=0.0) as client:
        list(client.iter_export_jobs())
        admin.fault(endpoint="GET " + JOBS, error_rate=1.0, error_status=500, error_count=2)
        list(client.iter_export_jobs())
    assert len(lines) == 2
    assert all(line.startswith("waiting ") and "\n" not in line for line in lines)
    assert f"for GET {JOBS} (HTTP 500, attempt 2)" in lines[0]
    assert "attempt 3" in lines[1]


def test_short_waits_are_not_announced(emulator: RunningEmulator, admin: Admin) -> None:
    lines: list[str] = []
    with make_client(emulator.base_url, notify=lines.append) as client:  # after 2 s
        admin.fault(endpoint="GET " + JOBS, error_rate=1.0, error_status=500, error_count=2)
        list(client.iter_export_jobs())
    assert lines == []
