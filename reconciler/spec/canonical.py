"""The canonical export job request: one normal form for specs, POST bodies and live records.

The fingerprint of a job is the sha256 of its canonical request, so only a change to what is
sent to the API changes it; the same normal form lets the engine recognise, in the live job
list, a job it created when the answer to its POST was lost.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from reconciler.spec.models import ExportJobDoc, format_timestamp, parse_timestamp

# The keys of the body of POST /data/core/ups/export/jobs; anything else in a live job record
# (id, status, metrics, imsOrgId, ...) is the platform's, not the request's.
REQUEST_KEYS = ("fields", "mergePolicy", "additionalFields", "filter", "destination", "schema")
_TIMESTAMP_PATHS: tuple[tuple[str, ...], ...] = (
    ("filter", "fromIngestTimestamp"),
    ("filter", "segmentQualificationTime", "startTime"),
    ("filter", "segmentQualificationTime", "endTime"),
    ("additionalFields", "eventList", "filter", "fromIngestTimestamp"),
)
_FIELDS_PATHS: tuple[tuple[str, ...], ...] = (
    ("fields",),
    ("additionalFields", "eventList", "fields"),
)


def _fields(value: Any) -> Any:
    """`"a, b"` or `["a", "b"]` -> `"a,b"`; an empty value means "all fields", i.e. absent."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
    elif isinstance(value, list | tuple) and all(isinstance(p, str) for p in value):
        parts = [p.strip() for p in value]
    else:
        return value
    text = ",".join(parts)
    return text if text.strip(",") else None


def _timestamp(value: Any) -> Any:
    try:
        return format_timestamp(parse_timestamp(value))
    except ValueError:
        return value  # not ours to judge: compared as written


def _prune(value: Any) -> Any:
    """Drop nulls and empty mappings (the API reads both as absent); sort keys."""
    if isinstance(value, Mapping):
        pruned = {k: _prune(v) for k, v in sorted(value.items())}
        return {k: v for k, v in pruned.items() if v is not None and v != {}}
    if isinstance(value, list | tuple):
        return [_prune(v) for v in value]
    return value


def _apply(body: dict[str, Any], path: tuple[str, ...], fn: Any) -> None:
    node: Any = body
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict) and path[-1] in node:
        node[path[-1]] = fn(node[path[-1]])


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value


def normalize_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """Any API-shaped body (a spec's request, a POST body, a live job record) -> one normal form."""
    result: dict[str, Any] = {k: _copy(body[k]) for k in REQUEST_KEYS if k in body}
    source = body.get("destination")
    source = source if isinstance(source, Mapping) else {}
    per_batch = source.get("segmentPerBatch")
    if isinstance(per_batch, str):  # tolerate a record that echoes "true"/"false" as text
        per_batch = per_batch.strip().lower() == "true"
    destination: dict[str, Any] = {"segmentPerBatch": bool(per_batch)}
    if source.get("dataset") is not None:
        destination["dataset"] = source["dataset"]
    dataset_id = source.get("datasetId", source.get("dataSetId"))
    if dataset_id is not None:
        destination["datasetId"] = dataset_id
    result["destination"] = destination
    for path in _FIELDS_PATHS:
        _apply(result, path, _fields)
    for path in _TIMESTAMP_PATHS:
        _apply(result, path, _timestamp)
    pruned: dict[str, Any] = _prune(result)
    return pruned


def canonical_request(doc: ExportJobDoc) -> dict[str, Any]:
    """The request a spec stands for, with the dataset left symbolic (by name or by id)."""
    spec = doc.spec.model_dump(
        mode="json", by_alias=True, exclude_none=True, exclude={"refresh", "onFailure"}
    )
    return normalize_request(spec)


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: the bytes that are hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(doc: ExportJobDoc) -> str:
    """sha256 (hex) of the canonical request: changes exactly when the request changes."""
    return hashlib.sha256(canonical_json(canonical_request(doc)).encode("utf-8")).hexdigest()


def request_body(doc: ExportJobDoc, dataset_id: str) -> dict[str, Any]:
    """The body to POST: the canonical request with the destination dataset resolved to an id."""
    body = canonical_request(doc)
    body["destination"] = {
        "datasetId": dataset_id,
        "segmentPerBatch": doc.spec.destination.segmentPerBatch,
    }
    return normalize_request(body)


def request_matches(request: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Could the live `record` have been created from `request`? (Any API shapes, normalised here.)

    Equality of normal forms, except for what the platform fills in: a merge policy that was not
    sent (the default one is used), or its version (the newest is used).
    """
    wanted, live = normalize_request(request), normalize_request(record)
    wanted_policy, live_policy = wanted.pop("mergePolicy", None), live.pop("mergePolicy", None)
    if wanted != live:
        return False
    if wanted_policy is None:
        return True
    if live_policy is None or "version" in wanted_policy:
        return bool(wanted_policy == live_policy)
    return bool(wanted_policy["id"] == live_policy.get("id"))
