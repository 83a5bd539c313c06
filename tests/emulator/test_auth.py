"""IMS tokens and the gateway's header checks, with the documented error bodies."""

from __future__ import annotations

import pytest
import requests

from reconciler.emulator import defaults
from reconciler.emulator.server import RunningEmulator

from .helpers import DATASETS, Api, get_token

TOKEN_URL = "/ims/token/v3"


def _token_call(base_url: str, **overrides: str) -> requests.Response:
    form = {
        "client_id": defaults.CLIENT_ID,
        "client_secret": defaults.CLIENT_SECRET,
        "grant_type": "client_credentials",
        "scope": ",".join(defaults.SCOPES),
        **overrides,
    }
    return requests.post(base_url + TOKEN_URL, data=form, timeout=10)


def test_token_answer_has_the_documented_fields(emulator: RunningEmulator) -> None:
    answer = _token_call(emulator.base_url)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer" and body["expires_in"] == defaults.TOKEN_TTL_SECONDS


def test_token_parameters_may_come_as_query_parameters(emulator: RunningEmulator) -> None:
    params = {
        "client_id": defaults.CLIENT_ID,
        "client_secret": defaults.CLIENT_SECRET,
        "grant_type": "client_credentials",
        "scope": "openid",
    }
    answer = requests.post(emulator.base_url + TOKEN_URL, params=params, timeout=10)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"client_id": "nobody"}, 400, "invalid_client"),
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"scope": "openid,admin_everything"}, 400, "invalid_scope"),
        ({"scope": ""}, 400, "invalid_scope"),
    ],
)
def test_bad_token_requests_are_refused(
    emulator: RunningEmulator, overrides: dict[str, str], status: int, error: str
) -> None:
    answer = _token_call(emulator.base_url, **overrides)
    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert "access_token" not in answer.json()


@pytest.mark.parametrize(
    ("drop", "change", "status", "code"),
    [
        ("Authorization", {}, 403, "403010"),
        (None, {"Authorization": "Bearer not-a-token"}, 401, "401013"),
        (None, {"Authorization": "Basic abc"}, 401, "401013"),
        ("x-api-key", {}, 403, "403000"),
        (None, {"x-api-key": "someone-else"}, 403, "403003"),
        ("x-gw-ims-org-id", {}, 400, "400003"),
        (None, {"x-gw-ims-org-id": "not-an-org"}, 403, "403027"),
        (None, {"x-gw-ims-org-id": "FFFFFFFFFFFFFFFFFFFFFFFF@AdobeOrg"}, 403, "403025"),
        ("x-sandbox-name", {}, 400, "400003"),
    ],
)
def test_each_header_failure_answers_the_gateway_body(
    api: Api, drop: str | None, change: dict[str, str], status: int, code: str
) -> None:
    headers = {**api.headers(), **change}
    if drop:
        headers.pop(drop)
    answer = requests.get(api.base_url + DATASETS, headers=headers, timeout=10)
    assert answer.status_code == status
    body = answer.json()
    assert body["error_code"] == code and isinstance(body["message"], str)


def test_a_malformed_sandbox_name_is_a_401_sandbox_validation_error(api: Api) -> None:
    answer = api.in_sandbox("Not_A_Sandbox").get(DATASETS)
    assert answer.status_code == 401
    assert answer.json()["status"] == 401 and "sandbox" in answer.json()["detail"]


def test_tokens_expire_on_the_emulator_clock(api: Api) -> None:
    assert api.get(DATASETS).status_code == 200
    api.advance(defaults.TOKEN_TTL_SECONDS - 5)
    assert api.get(DATASETS).status_code == 200
    api.advance(10)
    expired = api.get(DATASETS)
    assert expired.status_code == 401 and expired.json()["error_code"] == "401013"
    fresh = Api(api.base_url, get_token(api.base_url))
    assert fresh.get(DATASETS).status_code == 200


def test_token_lifetime_is_configurable(api: Api) -> None:
    assert api.admin("POST", "/config", {"token_ttl_seconds": 30}).status_code == 200
    answer = _token_call(api.base_url)
    assert answer.json()["expires_in"] == 30
    short = Api(api.base_url, answer.json()["access_token"])
    api.advance(31)
    assert short.get(DATASETS).status_code == 401


def test_start_in_thread_takes_a_token_ttl(tmp_path_factory: pytest.TempPathFactory) -> None:
    from reconciler.emulator.server import start_in_thread

    with start_in_thread(tmp_path_factory.mktemp("ttl"), token_ttl_seconds=7) as running:
        assert _token_call(running.base_url).json()["expires_in"] == 7


def test_a_second_org_gets_its_own_token_and_sees_nothing_of_the_first(api: Api) -> None:
    other_org = "FEDCBA9876543210FEDCBA98@AdobeOrg"
    client = {"client_id": "second", "client_secret": "s3cret", "org_id": other_org}
    assert api.admin("POST", "/credentials", client).status_code == 201
    dataset_id = api.create_dataset("first org only")
    other = Api(
        api.base_url, get_token(api.base_url, "second", "s3cret"), org=other_org, client_id="second"
    )
    assert other.get(DATASETS).json() == {}
    assert other.get(f"{DATASETS}/{dataset_id}").status_code == 404
    # The first org's token cannot be used for the second org.
    wrong = {**api.headers(), "x-gw-ims-org-id": other_org}
    answer = requests.get(api.base_url + DATASETS, headers=wrong, timeout=10)
    assert answer.json()["error_code"] == "403025"


def test_no_token_or_client_secret_is_stored_in_clear(api: Api, emulator: RunningEmulator) -> None:
    api.admin(
        "POST",
        "/credentials",
        {
            "client_id": "c2",
            "client_secret": "very-secret-value",
            "org_id": "FEDCBA9876543210FEDCBA98@AdobeOrg",
        },
    )
    assert api.get(DATASETS).status_code == 200
    stored = b"".join(p.read_bytes() for p in emulator.data_dir.glob("emulator.sqlite3*"))
    assert api.token.encode() not in stored
    assert b"very-secret-value" not in stored
    assert defaults.CLIENT_SECRET.encode() not in stored


def test_answers_carry_a_request_id(api: Api) -> None:
    first, second = api.get(DATASETS), api.get(f"{DATASETS}/missing")
    assert len(first.headers["x-request-id"]) == 32
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert "x-request-id" in api.get(DATASETS, headers={"Authorization": ""}).headers
