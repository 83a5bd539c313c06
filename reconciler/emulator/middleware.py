"""The ASGI layer in front of the app: request counts, injected faults, x-request-id."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match
from starlette.types import Message, Receive, Scope, Send

from reconciler.emulator.faults import Faults, Stats, endpoint_key


async def _swallow(message: Message) -> None:
    """A send that discards the answer of a request whose connection will be dropped."""


def _with_request_id(send: Send) -> Send:
    """A send that adds an x-request-id header, as the platform's answers carry one."""
    request_id = uuid.uuid4().hex.encode("ascii")

    async def tagged(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", []), (b"x-request-id", request_id)]
            message = {**message, "headers": headers}
        await send(message)

    return tagged


async def _drop_connection(send: Send) -> None:
    # uvicorn's send is a bound method of its request cycle, which owns the transport: closing
    # it gives the client a connection closed without any answer, as a network failure would.
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("drop_after_commit needs the uvicorn server")
    transport.close()
    for _ in range(3):  # let uvicorn see the disconnect before the app returns
        await asyncio.sleep(0)


class FaultMiddleware:
    """Counts requests and applies faults to platform routes (never to /_emulator/)."""

    def __init__(
        self, app: FastAPI, faults: Faults, stats: Stats, routes: Sequence[BaseRoute]
    ) -> None:
        self.app = app
        self.faults = faults
        self.stats = stats
        self.routes = tuple(routes)  # the platform routes, matched here before the app runs

    def _route_key(self, scope: Scope) -> str | None:
        partial: str | None = None
        for route in self.routes:
            match, _ = route.matches(scope)
            path = getattr(route, "path", None)
            if path is None or match == Match.NONE:
                continue
            if match == Match.FULL:
                return endpoint_key(scope["method"], path)
            partial = partial or endpoint_key(scope["method"], path)
        return partial

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Apply latency, rate limit, errors and drops in that order, then the app."""
        if scope["type"] != "http" or scope["path"].startswith("/_emulator"):
            await self.app(scope, receive, send)
            return
        key = self._route_key(scope)
        if key is None:  # not a platform route: /openapi.json, /docs, unknown paths
            await self.app(scope, receive, send)
            return
        self.stats.count(key)
        answer_with_id = _with_request_id(send)
        drop = False
        for fault in self.faults.match(key):
            if fault.latency_ms:
                await asyncio.sleep(fault.latency_ms / 1000)
            wait = self.faults.retry_after(fault)
            if wait is not None:
                limited = {"error_code": "429050", "message": "Too many requests"}
                answer = JSONResponse(limited, status_code=429, headers={"Retry-After": str(wait)})
                await answer(scope, receive, answer_with_id)
                return
            if self.faults.roll_error(fault):
                status = fault.error_status
                body: dict[str, str | int] = {
                    "type": f"http://ns.adobe.com/aep/errors/EMU-5000-{status}",
                    "title": "ServiceUnavailableError" if status == 503 else "InternalServerError",
                    "status": status,
                    "detail": "Injected fault: the service could not answer; retry later.",
                }
                await JSONResponse(body, status_code=status)(scope, receive, answer_with_id)
                return
            drop = drop or self.faults.take_drop(fault)
        if drop:
            await self.app(scope, receive, _swallow)
            await _drop_connection(send)
            return
        await self.app(scope, receive, answer_with_id)
