"""IMS OAuth server-to-server tokens and the header checks every platform call goes through."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from reconciler.emulator import defaults
from reconciler.emulator.context import ORG_ID, SANDBOX_NAME, Emulator, Scope, emulator_of
from reconciler.emulator.openapi_docs import json_content
from reconciler.emulator.problems import ApiError, gateway_error

router = APIRouter()
_IMS_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
    "required": ["error", "error_description"],
}


def digest(secret: str) -> str:
    """sha256 hex of a secret: tokens and client secrets are stored only as digests."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Client:
    """A registered OAuth client (technical account) and the org it belongs to."""

    client_id: str
    secret_digest: str
    org_id: str
    scopes: frozenset[str]


def find_client(emu: Emulator, client_id: str) -> Client | None:
    """The default client, or one registered through /_emulator/credentials."""
    if client_id == defaults.CLIENT_ID:
        return Client(
            defaults.CLIENT_ID,
            digest(defaults.CLIENT_SECRET),
            defaults.ORG_ID,
            frozenset(defaults.SCOPES),
        )
    with emu.store.tx() as db:
        row = db.execute("SELECT * FROM credentials WHERE client_id = ?", (client_id,)).fetchone()
    if row is None:
        return None
    return Client(
        row["client_id"], row["client_secret"], row["org_id"], frozenset(row["scopes"].split(","))
    )


def _ims_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


@router.post(
    "/ims/token/v3",
    tags=["IMS"],
    summary="OAuth server-to-server token",
    responses={
        200: json_content(
            {
                "type": "object",
                "properties": {
                    "access_token": {"type": "string"},
                    "token_type": {"type": "string"},
                    "expires_in": {"type": "integer"},
                },
                "required": ["access_token", "token_type", "expires_in"],
            },
            "A bearer token",
        ),
        400: json_content(_IMS_ERROR, "Bad client id, grant type or scope"),
        401: json_content(_IMS_ERROR, "Bad client secret"),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "client_id": {"type": "string"},
                            "client_secret": {"type": "string"},
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "scope": {"type": "string"},
                        },
                        "required": ["client_id", "client_secret", "grant_type"],
                    }
                }
            },
        }
    },
)
async def issue_token(request: Request) -> JSONResponse:
    """Answer access_token, token_type, expires_in for valid client credentials."""
    emu = emulator_of(request)
    # api-facts.md: parameters come in the form body, or as query parameters.
    raw = (await request.body()).decode("utf-8", errors="replace")
    params = {k: v[0] for k, v in parse_qs(raw).items()}
    for key, value in request.query_params.items():
        params.setdefault(key, value)
    if params.get("grant_type") != "client_credentials":
        return _ims_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    client = find_client(emu, params.get("client_id", ""))
    if client is None:
        return _ims_error(400, "invalid_client", "invalid client_id parameter")
    if not secrets.compare_digest(client.secret_digest, digest(params.get("client_secret", ""))):
        return _ims_error(401, "invalid_client", "invalid client_secret parameter")
    requested = {s.strip() for s in params.get("scope", "").split(",") if s.strip()}
    if not requested:
        return _ims_error(400, "invalid_scope", "scope is required (comma-separated)")
    if not requested <= client.scopes:
        return _ims_error(
            400, "invalid_scope", f"invalid scope(s): {sorted(requested - client.scopes)}"
        )
    ttl = emu.config.token_ttl_seconds
    token = "emu-" + secrets.token_urlsafe(32)
    with emu.store.tx() as db:
        db.execute(
            "INSERT INTO tokens (token, client_id, org_id, expires_ms) VALUES (?, ?, ?, ?)",
            (digest(token), client.client_id, client.org_id, emu.clock.now_ms() + ttl * 1000),
        )
    return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": ttl})


def authorize(request: Request) -> Scope:
    """Check token, api key, org and sandbox headers in the gateway's order; the caller's scope."""
    emu = emulator_of(request)
    headers = request.headers
    authorization = headers.get("authorization")
    if not authorization:
        raise gateway_error("403010")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise gateway_error("401013")
    with emu.store.tx() as db:
        row = db.execute(
            "SELECT * FROM tokens WHERE token = ?", (digest(token.strip()),)
        ).fetchone()
    if row is None or row["expires_ms"] <= emu.clock.now_ms():
        raise gateway_error("401013")  # api-facts-more.md: an expired token is 401013 too
    api_key = headers.get("x-api-key")
    if not api_key:
        raise gateway_error("403000")
    if api_key != row["client_id"]:
        raise gateway_error("403003")
    org = headers.get("x-gw-ims-org-id")
    if not org:
        raise gateway_error("400003")
    if not ORG_ID.match(org):
        raise gateway_error("403027")
    if org != row["org_id"]:
        raise gateway_error("403025")
    sandbox = sandbox_from_headers(request, required=True)
    if emu.behaviour.sandboxes == "strict" and not emu.sandbox_exists(sandbox):
        # Sandboxes are made through their own API, never by naming one. The documents give no
        # body for an unknown name: the gateway's refusal of a header value the credentials'
        # product profile does not cover (TS, api-facts-more.md 4).
        raise gateway_error("403025")
    return Scope(org, sandbox)


def sandbox_from_headers(request: Request, *, required: bool) -> str:
    """The x-sandbox-name header, checked; "prod" when optional and absent."""
    sandbox = request.headers.get("x-sandbox-name")
    if sandbox is None:
        if required:
            raise gateway_error("400003")
        return defaults.DEFAULT_SANDBOX
    if not SANDBOX_NAME.match(sandbox):
        # The documents give no gateway body for a bad sandbox; a service answers 401
        # "sandbox validation error" (api-facts-more.md 4b, INSGHT-1003-401).
        raise ApiError(
            401,
            {
                "type": "http://ns.adobe.com/aep/errors/EMU-1003-401",
                "title": "UnauthorizedError",
                "status": 401,
                "detail": f"sandbox validation error: {sandbox!r} is not a sandbox name "
                "(lowercase letters, digits and '-', at most 30)",
            },
        )
    return sandbox


PlatformScope = Annotated[Scope, Depends(authorize)]
