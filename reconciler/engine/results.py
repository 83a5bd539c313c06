"""What the use-cases return: a plan with what it read, an apply's report of what it did.

`ApplyReport` is the value behind apply's closing summary (text) and `apply --format json`
(docs/apply-format.md). When an apply fails part-way the report still says what was done and
what was not: `ApplyFailed` carries it with the error that ended the apply.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from reconciler.engine.events import Where
from reconciler.engine.model import Plan
from reconciler.errors import ReconcilerError

APPLY_FORMAT_VERSION = 1
ActionResult = Literal["done", "failed", "skipped"]


@dataclass(frozen=True)
class PlanResult:
    """A plan and what it was made from."""

    plan: Plan
    where: Where
    refresh: str  # incremental | full
    saved_to: Path | None = None
    # documents in the specs the plan's findings hold back (ambiguous, unreadable, blocked): not
    # converged, so `--detailed-exitcode` exits 2 for them too (apply would exit 1)
    held_back: tuple[str, ...] = ()


@dataclass(frozen=True)
class WaitedRun:
    """The outcome of one run `apply --wait` followed to its end."""

    address: str
    job_id: int
    status: str
    batch_id: str | None
    errors: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class ActionOutcome:
    """One action of the plan: done (what happened), failed or skipped (why)."""

    address: str
    kind: str  # dataset | exportjob
    action: str  # create | update | replace | rerun | cancel | forget | delete | adopt
    result: ActionResult
    line: str  # one sentence, starting with the address
    job_id: int | None = None  # the run it started or adopted
    dataset_id: str | None = None  # the dataset it created, adopted, updated or deleted


@dataclass(frozen=True)
class InFlight:
    """A run still going on the platform when apply ended (the next apply --wait follows it)."""

    address: str
    job_id: int
    status: str


@dataclass
class ApplyReport:
    """What one apply did, and what it did not."""

    where: Where
    planfile: Path | None = None  # the saved plan applied; None: a fresh plan
    actions: list[ActionOutcome] = field(default_factory=list)
    runs: list[WaitedRun] = field(default_factory=list)  # followed by --wait, and how each ended
    in_flight: list[InFlight] = field(default_factory=list)
    stopped: dict[str, str] = field(default_factory=dict)  # address -> why
    held_back: list[str] = field(default_factory=list)  # addresses the plan's findings hold
    waited: bool = False  # --wait
    executed: bool = False  # every action was reached (runs may still be followed)
    followed: bool = False  # --wait followed every run to its end
    waits: int = 0  # runs in flight before this apply, only waited on
    pending: int = 0  # intents left in the state (a create whose outcome is not known yet)
    planned: int = 0  # actions in the plan (runs only waited on excluded)
    elapsed_s: float = 0.0
    error: str | None = None  # the error that ended the apply, one line
    error_type: str | None = None
    interrupted: bool = False  # Ctrl-C

    @property
    def done(self) -> list[ActionOutcome]:
        return [a for a in self.actions if a.result == "done"]

    def counts(self) -> dict[str, int]:
        """Per kind: actions done by their action, failed, skipped, runs by how they ended."""
        done = Counter(a.action for a in self.done)
        failed_runs = sum(1 for r in self.runs if r.status not in ("SUCCEEDED", "CANCELLED"))
        return {
            "created": done["create"],
            "updated": done["update"],
            "replaced": done["replace"],
            "rerun": done["rerun"],
            "adopted": done["adopt"],
            "cancelled": done["cancel"] + sum(1 for r in self.runs if r.status == "CANCELLED"),
            "deleted": done["delete"],
            "forgotten": done["forget"],
            "failed": sum(1 for a in self.actions if a.result == "failed") + failed_runs,
            "skipped": sum(1 for a in self.actions if a.result == "skipped"),
            "succeeded": sum(1 for r in self.runs if r.status == "SUCCEEDED"),
            "inFlight": len(self.in_flight),
        }

    @property
    def outcome(self) -> str:
        """nothing | complete | partial (something done, then an error) | failed | interrupted."""
        if self.interrupted:
            return "interrupted"
        if self.error is not None and not self.done:
            return "failed"
        if self.error is not None:
            return "partial"
        if not self.actions and not self.runs:
            return "nothing"
        return "complete"


class ApplyFailed(ReconcilerError):
    """An apply that ended with an error after it began: its report says what was done."""

    def __init__(self, report: ApplyReport, error: BaseException) -> None:
        super().__init__(str(error) or type(error).__name__)
        self.report = report
        self.error = error
        self.exit_code = getattr(error, "exit_code", 1)
