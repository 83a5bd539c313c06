"""The command use-cases: each function is one command of the CLI, returning its exit code.

The CLI parses options and hands over a `Console`; everything that decides is here, so the
commands can be driven in-process by tests as well as from the shell.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from reconciler.config import Settings, load_settings
from reconciler.engine.connect import connect, describe_platform
from reconciler.engine.create import DEFAULT_SETTLE_S
from reconciler.engine.executor import Executor, WaitedRun, observe_state
from reconciler.engine.model import LiveSnapshot, Plan, live_changes
from reconciler.engine.plan_reads import PlanReads, read_for_actions
from reconciler.engine.planner import make_plan
from reconciler.engine.refresh import refresh
from reconciler.errors import ReconcilerError
from reconciler.platform import PlatformClient, disable_request_logging, enable_request_logging
from reconciler.provenance import current_provenance
from reconciler.render.plan import PlanFormat, render_plan
from reconciler.spec.loader import SpecSet, load_specs
from reconciler.spec.models import parse_duration
from reconciler.state import (
    State,
    write_atomic,
)
from reconciler.state.backends import open_store
from reconciler.state.protocol import Store

DEFAULT_WAIT_TIMEOUT_S = 30 * 60.0
SETTLE_ENV = "RECONCILER_SETTLE_SECONDS"  # how long a lost create may take to show up


class StalePlan(ReconcilerError):
    """A saved plan whose state, specs or live facts changed since it was made."""


class ApprovalRequired(ReconcilerError):
    """apply without --auto-approve where nobody can answer the question."""


class RunsFailed(ReconcilerError):
    """apply --wait saw a run end FAILED (or CANCELLED)."""


class UsageError(ReconcilerError):
    """A command-line value the command cannot use."""


class AddressesStopped(ReconcilerError):
    """apply went on with the other addresses, but some could not be carried out (named above)."""


def settle_seconds(environ: Mapping[str, str] | None = None) -> float:
    """The settle window of the create protocol: RECONCILER_SETTLE_SECONDS, else 30 s."""
    raw = (os.environ if environ is None else environ).get(SETTLE_ENV, "").strip()
    if not raw:
        return DEFAULT_SETTLE_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise UsageError(
            f"{SETTLE_ENV}='{raw}' is not a number of seconds between 0 and 3600; "
            "set it to e.g. 30 or unset it"
        )
    return value


@dataclass(frozen=True)
class Console:
    """Where a command writes, and what it may ask."""

    out: Callable[[str], None]  # results (stdout)
    err: Callable[[str], None]  # notes, progress of -v (stderr)
    color: bool = False
    verbose: int = 0
    interactive: bool = False  # stdin is a terminal, so a question can be answered
    tty: bool = False  # stdout is a terminal: progress may redraw one status line
    confirm: Callable[[str], bool] = lambda question: False


def settings_for(
    project_dir: Path, sandbox: str | None, env: Mapping[str, str] | None = None
) -> Settings:
    """The project's settings, with the process environment (AEP_SANDBOX) unless given."""
    return load_settings(project_dir, sandbox, dict(os.environ) if env is None else env)


def now() -> datetime:
    """The wall clock (UTC): the state's record timestamps (ages use `platform_time`)."""
    return datetime.now(UTC)


def platform_time(live: LiveSnapshot) -> datetime:
    """The planner's `now`: the platform's clock as the refresh read it, else the wall clock.

    Ages (refresh due, "finished 3h ago") compare platform timestamps, so they are measured on
    the platform's clock (issue 13, case 16).
    """
    return live.platform_now or now()


def say_where(settings: Settings, store: Store, console: Console) -> None:
    """The text output's first line: the sandbox, the platform and the state it works on.

    On stdout, before anything is read (a slow refresh already says where it is); never on
    stderr, which keeps one line per error.
    """
    console.out(f"Sandbox {settings.sandbox} on {describe_platform(settings)}; state {store.where}")


def store_for(settings: Settings) -> Store:
    """The state of the settings' sandbox, in the backend reconciler.yaml names (file or PostgreSQL)."""
    return open_store(settings)


@contextmanager
def open_client(settings: Settings, console: Console) -> Iterator[PlatformClient]:
    """A connected client; with -v each request is logged and the count shown at the end."""
    handler = enable_request_logging(sys.stderr) if console.verbose else None
    try:
        with connect(settings) as client:
            try:
                yield client
            finally:
                if console.verbose:
                    console.err(f"http: {client.calls} requests")
    finally:
        if handler is not None:
            disable_request_logging(handler)


def pending_note(state: State, console: Console) -> None:
    """Say on stderr that an interrupted apply left intents for the next apply."""
    if state.pending:
        n = len(state.pending)
        console.err(
            f"note: the state holds {n} pending operation{'s' if n != 1 else ''} of an "
            "interrupted apply; the next 'reconciler apply' completes them"
        )


def _read_held(read: Callable[[], State]) -> State:
    """Read the state a command keeps until it exits, out of the garbage collector's sight."""
    # A long history is millions of objects; the collections that followed walked them all
    # again (about 0.5 s of a plan at 100,000 runs). A state holds no reference cycles, so
    # refcounting still frees all of it: frozen before the collector runs again, it is only
    # not walked.
    enabled = gc.isenabled()
    gc.disable()
    try:
        state = read()
        gc.freeze()
    finally:
        if enabled:
            gc.enable()
    return state


# plan


def plan(
    settings: Settings,
    console: Console,
    *,
    out: Path | None = None,
    fmt: str = "text",
    detailed_exitcode: bool = False,
    targets: tuple[str, ...] = (),
    refresh_only: bool = False,
    full_refresh: bool = False,
    replace: tuple[str, ...] = (),
    reads: PlanReads | None = None,
) -> int:
    """Refresh, plan and print; 2 with --detailed-exitcode when there is something to do."""
    specs = load_specs(settings)
    store = store_for(settings)
    if fmt not in ("markdown", "json"):
        say_where(settings, store, console)
    state = _read_held(store.read)
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
        result = read_for_actions(client, result, specs, reads or PlanReads())
    pending_note(state, console)
    if out is not None:
        write_atomic(out, result.to_json())
    chosen_fmt = cast(PlanFormat, fmt if fmt in ("markdown", "json") else "text")
    console.out(
        render_plan(result, chosen_fmt, color=console.color, verbose=console.verbose > 0).rstrip(
            "\n"
        )
    )
    if out is not None:
        console.err(f"saved the plan to {out}; apply exactly it with 'reconciler apply {out}'")
    return 2 if detailed_exitcode and result.has_changes else 0


def stale_reasons(saved: Plan, state: State, spec_digest: str, live: LiveSnapshot) -> list[str]:
    """What changed since a saved plan was made: the state, the specs, the live platform."""
    reasons = []
    if saved.state_lineage != state.lineage or saved.state_serial != state.serial:
        reasons.append(
            f"the state changed (serial {saved.state_serial} -> {state.serial})"
            if saved.state_lineage == state.lineage
            else "the state was replaced (a different lineage)"
        )
    if saved.spec_digest != spec_digest:
        reasons.append("the specs changed")
    if saved.live_digest != live.digest():
        moved = (
            live_changes(saved.live_facts, live.fact_index())
            if saved.live_facts is not None  # None: saved before plans named their live facts
            else []
        )
        more = f" and {len(moved) - 3} more" if len(moved) > 3 else ""
        detail = f" ({', '.join(moved[:3])}{more})" if moved else ""
        reasons.append(f"the live platform changed{detail}")
    return reasons


# apply


def parse_timeout(text: str | None) -> float:
    """`--timeout 10m` -> seconds (default 30 minutes)."""
    if text is None:
        return DEFAULT_WAIT_TIMEOUT_S
    try:
        return float(parse_duration(text).total_seconds())
    except ValueError as exc:
        raise UsageError(f"--timeout: {exc}") from None


def apply(
    settings: Settings,
    console: Console,
    *,
    planfile: Path | None = None,
    auto_approve: bool = False,
    wait: bool = False,
    timeout: str | None = None,
    targets: tuple[str, ...] = (),
    confirm_replace_dataset: bool = False,
    poll_s: float = 1.0,
    replace: tuple[str, ...] = (),
    reads: PlanReads | None = None,
) -> int:
    """Carry out a fresh plan (after asking) or exactly a saved one; with --wait, follow the runs."""
    timeout_s = parse_timeout(timeout)
    saved = _read_plan(planfile) if planfile is not None else None
    if saved is not None and (targets or replace):
        option = "--target" if targets else "--replace"
        raise UsageError(
            f"{option} cannot be combined with a saved plan; it applies exactly as planned"
        )
    specs = load_specs(settings)
    store = store_for(settings)
    say_where(settings, store, console)
    settle_s = settle_seconds()
    with store.lock() as writer, open_client(settings, console) as client:
        executor = Executor(
            client,
            writer,
            _read_held(writer.read),
            specs,
            progress=console.out,
            settle_s=settle_s,
            provenance=current_provenance(settings.project_dir).run_fields(),
        )
        chosen = _plan_to_apply(
            executor, specs, saved, planfile, targets, replace, reads or PlanReads()
        )
        console.out(
            render_plan(chosen, "text", color=console.color, verbose=console.verbose > 0).rstrip(
                "\n"
            )
        )
        _check_replace_confirmed(chosen, confirm_replace_dataset)
        if saved is None and not auto_approve and any(a.action != "wait" for a in chosen.actions):
            _ask(console)
        # Approved: only now do recovery and observations reach the state (issue 13, case 14).
        executor.flush()
        done = executor.execute(chosen)
        _say_done(console, done, chosen, wait)
        started = time.monotonic()
        waited = (
            _follow(executor, chosen, console, timeout_s=timeout_s, poll_s=poll_s) if wait else []
        )
    code = _report_waited(waited, console, done, time.monotonic() - started) if wait else 0
    _report_stopped(executor)
    _report_held_back(chosen, specs)
    return code


# Findings that keep a document from converging until someone acts (named in the plan).
HOLDING_FINDINGS = ("ambiguous", "unreadable", "blocked")


def _report_held_back(chosen: Plan, specs: SpecSet) -> None:
    """Exit 1 when the plan held documents back: apply did the rest, but they did not converge.

    Only documents in the specs count: a removed document whose clean-up waits (a Delete kept
    while another document writes into the dataset) is reported in the plan, not an error.
    """
    held = sorted(
        {
            f.address
            for f in chosen.findings
            if f.finding in HOLDING_FINDINGS and specs.by_address(f.address) is not None
        }
    )
    if held:
        n = len(held)
        raise AddressesStopped(
            f"{n} address{'es' if n != 1 else ''} held back ({', '.join(held)}); the other "
            "actions were carried out; the plan's findings above say what settles each"
        )


def _report_stopped(executor: Executor) -> None:
    """Exit 1 naming the addresses that stopped (their lines were printed as they stopped)."""
    if executor.stopped:
        names = ", ".join(sorted(executor.stopped))
        n = len(executor.stopped)
        raise AddressesStopped(
            f"{n} address{'es' if n != 1 else ''} stopped ({names}); the other actions were "
            "carried out; see the lines above for what settles each"
        )


def _plan_to_apply(
    executor: Executor,
    specs: SpecSet,
    saved: Plan | None,
    planfile: Path | None,
    targets: tuple[str, ...],
    replace: tuple[str, ...],
    reads: PlanReads,
) -> Plan:
    """Complete interrupted work, refresh, then check the saved plan or make a fresh one."""
    # In memory until approved: a declined apply changes nothing (issue 13, case 14).
    recovered = executor.resolve_pending(write=False)
    # A saved plan is checked against live read the way the plan read it (like with like).
    live = refresh(
        executor.client, executor.state, full=saved is not None and saved.refresh == "full"
    )
    if saved is not None:
        reasons = stale_reasons(saved, executor.state, specs.digest, live)
        if recovered:
            reasons.insert(0, "an interrupted apply was completed")
        if reasons:
            raise StalePlan(
                f"the saved plan {planfile} is stale: {'; '.join(reasons)} since it was made; "
                f"run 'reconciler plan --out {planfile}' again"
            )
    executor.observe(live, write=False)
    if saved is not None:
        return saved
    fresh = make_plan(
        specs, executor.state, live, now=platform_time(live), targets=targets, replace=replace
    )
    return read_for_actions(executor.client, fresh, specs, reads)


def _actions(n: int) -> str:
    return f"{n} action{'s' if n != 1 else ''}"


def _say_done(console: Console, done: list[str], chosen: Plan, wait: bool) -> None:
    if done and wait:
        console.out(f"{_actions(len(done))} done; following the runs to their end (--wait).")
        return
    if done:
        console.out(f"Apply complete: {_actions(len(done))} done.")
        return
    waiting = sum(1 for a in chosen.actions if a.action == "wait")
    if not waiting:
        console.out("Nothing to apply.")
        return
    follow = "" if wait else " (--wait follows them)"
    console.out(f"Nothing to apply; {waiting} run{'s' if waiting != 1 else ''} in flight{follow}.")


def _follow(
    executor: Executor, chosen: Plan, console: Console, *, timeout_s: float, poll_s: float
) -> list[WaitedRun]:
    """Poll the runs of the plan's export jobs to their end, with a status line on a terminal."""
    addresses = [
        a.address
        for a in chosen.actions
        if a.kind == "exportjob" and a.action != "forget" and a.address not in executor.stopped
    ]
    # a removed document's cancelled run is followed to its end, then forgotten
    removed = {
        a.address
        for a in chosen.actions
        if a.kind == "exportjob"
        and a.action in ("cancel", "wait")
        and executor.specs.by_address(a.address) is None
        and a.address not in executor.stopped
    }
    addresses.extend(sorted(removed - set(addresses)))
    line = _StatusLine(console) if console.tty else None
    executor.progress = line.print if line is not None else console.out
    try:
        waited = executor.wait(
            addresses,
            timeout_s=timeout_s,
            poll_s=poll_s,
            tick=line.show if line is not None else None,
        )
    finally:
        if line is not None:
            line.clear()
    kept = []
    for w in waited:
        if w.address in removed and w.status not in ("MISSING", "UNREADABLE"):
            if executor.forget_cancelled(w.address):
                executor.progress(f"{w.address}: job {w.job_id} {w.status}; forgotten")
            continue
        kept.append(w)
    return kept


class _StatusLine:
    """One redrawn line at the bottom of a terminal; other lines print above it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.shown = False

    def show(self, text: str) -> None:
        sys.stdout.write("\r\x1b[2K" + text)
        sys.stdout.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stdout.write("\r\x1b[2K")
            sys.stdout.flush()
            self.shown = False

    def print(self, text: str) -> None:
        self.clear()
        self.console.out(text)


def _read_plan(planfile: Path) -> Plan:
    try:
        text = planfile.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the saved plan {planfile}: {exc.strerror}") from None
    return Plan.from_json(text, source=str(planfile))


def _check_replace_confirmed(chosen: Plan, confirmed: bool) -> None:
    replaced = [a.address for a in chosen.actions if a.kind == "dataset" and a.action == "replace"]
    if replaced and not confirmed:
        raise ApprovalRequired(
            f"the plan replaces {', '.join(replaced)}, which orphans the data in the old dataset; "
            "rerun with --confirm-replace-dataset to allow it (nothing was changed)"
        )


def _ask(console: Console) -> None:
    if not console.interactive:
        raise ApprovalRequired(
            "apply needs approval but stdin is not a terminal; review the plan and rerun with "
            "--auto-approve, or apply a saved plan (nothing was changed)"
        )
    if not console.confirm("Apply these changes?"):
        raise ApprovalRequired("apply cancelled; nothing was changed")


def _report_waited(
    waited: list[WaitedRun], console: Console, done: Sequence[str] = (), elapsed_s: float = 0.0
) -> int:
    """Each succeeded run's batch, then one closing line (the statuses were shown as they came)."""
    bad = [w for w in waited if w.status != "SUCCEEDED"]
    for w in waited:
        if w.status == "SUCCEEDED" and w.batch_id:
            console.out(f"{w.address}: job {w.job_id} wrote batch {w.batch_id}")
    counts = Counter(w.status.lower() for w in waited)
    ended = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    followed = f"{len(waited)} run{'s' if len(waited) != 1 else ''} followed" + (
        f": {ended}" if ended else ""
    )
    if done or waited:
        console.out(f"Apply complete: {_actions(len(done))} done; {followed} ({elapsed_s:.0f} s).")
    if bad:
        detail = "; ".join(
            f"{w.address} job {w.job_id} {w.status}"
            + (f" ({w.errors[0].get('msg', '')})" if w.errors else "")
            for w in bad
        )
        raise RunsFailed(f"{len(bad)} run{'s' if len(bad) != 1 else ''} did not succeed: {detail}")
    return 0
