"""Nothing answers: one line within seconds naming the URL and its variable. The platform clock."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

import pytest
from platform_helpers import Admin, RewritingProxy, credentials, make_client

from reconciler.emulator.server import RunningEmulator
from reconciler.platform import (
    Endpoints,
    OutcomeUnknown,
    PlatformClient,
    UnreachableError,
)
from reconciler.platform.transport import parse_http_date_ms


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_gives_up_within_seconds_naming_the_variable() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    lines: list[str] = []
    # Default retry settings: only the wait for the unreachable host is bounded (4 s).
    client = PlatformClient(Endpoints(url, url), credentials(), "prod", notify=lines.append)
    started = time.monotonic()
    with client, pytest.raises(UnreachableError) as info:
        client.get_export_job(1)
    elapsed = time.monotonic() - started
    assert elapsed < 10.0
    text = str(info.value)
    assert "\n" not in text
    # The token is asked for first, so the IMS URL and its variable are named.
    assert f"nothing answers at {url} (set by AEP_IMS_ENDPOINT)" in text
    assert "connection refused" in text and "gave up after" in text
    assert lines and all(line.startswith("waiting ") for line in lines)  # no silent wait


def test_the_platform_url_and_its_variable_are_named(emulator: RunningEmulator) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    endpoints = Endpoints(url, emulator.base_url, platform_source="RECONCILER_LOCAL_ENDPOINT")
    with (
        PlatformClient(endpoints, credentials(), "prod", unreachable_seconds=0.5) as client,
        pytest.raises(UnreachableError) as info,
    ):
        client.iter_datasets().__next__()
    assert f"nothing answers at {url} (set by RECONCILER_LOCAL_ENDPOINT)" in str(info.value)
    assert info.value.source == "RECONCILER_LOCAL_ENDPOINT" and info.value.url == url
    assert "check RECONCILER_LOCAL_ENDPOINT" in str(info.value)


def test_an_unresolvable_host_fails_at_once(emulator: RunningEmulator) -> None:
    # DNS answers "no such name" here within milliseconds; the 10 s bound is asserted anyway.
    url = "http://aep-reconciler-test.invalid"
    endpoints = Endpoints(url, emulator.base_url)
    started = time.monotonic()
    with (
        PlatformClient(endpoints, credentials(), "prod") as client,
        pytest.raises(UnreachableError) as info,
    ):
        client.get_dataset("x")
    assert time.monotonic() - started < 10.0
    text = str(info.value)
    assert f"nothing answers at {url} (set by AEP_ENDPOINT)" in text
    assert "does not resolve" in text


def test_a_job_post_to_a_closed_port_is_not_an_unknown_outcome(emulator: RunningEmulator) -> None:
    # The connection was never made, so the POST certainly did nothing.
    url = f"http://127.0.0.1:{closed_port()}"
    endpoints = Endpoints(url, emulator.base_url)
    with PlatformClient(endpoints, credentials(), "prod", unreachable_seconds=0.3) as client:
        with pytest.raises(UnreachableError) as info:
            client.create_export_job({"destination": {}})
        assert not isinstance(info.value, OutcomeUnknown)


def test_platform_now_follows_the_date_header(client: PlatformClient, admin: Admin) -> None:
    assert client.platform_now_ms() is None and client.platform_now() is None
    ahead = int(time.time() * 1000) + 2 * 3600 * 1000  # the platform 2 h ahead of us
    admin.call("POST", "clock", {"set_ms": ahead})
    list(client.iter_export_jobs())
    now_ms = client.platform_now_ms()
    assert now_ms is not None
    assert abs(now_ms - ahead) < 3000  # whole-second Date header, plus the calls' time
    now = client.platform_now()
    assert now is not None and now.tzinfo is UTC
    assert abs(now.timestamp() * 1000 - ahead) < 3000
    time.sleep(0.3)  # the estimate moves on with the local monotonic clock
    later = client.platform_now_ms()
    assert later is not None and later - now_ms >= 250
    admin.advance_clock(-3600)  # a step backwards is followed
    list(client.iter_export_jobs())
    stepped = client.platform_now_ms()
    assert stepped is not None and abs(stepped - (ahead - 3600 * 1000)) < 3000


def test_http_dates_are_read_as_utc_milliseconds() -> None:
    expected = int(datetime(2026, 12, 2, 1, 30, 5, tzinfo=UTC).timestamp() * 1000)
    assert parse_http_date_ms("Wed, 02 Dec 2026 01:30:05 GMT") == expected
    assert parse_http_date_ms(None) is None
    assert parse_http_date_ms("yesterday") is None


def test_the_ims_date_header_does_not_set_the_platform_clock(emulator: RunningEmulator) -> None:
    def ims_from_another_era(
        method: str, path: str, status: int, body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        if path == "/ims/token/v3":
            return status, body, {"Date": "Sat, 01 Jan 2000 00:00:00 GMT"}
        return status, body, {}

    with (
        RewritingProxy(emulator.base_url, ims_from_another_era) as proxy,
        make_client(proxy.base_url) as client,
    ):
        assert client.get_export_job(1) is None  # a token, then the platform's answer
        now_ms = client.platform_now_ms()
        assert now_ms is not None and abs(now_ms / 1000 - time.time()) < 5
