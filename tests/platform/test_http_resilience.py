"""The client over real HTTP against the emulator with its faults on: auth, retries, ambiguity."""

from __future__ import annotations

import time

import pytest
from platform_helpers import Admin, dataset_body, job_body, make_client

from reconciler.emulator.server import RunningEmulator
from reconciler.platform import (
    AuthError,
    Credentials,
    Endpoints,
    NotFoundError,
    OutcomeUnknown,
    PlatformClient,
    ServerError,
    TransportError,
    ValidationError,
)

JOBS = "/data/core/ups/export/jobs"
JOB = JOBS + "/{}"
TOKEN_ROUTE = "POST /ims/token/v3"


def test_a_token_that_expires_mid_run_is_replaced_once(
    client: PlatformClient, admin: Admin
) -> None:
    dataset_id = client.create_dataset(dataset_body())
    assert admin.route_count(TOKEN_ROUTE) == 1
    admin.advance_clock(86400 + 60)  # the platform now refuses the cached token (401013)
    assert client.get_dataset(dataset_id) is not None
    assert admin.route_count(TOKEN_ROUTE) == 2
    assert admin.route_count("GET /data/foundation/catalog/dataSets/{}") == 2  # 401, then 200


def test_a_short_lived_token_is_renewed_before_it_expires(
    emulator: RunningEmulator, admin: Admin
) -> None:
    admin.config(token_ttl_seconds=1)
    with make_client(emulator.base_url) as client:
        list(client.iter_export_jobs())
        time.sleep(1.0)
        list(client.iter_export_jobs())
    assert admin.route_count(TOKEN_ROUTE) == 2
    assert admin.route_count("GET " + JOBS) == 2  # never a 401 to recover from


def test_a_refused_secret_is_an_auth_error_and_not_retried(
    emulator: RunningEmulator, admin: Admin
) -> None:
    base = emulator.base_url
    bad = Credentials("local-emulator-client", "wrong-secret-123456", "x@AdobeOrg", ("openid",))
    with (
        PlatformClient(Endpoints(base, base), bad, "prod", timeout=5) as client,
        pytest.raises(AuthError) as info,
    ):
        client.get_export_job(1)
    assert "invalid client_secret parameter" in str(info.value)
    assert "AEP_CLIENT_SECRET" in str(info.value)
    assert admin.route_count(TOKEN_ROUTE) == 1
    unknown = Credentials("nobody", "some-secret-123456", "x@AdobeOrg", ("openid",))
    with (
        PlatformClient(Endpoints(base, base), unknown, "prod", timeout=5) as client,
        pytest.raises(AuthError, match=r"HTTP 400 \[invalid_client\]: invalid client_id"),
    ):
        client.get_export_job(1)
    assert admin.route_count(TOKEN_ROUTE) == 2


def test_429_waits_for_retry_after(client: PlatformClient, admin: Admin) -> None:
    list(client.iter_export_jobs())  # token fetched, first request counted
    admin.fault(endpoint="GET " + JOBS, rate_limit_per_second=1)
    started = time.monotonic()
    list(client.iter_export_jobs())
    list(client.iter_export_jobs())  # same second: 429 with Retry-After: 1, one wait, then 200
    elapsed = time.monotonic() - started
    assert elapsed >= 0.9
    # Exactly one refused request: the client slept the server's second instead of
    # hammering it with 20 ms backoff retries.
    assert admin.route_count("GET " + JOBS) == 4


def test_a_503_burst_is_retried_within_the_budget(client: PlatformClient, admin: Admin) -> None:
    admin.fault(endpoint="GET " + JOBS, error_rate=1.0, error_status=503, error_count=3)
    assert list(client.iter_export_jobs()) == []
    assert admin.route_count("GET " + JOBS) == 4


@pytest.mark.parametrize("status", [502, 504])
def test_other_gateway_errors_are_retried(
    client: PlatformClient, admin: Admin, status: int
) -> None:
    admin.fault(endpoint="GET " + JOBS, error_rate=1.0, error_status=status, error_count=2)
    assert list(client.iter_export_jobs()) == []
    assert admin.route_count("GET " + JOBS) == 3


def test_endless_503_gives_up_when_the_budget_is_spent(
    emulator: RunningEmulator, admin: Admin
) -> None:
    admin.fault(endpoint="GET " + JOBS, error_rate=1.0, error_status=503)
    with make_client(emulator.base_url, retry_budget=0.5) as client:
        started = time.monotonic()
        with pytest.raises(ServerError) as info:
            list(client.iter_export_jobs())
    assert time.monotonic() - started < 2.0
    text = str(info.value)
    assert text.startswith(f"GET {JOBS} failed: HTTP 503 [EMU-5000-503]")
    assert "gave up after" in text and "retry budget 0.5 s" in text
    assert info.value.args == (text,)
    assert admin.route_count("GET " + JOBS) >= 3


def test_a_500_is_retried_like_a_503(client: PlatformClient, admin: Admin) -> None:
    # The troubleshooting guide: a 500 can mean the API limit was reached; wait and try again.
    admin.fault(endpoint="GET " + JOBS, error_rate=1.0, error_status=500, error_count=3)
    assert list(client.iter_export_jobs()) == []
    assert admin.route_count("GET " + JOBS) == 4


def test_a_post_dropped_after_commit_is_outcome_unknown_and_never_resent(
    client: PlatformClient, admin: Admin
) -> None:
    dataset_id = client.create_dataset(dataset_body())
    admin.fault(endpoint="POST " + JOBS, drop_after_commit=1)
    with pytest.raises(OutcomeUnknown) as info:
        client.create_export_job(job_body(dataset_id))
    assert "may have been carried out" in str(info.value)
    assert admin.route_count("POST " + JOBS) == 1  # no blind second POST
    # The job exists: this is what the executor looks for before trying again.
    assert len(list(client.iter_export_jobs())) == 1


def test_a_post_answered_503_is_outcome_unknown(client: PlatformClient, admin: Admin) -> None:
    dataset_id = client.create_dataset(dataset_body())
    admin.fault(endpoint="POST " + JOBS, error_rate=1.0, error_status=503, error_count=1)
    with pytest.raises(OutcomeUnknown) as info:
        client.create_export_job(job_body(dataset_id))
    assert info.value.status == 503
    assert admin.route_count("POST " + JOBS) == 1


def test_a_post_answered_429_is_retried(client: PlatformClient, admin: Admin) -> None:
    dataset_id = client.create_dataset(dataset_body())
    admin.fault(endpoint="POST " + JOBS, rate_limit_per_second=1)
    first = client.create_export_job(job_body(dataset_id))
    second = client.create_export_job(job_body(dataset_id))  # 429, waits, then created
    assert first.id != second.id
    assert admin.route_count("POST " + JOBS) == 3
    assert {j.id for j in client.iter_export_jobs()} == {first.id, second.id}


def test_a_dropped_get_is_retried(client: PlatformClient, admin: Admin) -> None:
    dataset_id = client.create_dataset(dataset_body())
    admin.fault(endpoint="GET /data/foundation/catalog/dataSets/{}", drop_after_commit=2)
    dataset = client.get_dataset(dataset_id)
    assert dataset is not None and dataset.id == dataset_id
    assert admin.route_count("GET /data/foundation/catalog/dataSets/{}") == 3


def test_a_dropped_dataset_delete_is_settled_by_a_get_not_resent(
    client: PlatformClient, admin: Admin
) -> None:
    dataset_id = client.create_dataset(dataset_body())
    admin.fault(endpoint="DELETE /data/foundation/catalog/dataSets/{}", drop_after_commit=1)
    client.delete_dataset(dataset_id)  # the first DELETE worked; its answer was lost
    assert admin.route_count("DELETE /data/foundation/catalog/dataSets/{}") == 1
    assert admin.route_count("GET /data/foundation/catalog/dataSets/{}") == 1  # 404: done
    assert client.get_dataset(dataset_id) is None
    with pytest.raises(NotFoundError):  # without a lost answer, a 404 is an error
        client.delete_dataset(dataset_id)


def test_4xx_is_never_retried(client: PlatformClient, admin: Admin) -> None:
    with pytest.raises(ValidationError) as info:
        client.create_export_job({"destination": {}})
    assert info.value.status == 400 and info.value.code
    assert admin.route_count("POST " + JOBS) == 1
    assert client.get_export_job(999_999) is None
    assert admin.route_count("GET " + JOB) == 1


def test_an_unreachable_platform_is_a_transport_error(admin: Admin) -> None:
    with (
        make_client("http://127.0.0.1:9", retry_budget=0.2) as client,
        pytest.raises(TransportError) as info,
    ):
        client.get_export_job(1)
    assert "could not connect" in str(info.value)
    assert "gave up after" in str(info.value)
