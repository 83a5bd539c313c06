"""Reading the platform's answers: JSON, typed models, one-line errors, path segments, PQL."""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import quote

import requests
from pydantic import BaseModel
from pydantic import ValidationError as ModelError

from reconciler.platform.errors import OutcomeUnknown, UnexpectedResponseError
from reconciler.platform.models import SegmentDefinition

M = TypeVar("M", bound=BaseModel)


def pql_of(segment: SegmentDefinition) -> str | None:
    """The PQL text of a segment definition (`expression.value` of format pql/text)."""
    expression = segment.expression or {}
    value = expression.get("value")
    fmt = str(expression.get("format") or "pql/text").lower()
    if not isinstance(value, str) or not value.strip() or fmt != "pql/text":
        return None
    return value


def seg(value: str) -> str:
    """An id made safe as one path segment."""
    return quote(value, safe="")


def json_of(response: requests.Response, method: str, path: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise unexpected(response, method, path, "the answer is not JSON") from None


def parse_model(
    model: type[M], data: Any, response: requests.Response, method: str, path: str
) -> M:
    try:
        return model.model_validate(data)
    except ModelError as exc:
        raise unexpected(response, method, path, model_error(model, exc)) from None


def model_error(model: type[BaseModel], exc: ModelError) -> str:
    """The first validation error as `Model.field.path: message`."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"{model.__name__}.{where}: {first['msg']}"


def outcome_unknown(
    response: requests.Response,
    method: str,
    path: str,
    what: str,
    *,
    job_id: int | None = None,
) -> OutcomeUnknown:
    named = f" naming job {job_id}" if job_id is not None else ""
    return OutcomeUnknown(
        f"the platform answered {response.status_code}{named}, but the answer cannot be read "
        f"({what}), so it was probably carried out",
        job_id=job_id,
        status=response.status_code,
        request_id=response.headers.get("x-request-id"),
        method=method,
        path=path,
    )


def unexpected(
    response: requests.Response, method: str, path: str, message: str
) -> UnexpectedResponseError:
    return UnexpectedResponseError(
        message,
        status=response.status_code,
        request_id=response.headers.get("x-request-id"),
        method=method,
        path=path,
    )
