"""Reading what went wrong with a request: connection failures, request ids, the Date header."""

from __future__ import annotations

import socket
from datetime import UTC
from email.utils import parsedate_to_datetime

import requests
import urllib3

_EAI_NONAME = -2  # socket.EAI_NONAME: the name does not exist (not a resolver hiccup)


def request_id(response: requests.Response) -> str | None:
    for header in ("x-request-id", "x-adobe-request-id", "request-id"):
        value = response.headers.get(header)
        if value:
            return value
    return None


def root_cause(exc: BaseException) -> BaseException:
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


def connect_failure(exc: requests.RequestException) -> BaseException | None:
    """The error that shows the connection was never established, so the request never left."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return exc
    reason: BaseException = exc
    for _ in range(10):  # exception chains are short; the bound only guards against cycles
        if isinstance(reason, urllib3.exceptions.NewConnectionError):
            return reason
        if isinstance(reason, urllib3.exceptions.MaxRetryError) and reason.reason is not None:
            inner: BaseException | None = reason.reason
        else:
            inner = next((a for a in reason.args if isinstance(a, BaseException)), None)
        if inner is None:
            return None
        reason = inner
    return None


def name_unknown(failure: BaseException) -> bool:
    """Whether DNS said the host name does not exist (no point in asking again)."""
    if not isinstance(failure, urllib3.exceptions.NameResolutionError):
        return False
    causes = [*failure.args, failure.__cause__, failure.__context__]
    return any(isinstance(c, socket.gaierror) and c.errno == _EAI_NONAME for c in causes)


def describe(exc: requests.RequestException, connect_timeout: float, timeout: float) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"could not connect within {connect_timeout:g} s"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"no answer within {timeout:g} s"
    failure = connect_failure(exc)
    if isinstance(failure, urllib3.exceptions.NameResolutionError):
        return "could not connect: the host name does not resolve (DNS)"
    if failure is not None:
        if "refused" in str(failure).lower():
            return "could not connect: connection refused"
        return "could not connect"
    return f"connection dropped ({type(root_cause(exc)).__name__})"


def parse_http_date_ms(value: str | None) -> int | None:
    """Milliseconds since the epoch from an HTTP `Date` header; None when absent or unusable."""
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)
