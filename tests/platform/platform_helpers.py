"""Helpers for the over-HTTP tests: the emulator's admin endpoints, clients, request bodies."""

from __future__ import annotations

from typing import Any

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
