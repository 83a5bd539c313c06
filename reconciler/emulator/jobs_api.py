"""Routes of /data/core/ups/export/jobs (Profile and Segmentation guides)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from reconciler.emulator import job_record, jobs
from reconciler.emulator.auth import PlatformScope
from reconciler.emulator.body import json_body
from reconciler.emulator.context import emulator_of
from reconciler.emulator.faults import endpoint_key
from reconciler.emulator.job_request import SERVICE
from reconciler.emulator.openapi_docs import ERRORS, EXPORT_JOB_REQUEST, JOB_LIST, JOB_RECORD
from reconciler.emulator.params import natural
from reconciler.emulator.problems import bad_request

BASE = "/data/core/ups/export/jobs"
router = APIRouter(tags=["Export jobs"])

_SORT_FIELDS = {
    "createdTime": "creationTime",
    "creationTime": "creationTime",
    "updateTime": "updateTime",
    "id": "id",
    "status": "status",
}


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    value = natural(raw)
    if value is None or not low <= value <= high:
        raise bad_request(f"{name}: expected an integer from {low} to {high}, got {raw!r}", SERVICE)
    return value


@router.post(
    BASE,
    summary="Create an export job",
    openapi_extra={"requestBody": EXPORT_JOB_REQUEST},
    responses={200: JOB_RECORD, **ERRORS},
)
@router.post(BASE + "/", include_in_schema=False)
async def create_job(request: Request, scope: PlatformScope) -> JSONResponse:
    """Validate the body and its references; answer 200 with the NEW job (Segmentation guide)."""
    emu = emulator_of(request)
    body = await json_body(request)
    job = jobs.create(emu, scope, body)
    job, phase = jobs.observe(emu, job)
    return JSONResponse(job_record.render(emu, job, phase))


@router.get(BASE, summary="List export jobs, newest first", responses={200: JOB_LIST, **ERRORS})
@router.get(BASE + "/", include_in_schema=False)
def list_jobs(request: Request, scope: PlatformScope) -> JSONResponse:
    """Page by offset=<creationTime>_<id> (stable while jobs are created); start/page by position."""
    emu = emulator_of(request)
    params = request.query_params
    limit = _int_param(request, "limit", 20, 1, 100)
    start = _int_param(request, "start", 0, 0, 1_000_000)
    page = _int_param(request, "page", 1, 1, 1_000_000)
    status = params.get("status")
    if status is not None and status not in jobs.STATUSES:
        raise bad_request(f"status: expected one of {list(jobs.STATUSES)}, got {status!r}", SERVICE)
    sort_field, descending = None, True
    if "sort" in params:
        field, _, direction = params["sort"].partition(":")
        if field not in _SORT_FIELDS or direction not in ("", "asc", "desc"):
            raise bad_request(
                f"sort: expected <field>:<asc|desc> with field in {sorted(_SORT_FIELDS)}", SERVICE
            )
        sort_field, descending = _SORT_FIELDS[field], direction != "asc"
    candidates = jobs.all_in_scope(emu, scope)
    cursor = jobs.parse_cursor(params["offset"]) if "offset" in params else None
    # faults listing "repeat": every page is the first one while link.next moves on (a loop).
    repeat = emu.faults.listing(endpoint_key("GET", BASE)) == "repeat"
    if repeat:
        start, page = 0, 1
    elif cursor is not None:
        candidates = [j for j in candidates if (j.timeline.creation_ms, j.id) < cursor]
    observed = [jobs.observe(emu, j) for j in candidates]
    if status is not None:
        observed = [(j, p) for j, p in observed if p.status == status]
    skip = start + (page - 1) * limit
    window = observed[skip : skip + limit]
    records = [job_record.render(emu, j, p, listing=True) for j, p in window]
    if sort_field is not None:
        # The guide: sort does not work across pages; it orders the records of this page.
        records.sort(key=lambda r: (r[sort_field] is None, r[sort_field]), reverse=descending)
    page_offset = window[-1][0].cursor if window else ""
    if repeat and window:
        # A fresh offset on every page: one step before the offset asked for.
        last = window[-1][0]
        asked = cursor[0] if cursor is not None else last.timeline.creation_ms + 1
        page_offset = f"{asked - 1}_{last.id}"
    link: dict[str, str] = {}
    if len(observed) > skip + limit or (repeat and window):
        query: dict[str, Any] = {"limit": limit, "offset": page_offset}
        if status is not None:
            query["status"] = status
        # The seeds' form: /export/jobs/?limit=2&offset=1538573416687_722 (relative to the API).
        link["next"] = "/export/jobs/?" + urlencode(query)
    body = {
        "records": records,
        "page": {
            "sortField": "createdTime",
            "sort": "desc",
            "pageOffset": page_offset,
            "pageSize": len(records),
        },
        "link": link,
    }
    return JSONResponse(body)


@router.get(BASE + "/{job_id}", summary="Get an export job", responses={200: JOB_RECORD, **ERRORS})
def get_job(request: Request, job_id: str, scope: PlatformScope) -> JSONResponse:
    """The job record with its status as of now."""
    emu = emulator_of(request)
    job, phase = jobs.observe(emu, jobs.require(emu, scope, job_id))
    return JSONResponse(job_record.render(emu, job, phase))


@router.delete(
    BASE + "/{job_id}",
    summary="Cancel (in flight) or delete (finished) an export job",
    responses={
        200: {
            "description": "Segmentation guide style",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "status": {"type": "boolean"},
                            "message": {"type": "string"},
                        },
                        "required": ["status", "message"],
                    }
                }
            },
        },
        204: {"description": "Profile guide style: no body"},
        **ERRORS,
    },
)
def delete_job(request: Request, job_id: str, scope: PlatformScope) -> Response:
    """204 with no body (Profile guide) or 200 with a message (Segmentation guide), per config."""
    emu = emulator_of(request)
    outcome = jobs.cancel_or_delete(emu, jobs.require(emu, scope, job_id))
    # A marked cancel answers as the Segmentation guide shows it, whatever delete_style says.
    if emu.config.delete_style == "204" and emu.behaviour.cancel == "immediate":
        return Response(status_code=204)
    message = (
        "Export job has been marked for cancelling"
        if outcome in ("cancelled", "marked")
        else "Export job has been deleted"
    )
    return JSONResponse({"status": True, "message": message})
