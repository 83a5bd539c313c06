"""Pure helpers for the platform's two paging styles and Catalog's id-keyed answers."""

from __future__ import annotations

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
