"""Routes of the Data Access API: a batch's files, and their bytes."""

from __future__ import annotations

import json
import re

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from reconciler.emulator import batches
from reconciler.emulator.auth import PlatformScope
from reconciler.emulator.context import emulator_of
from reconciler.emulator.openapi_docs import ERRORS, FILES_LIST
from reconciler.emulator.params import natural
from reconciler.emulator.problems import bad_request, not_found

BASE = "/data/foundation/export"
router = APIRouter(tags=["Data access"])
_FILE_ID = re.compile(r"^([0-9a-f]{32})-1$")


def _page(request: Request) -> tuple[int, int]:
    params = request.query_params
    limit, start = params.get("limit", "100"), params.get("start", "0")
    size, first = natural(limit), natural(start)
    if size is None or not 1 <= size <= 100:
        raise bad_request("limit: expected an integer from 1 to 100", "DAS")
    if first is None:
        raise bad_request("start: expected a non-negative integer", "DAS")
    return first, size


@router.get(
    BASE + "/batches/{batch_id}/files",
    summary="List a batch's files",
    responses={200: FILES_LIST, **ERRORS},
)
def batch_files(request: Request, batch_id: str, scope: PlatformScope) -> JSONResponse:
    """One dataSetFile (<batchId>-1) per successful batch; none while it is not successful."""
    emu = emulator_of(request)
    start, limit = _page(request)
    batch = batches.readable(emu, scope, batch_id)
    entries = []
    if batch["status"] == "success":
        file_id = f"{batch_id}-1"
        entries.append(
            {
                "dataSetFileId": file_id,
                "dataSetViewId": batch["dataset_id"],
                "version": "1.0.0",
                # The Data Access tutorial shows created/updated as epoch-ms strings.
                "created": str(batch["completed_ms"]),
                "updated": str(batch["completed_ms"]),
                "isValid": True,
                "_links": {
                    "self": {"href": f"{str(request.base_url).rstrip('/')}{BASE}/files/{file_id}"}
                },
            }
        )
    page = entries[start : start + limit]
    return JSONResponse({"data": page, "_page": {"limit": limit, "count": len(entries)}})


@router.get(
    BASE + "/files/{file_id}",
    summary="List a file's parts, or read one with ?path=",
    responses={200: FILES_LIST, 206: {"description": "Partial content"}, **ERRORS},
)
@router.head(BASE + "/files/{file_id}", include_in_schema=False)
def read_file(request: Request, file_id: str, scope: PlatformScope) -> Response:
    """Without path: the parts (name, length, href). With path: the bytes (Range supported)."""
    emu = emulator_of(request)
    match = _FILE_ID.match(file_id)
    if match is None:
        raise not_found(f"File {file_id} was not found", "DAS")
    batch = batches.readable(emu, scope, match.group(1))
    if batch["status"] != "success":
        raise not_found(f"File {file_id} was not found (its batch is {batch['status']})", "DAS")
    path = request.query_params.get("path")
    if path is not None:
        on_disk = batches.file_path(emu, batch["id"], path)
        if on_disk is None or not on_disk.is_file():
            raise not_found(f"File {file_id} has no part named {path!r}", "DAS")
        return FileResponse(on_disk, media_type="application/parquet", filename=path)
    base = f"{str(request.base_url).rstrip('/')}{BASE}/files/{file_id}"
    parts = [
        {"name": name, "length": str(size), "_links": {"self": {"href": f"{base}?path={name}"}}}
        for name, size in json.loads(batch["files"])
    ]
    start, limit = _page(request)
    return JSONResponse(
        {"data": parts[start : start + limit], "_page": {"limit": limit, "count": len(parts)}}
    )
