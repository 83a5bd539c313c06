"""What the planner's modules share: the desired specs' shape and one make_plan call's scratch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from reconciler.engine.model import CANCELLING, Action, DriftFinding, LiveSnapshot, is_terminal
from reconciler.spec.models import DatasetDoc, ExportJobDoc
from reconciler.state.models import Run, State

# Action groups: datasets first (jobs write into them), then jobs, then what removed documents leave.
GROUP_DATASET, GROUP_JOB, GROUP_REMOVE = 0, 1, 2

# Finding kinds beyond drift (docs/engine.md): a job that could answer more than one document
# (or a document that more than one job could answer); a job record that does not parse; an
# address whose actions are held back.
AMBIGUOUS, UNREADABLE, BLOCKED = "ambiguous", "unreadable", "blocked"


class DesiredSpecs(Protocol):
    """What the planner reads of a loaded `SpecSet`."""

    @property
    def datasets(self) -> Mapping[str, DatasetDoc]: ...

    @property
    def export_jobs(self) -> Mapping[str, ExportJobDoc]: ...

    @property
    def digest(self) -> str: ...


def unmanaged_address(kind: str, live_id: str | int) -> str:
    """How a live object no document claims is named in findings: `dataset@<id>`, `exportjob@<id>`."""
    return f"{kind}@{live_id}"


def import_command(address: str, live_id: str | int) -> str:
    """The command that settles which live object a document holds."""
    return f"reconciler import {address} {live_id}"


def cancel_asked(run: Run) -> bool:
    """This tool already sent the DELETE for `run` (a DELETE is never sent twice)."""
    return run.cancelledAt is not None or run.status == CANCELLING


def is_cancelled(status: str) -> bool:
    """CANCELLED in either spelling (the platform documents none; some answers say CANCELED)."""
    return status.upper() in ("CANCELLED", "CANCELED")


@dataclass(frozen=True)
class Candidate:
    """An unclaimed live job a document might adopt: read now, or remembered in observations."""

    job_id: int
    status: str
    created_ms: int
    request: Mapping[str, Any]


@dataclass
class Planning:
    """The mutable scratch of one make_plan call (never escapes it)."""

    specs: DesiredSpecs
    state: State
    live: LiveSnapshot
    now: datetime
    actions: list[tuple[int, Action]] = field(default_factory=list)
    findings: list[DriftFinding] = field(default_factory=list)
    # dataset address -> "create" | "replace" | "adopt", and the id once known
    dataset_plans: dict[str, str] = field(default_factory=dict)
    dataset_ids: dict[str, str] = field(default_factory=dict)
    adopted_jobs: set[int] = field(default_factory=set)
    adopted_datasets: set[str] = field(default_factory=set)
    # the job ids the plan asks about (live, new, remembered unmanaged) that a state run claims
    claimed_jobs: set[int] = field(default_factory=set)
    # job id -> why its record cannot be read (LiveSnapshot.unreadable)
    unreadable: dict[int, str] = field(default_factory=dict)
    # export job address -> the live job it adopts (decided for all documents at once)
    adoptions: dict[str, Candidate] = field(default_factory=dict)
    # export job addresses that adopt nothing and create nothing: the candidates are ambiguous
    ambiguous: set[str] = field(default_factory=set)
    # export job addresses of plan/apply --replace: a new run whatever the current run's status
    replace: frozenset[str] = frozenset()

    def act(self, group: int, action: Action) -> None:
        self.actions.append((group, action))

    def find(self, address: str, finding: Any, reason: str, evidence: Mapping[str, Any]) -> None:
        self.findings.append(DriftFinding(address, finding, reason, dict(evidence)))

    def in_flight(self, run: Run) -> bool:
        """The run has not ended, as far as the refresh (or, unread, the state) knows."""
        if run.jobId in self.live.missing_runs:
            return False
        live_run = self.live.runs.get(run.jobId)
        return not is_terminal(live_run.status if live_run is not None else run.status)
