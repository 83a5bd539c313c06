"""The executor's records: its errors, and the state values it makes from live records.

The executor (reconciler.engine.executor) is split by concern: these helpers,
`executor_base` (state writes, intents, recording runs and datasets), `executor_recovery`
(intents an interrupted apply left), `executor_effects` (creates and cancels on the platform),
`executor_wait` (apply --wait) and `executor` (carrying out a plan's actions).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.engine.model import Action, LiveSnapshot
from reconciler.engine.planner import record_observations
from reconciler.engine.refresh import live_run
from reconciler.engine.results import WaitedRun
from reconciler.errors import ReconcilerError
from reconciler.platform.models import CatalogDataset, ExportJobRecord
from reconciler.state import (
    BatchRef,
    DatasetResource,
    Run,
    State,
)

Clock = Callable[[], datetime]


class ApplyError(ReconcilerError):
    """An action of the plan cannot be carried out as planned."""


class WaitTimeout(ReconcilerError):
    """`apply --wait` gave up before every run finished."""


class AddressStopped(Exception):
    """One address cannot go on in this apply (the line says why); the others do."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


def observe_state(state: State, live: LiveSnapshot) -> State:
    """`record_observations` (which keeps a CANCELLING run so until a read shows it ended)."""
    return record_observations(state, live)


def utc_now() -> datetime:
    return datetime.now(UTC)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def digest(value: Mapping[str, Any]) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def run_from_record(
    record: ExportJobRecord,
    *,
    fingerprint: str,
    reason: str,
    dataset_id: str | None,
    provenance: Mapping[str, str | bool] | None = None,
) -> Run:
    """A state run for a live job record; `provenance`: who and what started or adopted it
    (`Provenance.run_fields()`: commit, commitDirty, actor, ciRun, toolVersion)."""
    live = live_run(record)
    finished = from_ms(live.updated_ms or live.created_ms) if live.terminal else None
    return Run(
        jobId=live.job_id,
        fingerprint=fingerprint,
        status=live.status,
        batchId=live.batch_id,
        batches=[BatchRef(segmentId=s, batchId=b) for s, b in live.batches],
        datasetId=live.dataset_id or dataset_id,
        createdAt=from_ms(live.created_ms),
        finishedAt=finished,
        reason=reason,
        **dict(provenance or {}),
    )


def after_earlier_runs(run: Run, earlier: Iterable[Run]) -> Run:
    """`run`, its createdAt moved just past the newest earlier run's when the clock stepped back.

    The platform's clock may step backwards (issue 13, case 4): a newer job can carry an older
    creation time. The plan reasons about the newest run (`newest_run`, by createdAt), so a run
    is never recorded as created before the runs it follows.
    """
    newest = max((r.createdAt for r in earlier if r.jobId != run.jobId), default=None)
    if newest is None or run.createdAt > newest:
        return run
    return run.model_copy(update={"createdAt": newest + timedelta(milliseconds=1)})


def dataset_resource(
    dataset: CatalogDataset, *, deletion_policy: str, created_at: datetime
) -> DatasetResource:
    """A state dataset resource recording a live dataset as it is now."""
    schema = (dataset.schemaRef or {}).get("id")
    return DatasetResource(
        datasetId=dataset.id,
        name=dataset.name,
        description=dataset.description,
        tags={k: list(v) for k, v in dataset.tags.items()},
        schemaId=schema if isinstance(schema, str) else "",
        deletionPolicy="Delete" if deletion_policy == "Delete" else "Orphan",
        createdAt=created_at,
    )


def changed_addresses(before: State, after: State) -> list[str]:
    """The addresses whose resource differs (cheap: unchanged runs are the same objects)."""
    changed = []
    for address in before.resources.keys() | after.resources.keys():
        old, new = before.resources.get(address), after.resources.get(address)
        if old is not new and old != new:
            changed.append(address)
    return changed


def run_reason(action: Action) -> str:
    if action.action in ("create", "replace"):
        return action.action
    reason = action.reason.removeprefix("rerun: ")
    return f"rerun: {reason}"


__all__ = ["WaitedRun"]
