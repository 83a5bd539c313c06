"""Structural validation of an export-job request body, as both guides document it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.emulator.problems import bad_request

SERVICE = "UPS"
_TOP = {
    "fields",
    "mergePolicy",
    "additionalFields",
    "filter",
    "destination",
    "schema",
    "evaluationInfo",  # SEG current, OAS: accepted; the export does not depend on it
}
_FILTER = {"segments", "segmentQualificationTime", "fromIngestTimestamp", "emptyProfiles"}
_SEGMENT_STATUSES = ("realized", "existing", "exited")
# The Segmentation guide leaves status optional; without it, current members are exported.
DEFAULT_SEGMENT_STATUSES = ("realized", "existing")
_FIELD_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class SegmentFilter:
    """One entry of filter.segments."""

    segment_id: str
    namespace: str
    statuses: tuple[str, ...]


@dataclass(frozen=True)
class ExportRequest:
    """What the exporter needs from a valid request."""

    fields: tuple[tuple[str, ...], ...] | None
    merge_policy_id: str | None
    merge_policy_version: int | None
    segments: tuple[SegmentFilter, ...]
    qualification_start_ms: int | None
    qualification_end_ms: int | None
    from_ingest_ms: int | None
    empty_profiles: bool
    events_requested: bool
    event_fields: tuple[tuple[str, ...], ...] | None
    event_from_ingest_ms: int | None
    event_to_ingest_ms: int | None
    dataset_id: str
    segment_per_batch: bool
    schema_name: str


def _fail(path: str, expected: str) -> Exception:
    return bad_request(f"{path}: {expected}", SERVICE)


def _object(value: Any, path: str, allowed: set[str] | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, "expected a JSON object")
    if allowed is not None:
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise _fail(
                f"{path}.{unknown[0]}" if path else unknown[0],
                f"unknown field; allowed: {sorted(allowed)}",
            )
    return value


def parse_time(value: Any, path: str) -> int:
    """Epoch ms of an RFC 3339 timestamp with a zone, e.g. 2018-10-25T13:22:04-07:00."""
    if not isinstance(value, str) or "T" not in value:
        raise _fail(
            path, f"expected an RFC 3339 timestamp like 2018-01-01T00:00:00Z, got {value!r}"
        )
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError as exc:
        raise _fail(path, f"expected an RFC 3339 timestamp, got {value!r}") from exc
    if parsed.tzinfo is None:
        raise _fail(path, f"the timestamp {value!r} needs a zone (Z or +hh:mm)")
    return int(parsed.timestamp() * 1000)


def _fields(value: Any, path: str) -> tuple[tuple[str, ...], ...]:
    # Both guides document fields as one comma-separated string.
    if not isinstance(value, str):
        raise _fail(
            path, 'expected a comma-separated string such as "identities.id,personalEmail.address"'
        )
    parts = [p.strip() for p in value.split(",") if p.strip()]
    for part in parts:
        if not _FIELD_PATH.match(part):
            raise _fail(path, f"{part!r} is not a field path like personalEmail.address")
    return tuple(tuple(p.split(".")) for p in parts)


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, "expected a non-empty string")
    return value


def _segments(value: Any) -> tuple[SegmentFilter, ...]:
    if not isinstance(value, list):
        raise _fail("filter.segments", "expected a list of {segmentId, segmentNs, status}")
    result = []
    for i, raw in enumerate(value):
        where = f"filter.segments[{i}]"
        seg = _object(raw, where, {"segmentId", "segmentNs", "status"})
        if "segmentId" not in seg:
            raise _fail(f"{where}.segmentId", "required (the id of a segment definition)")
        statuses = seg.get("status", list(DEFAULT_SEGMENT_STATUSES))
        if (
            not isinstance(statuses, list)
            or not statuses
            or not all(s in _SEGMENT_STATUSES for s in statuses)
        ):
            raise _fail(
                f"{where}.status", f"expected a non-empty list of {list(_SEGMENT_STATUSES)}"
            )
        result.append(
            SegmentFilter(
                _string(seg["segmentId"], f"{where}.segmentId"),
                _string(seg.get("segmentNs", "ups"), f"{where}.segmentNs"),
                tuple(statuses),
            )
        )
    return tuple(result)


def parse(body: Any) -> ExportRequest:
    """An ExportRequest, or a 400 whose detail names the field and what to send."""
    top = _object(body, "", _TOP)
    destination = _object(top.get("destination"), "destination")
    # datasetId in every request example; dataSetId is how the Profile guide's answers spell it.
    allowed_dest = {"datasetId", "dataSetId", "segmentPerBatch"}
    _object(destination, "destination", allowed_dest)
    dataset_id = destination.get("datasetId", destination.get("dataSetId"))
    if dataset_id is None:
        raise _fail("destination.datasetId", "required (the id of the dataset to export into)")
    dataset_id = _string(dataset_id, "destination.datasetId")
    per_batch = destination.get("segmentPerBatch", False)
    if not isinstance(per_batch, bool):
        raise _fail("destination.segmentPerBatch", "expected true or false")
    schema = _object(top.get("schema"), "schema", {"name"})
    if "name" not in schema:
        raise _fail("schema.name", "required, e.g. _xdm.context.profile")
    schema_name = _string(schema["name"], "schema.name")
    fields = _fields(top["fields"], "fields") if "fields" in top else None
    policy_id: str | None = None
    policy_version: int | None = None
    if "mergePolicy" in top:
        policy = _object(top["mergePolicy"], "mergePolicy", {"id", "version"})
        if "id" not in policy:
            raise _fail("mergePolicy.id", "required when mergePolicy is given")
        policy_id = _string(policy["id"], "mergePolicy.id")
        version = policy.get("version")
        if version is not None and (
            isinstance(version, bool) or not isinstance(version, int) or version < 1
        ):
            raise _fail("mergePolicy.version", "expected a positive integer")
        policy_version = version
    filt = _object(top.get("filter", {}), "filter", _FILTER)
    segments = _segments(filt["segments"]) if "segments" in filt else ()
    q_start = q_end = None
    if "segmentQualificationTime" in filt:
        qual = _object(
            filt["segmentQualificationTime"],
            "filter.segmentQualificationTime",
            {"startTime", "endTime"},
        )
        if "startTime" in qual:
            q_start = parse_time(qual["startTime"], "filter.segmentQualificationTime.startTime")
        if "endTime" in qual:
            q_end = parse_time(qual["endTime"], "filter.segmentQualificationTime.endTime")
        if q_start is not None and q_end is not None and q_start > q_end:
            raise _fail("filter.segmentQualificationTime", "startTime is after endTime")
    from_ingest = (
        parse_time(filt["fromIngestTimestamp"], "filter.fromIngestTimestamp")
        if "fromIngestTimestamp" in filt
        else None
    )
    empty = filt.get("emptyProfiles", False)
    if not isinstance(empty, bool):
        raise _fail("filter.emptyProfiles", "expected true or false")
    # segmentPerBatch without segments: no document refuses it; the export is one batch.
    if "evaluationInfo" in top:
        info = _object(top["evaluationInfo"], "evaluationInfo")
        for key, value in info.items():
            if not isinstance(value, bool | dict):
                raise _fail(f"evaluationInfo.{key}", "expected true, false or an object")
    extra = _object(top.get("additionalFields", {}), "additionalFields", {"eventList"})
    events = "eventList" in extra
    event_fields = event_from = event_to = None
    if events:
        event_list = _object(extra["eventList"], "additionalFields.eventList", {"fields", "filter"})
        if "fields" in event_list:
            event_fields = _fields(event_list["fields"], "additionalFields.eventList.fields")
        ev_filter = _object(
            event_list.get("filter", {}),
            "additionalFields.eventList.filter",
            {"fromIngestTimestamp", "toIngestTimestamp"},
        )
        if "fromIngestTimestamp" in ev_filter:
            event_from = parse_time(
                ev_filter["fromIngestTimestamp"],
                "additionalFields.eventList.filter.fromIngestTimestamp",
            )
        if "toIngestTimestamp" in ev_filter:
            event_to = parse_time(
                ev_filter["toIngestTimestamp"],
                "additionalFields.eventList.filter.toIngestTimestamp",
            )
        if event_from is not None and event_to is not None and event_from > event_to:
            raise _fail(
                "additionalFields.eventList.filter",
                "fromIngestTimestamp is after toIngestTimestamp",
            )
    return ExportRequest(
        fields=fields,
        merge_policy_id=policy_id,
        merge_policy_version=policy_version,
        segments=segments,
        qualification_start_ms=q_start,
        qualification_end_ms=q_end,
        from_ingest_ms=from_ingest,
        empty_profiles=empty,
        events_requested=events,
        event_fields=event_fields,
        event_from_ingest_ms=event_from,
        event_to_ingest_ms=event_to,
        dataset_id=dataset_id,
        segment_per_batch=per_batch,
        schema_name=schema_name,
    )
