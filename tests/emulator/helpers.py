"""HTTP helpers for the emulator tests: a token, and an Api bound to one org and sandbox."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import requests

from reconciler.emulator import defaults

UNION = {
    "id": "https://ns.adobe.com/xdm/context/profile__union",
    "contentType": "application/vnd.adobe.xed+json;version=1",
}
JOBS = "/data/core/ups/export/jobs"
DATASETS = "/data/foundation/catalog/dataSets"


def get_token(
    base_url: str, client_id: str = defaults.CLIENT_ID, secret: str = defaults.CLIENT_SECRET
) -> str:
    """A fresh access token from the emulator's IMS."""
    answer = requests.post(
        f"{base_url}/ims/token/v3",
        data={
            "client_id": client_id,
            "client_secret": secret,
            "grant_type": "client_credentials",
            "scope": ",".join(defaults.SCOPES),
        },
        timeout=10,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


@dataclass
class Api:
    """Talks to one emulator as one client, org and sandbox."""

    base_url: str
    token: str
    sandbox: str = "prod"
    org: str = defaults.ORG_ID
    client_id: str = defaults.CLIENT_ID
    session: requests.Session = field(default_factory=requests.Session)

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "x-api-key": self.client_id,
            "x-gw-ims-org-id": self.org,
            "x-sandbox-name": self.sandbox,
        }

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return self.session.request(
            method, self.base_url + path, headers=headers, timeout=30, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)

    def admin(self, method: str, path: str, json: Any = None) -> requests.Response:
        """An /_emulator/ call in this org and sandbox (no token)."""
        headers = {"x-gw-ims-org-id": self.org, "x-sandbox-name": self.sandbox}
        return self.session.request(
            method, f"{self.base_url}/_emulator{path}", json=json, headers=headers, timeout=30
        )

    def in_sandbox(self, sandbox: str) -> Api:
        return replace(self, sandbox=sandbox, session=requests.Session())

    def advance(self, seconds: float) -> None:
        self.admin("POST", "/clock", {"advance_seconds": seconds}).raise_for_status()

    def create_dataset(self, name: str = "Profile Data Export", **extra: Any) -> str:
        answer = self.post(DATASETS, json={"name": name, "schemaRef": UNION, **extra})
        assert answer.status_code == 201, answer.text
        ref = answer.json()[0]
        assert ref.startswith("@/dataSets/")
        return str(ref.rsplit("/", 1)[1])

    def create_job(self, dataset_id: str, **body: Any) -> dict[str, Any]:
        payload = {
            "destination": {"datasetId": dataset_id},
            "schema": {"name": "_xdm.context.profile"},
            **body,
        }
        answer = self.post(JOBS, json=payload)
        assert answer.status_code == 200, answer.text
        record: dict[str, Any] = answer.json()
        return record

    def job(self, job_id: int) -> dict[str, Any]:
        answer = self.get(f"{JOBS}/{job_id}")
        assert answer.status_code == 200, answer.text
        record: dict[str, Any] = answer.json()
        return record
