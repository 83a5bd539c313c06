"""Routes of segment definitions and merge policies, seeded identically in every sandbox."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from reconciler.emulator import defaults
from reconciler.emulator.auth import PlatformScope
from reconciler.emulator.context import Scope
from reconciler.emulator.openapi_docs import ERRORS, json_content
from reconciler.emulator.params import natural
from reconciler.emulator.problems import bad_request, not_found

router = APIRouter(tags=["Segments and merge policies"])
SEGMENTS = "/data/core/ups/segment/definitions"
POLICIES = "/data/core/ups/config/mergePolicies"
_SEEDED_MS = 1546300800000  # 2019-01-01, when the seeded definitions were "created"
_OBJECT = {"type": "object"}


def _sandbox(scope: Scope) -> dict[str, Any]:
    return {
        "sandboxId": f"emulator-{scope.sandbox}",
        "sandboxName": scope.sandbox,
        "type": "production" if scope.sandbox == "prod" else "development",
        "default": scope.sandbox == "prod",
    }


def _segment(scope: Scope, seed: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": seed["id"],
        "schema": {"name": defaults.PROFILE_SCHEMA_NAME},
        "imsOrgId": scope.org,
        "sandbox": _sandbox(scope),
        "name": seed["name"],
        "description": "",
        "expression": {"type": "PQL", "format": "pql/text", "value": seed["pql"]},
        "mergePolicyId": defaults.DEFAULT_MERGE_POLICY_ID,
        "evaluationInfo": {
            "batch": {"enabled": True},
            "continuous": {"enabled": False},
            "synchronous": {"enabled": False},
        },
        "dataGovernancePolicy": {"excludeOptOut": True},
        "creationTime": _SEEDED_MS,
        "baselineTime": _SEEDED_MS // 1000,
        "updateEpoch": _SEEDED_MS // 1000,
        "updateTime": _SEEDED_MS,
    }


def _policy(scope: Scope, seed: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": seed["id"],
        "name": seed["name"],
        "imsOrgId": scope.org,
        "sandbox": _sandbox(scope),
        "schema": {"name": defaults.PROFILE_SCHEMA_NAME},
        "version": 1,
        "identityGraph": seed["identityGraph"],
        "attributeMerge": seed["attributeMerge"],
        "default": seed["id"] == defaults.DEFAULT_MERGE_POLICY_ID,
        "updateEpoch": _SEEDED_MS // 1000,
    }


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    value = natural(raw)
    if value is None or not low <= value <= high:
        raise bad_request(f"{name}: expected an integer from {low} to {high}", "UPS")
    return value


@router.get(
    SEGMENTS, summary="List segment definitions", responses={200: json_content(_OBJECT), **ERRORS}
)
def list_segments(request: Request, scope: PlatformScope) -> JSONResponse:
    """{segments, page, link} (segment-definitions guide)."""
    limit = _int(request, "limit", 100, 1, 1000)
    start = (
        _int(request, "start", 0, 0, 1_000_000)
        + (_int(request, "page", 1, 1, 1_000_000) - 1) * limit
    )
    every = [_segment(scope, s) for s in defaults.SEGMENTS]
    page = every[start : start + limit]
    total = len(every)
    return JSONResponse(
        {
            "segments": page,
            "page": {
                "totalCount": total,
                "totalPages": -(-total // limit),
                "sortField": "creationTime",
                "sort": "desc",
                "pageSize": len(page),
                "limit": limit,
            },
            "link": {},
        }
    )


@router.get(
    SEGMENTS + "/{segment_id}",
    summary="Get a segment definition",
    responses={200: json_content(_OBJECT), **ERRORS},
)
def get_segment(segment_id: str, scope: PlatformScope) -> JSONResponse:
    """The bare definition, with profileInstanceId."""
    for seed in defaults.SEGMENTS:
        if seed["id"] == segment_id:
            return JSONResponse({**_segment(scope, seed), "profileInstanceId": "ups"})
    raise not_found(f"Segment definition {segment_id} was not found", "UPS")


@router.get(
    POLICIES, summary="List merge policies", responses={200: json_content(_OBJECT), **ERRORS}
)
def list_policies(request: Request, scope: PlatformScope) -> JSONResponse:
    """{_page, children, _links} (merge-policies guide); default, limit, start, orderBy."""
    limit = _int(request, "limit", 20, 1, 100)
    start = _int(request, "start", 0, 0, 1_000_000)
    every = [_policy(scope, p) for p in defaults.MERGE_POLICIES]
    wanted = request.query_params.get("default")
    if wanted is not None:
        if wanted not in ("true", "false"):
            raise bad_request("default: expected true or false", "UPS")
        every = [p for p in every if p["default"] == (wanted == "true")]
    order = request.query_params.get("orderBy", "name")
    if order.lstrip("+-") != "name":
        raise bad_request("orderBy: expected name, +name or -name", "UPS")
    every.sort(key=lambda p: str(p["name"]), reverse=order.startswith("-"))
    page = every[start : start + limit]
    more = start + limit < len(every)
    nxt = f"@/mergePolicies?start={start + limit}&orderBy={order}&limit={limit}" if more else ""
    return JSONResponse(
        {
            "_page": {"totalCount": len(every), "pageSize": len(page)},
            "children": page,
            "_links": {"next": {"href": nxt}},
        }
    )


@router.get(
    POLICIES + "/{policy_id}",
    summary="Get a merge policy",
    responses={200: json_content(_OBJECT), **ERRORS},
)
def get_policy(policy_id: str, scope: PlatformScope) -> JSONResponse:
    """The bare policy object."""
    for seed in defaults.MERGE_POLICIES:
        if seed["id"] == policy_id:
            return JSONResponse(_policy(scope, seed))
    raise not_found(f"Merge policy {policy_id} was not found", "UPS")
