"""Reading request bodies strictly: content type first, then well-formed JSON."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from reconciler.emulator.problems import ApiError, bad_request


def _no_constants(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON (and the platform) does not.
    raise json.JSONDecodeError(f"{name} is not a JSON value", name, 0)


async def json_body(request: Request, *, also: tuple[str, ...] = ()) -> Any:
    """The parsed JSON body; 400 for a missing content type or malformed JSON."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/json", *also):
        # api-facts-more.md section 4: the exact answer for a missing Content-Type.
        raise ApiError(
            400,
            {
                "type": "/placeholder/type/uri",
                "status": 400,
                "title": "BadRequestError",
                "detail": "A valid content-type must be specified",
            },
        )
    raw = await request.body()
    try:
        return json.loads(raw, parse_constant=_no_constants)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_request(
            f"The request body is not valid JSON ({exc}); send a JSON document"
        ) from exc
    except RecursionError as exc:
        raise bad_request("The request body is nested too deeply; send a flatter document") from exc
