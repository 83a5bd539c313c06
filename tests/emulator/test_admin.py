"""The admin endpoints' own rules: clock moves, config and seed validation."""

from __future__ import annotations

import time

import pytest

from .helpers import Api


def test_clock_freeze_advance_set_and_run_on(api: Api) -> None:
    frozen = api.admin("GET", "/clock").json()
    assert frozen["frozen"] is True
    time.sleep(0.05)
    assert api.admin("GET", "/clock").json() == frozen
    moved = api.admin("POST", "/clock", {"advance_seconds": 1.5}).json()
    assert moved["now_ms"] == frozen["now_ms"] + 1500
    assert (
        api.admin("POST", "/clock", {"set_ms": 1_538_573_416_687}).json()["now_ms"]
        == 1_538_573_416_687
    )
    running = api.admin("POST", "/clock", {"freeze": False}).json()
    assert running["frozen"] is False
    time.sleep(0.05)
    later = api.admin("GET", "/clock").json()["now_ms"]
    assert 1_538_573_416_687 + 40 <= later < 1_538_573_416_687 + 60_000
    back = api.admin("POST", "/clock", {"set_ms": 1_000_000, "advance_seconds": 1}).json()
    assert 1_001_000 <= back["now_ms"] < 1_061_000


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"advance_seconds": "1"},
        {"advance_seconds": 1e12},
        {"set_ms": -1},
        {"set_ms": 10**30},
        {"freeze": "yes"},
        {"rewind": 1},
        [1],
    ],
)
def test_bad_clock_bodies_are_400_and_change_nothing(api: Api, body: object) -> None:
    before = api.admin("GET", "/clock").json()
    assert api.admin("POST", "/clock", body).status_code == 400
    assert api.admin("GET", "/clock").json() == before


def test_config_reads_back_and_rejects_bad_values(api: Api) -> None:
    config = api.admin("GET", "/config").json()
    assert config["job_new_seconds"] == 1.0 and config["job_processing_seconds"] == 2.0
    assert config["delete_style"] == "204" and config["token_ttl_seconds"] == 86399
    changed = api.admin("POST", "/config", {"job_new_seconds": 0.25, "delete_style": "200"}).json()
    assert changed["job_new_seconds"] == 0.25 and changed["delete_style"] == "200"
    for bad in (
        {"job_new_seconds": -1},
        {"delete_style": "202"},
        {"token_ttl_seconds": 0},
        {"rows_per_file": True},
        {"speed": 2},
        ["x"],
    ):
        answer = api.admin("POST", "/config", bad)
        assert answer.status_code == 400, bad
    assert api.admin("GET", "/config").json() == changed


def test_seed_is_per_sandbox_and_validated(api: Api) -> None:
    assert api.admin("POST", "/seed", {"profiles": 5, "seed": 2}).json() == {
        "profiles": 5,
        "seed": 2,
    }
    for bad in ({"profiles": -1}, {"profiles": 10**9}, {"seed": "x"}, {"size": 3}):
        assert api.admin("POST", "/seed", bad).status_code == 400
    dev = api.in_sandbox("seeded-dev")
    assert dev.admin("POST", "/seed", {"profiles": 0}).status_code == 200
    dataset_id = dev.create_dataset()
    job = dev.create_job(dataset_id)
    dev.advance(5)
    batch_id = dev.job(job["id"])["destination"]["batchId"]
    batch = dev.get(f"/data/foundation/catalog/batches/{batch_id}").json()[batch_id]
    assert batch["metrics"]["recordsWritten"] == 0


def test_admin_rejects_a_malformed_org_or_sandbox(api: Api) -> None:
    bad_org = api.session.post(
        f"{api.base_url}/_emulator/dataSets",
        json={"name": "x"},
        headers={"x-gw-ims-org-id": "nope"},
        timeout=10,
    )
    assert bad_org.status_code == 400
    bad_sandbox = api.session.post(
        f"{api.base_url}/_emulator/seed",
        json={"profiles": 1},
        headers={"x-sandbox-name": "Bad Name"},
        timeout=10,
    )
    assert bad_sandbox.status_code == 401
