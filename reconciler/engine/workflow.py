"""The command use-cases: each function is one command of the CLI, returning its result.

The CLI parses options, hands over a `Console` (notes, the approval question, the events it
shows progress through) and picks the view of the result; everything that decides is here and
in `applying` / `records` / `audit`, so the commands can be driven in-process by tests too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reconciler.config import Settings
from reconciler.engine.applying import (
    DEFAULT_WAIT_TIMEOUT_S,
    HOLDING_FINDINGS,
    AddressesStopped,
    ApprovalRequired,
    RunsFailed,
    StalePlan,
    apply,
    held_back,
    parse_timeout,
    read_plan,
    runs_failed,
    stale_reasons,
)
from reconciler.engine.events import Console
from reconciler.engine.executor import WaitedRun, observe_state
from reconciler.engine.plan_reads import PlanReads, read_for_actions
from reconciler.engine.planner import make_plan
from reconciler.engine.refresh import refresh
from reconciler.engine.results import PlanResult
from reconciler.engine.session import (
    SETTLE_ENV,
    UsageError,
    now,
    open_client,
    pending_note,
    platform_time,
    read_held,
    say_where,
    settings_for,
    settle_seconds,
    store_for,
)
from reconciler.spec.loader import load_specs
from reconciler.state import write_atomic

__all__ = [
    "DEFAULT_WAIT_TIMEOUT_S",
    "HOLDING_FINDINGS",
    "SETTLE_ENV",
    "AddressesStopped",
    "ApprovalRequired",
    "Console",
    "RunsFailed",
    "StalePlan",
    "UsageError",
    "apply",
    "now",
    "open_client",
    "parse_timeout",
    "pending_note",
    "plan",
    "platform_time",
    "read_plan",
    "settings_for",
    "settle_seconds",
    "stale_reasons",
    "store_for",
]


def plan(
    settings: Settings,
    console: Console,
    *,
    out: Path | None = None,
    targets: tuple[str, ...] = (),
    refresh_only: bool = False,
    full_refresh: bool = False,
    replace: tuple[str, ...] = (),
    reads: PlanReads | None = None,
) -> PlanResult:
    """Refresh and plan (never writing state); with `out`, save the plan there too."""
    specs = load_specs(settings)
    store = store_for(settings)
    place = say_where(settings, store, console)
    state = read_held(store.read)
    with open_client(settings, console) as client:
        live = refresh(client, state, full=full_refresh)
        observed = observe_state(state, live)  # in memory only: plan never writes state
        result = make_plan(
            specs,
            observed,
            live,
            now=platform_time(live),
            targets=targets,
            refresh_only=refresh_only,
            replace=replace,
        )
        result = read_for_actions(client, result, specs, reads or PlanReads(), observed)
    pending_note(state, console)
    if out is not None:
        write_atomic(out, result.to_json())
    return PlanResult(
        result,
        place,
        "full" if full_refresh else "incremental",
        saved_to=out,
        held_back=tuple(held_back(result, specs)),
    )


def _report_waited(
    waited: list[WaitedRun],
    console: Console | None = None,
    done: Sequence[str] = (),
    elapsed_s: float = 0.0,
) -> int:
    """0 when every followed run succeeded, else `RunsFailed` naming those that did not.

    (The closing lines are the view's: reconciler.render.apply_text.)
    """
    failed = runs_failed(waited)
    if failed is not None:
        raise failed
    return 0
