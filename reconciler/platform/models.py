"""Tolerant models of the platform's answers: unknown fields are kept, unknown statuses too.

The real API adds fields over time; nothing here may fail on a field it does not know.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

# Both spellings of a cancelled job: the documents settle neither (OAS has no cancelled status).
CANCELLED_JOB_STATUSES = frozenset({"CANCELLED", "CANCELED"})
TERMINAL_JOB_STATUSES = frozenset({"SUCCEEDED", "FAILED"}) | CANCELLED_JOB_STATUSES


def job_status_is_terminal(status: str) -> bool:
    """Whether a job in `status` has finished and will not change (either cancelled spelling)."""
    return status.strip().upper() in TERMINAL_JOB_STATUSES


def canonical_job_status(status: str) -> str:
    """The status upper-cased, with `CANCELED` spelled `CANCELLED`; unknown statuses kept."""
    upper = status.strip().upper()
    return "CANCELLED" if upper in CANCELLED_JOB_STATUSES else upper


@dataclass(frozen=True)
class UnreadableRecord:
    """A record of a listing that could not be parsed: its id when it showed one, and why."""

    id: int | None
    reason: str


class ApiModel(BaseModel):
    """Base of every response model: extra fields allowed, numbers read as strings where asked."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, coerce_numbers_to_str=True)


def _as_list(value: Any) -> Any:
    """One object where the API sometimes sends a list -> a list of one; null -> empty."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    return value


def _strings_as_list(value: Any) -> Any:
    """A plain string where the API sometimes sends a list of strings -> a list of one."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return value


class BatchRef(ApiModel):
    """One entry of `destination.batches` (per segment when `segmentPerBatch`)."""

    batchId: str | None = None
    segmentId: str | None = None
    segmentNs: str | None = None
    status: list[str] = Field(default_factory=list)

    # SEG shows both `"status": ["realized"]` and `"status": "exited"`.
    _list_status = field_validator("status", mode="before")(_strings_as_list)


class JobDestination(ApiModel):
    """`destination` of an export job; reads both `datasetId` and the guide's `dataSetId`."""

    datasetId: str | None = Field(
        default=None, validation_alias=AliasChoices("datasetId", "dataSetId")
    )
    segmentPerBatch: bool | None = None
    batchId: str | None = None
    batches: list[BatchRef] = Field(default_factory=list)

    _list_batches = field_validator("batches", mode="before")(_as_list)


class JobError(ApiModel):
    """One entry of a failed job's `errors`."""

    code: str | None = None
    msg: str | None = None
    callStack: str | None = None


class ExportJobRecord(ApiModel):
    """An export job as returned by create, get and list."""

    id: int
    status: str
    creationTime: int
    updateTime: int | None = None
    destination: JobDestination = Field(default_factory=JobDestination)
    fields: str | None = None
    filter: dict[str, Any] | None = None
    additionalFields: dict[str, Any] | None = None
    mergePolicy: dict[str, Any] | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    errors: list[JobError] = Field(default_factory=list)
    metrics: dict[str, Any] | None = None
    requestId: str | None = None
    profileInstanceId: str | None = None
    jobType: str | None = None

    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @field_validator("fields", mode="before")
    @classmethod
    def _fields_as_string(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ",".join(str(v) for v in value)
        return value

    _list_errors = field_validator("errors", mode="before")(_as_list)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_raw(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        record = handler(data)
        if isinstance(record, ExportJobRecord) and isinstance(data, dict):
            record._raw = copy.deepcopy(data)
        return record

    @property
    def is_terminal(self) -> bool:
        """Whether the job has finished (succeeded, failed or cancelled) and will not change."""
        return job_status_is_terminal(self.status)

    @property
    def is_cancelled(self) -> bool:
        """Whether the job ended cancelled (`CANCELLED` or `CANCELED`)."""
        return canonical_job_status(self.status) == "CANCELLED"

    @property
    def batch_ids(self) -> list[str]:
        """Every non-empty batch id the job names, `batchId` first, without repeats."""
        ids = [self.destination.batchId, *(b.batchId for b in self.destination.batches)]
        return list(dict.fromkeys(i for i in ids if i))

    def raw(self) -> dict[str, Any]:
        """The record exactly as received (a copy)."""
        return copy.deepcopy(self._raw)


class CatalogDataset(ApiModel):
    """A Catalog dataset; the id comes from the key of Catalog's id-keyed answers."""

    id: str
    name: str = ""
    description: str | None = None
    tags: dict[str, list[str]] = Field(default_factory=dict)
    classification: dict[str, Any] | None = None
    schemaRef: dict[str, Any] | None = None
    created: int | None = None
    updated: int | None = None
    version: str | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _no_name_as_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("tags", mode="before")
    @classmethod
    def _tag_values_as_lists(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v if isinstance(v, list) else [v] for k, v in value.items()}
        return {} if value is None else value


class CatalogBatch(ApiModel):
    """A Catalog batch (the output of an export job run)."""

    id: str
    status: str = ""
    relatedObjects: list[dict[str, Any]] = Field(default_factory=list)
    metrics: dict[str, Any] = Field(default_factory=dict)
    errors: list[dict[str, Any]] = Field(default_factory=list)
    created: int | None = None
    completed: int | None = None

    @property
    def record_count(self) -> int | None:
        """Records written: `recordsWritten`, else `outputRecordSize`, else `recordCount`."""
        for key in ("recordsWritten", "outputRecordSize", "recordCount"):
            value = self.metrics.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return int(value)
        return None

    @property
    def byte_count(self) -> int | None:
        """Bytes written: `outputByteSize` (the Catalog's batch metrics), else None."""
        value = self.metrics.get("outputByteSize")
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return int(value)
        return None


class SegmentDefinition(ApiModel):
    """A segment definition (audience)."""

    id: str
    name: str = ""
    description: str | None = None
    expression: dict[str, Any] | None = None
    mergePolicyId: str | None = None
    evaluationInfo: dict[str, Any] | None = None
    creationTime: int | None = None
    updateTime: int | None = None


class MergePolicy(ApiModel):
    """A Profile merge policy."""

    id: str
    name: str = ""
    version: int | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    identityGraph: dict[str, Any] | None = None
    attributeMerge: dict[str, Any] | None = None
    default: bool = False


class BatchFile(ApiModel):
    """An entry of Data Access `GET /batches/{id}/files`: one dataset file of the batch."""

    dataSetFileId: str
    dataSetViewId: str | None = None
    name: str | None = None
    length: int | None = None
    isValid: bool | None = None
    links: dict[str, Any] = Field(default_factory=dict, alias="_links")


@dataclass(frozen=True)
class CancelAnswer:
    """What the platform said to a job DELETE.

    `marked`: it said the job was marked for cancelling (the Segmentation guide's 200); False for
    a 204 without a body (the Profile guide) or a "deleted" answer. `message`: its words, if any.
    Either way the job may still be in flight: read it to learn how it ended.
    """

    marked: bool
    message: str | None = None

    @property
    def deleted(self) -> bool:
        """Whether the platform said it deleted the job's record (a DELETE of a finished job)."""
        return self.message is not None and "deleted" in self.message.lower()
