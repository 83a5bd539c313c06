"""Pure helpers for the platform's two paging styles and Catalog's id-keyed answers."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit


def offset_from_next(link_next: Any) -> str | None:
    """The `offset` cut out of an export-job list's `link.next`; None when there is no next page.

    `link.next` looks like `/export/jobs/?limit=2&offset=1538573416687_722` (the aepp package
    reads it the same way). A missing, empty or offset-less `next` ends the listing.
    """
    if isinstance(link_next, dict):  # tolerate {"href": "..."} as other Adobe APIs send it
        link_next = link_next.get("href")
    if not isinstance(link_next, str) or not link_next.strip():
        return None
    values = parse_qs(urlsplit(link_next.strip()).query).get("offset")
    if not values or not values[0]:
        return None
    return values[0]


def catalog_entries(body: Any) -> list[tuple[str, dict[str, Any]]]:
    """(id, object) pairs from a Catalog answer keyed by id; non-object values are skipped."""
    if not isinstance(body, dict):
        raise TypeError("a Catalog answer must be a JSON object keyed by id")
    return [(key, value) for key, value in body.items() if isinstance(value, dict)]


def id_from_ref(ref: Any) -> str | None:
    """The id in a Catalog reference such as `@/dataSets/5c8c3c555033b814b69f947f`."""
    if isinstance(ref, list) and len(ref) == 1:
        ref = ref[0]
    if not isinstance(ref, str) or "/" not in ref:
        return None
    tail = ref.rstrip("/").rsplit("/", 1)[-1]
    return tail or None


def job_id_of(raw: Any) -> int | None:
    """The numeric `id` of a raw job record, when it has a usable one."""
    value = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def record_key(raw: Any) -> int | str:
    """What makes a listed job record the same as one seen before: its id, else its content."""
    job_id = job_id_of(raw)
    if job_id is not None:
        return job_id
    return "raw:" + json.dumps(raw, sort_keys=True, default=str)


def item_key(raw: Any, id_key: str) -> str:
    """What makes a listed item the same as one seen before: its `id_key`, else its content."""
    value = raw.get(id_key) if isinstance(raw, dict) else None
    return (
        str(value) if value is not None else "raw:" + json.dumps(raw, sort_keys=True, default=str)
    )


def older_than(created: Any, since_ms: int | None) -> bool:
    """Whether a raw `creationTime` is older than `since_ms` (False when either is missing)."""
    if since_ms is None or isinstance(created, bool):
        return False
    if isinstance(created, str):
        try:
            created = float(created.strip())
        except ValueError:
            return False
    return isinstance(created, int | float) and created < since_ms


def no_new_ids_message(page: int, where: str) -> str:
    """The one line for a page that adds no new record."""
    return (
        f"page {page} of the listing ({where}) holds only records already listed, so the "
        "listing would never end; stopped"
    )


def endless_message(max_pages: int, what: str) -> str:
    """The one line for a listing past its page cap."""
    return f"the listing of {what} did not end after {max_pages} pages; stopped"
