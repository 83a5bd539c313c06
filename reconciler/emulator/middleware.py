"""The ASGI layer in front of the app: request counts, injected faults, x-request-id, Date."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from email.utils import formatdate

from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match
from starlette.types import Message, Receive, Scope, Send

from reconciler.emulator.clock import Clock
from reconciler.emulator.faults import EndpointFault, Faults, Stats, endpoint_key

# Gateway bodies of scheduled errors: {"error_code", "message"} as the gateway answers (TS: a 500
# may mean the API limit was reached; wait and try again). The codes are the emulator's.
_GATEWAY = {
    500: ("500000", "Internal Server Error: the API limit may have been reached; try again later"),
    502: ("502000", "Bad Gateway"),
    503: ("503000", "Service Unavailable"),
    504: ("504000", "Gateway Timeout"),
    429: ("429050", "Too many requests"),
}


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


def _with_date(send: Send, clock: Clock) -> Send:
    """A send that adds the HTTP Date header from the platform clock (uvicorn's own is off)."""

    async def dated(message: Message) -> None:
        if message["type"] == "http.response.start":
            date = formatdate(clock.now_ms() / 1000, usegmt=True).encode("ascii")
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
            message = {**message, "headers": [*headers, (b"date", date)]}
        await send(message)

    return dated


def _gateway_answer(status: int) -> JSONResponse:
    code, message = _GATEWAY[status]
    headers = {"Retry-After": "1"} if status == 429 else None
    return JSONResponse(
        {"error_code": code, "message": message}, status_code=status, headers=headers
    )


async def _send_late(messages: list[Message], send: Send, seconds: float) -> None:
    """Send an answer already computed, after seconds (the client may have given up by then)."""
    await asyncio.sleep(seconds)
    with contextlib.suppress(Exception):  # the client hung up: nobody is left to answer
        for message in messages:
            await send(message)


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
        self,
        app: FastAPI,
        faults: Faults,
        stats: Stats,
        routes: Sequence[BaseRoute],
        clock: Clock,
    ) -> None:
        self.app = app
        self.faults = faults
        self.stats = stats
        self.clock = clock
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

    def _scheduled(self, faults: list[EndpointFault]) -> tuple[str | None, float]:
        """The first non-"ok" entry taken from the matching faults' schedules (each consumed),
        with that fault's slow_seconds."""
        chosen: tuple[str | None, float] = (None, 0.0)
        for fault in faults:
            entry = self.faults.take_scheduled(fault)
            if chosen[0] is None and entry not in (None, "ok"):
                chosen = (entry, fault.slow_seconds)
        return chosen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Apply the schedule, latency, rate limit, errors and drops in that order, then the app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_send, send = send, _with_date(send, self.clock)
        if scope["path"].startswith("/_emulator"):
            await self.app(scope, receive, send)
            return
        key = self._route_key(scope)
        if key is None:  # not a platform route: /openapi.json, /docs, unknown paths
            await self.app(scope, receive, send)
            return
        self.stats.count(key)
        answer_with_id = _with_request_id(send)
        faults = self.faults.match(key)
        entry, slow = self._scheduled(faults)
        if entry is not None and entry.isdigit():
            await _gateway_answer(int(entry))(scope, receive, answer_with_id)
            return
        if entry == "commit_500":
            await self.app(scope, receive, _swallow)
            await _gateway_answer(500)(scope, receive, answer_with_id)
            return
        if entry == "commit_slow":
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            await self.app(scope, receive, hold)
            await _send_late(held, answer_with_id, slow)
            return
        drop = entry == "commit_drop"
        for fault in faults:
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
                if fault.error_body == "gateway":
                    await _gateway_answer(status)(scope, receive, answer_with_id)
                    return
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
            await _drop_connection(raw_send)
            return
        await self.app(scope, receive, answer_with_id)
