"""The typed client of the platform endpoints the reconciler uses."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError as ModelError

from reconciler.platform.answers import (
    json_of,
    model_error,
    outcome_unknown,
    parse_model,
    seg,
    unexpected,
)
from reconciler.platform.answers import pql_of as pql_of  # re-exported: its old home
from reconciler.platform.client_core import CATALOG, EXPORT, MAX_PAGES, UPS
from reconciler.platform.errors import OutcomeUnknown
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
    job_id_of,
    no_new_ids_message,
    offset_from_next,
    older_than,
    record_key,
)
from reconciler.platform.previews import PreviewsClient

MAX_CATALOG_PAGE = 100
# The Catalog's default listing order is not documented (nor creation order): ask for one that
# new datasets cannot disturb, since they sort after every page already read.
CATALOG_ORDER = "asc:created"
DATASET_DELETE_ATTEMPTS = 3


class PlatformClient(PreviewsClient):
    """Authenticated, retried, rate-limited access to Catalog, export jobs and Data Access."""

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
            raise outcome_unknown(response, "POST", path, "no dataset reference")
        return dataset_id

    def get_dataset(self, dataset_id: str) -> CatalogDataset | None:
        """The dataset, or None when it does not exist."""
        path = f"{CATALOG}/dataSets/{seg(dataset_id)}"
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
                entries = catalog_entries(json_of(response, "GET", path))
            except TypeError as exc:
                raise unexpected(response, "GET", path, str(exc)) from None
            if page > max_pages and entries:
                raise unexpected(response, "GET", path, endless_message(max_pages, "datasets"))
            fresh = [(i, obj) for i, obj in entries if i not in seen]
            if entries and not fresh:
                raise unexpected(response, "GET", path, no_new_ids_message(page, f"start={start}"))
            for dataset_id, obj in fresh:
                seen.add(dataset_id)
                yield parse_model(CatalogDataset, {**obj, "id": dataset_id}, response, "GET", path)
            if len(entries) < limit:
                return
            start += len(entries)

    def update_dataset(self, dataset_id: str, changes: Mapping[str, Any]) -> None:
        """Change the given top-level fields of a dataset (a JSON merge PATCH)."""
        path = f"{CATALOG}/dataSets/{seg(dataset_id)}"
        self._transport.platform("PATCH", path, json=dict(changes))

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset; raises `NotFoundError` when it did not exist.

        A DELETE is never resent blindly: after an answer that leaves it open, a GET settles it
        (gone: done; still there: the DELETE is sent again, which can delete nothing else).
        """
        path = f"{CATALOG}/dataSets/{seg(dataset_id)}"
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
        path = f"{CATALOG}/batches/{seg(batch_id)}"
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
            raise outcome_unknown(response, "POST", path, "not JSON") from None
        try:
            return ExportJobRecord.model_validate(data)
        except ModelError as exc:
            reason = model_error(ExportJobRecord, exc)
            raise outcome_unknown(response, "POST", path, reason, job_id=job_id_of(data)) from None

    def get_export_job(self, job_id: int | str) -> ExportJobRecord | None:
        """The export job, or None when it does not exist."""
        path = f"{UPS}/export/jobs/{seg(str(job_id))}"
        response = self._get_or_none(path)
        if response is None:
            return None
        return parse_model(ExportJobRecord, json_of(response, "GET", path), response, "GET", path)

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
            body = json_of(response, "GET", path)
            records = body.get("records") if isinstance(body, dict) else None
            if not isinstance(records, list):
                raise unexpected(response, "GET", path, "no 'records' list in the answer")
            if page > max_pages and records:
                raise unexpected(response, "GET", path, endless_message(max_pages, "export jobs"))
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
                    found = UnreadableRecord(job_id_of(raw), model_error(ExportJobRecord, exc))
                    if unreadable is None:
                        which = f"job {found.id}" if found.id is not None else "a job record"
                        raise unexpected(
                            response, "GET", path, f"{which} cannot be read: {found.reason}"
                        ) from None
                    unreadable.append(found)
                    continue
                yield record
            if records and not fresh:
                raise unexpected(
                    response, "GET", path, no_new_ids_message(page, f"offset={offset}")
                )
            link = body.get("link")
            offset = offset_from_next(link.get("next") if isinstance(link, dict) else None)
            if offset is None or not records:
                return
            if offset in seen_offsets:
                raise unexpected(response, "GET", path, f"link.next repeats offset {offset}")
            seen_offsets.add(offset)

    def cancel_export_job(self, job_id: int | str) -> CancelAnswer:
        """Cancel an in-flight export job (a finished one's record is deleted). Never resent.

        Accepts 204 (no body) and 200 `{"status": true, "message": ...}`. Raises `NotFoundError`
        (404), `OutcomeUnknown` when the DELETE may have reached the platform but no answer says
        what it did (5xx, timeout, dropped connection), `UnexpectedResponseError` on `status:
        false`.
        """
        path = f"{UPS}/export/jobs/{seg(str(job_id))}"
        response = self._transport.platform("DELETE", path)
        if response.status_code != 200 or not response.content.strip():
            return CancelAnswer(marked=False)
        try:
            body = response.json()
        except ValueError:
            raise outcome_unknown(response, "DELETE", path, "not JSON") from None
        message = body.get("message") if isinstance(body, dict) else None
        message = str(message) if message is not None else None
        if isinstance(body, dict) and body.get("status") is False:
            raise unexpected(
                response, "DELETE", path, message or "the platform declined to cancel the job"
            )
        marked = message is not None and "cancel" in message.lower()
        return CancelAnswer(marked=marked, message=message)

    # Segments, merge policies, data access

    def list_segment_definitions(self, *, deadline: float | None = None) -> list[SegmentDefinition]:
        """Every segment definition of the sandbox (paged by `start`/`limit`).

        The first complete listing is kept for the life of the client (one command: the plan's
        reference checks and its estimates ask once); a listing that failed is not kept.
        """
        if self._segment_definitions is not None:
            return list(self._segment_definitions)
        path = f"{UPS}/segment/definitions"
        found: dict[str, SegmentDefinition] = {}
        pages = self._start_limit_pages(
            path, "segments", "page", "totalCount", "id", total_ends=False, deadline=deadline
        )
        for response, raw in pages:
            segment = parse_model(SegmentDefinition, raw, response, "GET", path)
            found.setdefault(segment.id, segment)
        self._segment_definitions = tuple(found.values())
        return list(found.values())

    def get_merge_policy(self, policy_id: str) -> MergePolicy | None:
        """The merge policy, or None when it does not exist."""
        path = f"{UPS}/config/mergePolicies/{seg(policy_id)}"
        response = self._get_or_none(path)
        if response is None:
            return None
        return parse_model(MergePolicy, json_of(response, "GET", path), response, "GET", path)

    def list_batch_files(self, batch_id: str) -> list[BatchFile]:
        """The dataset files of a batch (Data Access, paged by `start`/`limit`)."""
        path = f"{EXPORT}/batches/{seg(batch_id)}/files"
        files: dict[str, BatchFile] = {}
        for response, raw in self._start_limit_pages(
            path, "data", "_page", "count", "dataSetFileId", total_ends=True
        ):
            entry = parse_model(BatchFile, raw, response, "GET", path)
            files.setdefault(entry.dataSetFileId, entry)
        return list(files.values())

    def read_file(self, file_id: str, name: str | None = None) -> bytes:
        """The bytes of a dataset file; without `name`, the file must hold exactly one entry."""
        path = f"{EXPORT}/files/{seg(file_id)}"
        if name is None:
            response = self._transport.platform("GET", path)
            body = json_of(response, "GET", path)
            data = body.get("data") if isinstance(body, dict) else None
            names = [e.get("name") for e in data or [] if isinstance(e, dict) and e.get("name")]
            if len(names) != 1:
                raise unexpected(
                    response, "GET", path, f"the file holds {len(names)} entries; pass a name"
                )
            name = str(names[0])
        response = self._transport.platform("GET", path, params={"path": name}, accept="*/*")
        return response.content
