"""Redaction of secrets and parsing of both platform error styles (pure helpers)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.errors import ReconcilerError
from reconciler.platform.errors import (
    AuthError,
    NotFoundError,
    OutcomeUnknown,
    PlatformError,
    RateLimitedError,
    ServerError,
    ValidationError,
    error_for_status,
    parse_error_body,
)
from reconciler.platform.redact import MASK, RedactingFilter, redact, register_secret

REF = json.loads((Path(__file__).parent / "fixtures" / "reference_examples.json").read_text())


@given(st.text(min_size=1), st.text(alphabet="abcdefXYZ0123456789-_.", min_size=12, max_size=40))
def test_a_registered_secret_never_survives_redaction(prefix: str, secret: str) -> None:
    register_secret(secret)
    text = f"{prefix}{secret}{prefix}{secret}"
    assert secret not in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer eyJhbGciOi.abc.def",
        "client_secret=s3cr3t-value&grant_type=client_credentials",
        '{"access_token": "tok-123456", "expires_in": 86399}',
        "authorization=Bearer xyz",
    ],
)
def test_secret_shaped_fragments_are_masked(text: str) -> None:
    out = redact(text)
    assert MASK in out
    for secret in ("eyJhbGciOi", "s3cr3t-value", "tok-123456", "xyz"):
        assert secret not in out


def test_plain_text_is_untouched() -> None:
    text = "GET /data/core/ups/export/jobs?limit=2&offset=1538573416687_722 200 12ms"
    assert redact(text) == text


def test_the_logging_filter_redacts_arguments() -> None:
    register_secret("filter-secret-123")
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "sent %s", ("filter-secret-123",), None
    )
    assert RedactingFilter().filter(record)
    assert record.getMessage() == f"sent {MASK}"


def test_gateway_style_error() -> None:
    assert parse_error_body(json.dumps(REF["gateway_error"])) == (
        "401013",
        "Oauth token is not valid",
    )


def test_service_style_error_prefers_the_error_chain_code_and_detail() -> None:
    code, message = parse_error_body(json.dumps(REF["service_error"]).encode())
    assert code == "INSGHT-1000-400"
    assert message == "Bad Request - Start date cannot be after end date."
    code, message = parse_error_body(json.dumps(REF["content_type_error"]))
    assert code == "uri"
    assert message == "A valid content-type must be specified"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '{"error": "invalid_client", "error_description": "invalid client_id parameter"}',
            ("invalid_client", "invalid client_id parameter"),
        ),
        (
            '{"errorMessage": "Supplied version=[1] does not match"}',
            (None, "Supplied version=[1] does not match"),
        ),
        ("<html>Bad Gateway</html>\n", (None, "<html>Bad Gateway</html>")),
        ("", (None, "no error details in the answer")),
        ("[1, 2]", (None, "[1, 2]")),
    ],
)
def test_other_error_bodies(body: str, expected: tuple[str | None, str]) -> None:
    assert parse_error_body(body) == expected


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ValidationError),
        (401, AuthError),
        (403, AuthError),
        (404, NotFoundError),
        (409, ValidationError),
        (422, ValidationError),
        (429, RateLimitedError),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_status_maps_to_one_exception_kind(status: int, kind: type[PlatformError]) -> None:
    error = error_for_status(status, b"{}", request_id="r-1", method="GET", path="/p")
    assert type(error) is kind
    assert isinstance(error, ReconcilerError)
    assert error.status == status and error.request_id == "r-1"


def test_an_error_prints_as_one_line_with_everything_needed() -> None:
    register_secret("tok-in-message-0001")
    error = ValidationError(
        "destination.datasetId\n is unknown: tok-in-message-0001",
        status=400,
        code="UPS-1234-400",
        request_id="req-9",
        method="POST",
        path="/data/core/ups/export/jobs",
    )
    text = str(error)
    assert "\n" not in text
    assert text.startswith("POST /data/core/ups/export/jobs failed: HTTP 400 [UPS-1234-400]:")
    assert "request id req-9" in text and "fix the request" in text
    assert "tok-in-message-0001" not in text and "tok-in-message-0001" not in repr(error.args)


def test_outcome_unknown_is_a_platform_error_that_says_what_to_do() -> None:
    error = OutcomeUnknown("connection dropped", method="POST", path="/data/core/ups/export/jobs")
    assert isinstance(error, PlatformError)
    assert "look for the object it may have created" in str(error)
