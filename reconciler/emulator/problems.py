"""Platform-style error answers: gateway style for auth and headers, service style otherwise."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

# Gateway errors, api-facts-more.md section 4 (troubleshooting guide): code -> (status, message).
GATEWAY_ERRORS: dict[str, tuple[int, str]] = {
    "403010": (403, "Oauth token is missing."),
    "401013": (401, "Oauth token is not valid"),
    "403000": (403, "Api Key is required"),
    "403003": (403, "Api Key is invalid"),
    "400003": (400, "Missing header"),
    "403025": (403, "Profile is not valid"),
    "403027": (403, "User region is missing"),
    "429050": (429, "Too many requests"),  # api-facts-more.md 5b, the adobe.io gateway
}

_TITLES = {
    400: "BadRequestError",
    401: "UnauthorizedError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    409: "ConflictError",
    412: "PreconditionFailedError",
    415: "UnsupportedMediaTypeError",
    500: "InternalServerError",
    503: "ServiceUnavailableError",
}


class ApiError(Exception):
    """Raised by handlers; turned into a platform-style JSON answer."""

    def __init__(
        self,
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(body.get("detail") or body.get("message"))
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        """The HTTP answer for this error."""
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


def gateway_error(code: str, headers: dict[str, str] | None = None) -> ApiError:
    """An Adobe I/O gateway error, e.g. 401013 'Oauth token is not valid'."""
    status, message = GATEWAY_ERRORS[code]
    return ApiError(status, {"error_code": code, "message": message}, headers)


def service_error(status: int, detail: str, service: str = "EMU", number: int = 1000) -> ApiError:
    """A service (problem-style) error: type, title, status, detail."""
    body = {
        "type": f"http://ns.adobe.com/aep/errors/{service}-{number:04d}-{status}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    return ApiError(status, body)


def bad_request(detail: str, service: str = "EMU") -> ApiError:
    """A 400 validation failure whose detail says which field and what to send instead."""
    return service_error(400, detail, service, 1001)


def not_found(detail: str, service: str = "EMU") -> ApiError:
    """A 404 for an unknown id in this org and sandbox."""
    return service_error(404, detail, service, 1404)
