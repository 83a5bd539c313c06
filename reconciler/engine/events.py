"""What the engine tells its caller while work goes on: one small events interface.

The engine decides and returns values; whatever the user must see before a command ends (a
run started, a run finished, the client waiting on retries, the approval question) goes
through `Events`, which the command line implements (reconciler.render.views: text, a terminal
with a redrawn status line, JSON). Nothing under reconciler/engine/ prints or imports a
renderer; `tests/engine/test_engine_layering.py` walks the imports to keep it so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from reconciler.engine.model import Plan
    from reconciler.engine.results import ActionOutcome, ApplyReport


@dataclass(frozen=True)
class Where:
    """What a command works on: the sandbox, the platform (in a few words), the state's place."""

    sandbox: str
    platform: str
    state: str


@dataclass(frozen=True)
class WaitTick:
    """One poll of `apply --wait`: how many runs are in flight, by status, and for how long."""

    runs: int
    by_status: Mapping[str, int]
    elapsed_s: float


class Events(Protocol):
    """The progress a use-case reports as it goes (every method may be a no-op)."""

    def reading(self, where: Where) -> None:
        """Before the first read of the state or the platform."""

    def planned(self, plan: Plan) -> None:
        """apply: the plan it is about to carry out (before the approval question)."""

    def progress(self, line: str) -> None:
        """A step worth seeing as it happens (a recovery, a create sent again), as one sentence."""

    def action_done(self, outcome: ActionOutcome) -> None:
        """One action of the plan carried out."""

    def stopped(self, address: str, line: str) -> None:
        """An address that cannot go on in this apply (`line` says why and what settles it)."""

    def executed(self, report: ApplyReport) -> None:
        """Every action carried out; `report.waited` says whether runs are followed next."""

    def run_started(self, address: str, job_id: int, reason: str) -> None:
        """A new export job run was created on the platform for `address`."""

    def run_status(self, address: str, job_id: int, status: str) -> None:
        """A followed run moved to a status that is not an end (NEW -> PROCESSING)."""

    def run_ended(self, address: str, job_id: int, status: str, batch: str | None) -> None:
        """A followed run ended (SUCCEEDED, FAILED, CANCELLED) and the batch it wrote, if any."""

    def tick(self, tick: WaitTick) -> None:
        """apply --wait polled its runs (a terminal redraws its status line)."""

    def waiting(self, line: str) -> None:
        """The platform client waits on retries (`waiting 4 s for GET ...`)."""


class Quiet:
    """Events that show nothing: the default of library callers and tests."""

    def reading(self, where: Where) -> None:
        pass

    def planned(self, plan: Plan) -> None:
        pass

    def progress(self, line: str) -> None:
        pass

    def action_done(self, outcome: ActionOutcome) -> None:
        pass

    def stopped(self, address: str, line: str) -> None:
        pass

    def executed(self, report: ApplyReport) -> None:
        pass

    def run_started(self, address: str, job_id: int, reason: str) -> None:
        pass

    def run_status(self, address: str, job_id: int, status: str) -> None:
        pass

    def run_ended(self, address: str, job_id: int, status: str, batch: str | None) -> None:
        pass

    def tick(self, tick: WaitTick) -> None:
        pass

    def waiting(self, line: str) -> None:
        pass


QUIET: Events = Quiet()


def _no_answer(question: str) -> bool:
    return False


@dataclass(frozen=True)
class Console:
    """What a command may use of its caller: notes, the approval question, and its events.

    `out` is for callers that write their own results (the report command); the engine's
    use-cases return their results and never call it. `err` takes notes beside the result
    (one line each: a pending intent, a saved plan, the request count with -v).
    """

    out: Callable[[str], None]
    err: Callable[[str], None]
    color: bool = False
    verbose: int = 0
    interactive: bool = False  # stdin is a terminal, so a question can be answered
    tty: bool = False  # stdout is a terminal
    confirm: Callable[[str], bool] = _no_answer
    events: Events = field(default=QUIET)


class Lines(Quiet):
    """Events whose sentences (done, stopped, progress) all go to one callable; the rest is quiet."""

    def __init__(self, line: Callable[[str], None]) -> None:
        self.line = line

    def progress(self, line: str) -> None:
        self.line(line)

    def action_done(self, outcome: ActionOutcome) -> None:
        self.line(outcome.line)

    def stopped(self, address: str, line: str) -> None:
        self.line(line)
