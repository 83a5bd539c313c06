"""Questions about the history of runs, answered by either backend (lineage; docs/state.md).

`find_runs_in(state, ...)` answers from a state in memory (the file backend); the PostgreSQL
backend answers the same question with one indexed query (`reconciler.state.pg_history`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter

from reconciler.state.models import ExportJobResource, RetireReason, Run, State

# The other runs of a document a lineage answer lists (newest first); the rest are counted.
OTHER_RUNS = 10


@dataclass(frozen=True)
class RetiredAt:
    """Where a run of a resource no longer managed sits: its retired entry."""

    seq: int  # 1, 2, ... in the order retired
    retiredAt: datetime
    reason: RetireReason


@dataclass(frozen=True)
class OtherRun:
    """Another run of the same document (address), managed or retired."""

    run: Run
    retired: bool


@dataclass(frozen=True)
class RunMatch:
    """A run whose job id or batch id (its own or a segment's) is the one asked for."""

    address: str
    resource: ExportJobResource  # the document's resource, without its runs
    run: Run
    retired: RetiredAt | None  # None: the resource is managed now
    others: tuple[OtherRun, ...]  # the other runs of the address, newest first, bounded
    more: int  # how many other runs `others` leaves out

    @property
    def request_known(self) -> bool:
        """Whether the resource's request is the one this run was made from (same fingerprint)."""
        return self.resource.fingerprint == self.run.fingerprint


def has_id(run: Run, job_id: int | None, batch_id: str | None) -> bool:
    """Whether `run` is job `job_id` or wrote batch `batch_id` (itself or one of its segments)."""
    if job_id is not None and run.jobId == job_id:
        return True
    if batch_id is None:
        return False
    return run.batchId == batch_id or any(ref.batchId == batch_id for ref in run.batches)


_NEWEST = attrgetter("run.createdAt", "run.jobId")


def find_runs_in(
    state: State,
    *,
    job_id: int | None = None,
    batch_id: str | None = None,
    others: int = OTHER_RUNS,
) -> list[RunMatch]:
    """The runs of `state` (managed and retired resources) with that job id or batch id."""
    slots: list[tuple[str, ExportJobResource, RetiredAt | None]] = [
        (address, res, None)
        for address, res in state.resources.items()
        if isinstance(res, ExportJobResource)
    ]
    slots += [
        (entry.address, entry.resource, RetiredAt(seq, entry.retiredAt, entry.reason))
        for seq, entry in enumerate(state.retired, 1)
        if isinstance(entry.resource, ExportJobResource)
    ]
    found: list[RunMatch] = []
    for address, res, retired in slots:
        for run in res.runs:
            if not has_id(run, job_id, batch_id):
                continue
            rest = sorted(
                (
                    OtherRun(other, slot_retired is not None)
                    for slot_address, slot_res, slot_retired in slots
                    if slot_address == address
                    for other in slot_res.runs
                    if other is not run
                ),
                key=_NEWEST,
                reverse=True,
            )
            found.append(
                RunMatch(
                    address=address,
                    resource=res.model_copy(update={"runs": []}),
                    run=run,
                    retired=retired,
                    others=tuple(rest[:others]),
                    more=max(0, len(rest) - others),
                )
            )
    return sorted(found, key=_NEWEST, reverse=True)
