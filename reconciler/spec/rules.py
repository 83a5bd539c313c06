"""Checks on one valid document that a type cannot express (each yields a path and a message)."""

from __future__ import annotations

from collections.abc import Iterator

from reconciler.spec.models import DatasetDoc, ExportJobDoc, format_timestamp
from reconciler.spec.yamlread import Path_

Finding = tuple[Path_, str]


def export_job_rules(doc: ExportJobDoc) -> Iterator[Finding]:
    """segmentPerBatch needs segments; qualification window in order; no repeated entries."""
    spec = doc.spec
    segments = spec.filter.segments if spec.filter else None
    if spec.destination.segmentPerBatch and not segments:
        yield (
            ("spec", "destination", "segmentPerBatch"),
            "segmentPerBatch: true needs filter.segments (one batch per segment); "
            "add segments or set it to false",
        )
    window = spec.filter.segmentQualificationTime if spec.filter else None
    if window and window.startTime and window.endTime and window.startTime >= window.endTime:
        yield (
            ("spec", "filter", "segmentQualificationTime", "endTime"),
            f"endTime {format_timestamp(window.endTime)} is not after startTime "
            f"{format_timestamp(window.startTime)}; swap them or fix the dates",
        )
    seen: set[tuple[str, str | None]] = set()
    for index, segment in enumerate(segments or []):
        key = (segment.segmentId, segment.segmentNs)
        if key in seen:
            yield (
                ("spec", "filter", "segments", index, "segmentId"),
                f"segment '{segment.segmentId}' is listed twice; remove one",
            )
        seen.add(key)
    yield from _repeated_fields(("spec", "fields"), spec.fields)
    event_list = spec.additionalFields.eventList if spec.additionalFields else None
    if event_list:
        yield from _repeated_fields(
            ("spec", "additionalFields", "eventList", "fields"), event_list.fields
        )


def _repeated_fields(path: Path_, fields: tuple[str, ...] | None) -> Iterator[Finding]:
    seen: set[str] = set()
    for name in fields or ():
        if name in seen:
            yield path, f"'{name}' is listed twice; remove one"
            return
        seen.add(name)


def dataset_rules(doc: DatasetDoc) -> Iterator[Finding]:
    """Tag names the platform or this tool reserve are not for specs."""
    for tag in doc.spec.tags:
        if tag.startswith("adobe") or tag in ("unifiedProfile", "unifiedIdentity"):
            owner = "Adobe Experience Platform"
        elif tag.startswith("reconciler/"):
            owner = "this tool (it marks the datasets it manages)"
        else:
            continue
        yield ("spec", "tags", tag), f"tag '{tag}' is reserved by {owner}; choose another name"
