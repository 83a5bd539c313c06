"""Settings -> PlatformClient: the real API for `platform: adobe`, the emulator for `local`.

With `platform: local` the emulator runs in-process on `.reconciler/emulator/` (so a fresh clone
needs nothing else running), unless `RECONCILER_LOCAL_ENDPOINT` points at one already running.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reconciler.config import Settings
from reconciler.errors import ReconcilerError
from reconciler.platform import Credentials, Endpoints, PlatformClient, credentials_from_env

LOCAL_ENDPOINT_ENV = "RECONCILER_LOCAL_ENDPOINT"
EMULATOR_PROFILE_ENV = "RECONCILER_EMULATOR_PROFILE"  # the embedded emulator's profile
HTTP_TIMEOUT_ENV = "RECONCILER_HTTP_TIMEOUT"  # seconds the client waits for an answer
DEFAULT_HTTP_TIMEOUT_S = 30.0
EMULATOR_DATA_DIR = Path(".reconciler") / "emulator"


class BadLocalEndpoint(ReconcilerError):
    """RECONCILER_LOCAL_ENDPOINT is set but is not a base URL, or nothing answers there."""


class BadHttpTimeout(ReconcilerError):
    """RECONCILER_HTTP_TIMEOUT is set but is not a positive number of seconds."""


def http_timeout(environ: Mapping[str, str]) -> float:
    """The client's read timeout: RECONCILER_HTTP_TIMEOUT seconds, else 30."""
    raw = environ.get(HTTP_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_HTTP_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise BadHttpTimeout(
            f"{HTTP_TIMEOUT_ENV}='{raw}' is not a number of seconds between 0 and 3600; "
            "set it to e.g. 30 or unset it"
        )
    return value


def local_credentials() -> Credentials:
    """The credentials the emulator accepts by default (not a secret: they are public test values)."""
    from reconciler.emulator import defaults

    return Credentials(
        client_id=defaults.CLIENT_ID,
        client_secret=defaults.CLIENT_SECRET,
        org_id=defaults.ORG_ID,
        scopes=tuple(defaults.SCOPES),
    )


def local_endpoints(base_url: str) -> Endpoints:
    """One emulator base URL serves both IMS and the platform paths."""
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadLocalEndpoint(
            f"{LOCAL_ENDPOINT_ENV}='{base_url}' is not a base URL; "
            "set it to e.g. http://127.0.0.1:8080 or unset it to use the embedded emulator"
        )
    return _endpoints(url, LOCAL_ENDPOINT_ENV)


def _endpoints(url: str, source: str) -> Endpoints:
    """Endpoints naming the variable that set them (for "nothing answers" errors)."""
    return Endpoints(platform=url, ims=url, platform_source=source, ims_source=source)


def _check_reachable(base_url: str) -> None:
    """Fail in seconds, naming the variable, when nothing answers at the configured emulator."""
    import requests

    try:
        requests.get(f"{base_url}/_emulator/clock", timeout=5).raise_for_status()
    except requests.RequestException as exc:
        raise BadLocalEndpoint(
            f"no emulator answers at {base_url} ({LOCAL_ENDPOINT_ENV}: {type(exc).__name__}); "
            "start one with 'reconciler emulator serve' or unset the variable to use the "
            "embedded emulator"
        ) from None


def _client(
    endpoints: Endpoints,
    credentials: Credentials,
    settings: Settings,
    *,
    max_workers: int,
    timeout: float,
    notify: Callable[[str], None] | None,
) -> PlatformClient:
    return PlatformClient(
        endpoints,
        credentials,
        settings.sandbox,
        max_workers=max_workers,
        rate_limit=settings.requests_per_second,
        timeout=timeout,
        notify=notify,
    )


@contextmanager
def connect(
    settings: Settings,
    *,
    env: Mapping[str, str] | None = None,
    max_workers: int = 8,
    notify: Callable[[str], None] | None = None,
) -> Iterator[PlatformClient]:
    """Open a client for the settings' platform and sandbox; stop what was started on exit.

    `notify` gets a line while the client waits on retries (the command's events); the read
    timeout is RECONCILER_HTTP_TIMEOUT seconds (30 when unset).
    """
    environ = os.environ if env is None else env
    options: dict[str, Any] = {
        "max_workers": max_workers,
        "timeout": http_timeout(environ),
        "notify": notify,
    }
    if settings.platform == "adobe":
        endpoints, credentials = credentials_from_env(environ)
        with _client(endpoints, credentials, settings, **options) as client:
            yield client
        return
    external = environ.get(LOCAL_ENDPOINT_ENV, "").strip()
    if external:
        endpoints = local_endpoints(external)
        _check_reachable(endpoints.platform)
        with _client(endpoints, local_credentials(), settings, **options) as client:
            yield client
        return
    # Imported here: the web framework is only needed when the emulator is embedded.
    from reconciler.emulator.server import EmulatorStartError, start_in_thread

    profile = environ.get(EMULATOR_PROFILE_ENV, "").strip() or None
    try:
        embedded = start_in_thread(settings.project_dir / EMULATOR_DATA_DIR, profile=profile)
    except EmulatorStartError as exc:
        raise BadLocalEndpoint(
            f"the embedded local platform did not start: {exc}"
            + (f" (check {EMULATOR_PROFILE_ENV}='{profile}')" if profile else "")
        ) from None
    with (
        embedded as emulator,
        _client(
            _endpoints(emulator.base_url, "the embedded emulator"),
            local_credentials(),
            settings,
            **options,
        ) as client,
    ):
        yield client


def describe_platform(settings: Settings, env: Mapping[str, str] | None = None) -> str:
    """Which platform the commands talk to, in a few words (no credential)."""
    environ = os.environ if env is None else env
    if settings.platform == "adobe":
        from reconciler.platform.auth import DEFAULT_ENDPOINT

        return f"Adobe Experience Platform at {environ.get('AEP_ENDPOINT') or DEFAULT_ENDPOINT}"
    external = environ.get(LOCAL_ENDPOINT_ENV, "").strip()
    if external:
        return f"the local platform at {external}"
    profile = environ.get(EMULATOR_PROFILE_ENV, "").strip()
    return "the embedded local platform" + (f" ({profile} profile)" if profile else "")
