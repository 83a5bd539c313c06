"""One exception hierarchy for every platform failure; each prints as one redacted line."""

from __future__ import annotations

import json
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.platform.redact import redact

_MAX_MESSAGE = 300


class PlatformError(ReconcilerError):
    """A platform call failed; carries the status, error code, message, request id and call."""

    hint = "see the message above and try again"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        self.message = _one_line(message)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.method = method
        self.path = path
        super().__init__(str(self))

    def extend(self, note: str) -> None:
        """Append a note (such as how many attempts were made) to the message."""
        self.message = _one_line(f"{self.message} {note}")
        self.args = (str(self),)

    def __str__(self) -> str:
        call = f"{self.method} {self.path}".strip() or "platform call"
        parts = [f"{call} failed"]
        if self.status is not None:
            parts.append(f": HTTP {self.status}")
        if self.code:
            parts.append(f" [{self.code}]")
        parts.append(f": {self.message}")
        if self.request_id:
            parts.append(f" (request id {self.request_id})")
        parts.append(f"; {self.hint}")
        return redact("".join(parts))


class AuthError(PlatformError):
    """IMS refused the credentials, or the platform refused the token or org (401/403)."""

    hint = (
        "check AEP_CLIENT_ID, AEP_CLIENT_SECRET, AEP_ORG_ID and AEP_SCOPES and the "
        "integration's access to the org and sandbox"
    )


class NotFoundError(PlatformError):
    """The object does not exist in this org and sandbox (404)."""

    hint = "check the id and the sandbox"


class ValidationError(PlatformError):
    """The platform rejected the request as invalid (a 4xx other than 401, 403, 404, 429)."""

    hint = "fix the request (usually the spec document) and try again"


class RateLimitedError(PlatformError):
    """Still throttled (429) when the retry budget ran out."""

    hint = "lower the client rate limit or try again later"


class ServerError(PlatformError):
    """The platform failed (5xx), or kept failing until the retry budget ran out."""

    hint = "the platform is failing; try again later"


class TransportError(PlatformError):
    """The platform could not be reached (connection refused, reset, timed out)."""

    hint = "check the network and AEP_ENDPOINT / AEP_IMS_ENDPOINT, then try again"


class UnreachableError(TransportError):
    """Nothing answers at a base URL (DNS failure, connection refused): given up within seconds."""

    def __init__(self, message: str, *, url: str, source: str, **details: Any) -> None:
        self.url = url
        self.source = source
        self.hint = f"check {source} (now {url}) and the network, then try again"
        super().__init__(message, **details)


class UnexpectedResponseError(PlatformError):
    """The platform answered in a shape the client cannot read."""

    hint = "the API may have changed; report this with the request id"


class OutcomeUnknown(PlatformError):
    """A POST or DELETE may have reached the platform, but no answer says what it did.

    `job_id` is the job id a job POST's (unreadable) answer named, when it named one.
    """

    hint = (
        "look for the object it may have created (or read the job it may have cancelled) "
        "before sending it again"
    )

    def __init__(self, message: str, *, job_id: int | None = None, **details: Any) -> None:
        self.job_id = job_id
        super().__init__(message, **details)


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_MESSAGE else flat[: _MAX_MESSAGE - 3] + "..."


def parse_error_body(body: bytes | str) -> tuple[str | None, str]:
    """The platform's (error code, message) from a gateway, service, IMS or plain-text body."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data: Any = json.loads(text)
    except ValueError:
        return None, _one_line(text) or "no error details in the answer"
    if not isinstance(data, dict):
        return None, _one_line(text) or "no error details in the answer"
    if "error_code" in data:  # gateway: {"error_code": "401013", "message": "..."}
        return str(data["error_code"]), str(data.get("message") or "no message")
    if "title" in data or "type" in data:  # service: {"type", "title", "status", "detail"}
        return _service_code(data), str(data.get("detail") or data.get("title") or "no message")
    if "error" in data and isinstance(data["error"], str):  # IMS OAuth style
        return data["error"], str(data.get("error_description") or data["error"])
    for key in ("message", "errorMessage", "msg"):
        if isinstance(data.get(key), str):
            return None, data[key]
    return None, _one_line(text)


def _service_code(data: dict[str, Any]) -> str | None:
    chain = data.get("error-chain")
    if isinstance(chain, list) and chain and isinstance(chain[0], dict):
        code = chain[0].get("errorCode")
        if code:
            return str(code)
    kind = data.get("type")
    if isinstance(kind, str) and kind:
        return kind.rstrip("/").rsplit("/", 1)[-1]
    return None


def error_for_status(
    status: int,
    body: bytes | str,
    *,
    request_id: str | None,
    method: str,
    path: str,
) -> PlatformError:
    """The exception that a final (not retried) error answer becomes."""
    code, message = parse_error_body(body)
    kind: type[PlatformError]
    if status in (401, 403):
        kind = AuthError
    elif status == 404:
        kind = NotFoundError
    elif status == 429:
        kind = RateLimitedError
    elif status >= 500:
        kind = ServerError
    elif 400 <= status < 500:
        kind = ValidationError
    else:
        kind = UnexpectedResponseError
    return kind(message, status=status, code=code, request_id=request_id, method=method, path=path)
