"""Credentials from the environment and the cached IMS access token."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from reconciler.errors import ReconcilerError
from reconciler.platform.redact import register_secret

DEFAULT_ENDPOINT = "https://platform.adobe.io"
DEFAULT_IMS_ENDPOINT = "https://ims-na1.adobelogin.com"
REQUIRED_ENV = ("AEP_CLIENT_ID", "AEP_CLIENT_SECRET", "AEP_ORG_ID", "AEP_SCOPES")


class CredentialsError(ReconcilerError):
    """The environment lacks a credential or holds a malformed endpoint."""


@dataclass(frozen=True)
class Credentials:
    """OAuth server-to-server credentials; the secret never appears in a repr."""

    client_id: str
    client_secret: str = field(repr=False)
    org_id: str
    scopes: tuple[str, ...]

    def __post_init__(self) -> None:
        register_secret(self.client_secret)


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of the platform and of IMS, without a trailing slash.

    `platform_source` and `ims_source` name where each URL came from (an environment variable),
    so "nothing answers" errors can say what to change.
    """

    platform: str
    ims: str
    platform_source: str = "AEP_ENDPOINT"
    ims_source: str = "AEP_IMS_ENDPOINT"


def _base_url(name: str, value: str) -> str:
    value = value.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise CredentialsError(f"{name} must be an http(s) URL such as {DEFAULT_ENDPOINT}")
    return value


def credentials_from_env(env: Mapping[str, str]) -> tuple[Endpoints, Credentials]:
    """Read AEP_CLIENT_ID, AEP_CLIENT_SECRET, AEP_ORG_ID, AEP_SCOPES and the optional endpoints."""
    missing = [name for name in REQUIRED_ENV if not env.get(name, "").strip()]
    if missing:
        raise CredentialsError(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set; "
            "platform: adobe reads its credentials from the environment "
            f"({', '.join(REQUIRED_ENV)})"
        )
    scopes = tuple(s.strip() for s in env["AEP_SCOPES"].split(",") if s.strip())
    if not scopes:
        raise CredentialsError("AEP_SCOPES holds no scope; set it to a comma-separated list")
    endpoints = Endpoints(
        platform=_base_url("AEP_ENDPOINT", env.get("AEP_ENDPOINT") or DEFAULT_ENDPOINT),
        ims=_base_url("AEP_IMS_ENDPOINT", env.get("AEP_IMS_ENDPOINT") or DEFAULT_IMS_ENDPOINT),
    )
    credentials = Credentials(
        client_id=env["AEP_CLIENT_ID"].strip(),
        client_secret=env["AEP_CLIENT_SECRET"].strip(),
        org_id=env["AEP_ORG_ID"].strip(),
        scopes=scopes,
    )
    return endpoints, credentials


def refresh_margin(expires_in: float) -> float:
    """How long before expiry a token is replaced: a tenth of its life, at most five minutes."""
    return min(300.0, max(0.0, expires_in) / 10)


class TokenCache:
    """Holds one access token until shortly before it expires; fetches under a lock."""

    def __init__(
        self,
        fetch: Callable[[], tuple[str, float]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self.fetches = 0

    def get(self) -> str:
        """The cached token, or a new one when it is missing or about to expire."""
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                token, expires_in = self._fetch()
                self.fetches += 1
                self._token = token
                self._refresh_at = self._clock() + expires_in - refresh_margin(expires_in)
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget `token` (refused by the platform) unless another thread already replaced it."""
        with self._lock:
            if self._token == token:
                self._token = None
