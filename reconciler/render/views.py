"""The command line's side of `engine.events.Events`: what the user sees while work goes on.

`TextView` prints the progress lines of plan and apply as they come (stdout; retry notices on
stderr); `TerminalView` adds the redrawn status line of `apply --wait` (other lines print above
it); `MachineView` keeps stdout for one document (JSON, markdown) and says only retry notices.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.engine.events import Quiet, WaitTick, Where
from reconciler.engine.model import Plan
from reconciler.engine.results import ActionOutcome, ApplyReport
from reconciler.render.plan import render_plan

Line = Callable[[str], None]


def where_line(where: Where) -> str:
    """The text output's first line: the sandbox, the platform and the state it works on."""
    return f"Sandbox {where.sandbox} on {where.platform}; state {where.state}"


def tick_line(tick: WaitTick) -> str:
    """`waiting for 2 runs: 1 NEW, 1 PROCESSING (4s)`."""
    parts = ", ".join(f"{n} {status}" for status, n in tick.by_status.items())
    runs = f"{tick.runs} run{'s' if tick.runs != 1 else ''}"
    return f"waiting for {runs}: {parts} ({tick.elapsed_s:.0f}s)"


def _actions(n: int) -> str:
    return f"{n} action{'s' if n != 1 else ''}"


def executed_line(report: ApplyReport) -> str | None:
    """What apply says once every action is carried out (before --wait follows the runs)."""
    done = len(report.done)
    if done and report.waited:
        return f"{_actions(done)} done; following the runs to their end (--wait)."
    if done:
        return None  # the closing summary says it
    if not report.waits:
        return "Nothing to apply."
    follow = "" if report.waited else " (--wait follows them)"
    runs = f"{report.waits} run{'s' if report.waits != 1 else ''}"
    return f"Nothing to apply; {runs} in flight{follow}."


class MachineView(Quiet):
    """Events for a machine format on stdout: only the client's retry notices (stderr)."""

    def __init__(self, err: Line) -> None:
        self.err = err

    def waiting(self, line: str) -> None:
        self.err(line)

    def finish(self) -> None:
        """Nothing is left on the screen."""


class TextView(MachineView):
    """The lines of plan and apply, each printed as it happens."""

    def __init__(self, out: Line, err: Line, *, color: bool = False, verbose: int = 0) -> None:
        super().__init__(err)
        self.out = out
        self.color = color
        self.verbose = verbose

    def say(self, line: str) -> None:
        """One line of progress (a terminal clears its status line first)."""
        self.out(line)

    def reading(self, where: Where) -> None:
        self.say(where_line(where))

    def planned(self, plan: Plan) -> None:
        text = render_plan(plan, "text", color=self.color, verbose=self.verbose > 0)
        self.say(text.rstrip("\n"))

    def progress(self, line: str) -> None:
        self.say(line)

    def action_done(self, outcome: ActionOutcome) -> None:
        self.say(outcome.line)

    def stopped(self, address: str, line: str) -> None:
        self.say(line)

    def executed(self, report: ApplyReport) -> None:
        line = executed_line(report)
        if line is not None:
            self.say(line)

    def run_status(self, address: str, job_id: int, status: str) -> None:
        self.say(f"{address}: job {job_id} {status}")

    def run_ended(self, address: str, job_id: int, status: str, batch: str | None) -> None:
        self.say(f"{address}: job {job_id} {status}")


class TerminalView(TextView):
    """A text view on a terminal: `apply --wait` redraws one status line at the bottom."""

    def __init__(
        self,
        out: Line,
        err: Line,
        write: Line,
        *,
        color: bool = False,
        verbose: int = 0,
    ) -> None:
        super().__init__(out, err, color=color, verbose=verbose)
        self.write = write  # raw text, no newline, flushed
        self.shown = False

    def tick(self, tick: WaitTick) -> None:
        self.write("\r\x1b[2K" + tick_line(tick))
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            self.write("\r\x1b[2K")
            self.shown = False

    def say(self, line: str) -> None:
        self.finish()
        self.out(line)

    def waiting(self, line: str) -> None:
        self.finish()
        self.err(line)
