"""What a successful export writes: the selected profiles, projected, as parquet files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from reconciler.emulator.job_request import ExportRequest, SegmentFilter
from reconciler.emulator.population import Profile

Paths = tuple[tuple[str, ...], ...]


def project(value: Any, paths: Paths) -> Any:
    """The parts of value named by dotted paths (through lists); None when nothing is left."""
    if any(len(p) == 0 for p in paths):
        return value
    if isinstance(value, list):
        items = [x for x in (project(v, paths) for v in value) if x is not None]
        return items or None
    if not isinstance(value, dict):
        return None
    result: dict[str, Any] = {}
    for head in dict.fromkeys(p[0] for p in paths):
        if head in value:
            sub = project(value[head], tuple(p[1:] for p in paths if p[0] == head))
            if sub is not None:
                result[head] = sub
    return result or None


def _qualifies(profile: Profile, seg: SegmentFilter, request: ExportRequest) -> bool:
    membership = profile.memberships.get(seg.segment_id)
    if membership is None or seg.namespace != "ups":
        return False
    status, when = membership
    if status not in seg.statuses:
        return False
    if request.qualification_start_ms is not None and when < request.qualification_start_ms:
        return False
    return request.qualification_end_ms is None or when <= request.qualification_end_ms


def selected(
    profiles: Sequence[Profile], request: ExportRequest, segments: Sequence[SegmentFilter]
) -> list[Profile]:
    """Profiles passing filter.fromIngestTimestamp and qualifying for any of segments."""
    chosen = []
    for profile in profiles:
        if request.from_ingest_ms is not None and profile.ingest_ms < request.from_ingest_ms:
            continue
        if segments and not any(_qualifies(profile, s, request) for s in segments):
            continue
        chosen.append(profile)
    return chosen


def row(profile: Profile, request: ExportRequest) -> dict[str, Any] | None:
    """One exported record; None for an empty profile unless filter.emptyProfiles is true."""
    attrs = (
        profile.attributes
        if request.fields is None
        else project(profile.attributes, request.fields)
    )
    record: dict[str, Any] = dict(attrs or {})
    if not record and not request.empty_profiles:
        return None
    if request.events_requested:
        events = [
            e.body if request.event_fields is None else project(e.body, request.event_fields)
            for e in profile.events
            if (request.event_from_ingest_ms is None or e.ingest_ms >= request.event_from_ingest_ms)
            and (request.event_to_ingest_ms is None or e.ingest_ms <= request.event_to_ingest_ms)
        ]
        record["eventList"] = [e for e in events if e is not None]
    return record


def rows_for(
    profiles: Sequence[Profile], request: ExportRequest, segments: Sequence[SegmentFilter]
) -> list[dict[str, Any]]:
    """The records of one batch."""
    return [r for p in selected(profiles, request, segments) if (r := row(p, request)) is not None]


def to_table(rows: list[dict[str, Any]], fields: Paths | None) -> pa.Table:
    """One table for all rows; every key of every row becomes a column (nulls where absent)."""
    # pa.Table.from_pylist takes its columns from the first row only, dropping the rest.
    columns = dict.fromkeys(key for r in rows for key in r)
    if not columns:
        # A table without columns cannot hold rows: keep the row count in a null column.
        name = fields[0][0] if fields else "identities"
        return pa.table({name: pa.nulls(len(rows))})
    return pa.table({key: pa.array([r.get(key) for r in rows]) for key in columns})


def write_parquet(
    rows: list[dict[str, Any]], directory: Path, rows_per_file: int, fields: Paths | None
) -> list[tuple[str, int]]:
    """Write rows as part-NNNNN.parquet files of one schema; (name, size) of each (at least one)."""
    directory.mkdir(parents=True, exist_ok=True)
    table = to_table(rows, fields)
    offsets = range(0, max(len(rows), 1), rows_per_file)
    written = []
    for index, offset in enumerate(offsets):
        path = directory / f"part-{index:05d}.parquet"
        pq.write_table(table.slice(offset, rows_per_file), path)
        written.append((path.name, path.stat().st_size))
    return written
