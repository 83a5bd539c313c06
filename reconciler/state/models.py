"""The state file's format (docs/contract.md section 6), as pydantic models.

Field names are the JSON keys (camelCase). Timestamps are timezone-aware datetimes in memory and
RFC 3339 UTC strings (`2026-01-02T03:04:05.000Z`) on disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from operator import attrgetter
from typing import Annotated, Any, Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, PrivateAttr

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


def _is_zero(value: object) -> bool:
    return value == 0


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
    # The head (issue 16, docs/state.md): how many of this resource's oldest runs the backend
    # keeps in its history instead of `runs` (absent: none; a state read whole has none).
    # `runs` then holds the runs from position `archivedRuns` on: the head's suffix.
    archivedRuns: int = Field(default=0, ge=0, exclude_if=_is_zero)

    @property
    def run_count(self) -> int:
        """How many runs the resource has had, those kept in the history included."""
        return self.archivedRuns + len(self.runs)

    def newest_run(self) -> Run | None:
        """The most recently created run (the one the plan reasons about)."""
        return max(self.runs, key=_NEWEST, default=None)


_NEWEST = attrgetter("createdAt", "jobId")  # C-level key: runs are many with a long history

# The head keeps each resource's newest HEAD_RUNS runs (by position), every run in flight and
# the newest successful run; the runs before all of those go to the history, HEAD_RUNS at a
# time at least (so a head holds at most about twice HEAD_RUNS runs but for long-lived ones).
HEAD_RUNS = 10
_SETTLED = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "CANCELED"})


def head_start(runs: Sequence[Run]) -> int:
    """How many of `runs` (in position order) may move to the history: 0, or HEAD_RUNS or more.

    The head keeps a suffix of the runs: the newest HEAD_RUNS by position, the newest by
    creation time, the newest SUCCEEDED one (what the last successful run wrote) and every run
    not settled (in flight, CANCELLING, or a status this tool does not know), and all runs
    after the first of those.
    """
    if len(runs) < 2 * HEAD_RUNS:
        return 0
    start = len(runs) - HEAD_RUNS
    newest = max(range(len(runs)), key=lambda i: _NEWEST(runs[i]))
    start = min(start, newest)
    succeeded = [i for i, r in enumerate(runs) if r.status.upper() == "SUCCEEDED"]
    if succeeded:
        start = min(start, max(succeeded, key=lambda i: _NEWEST(runs[i])))
    for i in range(start):
        if runs[i].status.upper() not in _SETTLED:
            start = i
            break
    return start if start >= HEAD_RUNS else 0


class ClaimsIndex(Protocol):
    """A backend's index of the job ids claimed by runs kept in its history (not in the head)."""

    def among(self, job_ids: Iterable[int]) -> set[int]:
        """Which of `job_ids` a history run of a claiming resource has (managed, or forget)."""
        ...

    def max_job_id(self) -> int | None:
        """The highest job id of any history run, or None."""
        ...

    def all_job_ids(self) -> set[int]:
        """Every claimed job id of the history (loads the whole index: not for decisions)."""
        ...


class ClaimedJobIds(AbstractSet[int]):
    """The job ids state claims: the head's runs' (a set) and the history's (asked, not loaded).

    Ask `among(ids)` for many ids at once (one question to the backend), `in` for one. As a
    set (iteration, len, comparisons, set operators) it loads the history's whole index: fine
    for tests and reports, not for what a plan decides.
    """

    def __init__(self, head: set[int], history: ClaimsIndex | None = None) -> None:
        self.head = head
        self._history = history

    def __contains__(self, job_id: object) -> bool:
        if job_id in self.head:
            return True
        if self._history is None or not isinstance(job_id, int):
            return False
        return bool(self._history.among((job_id,)))

    def among(self, job_ids: Iterable[int]) -> set[int]:
        """The claimed ones of `job_ids`."""
        ids = set(job_ids)
        found = ids & self.head
        rest = ids - found
        if rest and self._history is not None:
            found |= self._history.among(rest)
        return found

    def max(self) -> int | None:
        """The highest claimed job id (head or history), or None."""
        marks = [m for m in (max(self.head, default=None), self._max_history()) if m is not None]
        return max(marks, default=None)

    def _max_history(self) -> int | None:
        return self._history.max_job_id() if self._history is not None else None

    def _all(self) -> set[int]:
        if self._history is None:
            return self.head
        return self.head | self._history.all_job_ids()

    def __iter__(self) -> Iterator[int]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return f"ClaimedJobIds(head={len(self.head)}, history={self._history is not None})"

    @classmethod
    def _from_iterable(cls, it: Iterable[Any]) -> set[Any]:
        # what the Set operators (`ids - claimed`, `claimed | ids`, ...) return: a plain set
        return set(it)


class _HistoryRef:
    """Carries a head's ClaimsIndex on its State; equal to any other (or none): a State's
    value is its fields, not which backend it came from. Shared, never copied."""

    __slots__ = ("index",)

    def __init__(self, index: ClaimsIndex) -> None:
        self.index = index

    def __eq__(self, other: object) -> bool:
        return other is None or isinstance(other, _HistoryRef)

    __hash__ = None  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict[int, Any]) -> _HistoryRef:
        return self


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
    # Set by a backend on a head it read (Store.read, Writer.read): the index of the job ids
    # its history's runs claim. None: the state is whole (read_history, or nothing archived).
    _history: _HistoryRef | None = PrivateAttr(default=None)

    def attach_history(self, index: ClaimsIndex | None) -> State:
        """Mark this state as a head whose history's claims `index` answers; returns self."""
        self._history = _HistoryRef(index) if index is not None else None
        return self

    @property
    def is_head(self) -> bool:
        """Whether some resource's oldest runs are in the backend's history, not here."""
        return self._history is not None

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

    def claimed_job_ids(self) -> ClaimedJobIds:
        """Every export job id recorded as a run of a resource or of a resource retired by forget
        (the head's runs, and on a head the history's through its backend's index)."""
        head = {
            run.jobId
            for res in self._claiming()
            if isinstance(res, ExportJobResource)
            for run in res.runs
        }
        return ClaimedJobIds(head, self._history.index if self._history is not None else None)

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
