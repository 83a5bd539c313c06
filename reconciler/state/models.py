"""The state file's format (docs/contract.md section 6), as pydantic models.

Field names are the JSON keys (camelCase). Timestamps are timezone-aware datetimes in memory and
RFC 3339 UTC strings (`2026-01-02T03:04:05.000Z`) on disk.
"""

from __future__ import annotations

from datetime import UTC, datetime
from operator import attrgetter
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

# 2: the `retired` history list, and the snapshot may be followed by a journal
# (docs/contract.md section 6); a version-1 tool would ignore both, so it must refuse these files.
STATE_VERSION = 2


def format_time(value: datetime) -> str:
    """A timezone-aware datetime -> RFC 3339 UTC with milliseconds."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Parsed by pydantic-core itself (no Python call per value: a long history has 200,000 of them).
UtcTime = Annotated[AwareDatetime, PlainSerializer(format_time, return_type=str)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class BatchRef(_Model):
    segmentId: str
    batchId: str


def _is_none(value: object) -> bool:
    return value is None


_Provenance: Any = Field(default=None, exclude_if=_is_none)


class Run(_Model):
    """One export job this tool started or adopted; kept forever (runs are history)."""

    jobId: int
    fingerprint: str
    status: str  # the platform's status; CANCELLING: this tool asked, the platform has not ended it
    batchId: str | None = None
    batches: list[BatchRef] = Field(default_factory=list)
    datasetId: str | None = None
    createdAt: UtcTime
    finishedAt: UtcTime | None = None
    # why this run was started: create / replace / rerun: refresh due / rerun: failed / adopt
    reason: str
    # set when this tool asked for the cancellation, so a CANCELLED status is not drift
    cancelledAt: UtcTime | None = None
    # provenance (issue 16; reconciler.provenance): absent on runs recorded before it, and
    # not written when unknown (no 5 nulls a run in a long history)
    commit: str | None = _Provenance
    commitDirty: bool | None = _Provenance
    actor: str | None = _Provenance
    ciRun: str | None = _Provenance
    toolVersion: str | None = _Provenance

    def model_post_init(self, context: Any, /) -> None:
        # A run read from a state file has every field set but perhaps its provenance: one
        # shared set of their names instead of one per run saves 700 bytes a run (70 MB at
        # 100,000 runs). Nothing reads which provenance fields were set (they are dumped when
        # not None), nothing removes names, and pydantic only adds names, all there already.
        if self.__pydantic_fields_set__ >= _CORE_FIELDS:
            object.__setattr__(self, "__pydantic_fields_set__", _RUN_FIELDS)


PROVENANCE_FIELDS = ("commit", "commitDirty", "actor", "ciRun", "toolVersion")
_RUN_FIELDS = set(Run.model_fields)
_CORE_FIELDS = frozenset(_RUN_FIELDS - set(PROVENANCE_FIELDS))


class DatasetResource(_Model):
    """A managed Catalog dataset, with what this tool last set on it."""

    kind: Literal["Dataset"] = "Dataset"
    datasetId: str
    name: str
    description: str | None = None
    tags: dict[str, list[str]] = Field(default_factory=dict)  # as sent, ownership tag included
    schemaId: str
    # remembered because the document may be gone when the policy matters
    deletionPolicy: Literal["Orphan", "Delete"] = "Orphan"
    createdAt: UtcTime


class ExportJobResource(_Model):
    """A managed export job document: its current fingerprint and every run it ever had."""

    kind: Literal["ExportJob"] = "ExportJob"
    fingerprint: str
    request: dict[str, Any]  # canonical symbolic request of `fingerprint`, for diffs
    datasetAddress: str | None = None
    datasetId: str | None = None
    runs: list[Run] = Field(default_factory=list)

    def newest_run(self) -> Run | None:
        """The most recently created run (the one the plan reasons about)."""
        return max(self.runs, key=_NEWEST, default=None)


_NEWEST = attrgetter("createdAt", "jobId")  # C-level key: runs are many with a long history

Resource = Annotated[DatasetResource | ExportJobResource, Field(discriminator="kind")]


RetireReason = Literal["forget", "state rm"]


class RetiredResource(_Model):
    """A resource no longer managed, kept as history: which job wrote which batch, from which spec."""

    address: str
    retiredAt: UtcTime
    # forget: the document was removed (its objects stay claimed, never reported unmanaged);
    # state rm: the user stopped tracking it (its objects are unmanaged and can be imported)
    reason: RetireReason
    resource: Resource

    @property
    def claims(self) -> bool:
        """Whether the retired resource still claims its live objects (only after a `forget`)."""
        return self.reason == "forget"


class Intent(_Model):
    """A write-ahead record of a POST about to be sent, so a crash is completed, not repeated."""

    id: str
    address: str
    kind: Literal["exportjob", "dataset"]
    fingerprint: str
    request: dict[str, Any]  # the normalized resolved body
    watermarkMs: int | None = None
    createdAt: UtcTime
    # The platform's watermark when the intent was written: the newest job id seen and the
    # platform time, so the jobs the POST may have made are searched by id, not by time.
    watermarkJobId: int | None = None
    platformTimeMs: int | None = None
    postedAtMs: int | None = None  # platform time of the POST (the start of the settle window)
    answerJobId: int | None = None  # the id an unreadable or failed answer named, if any
    # pending: written before the POST; unknown: the POST may have happened, never resent
    # until resolved
    outcome: Literal["pending", "unknown"] = "pending"


class UnmanagedJob(_Model):
    """A live job no resource claims, as a refresh saw it (incremental ones list it only once)."""

    status: str
    createdMs: int
    datasetId: str | None = None
    # normalize_request of the live record, so a document can adopt it under any refresh
    request: dict[str, Any] | None = None


class Observed(_Model):
    """What earlier refreshes saw that an incremental refresh will not list again."""

    watermarkMs: int | None = None
    # the highest job id any refresh listed: jobs a lost POST may have made have higher ids
    watermarkJobId: int | None = None
    unmanagedJobs: dict[int, UnmanagedJob] = Field(default_factory=dict)


class State(_Model):
    """The whole state file."""

    version: Literal[2] = 2
    lineage: str = ""  # uuid4, assigned on the first write
    serial: int = 0
    sandbox: str = ""
    resources: dict[str, Resource] = Field(default_factory=dict)
    pending: list[Intent] = Field(default_factory=list)
    observed: Observed = Field(default_factory=Observed)
    retired: list[RetiredResource] = Field(default_factory=list)  # in the order retired

    def dataset(self, address: str) -> DatasetResource | None:
        """The dataset resource at `address`, if any."""
        res = self.resources.get(address)
        return res if isinstance(res, DatasetResource) else None

    def export_job(self, address: str) -> ExportJobResource | None:
        """The export job resource at `address`, if any."""
        res = self.resources.get(address)
        return res if isinstance(res, ExportJobResource) else None

    def _claiming(self) -> list[DatasetResource | ExportJobResource]:
        """The resources whose live objects are spoken for: managed ones and `forget` history."""
        return [*self.resources.values(), *(r.resource for r in self.retired if r.claims)]

    def claimed_job_ids(self) -> set[int]:
        """Every export job id recorded as a run of a resource or of a resource retired by forget."""
        return {
            run.jobId
            for res in self._claiming()
            if isinstance(res, ExportJobResource)
            for run in res.runs
        }

    def claimed_dataset_ids(self) -> set[str]:
        """Every dataset id held by a resource or by a resource retired by forget."""
        return {res.datasetId for res in self._claiming() if isinstance(res, DatasetResource)}

    def retire(self, address: str, *, reason: RetireReason, at: datetime) -> RetiredResource:
        """Move the resource at `address` into `retired` (history is kept, never dropped)."""
        entry = RetiredResource(
            address=address, retiredAt=at, reason=reason, resource=self.resources.pop(address)
        )
        self.retired.append(entry)
        return entry

    def retired_at(self, address: str) -> list[RetiredResource]:
        """The retired entries of `address`, oldest first."""
        return [r for r in self.retired if r.address == address]

    def to_json(self) -> str:
        """The file's text: indented JSON, keys in model order, a trailing newline."""
        return self.model_dump_json(indent=2) + "\n"
