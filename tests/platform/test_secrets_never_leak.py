"""A known client secret and the token it buys never appear in any output of a failing run."""

from __future__ import annotations

import io
import logging
import traceback
from collections.abc import Callable

import pytest
from platform_helpers import FAST_BACKOFF, Admin, dataset_body, job_body

from reconciler.emulator import defaults
from reconciler.emulator.server import RunningEmulator
from reconciler.platform import (
    Credentials,
    Endpoints,
    PlatformClient,
    PlatformError,
    disable_request_logging,
    enable_request_logging,
)

SECRET = "p8e-KNOWN-client-secret-7f3a9c"
CLIENT_ID = "leak-test-client"
JOBS = "/data/core/ups/export/jobs"


def test_secret_and_token_never_appear_in_logs_or_errors(
    emulator: RunningEmulator,
    admin: Admin,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    admin.call(
        "POST",
        "credentials",
        {"client_id": CLIENT_ID, "client_secret": SECRET, "org_id": defaults.ORG_ID},
    )
    base = emulator.base_url
    credentials = Credentials(CLIENT_ID, SECRET, defaults.ORG_ID, tuple(defaults.SCOPES))
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's included, as -vv would show
    stream = io.StringIO()
    handler = enable_request_logging(stream)
    errors: list[BaseException] = []

    def expect_failure(call: Callable[[], object]) -> None:
        with pytest.raises(PlatformError) as info:
            call()
        errors.append(info.value)

    client = PlatformClient(
        Endpoints(base, base),
        credentials,
        "prod",
        timeout=5,
        retry_budget=0.3,
        backoff=FAST_BACKOFF,
    )
    try:
        dataset_id = client.create_dataset(dataset_body())
        token = client._transport.tokens.get()  # the token the run is using
        assert token and token not in (SECRET,)
        admin.fault(endpoint="POST " + JOBS, drop_after_commit=1)
        expect_failure(lambda: client.create_export_job(job_body(dataset_id)))
        admin.fault(endpoint="GET " + JOBS, error_rate=1.0, error_status=503)
        expect_failure(lambda: list(client.iter_export_jobs()))
        expect_failure(lambda: client.create_export_job({"destination": {"datasetId": 1}}))
        admin.advance_clock(2 * 86400)  # the token expires mid-run: refreshed once
        assert client.get_dataset(dataset_id) is not None
        new_token = client._transport.tokens.get()
        assert new_token != token
        wrong = Credentials(CLIENT_ID, SECRET + "-rotated", defaults.ORG_ID, ("openid",))
        with PlatformClient(Endpoints(base, base), wrong, "prod", timeout=5) as refused:
            expect_failure(lambda: refused.get_export_job(1))
    finally:
        client.close()
        disable_request_logging(handler)

    outputs = {
        "request log": stream.getvalue(),
        "caplog": caplog.text,
        "stdout+stderr": "".join(capsys.readouterr()),
    }
    for n, error in enumerate(errors):
        outputs[f"error {n}"] = "\n".join(
            [str(error), repr(error), repr(error.args), *traceback.format_exception(error)]
        )
    assert "POST /ims/token/v3 200" in outputs["request log"]
    assert f"GET {JOBS}?limit=100 503" in outputs["request log"]
    assert len(errors) == 4
    for where, text in outputs.items():
        for secret in (SECRET, token, new_token, SECRET + "-rotated"):
            assert secret not in text, f"a secret leaked into {where}"
        assert "Bearer " not in text or "Bearer ***" in text, where
