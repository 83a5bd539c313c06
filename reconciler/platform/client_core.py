"""The client's core: the transport, the worker pool, the platform clock and paged reads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import requests
from pydantic import BaseModel

from reconciler.platform.answers import json_of, parse_model, unexpected
from reconciler.platform.auth import Credentials, Endpoints
from reconciler.platform.errors import NotFoundError
from reconciler.platform.estimates import Estimate
from reconciler.platform.models import SegmentDefinition
from reconciler.platform.paging import (
    catalog_entries,
    endless_message,
    item_key,
    no_new_ids_message,
)
from reconciler.platform.retry import Backoff
from reconciler.platform.transport import Transport

T = TypeVar("T")
R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)

CATALOG = "/data/foundation/catalog"
UPS = "/data/core/ups"
EXPORT = "/data/foundation/export"
# A listing that has not ended after this many pages is not going to: stop with an error.
MAX_PAGES = 5000
EstimateKey = tuple[str, str | None]


class ClientCore:
    """Authenticated, retried, rate-limited calls, a bounded worker pool, paged reads."""

    def __init__(
        self,
        endpoints: Endpoints,
        credentials: Credentials,
        sandbox: str,
        *,
        timeout: float = 30.0,
        retry_budget: float = 60.0,
        max_workers: int = 8,
        rate_limit: float | None = None,
        backoff: Backoff | None = None,
        notify: Callable[[str], None] | None = None,
        notify_after: float = 2.0,
        unreachable_seconds: float = 4.0,
    ) -> None:
        self.sandbox = sandbox
        self.max_workers = max(1, max_workers)
        self._transport = Transport(
            endpoints,
            credentials,
            sandbox,
            timeout=timeout,
            retry_budget=retry_budget,
            pool_size=self.max_workers,
            rate_limit=rate_limit,
            backoff=backoff,
            notify=notify,
            notify_after=notify_after,
            unreachable_seconds=unreachable_seconds,
        )
        self._pool: ThreadPoolExecutor | None = None
        # estimate_segments: settled estimates and previews still running, per (expression,
        # merge policy), for the life of this client.
        self._estimate_lock = threading.Lock()
        self._estimates: dict[EstimateKey, Estimate] = {}
        self._previews: dict[EstimateKey, str] = {}
        self.previews_started = 0
        # list_segment_definitions: the first complete listing, kept for the life of the client
        # (one command), so a plan's reference checks and its estimates share one listing.
        self._segment_definitions: tuple[SegmentDefinition, ...] | None = None

    @property
    def calls(self) -> int:
        """HTTP requests sent so far (token requests and retries included)."""
        return self._transport.calls

    def platform_now_ms(self) -> int | None:
        """The platform's clock (ms), from the newest `Date` header; None before any answer."""
        return self._transport.platform_now_ms()

    def platform_now(self) -> datetime | None:
        """The platform's clock as a UTC datetime; None before any answer."""
        now_ms = self.platform_now_ms()
        return None if now_ms is None else datetime.fromtimestamp(now_ms / 1000, UTC)

    def close(self) -> None:
        """Stop the worker pool and close pooled connections."""
        if self._pool is not None:
            # Queued estimate steps are dropped; a call in flight finishes (bounded by timeout).
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """`[fn(item) for item in items]` on the bounded pool, in order; the first error is raised."""
        return list(self._executor().map(fn, items))

    def _executor(self) -> ThreadPoolExecutor:
        with self._estimate_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="platform")
            return self._pool

    def _start_limit_pages(
        self,
        path: str,
        list_key: str,
        page_key: str,
        total_key: str,
        id_key: str,
        *,
        total_ends: bool,
        max_pages: int = MAX_PAGES,
        deadline: float | None = None,
    ) -> Iterator[tuple[requests.Response, Any]]:
        """Each item of a `start`/`limit` paged list, with the answer it came in.

        Stops at a short page or once `start` reaches the page's total; with `total_ends`, an
        answer without a total is the last page too (Data Access always sends one). A page whose
        items (by `id_key`) were all seen before, or too many pages, raises.
        """
        start, limit = 0, 100
        seen: set[str] = set()
        for page in range(1, max_pages + 2):
            response = self._transport.platform(
                "GET", path, params={"start": start, "limit": limit}, deadline=deadline
            )
            body = json_of(response, "GET", path)
            items = body.get(list_key) if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise unexpected(response, "GET", path, f"no '{list_key}' list in the answer")
            if page > max_pages and items:
                raise unexpected(response, "GET", path, endless_message(max_pages, list_key))
            keys = [item_key(raw, id_key) for raw in items]
            if items and seen.issuperset(keys):
                raise unexpected(response, "GET", path, no_new_ids_message(page, f"start={start}"))
            seen.update(keys)
            for raw in items:
                yield response, raw
            page_info = body.get(page_key)
            total = page_info.get(total_key) if isinstance(page_info, dict) else None
            start += len(items)
            if len(items) < limit or (isinstance(total, int) and start >= total):
                return
            if total_ends and not isinstance(total, int):
                return

    def _get_or_none(self, path: str, deadline: float | None = None) -> requests.Response | None:
        try:
            return self._transport.platform("GET", path, deadline=deadline)
        except NotFoundError:
            return None

    def _one_catalog_object(
        self, response: requests.Response, path: str, object_id: str, model: type[M]
    ) -> M | None:
        try:
            entries = dict(catalog_entries(json_of(response, "GET", path)))
        except TypeError as exc:
            raise unexpected(response, "GET", path, str(exc)) from None
        if not entries:
            return None
        obj = entries.get(object_id)
        if obj is None:
            if len(entries) != 1:
                raise unexpected(response, "GET", path, f"no entry for {object_id}")
            obj = next(iter(entries.values()))
        return parse_model(model, {**obj, "id": object_id}, response, "GET", path)
