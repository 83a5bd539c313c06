"""Immutable models of the resource documents (docs/contract.md section 3).

Field names follow the API body of `POST /data/core/ups/export/jobs` (camelCase) so that a spec
reads like the request it becomes. Unknown keys are errors everywhere.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

API_VERSION = "reconciler/v1"
PROFILE_UNION_SCHEMA = "https://ns.adobe.com/xdm/context/profile__union"
XED_CONTENT_TYPE = "application/vnd.adobe.xed+json;version=1"
NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
DURATION_PATTERN = r"^\s*\d*[1-9]\d*\s*[smhdw]\s*$"
SEGMENT_STATUSES = ("realized", "existing", "exited")

_DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_fields(value: Any) -> Any:
    """`fields` as a comma-separated string or a list of strings -> a tuple of field paths."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
    elif isinstance(value, list | tuple):
        if not all(isinstance(p, str) for p in value):
            raise ValueError("fields must be a comma-separated string or a list of strings")
        parts = [p.strip() for p in value]
    else:
        raise ValueError("fields must be a comma-separated string or a list of strings")
    if not parts or parts == [""]:
        raise ValueError("fields is empty; omit it to export every field")
    if any(not p for p in parts):
        raise ValueError("fields has an empty entry; remove the stray comma")
    return tuple(parts)


def parse_duration(value: Any) -> Any:
    """`30m`, `24h`, `7d` (also `s` and `w`) -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if not match or int(match.group(1)) == 0:
            raise ValueError(
                f"'{value}' is not a duration; write a positive number and a unit, e.g. 30m, 24h, 7d"
            )
        return timedelta(seconds=int(match.group(1)) * _DURATION_UNITS[match.group(2)])
    raise ValueError("a duration must be a string such as 30m, 24h or 7d")


def parse_timestamp(value: Any) -> Any:
    """RFC 3339 timestamps with an explicit offset; the offset is kept."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if not re.match(TIMESTAMP_PATTERN, text):
            raise ValueError(
                f"'{value}' is not an RFC 3339 timestamp; write e.g. 2018-10-25T13:22:04-07:00"
            )
        try:
            parsed = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"'{value}' is not a valid date and time") from exc
    else:
        raise ValueError("a timestamp must be an RFC 3339 string")
    if parsed.tzinfo is None:
        raise ValueError("the timestamp has no offset; add Z or an offset such as -07:00")
    return parsed


def format_timestamp(value: datetime) -> str:
    """RFC 3339 with the original offset (`Z` for UTC)."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def format_duration(value: timedelta) -> str:
    """The shortest exact unit form of a duration (86400 s -> 1d)."""
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        size = _DURATION_UNITS[unit]
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# The JSON Schema describes what a spec may say (the input), not the parsed Python value.
Fields = Annotated[
    tuple[str, ...],
    BeforeValidator(parse_fields),
    PlainSerializer(lambda v: ",".join(v), return_type=str),
    WithJsonSchema(
        {
            "description": "Field paths: a comma-separated string or a list of strings.",
            "anyOf": [
                {"type": "string", "minLength": 1},
                {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
            ],
        }
    ),
]
Timestamp = Annotated[
    datetime,
    BeforeValidator(parse_timestamp),
    PlainSerializer(format_timestamp, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": TIMESTAMP_PATTERN,
            "description": "RFC 3339 with an offset, e.g. 2018-10-25T13:22:04-07:00.",
        }
    ),
]
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A number and a unit (s, m, h, d, w), e.g. 30m, 24h, 7d.",
        }
    ),
]
ResourceName = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=63)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Metadata(_Model):
    """The document's identity: `name` is unique per kind; `labels` are free-form strings."""

    name: ResourceName
    labels: dict[str, str] = Field(default_factory=dict)


class SchemaRef(_Model):
    """The XDM schema of the dataset (default: the Individual Profile union schema)."""

    id: str = PROFILE_UNION_SCHEMA
    contentType: str = XED_CONTENT_TYPE


class FileDescription(_Model):
    """How the dataset stores its files (parquet, persisted)."""

    persisted: bool = True
    containerFormat: str = "parquet"
    format: str = "parquet"


class DatasetSpec(_Model):
    """The Catalog dataset: its name, schema and what happens when the document is removed."""

    name: Annotated[str, Field(min_length=1)]
    description: str | None = None
    schemaRef: SchemaRef = Field(default_factory=SchemaRef)
    fileDescription: FileDescription = Field(default_factory=FileDescription)
    # Catalog tags set on the dataset (name -> values); the tool adds its own ownership tag.
    tags: dict[str, list[str]] = Field(default_factory=dict)
    deletionPolicy: Literal["Orphan", "Delete"] = "Orphan"


class DatasetDoc(_Model):
    """A Catalog dataset that export jobs write into, managed by this repository."""

    apiVersion: Literal["reconciler/v1"]
    kind: Literal["Dataset"]
    metadata: Metadata
    spec: DatasetSpec

    @property
    def address(self) -> str:
        return f"dataset/{self.metadata.name}"


class MergePolicyRef(_Model):
    """The merge policy of the export; without `version`, the newest version."""

    id: Annotated[str, Field(min_length=1)]
    version: int | None = None


class EventListFilter(_Model):
    """Only events ingested after `fromIngestTimestamp`."""

    fromIngestTimestamp: Timestamp | None = None


class EventList(_Model):
    """Time-series event fields exported with each profile."""

    fields: Fields | None = None
    filter: EventListFilter | None = None


class AdditionalFields(_Model):
    """Related time-series data to export (omit to export profile attributes only)."""

    eventList: EventList | None = None


class SegmentRef(_Model):
    """One audience (segment) to export, optionally only members in the given statuses."""

    segmentId: Annotated[str, Field(min_length=1)]
    segmentNs: str | None = None
    status: list[Literal["realized", "existing", "exited"]] | None = None


class QualificationTime(_Model):
    """Only members who qualified between `startTime` and `endTime`."""

    startTime: Timestamp | None = None
    endTime: Timestamp | None = None


class ExportFilter(_Model):
    """Which profiles to export; without a filter, every profile."""

    segments: Annotated[list[SegmentRef], Field(min_length=1)] | None = None
    segmentQualificationTime: QualificationTime | None = None
    fromIngestTimestamp: Timestamp | None = None
    emptyProfiles: bool | None = None


class Destination(_Model):
    """Where the export goes: a Dataset document (`dataset`) or an existing dataset id."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["dataset"]}, {"required": ["datasetId"]}]}
    )

    dataset: ResourceName | None = None  # a Dataset document's metadata.name
    datasetId: Annotated[str, Field(min_length=1)] | None = None  # an unmanaged dataset
    segmentPerBatch: bool = False

    @model_validator(mode="after")
    def _one_reference(self) -> Destination:
        if (self.dataset is None) == (self.datasetId is None):
            raise ValueError("give exactly one of destination.dataset and destination.datasetId")
        return self


class SchemaName(_Model):
    """The schema of the exported data, e.g. `_xdm.context.profile`."""

    name: Annotated[str, Field(min_length=1)]


class ExportJobSpec(_Model):
    """The body of POST /data/core/ups/export/jobs, plus the refresh/onFailure/maxProfiles policy."""

    fields: Fields | None = None
    mergePolicy: MergePolicyRef | None = None
    additionalFields: AdditionalFields | None = None
    filter: ExportFilter | None = None
    destination: Destination
    schema_: SchemaName = Field(alias="schema")
    # Reconciler policy, not sent to the API:
    refresh: Duration | None = None
    onFailure: Literal["retry", "report"] = "retry"
    # A run whose estimated audience (the interval's lower bound) is larger blocks the plan of
    # this document unless `apply --allow-large` names it (issue 17).
    maxProfiles: (
        Annotated[
            int,
            Field(
                ge=1,
                strict=True,
                description="Most profiles one run may export (the estimate's lower bound); "
                "over it, the plan blocks the document unless apply --allow-large names it.",
            ),
        ]
        | None
    ) = None


class ExportJobDoc(_Model):
    """A profile or audience export job: each apply makes sure a run of it exists."""

    apiVersion: Literal["reconciler/v1"]
    kind: Literal["ExportJob"]
    metadata: Metadata
    spec: ExportJobSpec

    @property
    def address(self) -> str:
        return f"exportjob/{self.metadata.name}"


Document = Annotated[DatasetDoc | ExportJobDoc, Field(discriminator="kind")]
KINDS = ("Dataset", "ExportJob")
