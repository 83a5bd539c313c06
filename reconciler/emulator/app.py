"""The FastAPI application: routers, platform-style error answers, and the fault layer."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from reconciler.emulator import (
    admin,
    auth,
    catalog,
    data_access,
    estimates,
    jobs_api,
    profile_config,
)
from reconciler.emulator.context import Emulator
from reconciler.emulator.middleware import FaultMiddleware
from reconciler.emulator.problems import ApiError, service_error

_log = logging.getLogger("reconciler.emulator")


def create_app(data_dir: Path, *, token_ttl_seconds: int | None = None) -> FaultMiddleware:
    """The emulator as an ASGI app over data_dir (created if missing)."""
    emu = Emulator(data_dir)
    if token_ttl_seconds is not None:
        emu.set_config(replace(emu.config, token_ttl_seconds=token_ttl_seconds))
    app = FastAPI(
        title="AEP export reconciler: local platform",
        description="An emulator of the documented Adobe Experience Platform endpoints "
        "(IMS, Catalog, Profile/Segmentation export jobs, previews and estimates, Data Access).",
        version="1",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.emulator = emu
    platform = (
        auth.router,
        catalog.router,
        jobs_api.router,
        profile_config.router,
        estimates.router,
        data_access.router,
    )
    for router in (*platform, admin.router):
        app.include_router(router)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return service_error(400, f"{where}: {first.get('msg', 'invalid request')}").response()

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        detail = (
            f"No route {request.method} {request.url.path}"
            if exc.status_code in (404, 405)
            else str(exc.detail)
        )
        return service_error(exc.status_code, detail).response()

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        _log.exception("emulator bug on %s %s", request.method, request.url.path)
        return service_error(500, f"Emulator error: {type(exc).__name__}").response()

    routes = [route for router in platform for route in router.routes]
    return FaultMiddleware(app, emu.faults, emu.stats, routes, emu.clock)
