"""Paging helpers, the token bucket, the token cache and credentials from the environment."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.errors import ReconcilerError
from reconciler.platform.auth import (
    Credentials,
    Endpoints,
    TokenCache,
    credentials_from_env,
    refresh_margin,
)
from reconciler.platform.paging import offset_from_next
from reconciler.platform.ratelimit import TokenBucket

ENV = {
    "AEP_CLIENT_ID": "client-1",
    "AEP_CLIENT_SECRET": "p8e-very-secret-value",
    "AEP_ORG_ID": "1BD6382559DF0C130A49422D@AdobeOrg",
    "AEP_SCOPES": "openid, AdobeID,read_organizations,,",
}


@pytest.mark.parametrize(
    ("link_next", "expected"),
    [
        ("/export/jobs/?limit=2&offset=1538573416687_722", "1538573416687_722"),
        ("https://platform.adobe.io/data/core/ups/export/jobs?offset=5_1&limit=9", "5_1"),
        ({"href": "/export/jobs?offset=9_9"}, "9_9"),
        ("", None),
        ("   ", None),
        (None, None),
        ("/export/jobs/?limit=2", None),
        ("/export/jobs/?offset=", None),
        (17, None),
    ],
)
def test_offset_is_cut_out_of_link_next(link_next: Any, expected: str | None) -> None:
    assert offset_from_next(link_next) == expected


@given(st.integers(0, 2**62), st.integers(0, 10**9), st.integers(1, 1000))
def test_offset_round_trips(created: int, job_id: int, limit: int) -> None:
    offset = f"{created}_{job_id}"
    assert offset_from_next(f"/export/jobs/?limit={limit}&offset={offset}") == offset


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_bucket_allows_a_burst_then_paces_at_the_rate() -> None:
    fake = FakeTime()
    bucket = TokenBucket(rate=10, burst=3, clock=fake.clock, sleep=fake.sleep)
    waits = [bucket.acquire() for _ in range(8)]
    assert waits[:3] == [0, 0, 0]
    assert all(w == pytest.approx(0.1) for w in waits[3:])
    assert fake.now == pytest.approx(0.5)


@given(rate=st.floats(1, 1000), n=st.integers(1, 200))
def test_bucket_never_exceeds_rate_plus_burst(rate: float, n: int) -> None:
    fake = FakeTime()
    bucket = TokenBucket(rate=rate, burst=1, clock=fake.clock, sleep=fake.sleep)
    for _ in range(n):
        bucket.acquire()
    # n requests need at least (n - burst) / rate seconds.
    assert fake.now >= (n - 1) / rate - 1e-6


def test_bucket_is_shared_by_threads() -> None:
    bucket = TokenBucket(rate=200, burst=1)
    started = time.monotonic()
    threads = [threading.Thread(target=bucket.acquire) for _ in range(21)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - started >= 0.09  # 20 waits of 5 ms, whatever the threads


def test_bucket_rejects_a_non_positive_rate() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0)


def test_token_cache_reuses_until_shortly_before_expiry() -> None:
    fake = FakeTime()
    issued: list[str] = []

    def fetch() -> tuple[str, float]:
        issued.append(f"token-{len(issued)}")
        return issued[-1], 100.0

    cache = TokenCache(fetch, clock=fake.clock)
    assert cache.get() == "token-0"
    fake.now = 89.9
    assert cache.get() == "token-0"
    fake.now = 90.0  # a tenth of the life before expiry
    assert cache.get() == "token-1"
    cache.invalidate("token-0")  # stale: another thread already replaced it
    assert cache.get() == "token-1"
    cache.invalidate("token-1")
    assert cache.get() == "token-2"
    assert cache.fetches == 3


def test_refresh_margin_is_a_tenth_capped_at_five_minutes() -> None:
    assert refresh_margin(86399) == 300
    assert refresh_margin(2) == pytest.approx(0.2)
    assert refresh_margin(-1) == 0


def test_credentials_from_env_with_defaults() -> None:
    endpoints, creds = credentials_from_env(ENV)
    assert endpoints == Endpoints("https://platform.adobe.io", "https://ims-na1.adobelogin.com")
    assert creds.scopes == ("openid", "AdobeID", "read_organizations")
    assert "p8e-very-secret-value" not in repr(creds)
    endpoints, _ = credentials_from_env(
        {**ENV, "AEP_ENDPOINT": "http://127.0.0.1:8080/", "AEP_IMS_ENDPOINT": "http://h:1"}
    )
    assert endpoints == Endpoints("http://127.0.0.1:8080", "http://h:1")


def test_missing_credentials_are_named_in_one_error() -> None:
    env = {k: v for k, v in ENV.items() if k not in ("AEP_CLIENT_SECRET", "AEP_ORG_ID")}
    with pytest.raises(ReconcilerError) as info:
        credentials_from_env({**env, "AEP_SCOPES": " "})
    message = str(info.value)
    assert "AEP_CLIENT_SECRET, AEP_ORG_ID, AEP_SCOPES are not set" in message
    with pytest.raises(ReconcilerError, match="AEP_ENDPOINT must be an http"):
        credentials_from_env({**ENV, "AEP_ENDPOINT": "platform.adobe.io"})
    with pytest.raises(ReconcilerError, match="AEP_SCOPES holds no scope"):
        credentials_from_env({**ENV, "AEP_SCOPES": ",,"})


def test_credentials_repr_hides_the_secret() -> None:
    creds = Credentials("id", "another-secret-999", "org", ("openid",))
    assert "another-secret-999" not in repr(creds) and "another-secret-999" not in str(creds)
