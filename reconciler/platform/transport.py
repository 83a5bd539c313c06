"""One HTTP session with auth headers, timeouts, rate limit, retries and a log line per request.

Retry rules: GET, DELETE and PATCH (a JSON merge, so repeating it is harmless) are retried on
connection errors and on 429, 502, 503, 504 within a total time budget. A POST is retried only
when the platform clearly refused it: a 429, or a connection that was never established. A POST
whose request may have reached the platform (dropped connection, read timeout, any 5xx) raises
`OutcomeUnknown`: a 5xx from the gateway does not prove the service did not commit the write.
A 401 fetches a new token once and repeats the call once, for every method.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from reconciler.platform.auth import Credentials, Endpoints, TokenCache
from reconciler.platform.errors import (
    AuthError,
    NotFoundError,
    OutcomeUnknown,
    PlatformError,
    TransportError,
    UnexpectedResponseError,
    ValidationError,
    error_for_status,
)
from reconciler.platform.logs import REQUEST_LOGGER
from reconciler.platform.ratelimit import TokenBucket
from reconciler.platform.redact import redact, register_secret
from reconciler.platform.retry import (
    RETRYABLE_STATUSES,
    Backoff,
    RetryBudget,
    next_wait,
    parse_retry_after,
)

log = logging.getLogger(REQUEST_LOGGER)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "DELETE", "PATCH"})
_NOT_SENT = (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)


class Transport:
    """Sends requests for a `PlatformClient`; the engine never sees a `requests` exception."""

    def __init__(
        self,
        endpoints: Endpoints,
        credentials: Credentials,
        sandbox: str,
        *,
        timeout: float,
        retry_budget: float,
        pool_size: int,
        rate_limit: float | None,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoints = endpoints
        self.credentials = credentials
        self.sandbox = sandbox
        self.timeout = timeout
        self.retry_budget = retry_budget
        self.backoff = backoff or Backoff()
        self._sleep = sleep
        self._rng = random.Random()
        self._limiter = TokenBucket(rate_limit) if rate_limit else None
        self._calls = 0
        self._calls_lock = threading.Lock()
        self.session = requests.Session()
        # No urllib3-level retries: every retry decision is made (and logged) here.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(1, pool_size), max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.tokens = TokenCache(self._fetch_token)

    @property
    def calls(self) -> int:
        """HTTP requests sent so far, including token requests and retries."""
        return self._calls

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def platform(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        accept: str = "application/json",
    ) -> requests.Response:
        """An authenticated call to `{platform}{path}`; raises a `PlatformError` on failure.

        A DELETE repeated after a lost answer may meet 404 (the first one worked): that 404
        is returned, not raised, so the caller can treat it as done.
        """
        return self._call(
            method,
            self.endpoints.platform + path,
            params=params,
            json=json,
            accept=accept,
            authenticated=True,
            idempotent=method in IDEMPOTENT_METHODS,
        )

    def _fetch_token(self) -> tuple[str, float]:
        try:
            response = self._call(
                "POST",
                self.endpoints.ims + "/ims/token/v3",
                data={
                    "client_id": self.credentials.client_id,
                    "client_secret": self.credentials.client_secret,
                    "grant_type": "client_credentials",
                    "scope": ",".join(self.credentials.scopes),
                },
                authenticated=False,
                # Asking IMS for a token twice creates nothing: safe to repeat.
                idempotent=True,
            )
        except (ValidationError, NotFoundError) as exc:
            # IMS answers 400 invalid_client / invalid_scope: still a credentials problem.
            raise AuthError(
                exc.message,
                status=exc.status,
                code=exc.code,
                request_id=exc.request_id,
                method=exc.method,
                path=exc.path,
            ) from None
        try:
            body = response.json()
            token = str(body["access_token"])
            expires_in = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise UnexpectedResponseError(
                f"IMS answered without a usable access_token ({type(exc).__name__})",
                status=response.status_code,
                method="POST",
                path="/ims/token/v3",
            ) from None
        register_secret(token)
        return token, expires_in

    def _headers(self, authenticated: bool, accept: str) -> tuple[dict[str, str], str | None]:
        if not authenticated:
            return {"Accept": accept}, None
        token = self.tokens.get()
        return {
            "Accept": accept,
            "Authorization": f"Bearer {token}",
            "x-api-key": self.credentials.client_id,
            "x-gw-ims-org-id": self.credentials.org_id,
            "x-sandbox-name": self.sandbox,
        }, token

    def _call(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        accept: str = "application/json",
        authenticated: bool,
        idempotent: bool,
    ) -> requests.Response:
        path = urlsplit(url).path
        budget = RetryBudget(self.retry_budget)
        attempt = 0
        reauthenticated = False
        # Set once an attempt may have taken effect without our seeing the answer.
        maybe_done = False
        while True:
            headers, token = self._headers(authenticated, accept)
            retry_after: float | None = None
            try:
                response = self._send(method, url, path, params, json, data, headers)
            except requests.RequestException as exc:
                reason = _describe(exc, self.timeout)
                error: PlatformError = TransportError(reason, method=method, path=path)
                if isinstance(exc, _NOT_SENT):
                    raise error from None
                arrived = _may_have_arrived(exc)
                maybe_done = maybe_done or arrived
                if not idempotent and arrived:
                    raise OutcomeUnknown(
                        f"the connection failed after the request was sent ({reason}), "
                        "so it may have been carried out",
                        method=method,
                        path=path,
                    ) from None
            else:
                status = response.status_code
                if status < 400 or (method == "DELETE" and status == 404 and maybe_done):
                    return response
                if status == 401 and token is not None and not reauthenticated:
                    # An expired or revoked token: one new token, one repeat of the call.
                    reauthenticated = True
                    self.tokens.invalidate(token)
                    continue
                error = error_for_status(
                    status,
                    response.content,
                    request_id=_request_id(response),
                    method=method,
                    path=path,
                )
                if not idempotent and status >= 500:
                    raise OutcomeUnknown(
                        f"the platform answered {status} ({error.message}), which does not say "
                        "whether the request was carried out",
                        status=status,
                        code=error.code,
                        request_id=error.request_id,
                        method=method,
                        path=path,
                    )
                if status not in RETRYABLE_STATUSES:
                    raise error
                maybe_done = maybe_done or status >= 500
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            wait = next_wait(attempt, retry_after, self.backoff, self._rng)
            if not budget.allows(wait):
                error.extend(
                    f"(gave up after {attempt + 1} attempts in "
                    f"{budget.seconds - budget.remaining():.1f} s; retry budget {budget.seconds:g} s)"
                )
                raise error
            log.info("retry %s %s in %.2f s (%s)", method, path, wait, error.message)
            self._sleep(wait)
            attempt += 1

    def _send(
        self,
        method: str,
        url: str,
        path: str,
        params: Mapping[str, str | int] | None,
        json: Any,
        data: Mapping[str, str] | None,
        headers: dict[str, str],
    ) -> requests.Response:
        if self._limiter is not None:
            self._limiter.acquire()
        with self._calls_lock:
            self._calls += 1
        shown = path + ("?" + urlencode(params) if params else "")
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                json=json,
                data=data,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            elapsed = (time.monotonic() - started) * 1000
            log.info("%s %s ERR %dms (%s)", method, redact(shown), elapsed, type(exc).__name__)
            raise
        elapsed = (time.monotonic() - started) * 1000
        log.info("%s %s %d %dms", method, redact(shown), response.status_code, elapsed)
        return response


def _request_id(response: requests.Response) -> str | None:
    for header in ("x-request-id", "x-adobe-request-id", "request-id"):
        value = response.headers.get(header)
        if value:
            return value
    return None


def _root_cause(exc: BaseException) -> BaseException:
    reason = exc
    for _ in range(10):  # exception chains are short; the bound only guards against cycles
        if isinstance(reason, urllib3.exceptions.MaxRetryError) and reason.reason is not None:
            inner: BaseException | None = reason.reason
        else:
            inner = next((a for a in reason.args if isinstance(a, BaseException)), None)
        if inner is None:
            break
        reason = inner
    return reason


def _may_have_arrived(exc: requests.RequestException) -> bool:
    """False only when the connection was never established, so the request never left."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    return not isinstance(_root_cause(exc), urllib3.exceptions.NewConnectionError)


def _describe(exc: requests.RequestException, timeout: float) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"could not connect within {timeout:g} s"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"no answer within {timeout:g} s"
    cause = _root_cause(exc)
    if isinstance(cause, urllib3.exceptions.NewConnectionError):
        return "could not connect (connection refused or host unknown)"
    return f"connection dropped ({type(cause).__name__})"
