"""Settings -> PlatformClient: the real API for `platform: adobe`, the emulator for `local`.

With `platform: local` the emulator runs in-process on `.reconciler/emulator/` (so a fresh clone
needs nothing else running), unless `RECONCILER_LOCAL_ENDPOINT` points at one already running.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from reconciler.config import Settings
from reconciler.errors import ReconcilerError
from reconciler.platform import Credentials, Endpoints, PlatformClient, credentials_from_env

LOCAL_ENDPOINT_ENV = "RECONCILER_LOCAL_ENDPOINT"
EMULATOR_DATA_DIR = Path(".reconciler") / "emulator"


class BadLocalEndpoint(ReconcilerError):
    """RECONCILER_LOCAL_ENDPOINT is set but is not a base URL, or nothing answers there."""


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
    return Endpoints(platform=url, ims=url)


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


@contextmanager
def connect(
    settings: Settings, *, env: Mapping[str, str] | None = None, max_workers: int = 8
) -> Iterator[PlatformClient]:
    """Open a client for the settings' platform and sandbox; stop what was started on exit."""
    environ = os.environ if env is None else env
    if settings.platform == "adobe":
        endpoints, credentials = credentials_from_env(environ)
        with PlatformClient(
            endpoints,
            credentials,
            settings.sandbox,
            max_workers=max_workers,
            rate_limit=settings.requests_per_second,
        ) as client:
            yield client
        return
    external = environ.get(LOCAL_ENDPOINT_ENV, "").strip()
    if external:
        endpoints = local_endpoints(external)
        _check_reachable(endpoints.platform)
        with PlatformClient(
            endpoints,
            local_credentials(),
            settings.sandbox,
            max_workers=max_workers,
            rate_limit=settings.requests_per_second,
        ) as client:
            yield client
        return
    # Imported here: the web framework is only needed when the emulator is embedded.
    from reconciler.emulator.server import start_in_thread

    with (
        start_in_thread(settings.project_dir / EMULATOR_DATA_DIR) as emulator,
        PlatformClient(
            local_endpoints(emulator.base_url),
            local_credentials(),
            settings.sandbox,
            max_workers=max_workers,
            rate_limit=settings.requests_per_second,
        ) as client,
    ):
        yield client
