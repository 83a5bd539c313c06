"""Helpers for the over-HTTP tests: the emulator's admin endpoints, clients, request bodies."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import requests

from reconciler.emulator import defaults
from reconciler.platform import Credentials, Endpoints, PlatformClient
from reconciler.platform.retry import Backoff

FAST_BACKOFF = Backoff(base=0.02, cap=0.1)


class Admin:
    """The emulator's /_emulator/ endpoints, for the default org and sandbox."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.session.request(
            method, f"{self.base_url}/_emulator/{path}", json=body, timeout=10
        )
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def fault(self, **fault: Any) -> None:
        self.call("POST", "faults", fault)

    def config(self, **changes: Any) -> None:
        self.call("POST", "config", changes)

    def advance_clock(self, seconds: float) -> None:
        self.call("POST", "clock", {"advance_seconds": seconds})

    def route_count(self, route: str) -> int:
        stats = self.call("GET", "stats")
        return int(stats["routes"].get(route, 0))


def credentials() -> Credentials:
    return Credentials(
        defaults.CLIENT_ID, defaults.CLIENT_SECRET, defaults.ORG_ID, tuple(defaults.SCOPES)
    )


def make_client(base_url: str, **options: Any) -> PlatformClient:
    options.setdefault("timeout", 5.0)
    options.setdefault("retry_budget", 5.0)
    options.setdefault("backoff", FAST_BACKOFF)
    return PlatformClient(Endpoints(base_url, base_url), credentials(), "prod", **options)


def dataset_body(name: str = "Profile Data Export") -> dict[str, Any]:
    return {
        "name": name,
        "schemaRef": {
            "id": "https://ns.adobe.com/xdm/context/profile__union",
            "contentType": "application/vnd.adobe.xed+json;version=1",
        },
    }


def job_body(dataset_id: str) -> dict[str, Any]:
    return {
        "fields": "identities.id,personalEmail.address",
        "destination": {"datasetId": dataset_id, "segmentPerBatch": False},
        "schema": {"name": "_xdm.context.profile"},
    }


# (method, path, status, body) -> (status, body) or (status, body, extra headers)
Rewrite = Callable[[str, str, int, bytes], tuple[int, bytes] | tuple[int, bytes, dict[str, str]]]
_FORWARDED = ("authorization", "x-api-key", "x-gw-ims-org-id", "x-sandbox-name", "content-type")
_RETURNED = ("content-type", "date", "x-request-id", "retry-after")


class RewritingProxy:
    """A real HTTP proxy in front of the emulator that rewrites chosen answers.

    For answers no emulator switch gives (a record the models cannot read, a 2xx body cut
    short): the request really reaches the emulator, only the answer is changed on its way back.
    `rewrite(method, path, status, body) -> (status, body[, extra headers])`.
    """

    def __init__(self, target: str, rewrite: Rewrite) -> None:
        upstream = requests.Session()

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() in _FORWARDED}
                answer = upstream.request(
                    self.command, target + self.path, data=body, headers=headers, timeout=30
                )
                changed = rewrite(
                    self.command, urlsplit(self.path).path, answer.status_code, answer.content
                )
                status, content = changed[0], changed[1]
                extra = changed[2] if len(changed) == 3 else {}
                self.send_response(status)
                for key, value in answer.headers.items():
                    if key.lower() in _RETURNED and key.lower() not in extra:
                        self.send_header(key, value)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_DELETE = _forward

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._upstream = upstream
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._upstream.close()

    def __enter__(self) -> RewritingProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rewrite_json(method: str, path_prefix: str, change: Callable[[Any], Any]) -> Rewrite:
    """A rewrite that applies `change` to the JSON answers of `method` on paths under a prefix."""

    def rewrite(m: str, path: str, status: int, body: bytes) -> tuple[int, bytes]:
        if m != method or not path.startswith(path_prefix) or not body:
            return status, body
        return status, json.dumps(change(json.loads(body))).encode()

    return rewrite
