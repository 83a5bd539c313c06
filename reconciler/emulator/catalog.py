"""Routes of the Catalog service: datasets and batches."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from reconciler.emulator import batches, catalog_query, datasets
from reconciler.emulator.auth import PlatformScope
from reconciler.emulator.body import json_body
from reconciler.emulator.context import Emulator, Scope, emulator_of
from reconciler.emulator.faults import endpoint_key
from reconciler.emulator.openapi_docs import (
    DATASET_MAP,
    DATASET_PATCH,
    DATASET_REQUEST,
    ERRORS,
    REFERENCE_LIST,
)
from reconciler.emulator.problems import bad_request

BASE = "/data/foundation/catalog"
router = APIRouter(tags=["Catalog"])


def _start(emu: Emulator, path: str, raw: str | None) -> int:
    """The start parameter, unless the faults say this listing ignores it (listing ignore_start)."""
    start = catalog_query.parse_start(raw)
    return 0 if emu.faults.listing(endpoint_key("GET", BASE + path)) == "ignore_start" else start


@router.post(
    BASE + "/dataSets",
    summary="Create a dataset",
    status_code=201,
    openapi_extra={"requestBody": DATASET_REQUEST},
    responses={201: REFERENCE_LIST, **ERRORS},
)
async def create_dataset(request: Request, scope: PlatformScope) -> JSONResponse:
    """201 with ["@/dataSets/<id>"] (api-facts.md)."""
    emu = emulator_of(request)
    body = await json_body(request)
    new_id = datasets.create(emu, scope, body, client=request.headers.get("x-api-key", ""))
    return JSONResponse(datasets.reference(new_id), status_code=201)


@router.get(BASE + "/dataSets", summary="List datasets", responses={200: DATASET_MAP, **ERRORS})
def list_datasets(request: Request, scope: PlatformScope) -> JSONResponse:
    """An object keyed by id; limit (default 20, max 100), start, properties, orderBy, filters."""
    emu = emulator_of(request)
    params = request.query_params
    limit = catalog_query.parse_limit(params.get("limit"))
    start = _start(emu, "/dataSets", params.get("start"))
    catalog_query.check(params.multi_items())
    items: list[tuple[str, catalog_query.Record]] = [
        (i, r)
        for i, r in datasets.all_in_scope(emu, scope)
        if catalog_query.matches(r, params.multi_items())
    ]
    items = catalog_query.order(items, params.get("orderBy"))[start : start + limit]
    props = params.get("properties")
    return JSONResponse({i: catalog_query.project(r, props) for i, r in items})


@router.get(
    BASE + "/dataSets/{dataset_ids}",
    summary="Look up one or more datasets (comma-separated ids)",
    responses={200: DATASET_MAP, **ERRORS},
)
def get_datasets(request: Request, dataset_ids: str, scope: PlatformScope) -> JSONResponse:
    """An object keyed by id; an E-Tag header (the version) when one id is asked for."""
    emu = emulator_of(request)
    ids = [i.strip() for i in dataset_ids.split(",") if i.strip()]
    if not ids:
        raise bad_request("Give at least one dataset id", "CAT")
    props = request.query_params.get("properties")
    found = {i: catalog_query.project(datasets.require(emu, scope, i), props) for i in ids}
    headers = {}
    if len(ids) == 1:
        version = datasets.require(emu, scope, ids[0]).get("version")
        headers["E-Tag"] = f'"{version}"'
    return JSONResponse(found, headers=headers)


@router.patch(
    BASE + "/dataSets/{dataset_id}",
    summary="Change a dataset (merge JSON or JSON Patch)",
    openapi_extra={"requestBody": DATASET_PATCH},
    responses={200: REFERENCE_LIST, **ERRORS},
)
async def patch_dataset(request: Request, dataset_id: str, scope: PlatformScope) -> JSONResponse:
    """200 with ["@/dataSets/<id>"]; schemaRef cannot change; If-Match checks the version."""
    emu = emulator_of(request)
    body = await json_body(request, also=("application/json-patch+json",))
    is_patch = request.headers.get("content-type", "").startswith("application/json-patch+json")
    if not is_patch and not isinstance(body, dict):
        raise bad_request("A merge PATCH body is a JSON object of the fields to change", "CAT")
    datasets.update(
        emu,
        scope,
        dataset_id,
        body,
        json_patch=is_patch,
        if_match=request.headers.get("if-match"),
        client=request.headers.get("x-api-key", ""),
    )
    return JSONResponse(datasets.reference(dataset_id))


@router.delete(
    BASE + "/dataSets/{dataset_id}",
    summary="Delete a dataset",
    responses={200: REFERENCE_LIST, **ERRORS},
)
def delete_dataset(request: Request, dataset_id: str, scope: PlatformScope) -> JSONResponse:
    """200 with ["@/dataSets/<id>"]."""
    datasets.delete(emulator_of(request), scope, dataset_id)
    return JSONResponse(datasets.reference(dataset_id))


def _batch_ids(scope: Scope, request: Request) -> list[str]:
    emu = emulator_of(request)
    with emu.store.tx() as db:
        rows = db.execute(
            "SELECT id FROM batches WHERE org = ? AND sandbox = ? ORDER BY created_ms, rowid",
            (scope.org, scope.sandbox),
        ).fetchall()
    return [r["id"] for r in rows]


@router.get(BASE + "/batches", summary="List batches", responses={200: DATASET_MAP, **ERRORS})
def list_batches(request: Request, scope: PlatformScope) -> JSONResponse:
    """Keyed by id; dataSet, status, createdAfter/Before, orderBy, limit, start."""
    emu = emulator_of(request)
    params = request.query_params
    limit = catalog_query.parse_limit(params.get("limit"))
    start = _start(emu, "/batches", params.get("start"))
    catalog_query.check(params.multi_items())
    items: list[tuple[str, catalog_query.Record]] = []
    for batch_id in _batch_ids(scope, request):
        record = batches.record(emu, scope, batches.row(emu, scope, batch_id))
        flat = {**record, "dataSet": record["relatedObjects"][0]["id"]}
        if catalog_query.matches(flat, params.multi_items()):
            items.append((batch_id, record))
    items = catalog_query.order(items, params.get("orderBy"))[start : start + limit]
    props = params.get("properties")
    return JSONResponse({i: catalog_query.project(r, props) for i, r in items})


@router.get(
    BASE + "/batches/{batch_id}", summary="Look up a batch", responses={200: DATASET_MAP, **ERRORS}
)
def get_batch(request: Request, batch_id: str, scope: PlatformScope) -> JSONResponse:
    """Keyed by id: status, relatedObjects (the dataset), metrics (recordsWritten, ...)."""
    emu = emulator_of(request)
    record = batches.record(emu, scope, batches.row(emu, scope, batch_id))
    return JSONResponse({batch_id: record})
