"""The canonical export job request: one normal form for specs, POST bodies and live records.

The fingerprint of a job is the sha256 of its canonical request, so only a change to what is
sent to the API changes it; the same normal form lets the engine recognise, in the live job
list, a job it created when the answer to its POST was lost.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.spec.models import ExportJobDoc, format_timestamp, parse_timestamp

# The keys of the body of POST /data/core/ups/export/jobs; anything else in a live job record
# (id, status, metrics, imsOrgId, ...) is the platform's, not the request's.
REQUEST_KEYS = ("fields", "mergePolicy", "additionalFields", "filter", "destination", "schema")
# The reconciler's own policy keys of an ExportJob spec: never sent, never in the fingerprint.
POLICY_KEYS = ("refresh", "onFailure", "maxProfiles")
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
        mode="json", by_alias=True, exclude_none=True, exclude=set(POLICY_KEYS)
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


# What the platform fills in when a request leaves it out: a value here on the record's side and
# nothing on the request's is not a difference (SEG, OAS: segment status and namespace defaults;
# `emptyProfiles` is false unless sent).
_SEGMENT_DEFAULTS: dict[str, Any] = {"status": ["existing", "realized"], "segmentNs": "ups"}
_FILTER_DEFAULTS: dict[str, Any] = {"emptyProfiles": False}


def _statuses(value: Any) -> Any:
    """A segment's `status`: a plain string is a list of one; the order does not matter."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return sorted(set(value))
    return value


def _segments_agree(wanted: Any, live: Any) -> bool:
    if not (isinstance(wanted, list) and isinstance(live, list)) or len(wanted) != len(live):
        return bool(wanted == live)
    for want, seen in zip(wanted, live, strict=True):
        if not (isinstance(want, dict) and isinstance(seen, dict)):
            if want != seen:
                return False
            continue
        want = {**want, "status": _statuses(want["status"])} if "status" in want else dict(want)
        seen = {**seen, "status": _statuses(seen["status"])} if "status" in seen else dict(seen)
        if not _agrees_with_defaults(want, seen, _SEGMENT_DEFAULTS):
            return False
    return True


def _agrees_with_defaults(
    wanted: dict[str, Any], live: dict[str, Any], defaults: dict[str, Any]
) -> bool:
    for key in wanted.keys() | live.keys():
        want, seen = wanted.get(key, defaults.get(key)), live.get(key, defaults.get(key))
        if want != seen:
            return False
    return True


def _filter_agrees(wanted: Any, live: Any) -> bool:
    if not (isinstance(wanted, dict) and isinstance(live, dict)):
        return bool(wanted == live)
    want, seen = dict(wanted), dict(live)
    if not _segments_agree(want.pop("segments", None), seen.pop("segments", None)):
        return False
    return _agrees_with_defaults(want, seen, _FILTER_DEFAULTS)


def _policy_agrees(wanted: Any, live: Any) -> bool:
    """No policy sent: the default one is used; no version sent: the newest one is used."""
    if wanted is None or live is None:
        return True  # not sent (a default is filled in), or not carried by the record
    if not (isinstance(wanted, dict) and isinstance(live, dict)):
        return bool(wanted == live)
    if "version" not in wanted:
        live = {k: v for k, v in live.items() if k != "version"}
    return bool(wanted == live)


def request_matches(
    request: Mapping[str, Any], record: Mapping[str, Any], *, policy_id: bool = True
) -> bool:
    """Does the live `record` not contradict `request`? (Any API shapes, normalised here.)

    `policy_id=False`: the record's merge policy is no evidence either way. For finding the job
    this tool's own POST made (the create protocol): the Profile API documents an answer whose
    mergePolicy id differs from the one sent (api-variability.md, export job records), so
    requiring it to agree would take the tool's own job for none and POST a twin; the watermark,
    the destination, schema and segments still narrow it, and more than one candidate is
    never guessed.

    Not equality: a top-level key the record does not carry (documented job records carry no
    `fields` and no `additionalFields`) neither proves nor refutes, and what the platform fills in
    is not a difference: a merge policy that was not sent (the default one) or its version (the
    newest), a segment's default `status` and `segmentNs`, `emptyProfiles: false`. Everything
    the record does carry is compared with what was sent.
    """
    wanted, live = normalize_request(request), normalize_request(record)
    if not policy_id:
        wanted.pop("mergePolicy", None)
        live.pop("mergePolicy", None)
    return normal_forms_agree(wanted, live)


def normal_forms_agree(wanted: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
    """`request_matches` of two bodies already in normal form (`normalize_request`'s output).

    For comparing many pairs: normalizing is most of the cost of a comparison.
    """
    for key in wanted.keys() | live.keys():
        want, seen = wanted.get(key), live.get(key)
        if key == "mergePolicy":
            agrees = _policy_agrees(want, seen)
        elif seen is None:
            agrees = True  # not carried: neither proves nor refutes
        elif key == "filter":
            agrees = _filter_agrees(want if want is not None else {}, seen)
        else:
            agrees = want == seen
        if not agrees:
            return False
    return True


def requests_answered(record: Mapping[str, Any], requests: Iterable[Mapping[str, Any]]) -> int:
    """How many distinct requests (by normal form) the live `record` could have been created from.

    More than one means the record alone cannot say which intent or document it answers (a
    terse record, two documents that differ only in what it does not carry): do not guess.
    """
    forms = {canonical_json(normalize_request(r)) for r in requests if request_matches(r, record)}
    return len(forms)
