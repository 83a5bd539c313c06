"""One HTTP session with auth headers, timeouts, rate limit, retries and a log line per request.

Retry rules (docs/client.md has them as a table): GET, PATCH (a JSON merge, so repeating it is
harmless) and the IMS token request are retried on connection errors and on 408, 429, 500, 502,
503, 504 within a total time budget. A POST or a DELETE is resent only when the platform clearly
did not act on it: a 429, or a connection that was never established. Once it may have reached
the platform (dropped connection, read timeout, 408, any 5xx) it raises `OutcomeUnknown`: a 5xx
from the gateway does not prove the service did not carry it out, and a second job DELETE may
delete the record the first one cancelled. A 401 fetches a new token once and repeats the call
once, for every method. When nothing answers at all (DNS failure, connection refused) the call
gives up within `unreachable_seconds` with `UnreachableError`, naming the URL and its variable.
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
from requests.adapters import HTTPAdapter

from reconciler.platform.auth import Credentials, Endpoints, TokenCache
from reconciler.platform.errors import (
    AuthError,
    NotFoundError,
    OutcomeUnknown,
    PlatformError,
    TransportError,
    UnexpectedResponseError,
    UnreachableError,
    ValidationError,
    error_for_status,
)
from reconciler.platform.failures import (
    connect_failure,
    describe,
    name_unknown,
    request_id,
)
from reconciler.platform.failures import parse_http_date_ms as parse_http_date_ms  # re-exported
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

# Methods resent after an attempt that may have reached the platform.
RESENDABLE_METHODS = frozenset({"GET", "HEAD", "PATCH"})
# Statuses after which a POST or DELETE may have been carried out.
AMBIGUOUS_STATUSES = frozenset({408}) | frozenset(range(500, 600))
_NOT_SENT = (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)
_MIN_WAIT = 0.05  # seconds: less than this left of the unreachable window is not worth a retry


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
        notify: Callable[[str], None] | None = None,
        notify_after: float = 2.0,
        unreachable_seconds: float = 4.0,
        connect_timeout: float = 5.0,
    ) -> None:
        self.endpoints = endpoints
        self.credentials = credentials
        self.sandbox = sandbox
        self.timeout = timeout
        self.connect_timeout = min(timeout, connect_timeout)
        self.retry_budget = retry_budget
        self.unreachable_seconds = unreachable_seconds
        self.backoff = backoff or Backoff()
        self._sleep = sleep
        self._notify = notify
        self.notify_after = notify_after
        self._clock_lock = threading.Lock()
        # (platform ms - local monotonic ms) from the newest Date header; None before any answer.
        self._clock_offset_ms: float | None = None
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

    def platform_now_ms(self) -> int | None:
        """The platform's clock: the newest `Date` header plus the local time elapsed since."""
        with self._clock_lock:
            offset = self._clock_offset_ms
        return None if offset is None else int(offset + time.monotonic() * 1000)

    def _note_date(self, response: requests.Response, received: float) -> None:
        date_ms = parse_http_date_ms(response.headers.get("Date"))
        if date_ms is None:
            return
        offset = date_ms - received * 1000
        with self._clock_lock:
            previous = self._clock_offset_ms
            # A Date header has whole seconds, so each answer's offset is up to 1 s low: keep
            # the higher one while they agree within that, follow any larger move (a clock step).
            if previous is None or not previous - 1000 <= offset <= previous:
                self._clock_offset_ms = offset

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
        resend: bool | None = None,
        deadline: float | None = None,
    ) -> requests.Response:
        """An authenticated call to `{platform}{path}`; raises a `PlatformError` on failure.

        A POST or DELETE that may have reached the platform without a readable answer raises
        `OutcomeUnknown`; it is never resent, unless `resend=True` says a second copy is harmless
        (a preview job: nothing durable; docs/client.md). `deadline` (time.monotonic()) bounds
        the call, its timeouts and retries included, more tightly than the retry budget.
        """
        return self._call(
            method,
            self.endpoints.platform + path,
            params=params,
            json=json,
            accept=accept,
            authenticated=True,
            resend=method in RESENDABLE_METHODS if resend is None else resend,
            base=(self.endpoints.platform, self.endpoints.platform_source),
            deadline=deadline,
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
                resend=True,
                base=(self.endpoints.ims, self.endpoints.ims_source),
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
        resend: bool,
        base: tuple[str, str],
        deadline: float | None = None,
    ) -> requests.Response:
        path = urlsplit(url).path
        budget = RetryBudget(self.retry_budget)
        attempt = 0
        reauthenticated = False
        # While nothing answers: when the first attempt that could not connect started, and the
        # longest such attempt (a connect timeout), kept in reserve for the next one.
        unreachable_since: float | None = None
        unreachable_attempt = 0.0
        while True:
            headers, token = self._headers(authenticated, accept)
            retry_after: float | None = None
            sent_at = time.monotonic()
            try:
                response = self._send(
                    method, url, path, params, json, data, headers, deadline=deadline
                )
            except requests.RequestException as exc:
                reason = describe(exc, self.connect_timeout, self.timeout)
                if isinstance(exc, _NOT_SENT):
                    raise TransportError(reason, method=method, path=path) from None
                refused = connect_failure(exc)
                if refused is None:
                    if not resend:
                        raise OutcomeUnknown(
                            f"the connection failed after the request was sent ({reason}), "
                            "so it may have been carried out",
                            method=method,
                            path=path,
                        ) from None
                    error: PlatformError = TransportError(reason, method=method, path=path)
                    unreachable_since = None
                else:
                    error = UnreachableError(
                        f"nothing answers at {base[0]} (set by {base[1]}): {reason}",
                        url=base[0],
                        source=base[1],
                        method=method,
                        path=path,
                    )
                    if name_unknown(refused):
                        raise error from None
                    if unreachable_since is None:
                        unreachable_since = sent_at
                    unreachable_attempt = max(unreachable_attempt, time.monotonic() - sent_at)
                why = reason
            else:
                if authenticated:  # the platform's clock, not IMS's
                    self._note_date(response, time.monotonic())
                unreachable_since = None
                status = response.status_code
                if status < 400:
                    return response
                if status == 401 and token is not None and not reauthenticated:
                    # An expired or revoked token: one new token, one repeat of the call.
                    reauthenticated = True
                    self.tokens.invalidate(token)
                    continue
                error = error_for_status(
                    status,
                    response.content,
                    request_id=request_id(response),
                    method=method,
                    path=path,
                )
                if not resend and status in AMBIGUOUS_STATUSES:
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
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                why = f"HTTP {status}"
            wait = next_wait(attempt, retry_after, self.backoff, self._rng)
            if unreachable_since is not None:
                # Keep trying until the window is used up (the last wait shortened to fit), so
                # the give-up time does not depend on the jitter.
                waited = time.monotonic() - unreachable_since
                left = self.unreachable_seconds - waited - unreachable_attempt
                if left < _MIN_WAIT:
                    error.extend(f"(gave up after {attempt + 1} attempts in {waited:.1f} s)")
                    raise error
                wait = min(wait, left)
            if deadline is not None and time.monotonic() + wait >= deadline:
                error.extend(f"(gave up after {attempt + 1} attempts: out of time for this call)")
                raise error
            if not budget.allows(wait):
                error.extend(
                    f"(gave up after {attempt + 1} attempts in "
                    f"{budget.seconds - budget.remaining():.1f} s; retry budget {budget.seconds:g} s)"
                )
                raise error
            log.info("retry %s %s in %.2f s (%s)", method, path, wait, error.message)
            if self._notify is not None and budget.seconds - budget.remaining() + wait > (
                self.notify_after
            ):
                self._notify(
                    f"waiting {wait:.1f} s for {method} {path} ({why}, attempt {attempt + 2})"
                )
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
        *,
        deadline: float | None = None,
    ) -> requests.Response:
        connect, read = self.connect_timeout, self.timeout
        if deadline is not None:
            left = max(0.05, deadline - time.monotonic())
            connect, read = min(connect, left), min(read, left)
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
                timeout=(connect, read),
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            elapsed = (time.monotonic() - started) * 1000
            log.info("%s %s ERR %dms (%s)", method, redact(shown), elapsed, type(exc).__name__)
            raise
        elapsed = (time.monotonic() - started) * 1000
        log.info("%s %s %d %dms", method, redact(shown), response.status_code, elapsed)
        return response
