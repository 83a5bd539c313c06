"""The typed client of the platform endpoints the reconciler uses."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import requests
from pydantic import BaseModel
from pydantic import ValidationError as ModelError

from reconciler.platform.auth import Credentials, Endpoints
from reconciler.platform.errors import (
    NotFoundError,
    OutcomeUnknown,
    PlatformError,
    UnexpectedResponseError,
)
from reconciler.platform.estimates import Estimate, failed_estimate, sample_total
from reconciler.platform.models import (
    BatchFile,
    CancelAnswer,
    CatalogBatch,
    CatalogDataset,
    ExportJobRecord,
    MergePolicy,
    SegmentDefinition,
    UnreadableRecord,
)
from reconciler.platform.paging import (
    catalog_entries,
    endless_message,
    id_from_ref,
    item_key,
    job_id_of,
    no_new_ids_message,
    offset_from_next,
    older_than,
    record_key,
)
from reconciler.platform.retry import Backoff
from reconciler.platform.transport import Transport

T = TypeVar("T")
R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)

CATALOG = "/data/foundation/catalog"
UPS = "/data/core/ups"
EXPORT = "/data/foundation/export"
MAX_CATALOG_PAGE = 100
# The Catalog's default listing order is not documented (nor creation order): ask for one that
# new datasets cannot disturb, since they sort after every page already read.
CATALOG_ORDER = "asc:created"
# A listing that has not ended after this many pages is not going to: stop with an error.
MAX_PAGES = 5000
DATASET_DELETE_ATTEMPTS = 3
PROFILE_MODEL = "_xdm.context.profile"
# Seconds between two reads of an estimate (SEG: an estimate takes 10 to 15 s to settle).
ESTIMATE_POLL_SECONDS = 1.0
# A call that failed this close to the deadline was cut short by it: pending, not failed.
DEADLINE_SLACK_SECONDS = 0.1
EstimateKey = tuple[str, str | None]


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

    # Catalog

    def create_dataset(self, body: Mapping[str, Any]) -> str:
        """Create a dataset; returns its id. May raise `OutcomeUnknown`."""
        path = f"{CATALOG}/dataSets"
        response = self._transport.platform(
            "POST", path, params={"requestDataSource": "true"}, json=dict(body)
        )
        try:
            dataset_id = id_from_ref(response.json())
        except ValueError:
            dataset_id = None
        if dataset_id is None:
            # The platform accepted the POST: the dataset most likely exists, under an id the
            # answer does not show.
            raise _unknown(response, "POST", path, "no dataset reference")
        return dataset_id

    def get_dataset(self, dataset_id: str) -> CatalogDataset | None:
        """The dataset, or None when it does not exist."""
        path = f"{CATALOG}/dataSets/{_seg(dataset_id)}"
        response = self._get_or_none(path)
        if response is None:
            return None
        return self._one_catalog_object(response, path, dataset_id, CatalogDataset)

    def iter_datasets(
        self,
        *,
        filters: Mapping[str, str] | None = None,
        page_size: int = 100,
        max_pages: int = MAX_PAGES,
    ) -> Iterator[CatalogDataset]:
        """Every dataset matching the Catalog `filters`, oldest first (`orderBy=asc:created`).

        Paged by `start`/`limit`; never yields an id twice. A page that adds no new id (a
        Catalog that ignores `start`), or more than `max_pages` pages, raises
        `UnexpectedResponseError` rather than loop.
        """
        path = f"{CATALOG}/dataSets"
        limit = min(max(1, page_size), MAX_CATALOG_PAGE)
        start = 0
        seen: set[str] = set()
        for page in range(1, max_pages + 2):
            params: dict[str, str | int] = {"orderBy": CATALOG_ORDER, **(filters or {})}
            params.update(start=start, limit=limit)
            response = self._transport.platform("GET", path, params=params)
            try:
                entries = catalog_entries(_json(response, "GET", path))
            except TypeError as exc:
                raise _unexpected(response, "GET", path, str(exc)) from None
            if page > max_pages and entries:
                raise _unexpected(response, "GET", path, endless_message(max_pages, "datasets"))
            fresh = [(i, obj) for i, obj in entries if i not in seen]
            if entries and not fresh:
                raise _unexpected(response, "GET", path, no_new_ids_message(page, f"start={start}"))
            for dataset_id, obj in fresh:
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
        """Delete a dataset; raises `NotFoundError` when it did not exist.

        A DELETE is never resent blindly: after an answer that leaves it open, a GET settles it
        (gone: done; still there: the DELETE is sent again, which can delete nothing else).
        """
        path = f"{CATALOG}/dataSets/{_seg(dataset_id)}"
        for attempt in range(DATASET_DELETE_ATTEMPTS):
            try:
                self._transport.platform("DELETE", path)
                return
            except OutcomeUnknown as unknown:
                if self.get_dataset(dataset_id) is None:
                    return
                if attempt == DATASET_DELETE_ATTEMPTS - 1:
                    unknown.extend(
                        f"(the dataset is still there after {DATASET_DELETE_ATTEMPTS} DELETEs)"
                    )
                    raise

    def get_batch(self, batch_id: str, *, deadline: float | None = None) -> CatalogBatch | None:
        """The Catalog batch, or None when it does not exist."""
        path = f"{CATALOG}/batches/{_seg(batch_id)}"
        response = self._get_or_none(path, deadline=deadline)
        if response is None:
            return None
        return self._one_catalog_object(response, path, batch_id, CatalogBatch)

    # Export jobs

    def create_export_job(self, body: Mapping[str, Any]) -> ExportJobRecord:
        """Start an export job. Raises `OutcomeUnknown` when it may or may not have started.

        That includes a 2xx answer that cannot be read: the job was most likely created;
        `OutcomeUnknown.job_id` is its id when the answer showed one.
        """
        path = f"{UPS}/export/jobs"
        response = self._transport.platform("POST", path, json=dict(body))
        try:
            data = response.json()
        except ValueError:
            raise _unknown(response, "POST", path, "not JSON") from None
        try:
            return ExportJobRecord.model_validate(data)
        except ModelError as exc:
            reason = _model_error(ExportJobRecord, exc)
            raise _unknown(response, "POST", path, reason, job_id=job_id_of(data)) from None

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
        unreadable: list[UnreadableRecord] | None = None,
        max_pages: int = MAX_PAGES,
    ) -> Iterator[ExportJobRecord]:
        """Newest first over every page; stops at the first record older than `created_since_ms`.

        A record that does not parse goes to `unreadable` (id and reason) when a list is given,
        else raises `UnexpectedResponseError` naming it. A page that adds no new id (a `next`
        that loops), a repeated offset, or more than `max_pages` pages raises
        `UnexpectedResponseError` rather than loop.
        """
        path = f"{UPS}/export/jobs"
        offset: str | None = None
        seen: set[int | str] = set()
        seen_offsets: set[str] = set()
        for page in range(1, max_pages + 2):
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
            if page > max_pages and records:
                raise _unexpected(response, "GET", path, endless_message(max_pages, "export jobs"))
            fresh = 0
            for raw in records:
                key = record_key(raw)
                if key in seen:
                    continue
                seen.add(key)
                fresh += 1
                created = raw.get("creationTime") if isinstance(raw, dict) else None
                if older_than(created, created_since_ms):
                    return
                try:
                    record = ExportJobRecord.model_validate(raw)
                except ModelError as exc:
                    found = UnreadableRecord(job_id_of(raw), _model_error(ExportJobRecord, exc))
                    if unreadable is None:
                        which = f"job {found.id}" if found.id is not None else "a job record"
                        raise _unexpected(
                            response, "GET", path, f"{which} cannot be read: {found.reason}"
                        ) from None
                    unreadable.append(found)
                    continue
                yield record
            if records and not fresh:
                raise _unexpected(
                    response, "GET", path, no_new_ids_message(page, f"offset={offset}")
                )
            link = body.get("link")
            offset = offset_from_next(link.get("next") if isinstance(link, dict) else None)
            if offset is None or not records:
                return
            if offset in seen_offsets:
                raise _unexpected(response, "GET", path, f"link.next repeats offset {offset}")
            seen_offsets.add(offset)

    def cancel_export_job(self, job_id: int | str) -> CancelAnswer:
        """Cancel an in-flight export job (a finished one's record is deleted). Never resent.

        Accepts 204 (no body) and 200 `{"status": true, "message": ...}`. Raises `NotFoundError`
        (404), `OutcomeUnknown` when the DELETE may have reached the platform but no answer says
        what it did (5xx, timeout, dropped connection), `UnexpectedResponseError` on `status:
        false`.
        """
        path = f"{UPS}/export/jobs/{_seg(str(job_id))}"
        response = self._transport.platform("DELETE", path)
        if response.status_code != 200 or not response.content.strip():
            return CancelAnswer(marked=False)
        try:
            body = response.json()
        except ValueError:
            raise _unknown(response, "DELETE", path, "not JSON") from None
        message = body.get("message") if isinstance(body, dict) else None
        message = str(message) if message is not None else None
        if isinstance(body, dict) and body.get("status") is False:
            raise _unexpected(
                response, "DELETE", path, message or "the platform declined to cancel the job"
            )
        marked = message is not None and "cancel" in message.lower()
        return CancelAnswer(marked=marked, message=message)

    # Segments, merge policies, data access

    def list_segment_definitions(self, *, deadline: float | None = None) -> list[SegmentDefinition]:
        """Every segment definition of the sandbox (paged by `start`/`limit`)."""
        path = f"{UPS}/segment/definitions"
        found: dict[str, SegmentDefinition] = {}
        pages = self._start_limit_pages(
            path, "segments", "page", "totalCount", "id", total_ends=False, deadline=deadline
        )
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
            path, "data", "_page", "count", "dataSetFileId", total_ends=True
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

    # Previews and estimates (Segmentation API), preview sample status (Profile API)

    def start_preview(
        self,
        expression: str,
        *,
        merge_policy_id: str | None = None,
        graph_type: str | None = None,
        model: str = PROFILE_MODEL,
        deadline: float | None = None,
    ) -> str:
        """Start a preview job (and its estimate job, same id) for a PQL expression; its id.

        `mergePolicyId` is sent only when given (no document lists it in the request). A preview
        creates nothing durable, so this POST is resent after a 5xx or a lost answer (a second
        copy is one more short-lived job); a 4xx is raised at once. `deadline`
        (`time.monotonic()`) bounds the call, retries included.
        """
        path = f"{UPS}/preview"
        body: dict[str, Any] = {
            "predicateExpression": expression,
            "predicateType": "pql/text",
            "predicateModel": model,
        }
        if graph_type is not None:
            body["graphType"] = graph_type
        if merge_policy_id is not None:
            body["mergePolicyId"] = merge_policy_id
        response = self._transport.platform("POST", path, json=body, resend=True, deadline=deadline)
        data = _json(response, "POST", path)
        preview_id = data.get("previewId") if isinstance(data, dict) else None
        if not isinstance(preview_id, str) or not preview_id:
            raise _unexpected(response, "POST", path, "no previewId in the answer")
        with self._estimate_lock:
            self.previews_started += 1
        return preview_id

    def get_estimate(self, preview_id: str, *, deadline: float | None = None) -> Estimate:
        """The estimate of a preview job as of now; `NotFoundError` once it is gone."""
        path = f"{UPS}/estimate/{_seg(preview_id)}"
        response = self._transport.platform("GET", path, deadline=deadline)
        return _parse(Estimate, _json(response, "GET", path), response, "GET", path)

    def delete_preview(self, preview_id: str, *, deadline: float | None = None) -> None:
        """Cancel or delete a preview job (SEG: 200 `{"status": true, "message": "KILLED"}`).

        Resent after a lost answer; a preview already gone (404) counts as deleted.
        """
        path = f"{UPS}/preview/{_seg(preview_id)}"
        try:
            self._transport.platform("DELETE", path, resend=True, deadline=deadline)
        except NotFoundError:
            return

    def profile_store_total(self, *, deadline: float | None = None) -> int | None:
        """Profiles in the store (`totalRows` of the last sample, PROF previewsamplestatus);
        None when the platform has no sample yet (404) or shows no count."""
        path = f"{UPS}/previewsamplestatus"
        response = self._get_or_none(path, deadline=deadline)
        if response is None:
            return None
        return sample_total(_json(response, "GET", path))

    def estimate_segments(
        self,
        segment_definitions: Iterable[SegmentDefinition],
        merge_policy_id: str | None,
        *,
        timeout_s: float,
    ) -> dict[str, Estimate | None]:
        """Estimate each segment definition's size, by id: None when not ready within timeout_s.

        One preview per distinct (expression, merge policy), started in parallel on the pool and
        read every ESTIMATE_POLL_SECONDS until RESULT_READY, FAILED or the shared deadline, which
        bounds the call even when the platform is slow to answer. Settled estimates are cached
        for the life of this client; a preview still running at the deadline is polled again by
        the next call instead of starting another. `merge_policy_id` None uses each definition's
        own. A definition without a PQL expression, an estimate the platform failed, or a call
        that failed is an Estimate with `failed` True (never raised). Not for use from inside
        `map` (it runs on the same pool).
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        keys: dict[str, EstimateKey | None] = {}
        for segment in segment_definitions:
            expression = pql_of(segment)
            keys[segment.id] = (
                None
                if expression is None
                else (expression, merge_policy_id or segment.mergePolicyId)
            )
        found = self._estimate_keys([k for k in keys.values() if k is not None], deadline)
        no_pql = failed_estimate("the segment definition has no PQL (pql/text) expression")
        return {sid: (no_pql if key is None else found[key]) for sid, key in keys.items()}

    def estimate_expressions(
        self, expressions: Iterable[EstimateKey], *, timeout_s: float
    ) -> dict[EstimateKey, Estimate | None]:
        """`estimate_segments` for (PQL expression, merge policy id or None) pairs, e.g. the
        `union_pql` of an export's segments; same parallelism, cache and deadline."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        return self._estimate_keys(list(expressions), deadline)

    def _estimate_keys(
        self, keys: list[EstimateKey], deadline: float
    ) -> dict[EstimateKey, Estimate | None]:
        found: dict[EstimateKey, Estimate | None] = {}
        pending: list[EstimateKey] = []
        for key in dict.fromkeys(keys):
            with self._estimate_lock:
                cached = self._estimates.get(key)
            if cached is not None:
                found[key] = cached
            else:
                found[key] = None
                pending.append(key)
        self._poll_until(pending, found, deadline)
        return found

    def _poll_until(
        self,
        pending: list[EstimateKey],
        found: dict[EstimateKey, Estimate | None],
        deadline: float,
    ) -> None:
        """Step every pending key on the pool (start, then read every ESTIMATE_POLL_SECONDS)
        until each settles or the deadline; no worker sleeps, so every preview runs side by side
        however few workers there are; every call carries the deadline (its timeouts and
        retries end there), so a slow platform cannot hold the caller, nor `close`, past it."""
        pool = self._executor()
        running: dict[EstimateKey, Future[Estimate | None]] = {}
        due = dict.fromkeys(pending, 0.0)
        while due or running:
            now = time.monotonic()
            if now >= deadline:
                return
            for key in [k for k, at in due.items() if at <= now]:
                del due[key]
                running[key] = pool.submit(self._estimate_step, key, deadline)
            next_due = min(due.values(), default=deadline)
            timeout = max(0.0, min(deadline, next_due) - time.monotonic())
            if not running:
                time.sleep(timeout)
                continue
            done, _ = wait(list(running.values()), timeout=timeout, return_when=FIRST_COMPLETED)
            for key, future in list(running.items()):
                if future not in done:
                    continue
                del running[key]
                outcome = future.result()
                if outcome is None:
                    due[key] = time.monotonic() + ESTIMATE_POLL_SECONDS
                else:
                    found[key] = outcome

    def _estimate_step(self, key: EstimateKey, deadline: float) -> Estimate | None:
        """Start the key's preview if needed and read its estimate once: the settled Estimate
        (cached, the preview deleted), a failed one for a call that failed, None while running
        (or when the deadline cut the call short: pending, not failed)."""
        with self._estimate_lock:
            cached = self._estimates.get(key)
            preview_id = self._previews.get(key)
        if cached is not None:
            return cached
        try:
            if preview_id is None:
                preview_id = self.start_preview(key[0], merge_policy_id=key[1], deadline=deadline)
                with self._estimate_lock:
                    self._previews[key] = preview_id
            try:
                estimate = self.get_estimate(preview_id, deadline=deadline)
            except NotFoundError:
                # Gone (expired or deleted elsewhere): the next call starts a new one.
                with self._estimate_lock:
                    self._previews.pop(key, None)
                raise
        except PlatformError as exc:
            if time.monotonic() >= deadline - DEADLINE_SLACK_SECONDS:
                return None
            return failed_estimate(str(exc))
        if not (estimate.ready or estimate.failed):
            return None
        with self._estimate_lock:
            self._estimates[key] = estimate
            self._previews.pop(key, None)
        # A settled preview left behind is the platform's to expire.
        with contextlib.suppress(PlatformError):
            self.delete_preview(preview_id, deadline=deadline)
        return estimate

    # helpers

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
            body = _json(response, "GET", path)
            items = body.get(list_key) if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise _unexpected(response, "GET", path, f"no '{list_key}' list in the answer")
            if page > max_pages and items:
                raise _unexpected(response, "GET", path, endless_message(max_pages, list_key))
            keys = [item_key(raw, id_key) for raw in items]
            if items and seen.issuperset(keys):
                raise _unexpected(response, "GET", path, no_new_ids_message(page, f"start={start}"))
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


def pql_of(segment: SegmentDefinition) -> str | None:
    """The PQL text of a segment definition (`expression.value` of format pql/text)."""
    expression = segment.expression or {}
    value = expression.get("value")
    fmt = str(expression.get("format") or "pql/text").lower()
    if not isinstance(value, str) or not value.strip() or fmt != "pql/text":
        return None
    return value


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
        raise _unexpected(response, method, path, _model_error(model, exc)) from None


def _model_error(model: type[BaseModel], exc: ModelError) -> str:
    """The first validation error as `Model.field.path: message`."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"{model.__name__}.{where}: {first['msg']}"


def _unknown(
    response: requests.Response,
    method: str,
    path: str,
    what: str,
    *,
    job_id: int | None = None,
) -> OutcomeUnknown:
    named = f" naming job {job_id}" if job_id is not None else ""
    return OutcomeUnknown(
        f"the platform answered {response.status_code}{named}, but the answer cannot be read "
        f"({what}), so it was probably carried out",
        job_id=job_id,
        status=response.status_code,
        request_id=response.headers.get("x-request-id"),
        method=method,
        path=path,
    )


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
