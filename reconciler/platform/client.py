"""The typed client of the platform endpoints the reconciler uses."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import requests
from pydantic import BaseModel
from pydantic import ValidationError as ModelError

from reconciler.platform.auth import Credentials, Endpoints
from reconciler.platform.errors import NotFoundError, UnexpectedResponseError
from reconciler.platform.models import (
    BatchFile,
    CatalogBatch,
    CatalogDataset,
    ExportJobRecord,
    MergePolicy,
    SegmentDefinition,
)
from reconciler.platform.paging import catalog_entries, id_from_ref, offset_from_next
from reconciler.platform.retry import Backoff
from reconciler.platform.transport import Transport

T = TypeVar("T")
R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)

CATALOG = "/data/foundation/catalog"
UPS = "/data/core/ups"
EXPORT = "/data/foundation/export"
MAX_CATALOG_PAGE = 100


class PlatformClient:
    """Authenticated, retried, rate-limited access to Catalog, export jobs and Data Access."""

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
        )
        self._pool: ThreadPoolExecutor | None = None

    @property
    def calls(self) -> int:
        """HTTP requests sent so far (token requests and retries included)."""
        return self._transport.calls

    def close(self) -> None:
        """Stop the worker pool and close pooled connections."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
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
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="platform")
        return list(self._pool.map(fn, items))

    # Catalog

    def create_dataset(self, body: Mapping[str, Any]) -> str:
        """Create a dataset; returns its id. May raise `OutcomeUnknown`."""
        path = f"{CATALOG}/dataSets"
        response = self._transport.platform(
            "POST", path, params={"requestDataSource": "true"}, json=dict(body)
        )
        dataset_id = id_from_ref(_json(response, "POST", path))
        if dataset_id is None:
            raise _unexpected(response, "POST", path, "no dataset reference in the answer")
        return dataset_id

    def get_dataset(self, dataset_id: str) -> CatalogDataset | None:
        """The dataset, or None when it does not exist."""
        path = f"{CATALOG}/dataSets/{_seg(dataset_id)}"
        response = self._get_or_none(path)
        if response is None:
            return None
        return self._one_catalog_object(response, path, dataset_id, CatalogDataset)

    def iter_datasets(
        self, *, filters: Mapping[str, str] | None = None, page_size: int = 100
    ) -> Iterator[CatalogDataset]:
        """Every dataset matching the Catalog `filters`, page by page (`start`/`limit`)."""
        path = f"{CATALOG}/dataSets"
        limit = min(max(1, page_size), MAX_CATALOG_PAGE)
        start = 0
        seen: set[str] = set()
        while True:
            params: dict[str, str | int] = {**(filters or {}), "start": start, "limit": limit}
            response = self._transport.platform("GET", path, params=params)
            try:
                entries = catalog_entries(_json(response, "GET", path))
            except TypeError as exc:
                raise _unexpected(response, "GET", path, str(exc)) from None
            for dataset_id, obj in entries:
                # Objects created while paging can shift a page; never yield one twice.
                if dataset_id not in seen:
                    seen.add(dataset_id)
                    yield _parse(CatalogDataset, {**obj, "id": dataset_id}, response, "GET", path)
            if len(entries) < limit:
                return
            start += len(entries)

    def update_dataset(self, dataset_id: str, changes: Mapping[str, Any]) -> None:
        """Change the given top-level fields of a dataset (a JSON merge PATCH)."""
        path = f"{CATALOG}/dataSets/{_seg(dataset_id)}"
        self._transport.platform("PATCH", path, json=dict(changes))

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset; raises `NotFoundError` when it did not exist."""
        self._transport.platform("DELETE", f"{CATALOG}/dataSets/{_seg(dataset_id)}")

    def get_batch(self, batch_id: str) -> CatalogBatch | None:
        """The Catalog batch, or None when it does not exist."""
        path = f"{CATALOG}/batches/{_seg(batch_id)}"
        response = self._get_or_none(path)
        if response is None:
            return None
        return self._one_catalog_object(response, path, batch_id, CatalogBatch)

    # Export jobs

    def create_export_job(self, body: Mapping[str, Any]) -> ExportJobRecord:
        """Start an export job. Raises `OutcomeUnknown` when it may or may not have started."""
        path = f"{UPS}/export/jobs"
        response = self._transport.platform("POST", path, json=dict(body))
        return _parse(ExportJobRecord, _json(response, "POST", path), response, "POST", path)

    def get_export_job(self, job_id: int | str) -> ExportJobRecord | None:
        """The export job, or None when it does not exist."""
        path = f"{UPS}/export/jobs/{_seg(str(job_id))}"
        response = self._get_or_none(path)
        if response is None:
            return None
        return _parse(ExportJobRecord, _json(response, "GET", path), response, "GET", path)

    def iter_export_jobs(
        self,
        *,
        status: str | None = None,
        page_size: int = 100,
        created_since_ms: int | None = None,
    ) -> Iterator[ExportJobRecord]:
        """Newest first over every page; stops at the first record older than `created_since_ms`."""
        path = f"{UPS}/export/jobs"
        offset: str | None = None
        seen_ids: set[int] = set()
        seen_offsets: set[str] = set()
        while True:
            params: dict[str, str | int] = {"limit": max(1, page_size)}
            if status:
                params["status"] = status
            if offset:
                params["offset"] = offset
            response = self._transport.platform("GET", path, params=params)
            body = _json(response, "GET", path)
            records = body.get("records") if isinstance(body, dict) else None
            if not isinstance(records, list):
                raise _unexpected(response, "GET", path, "no 'records' list in the answer")
            for raw in records:
                record = _parse(ExportJobRecord, raw, response, "GET", path)
                if created_since_ms is not None and record.creationTime < created_since_ms:
                    return
                if record.id not in seen_ids:
                    seen_ids.add(record.id)
                    yield record
            link = body.get("link")
            offset = offset_from_next(link.get("next") if isinstance(link, dict) else None)
            if offset is None or not records:
                return
            if offset in seen_offsets:
                raise _unexpected(response, "GET", path, f"link.next repeats offset {offset}")
            seen_offsets.add(offset)

    def cancel_export_job(self, job_id: int | str) -> None:
        """Cancel an export job; accepts 204 (no body) and 200 `{"status": true, ...}`."""
        path = f"{UPS}/export/jobs/{_seg(str(job_id))}"
        response = self._transport.platform("DELETE", path)
        if response.status_code != 200 or not response.content.strip():
            return
        body = _json(response, "DELETE", path)
        if isinstance(body, dict) and body.get("status") is False:
            message = str(body.get("message") or "the platform declined to cancel the job")
            raise _unexpected(response, "DELETE", path, message)

    # Segments, merge policies, data access

    def list_segment_definitions(self) -> list[SegmentDefinition]:
        """Every segment definition of the sandbox (paged by `start`/`limit`)."""
        path = f"{UPS}/segment/definitions"
        found: dict[str, SegmentDefinition] = {}
        pages = self._start_limit_pages(path, "segments", "page", "totalCount", total_ends=False)
        for response, raw in pages:
            segment = _parse(SegmentDefinition, raw, response, "GET", path)
            found.setdefault(segment.id, segment)
        return list(found.values())

    def get_merge_policy(self, policy_id: str) -> MergePolicy | None:
        """The merge policy, or None when it does not exist."""
        path = f"{UPS}/config/mergePolicies/{_seg(policy_id)}"
        response = self._get_or_none(path)
        if response is None:
            return None
        return _parse(MergePolicy, _json(response, "GET", path), response, "GET", path)

    def list_batch_files(self, batch_id: str) -> list[BatchFile]:
        """The dataset files of a batch (Data Access, paged by `start`/`limit`)."""
        path = f"{EXPORT}/batches/{_seg(batch_id)}/files"
        files: dict[str, BatchFile] = {}
        for response, raw in self._start_limit_pages(
            path, "data", "_page", "count", total_ends=True
        ):
            entry = _parse(BatchFile, raw, response, "GET", path)
            files.setdefault(entry.dataSetFileId, entry)
        return list(files.values())

    def read_file(self, file_id: str, name: str | None = None) -> bytes:
        """The bytes of a dataset file; without `name`, the file must hold exactly one entry."""
        path = f"{EXPORT}/files/{_seg(file_id)}"
        if name is None:
            response = self._transport.platform("GET", path)
            body = _json(response, "GET", path)
            data = body.get("data") if isinstance(body, dict) else None
            names = [e.get("name") for e in data or [] if isinstance(e, dict) and e.get("name")]
            if len(names) != 1:
                raise _unexpected(
                    response, "GET", path, f"the file holds {len(names)} entries; pass a name"
                )
            name = str(names[0])
        response = self._transport.platform("GET", path, params={"path": name}, accept="*/*")
        return response.content

    # helpers

    def _start_limit_pages(
        self, path: str, list_key: str, page_key: str, total_key: str, *, total_ends: bool
    ) -> Iterator[tuple[requests.Response, Any]]:
        """Each item of a `start`/`limit` paged list, with the answer it came in.

        Stops at a short page or once `start` reaches the page's total; with `total_ends`, an
        answer without a total is the last page too (Data Access always sends one).
        """
        start, limit = 0, 100
        while True:
            response = self._transport.platform(
                "GET", path, params={"start": start, "limit": limit}
            )
            body = _json(response, "GET", path)
            items = body.get(list_key) if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise _unexpected(response, "GET", path, f"no '{list_key}' list in the answer")
            for raw in items:
                yield response, raw
            page = body.get(page_key)
            total = page.get(total_key) if isinstance(page, dict) else None
            start += len(items)
            if len(items) < limit or (isinstance(total, int) and start >= total):
                return
            if total_ends and not isinstance(total, int):
                return

    def _get_or_none(self, path: str) -> requests.Response | None:
        try:
            return self._transport.platform("GET", path)
        except NotFoundError:
            return None

    def _one_catalog_object(
        self, response: requests.Response, path: str, object_id: str, model: type[M]
    ) -> M | None:
        try:
            entries = dict(catalog_entries(_json(response, "GET", path)))
        except TypeError as exc:
            raise _unexpected(response, "GET", path, str(exc)) from None
        if not entries:
            return None
        obj = entries.get(object_id)
        if obj is None:
            if len(entries) != 1:
                raise _unexpected(response, "GET", path, f"no entry for {object_id}")
            obj = next(iter(entries.values()))
        return _parse(model, {**obj, "id": object_id}, response, "GET", path)


def _seg(value: str) -> str:
    """An id made safe as one path segment."""
    return quote(value, safe="")


def _json(response: requests.Response, method: str, path: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise _unexpected(response, method, path, "the answer is not JSON") from None


def _parse(model: type[M], data: Any, response: requests.Response, method: str, path: str) -> M:
    try:
        return model.model_validate(data)
    except ModelError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise _unexpected(
            response, method, path, f"{model.__name__}.{where}: {first['msg']}"
        ) from None


def _unexpected(
    response: requests.Response, method: str, path: str, message: str
) -> UnexpectedResponseError:
    return UnexpectedResponseError(
        message,
        status=response.status_code,
        request_id=response.headers.get("x-request-id"),
        method=method,
        path=path,
    )
