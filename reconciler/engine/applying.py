"""The apply use-case: carry out a fresh plan (after asking) or exactly a saved one.

Returns an `ApplyReport`; when the apply fails part-way (a platform error, a stopped or held
back address, failed runs, a wait timeout, Ctrl-C) it raises `ApplyFailed`, whose report says
what was done and what was not. Progress goes to `console.events` as it happens.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from reconciler.config import Settings
from reconciler.engine.events import Console
from reconciler.engine.executor import Executor, WaitedRun
from reconciler.engine.model import LiveSnapshot, Plan, is_terminal, live_changes
from reconciler.engine.plan_reads import PlanReads, read_for_actions
from reconciler.engine.planner import check_allow_large, make_plan
from reconciler.engine.refresh import refresh
from reconciler.engine.results import ApplyFailed, ApplyReport, InFlight
from reconciler.engine.session import (
    UsageError,
    open_client,
    platform_time,
    read_held,
    say_where,
    settle_seconds,
    store_for,
)
from reconciler.errors import ReconcilerError
from reconciler.provenance import current_provenance
from reconciler.spec.loader import SpecSet, load_specs
from reconciler.spec.models import parse_duration
from reconciler.state import State

DEFAULT_WAIT_TIMEOUT_S = 30 * 60.0
# Findings that keep a document from converging until someone acts (named in the plan).
HOLDING_FINDINGS = ("ambiguous", "unreadable", "blocked")


class StalePlan(ReconcilerError):
    """A saved plan whose state, specs or live facts changed since it was made."""


class ApprovalRequired(ReconcilerError):
    """apply without --auto-approve where nobody can answer the question."""


class RunsFailed(ReconcilerError):
    """apply --wait saw a run end FAILED (or CANCELLED)."""


class AddressesStopped(ReconcilerError):
    """apply went on with the other addresses, but some could not be carried out (named above)."""


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
) -> ApplyReport:
    """Carry out a fresh plan (after asking) or exactly a saved one; with --wait, follow the runs."""
    timeout_s = parse_timeout(timeout)
    saved = read_plan(planfile) if planfile is not None else None
    allow_large = reads.allow_large if reads is not None else ()
    if saved is not None and (targets or replace or allow_large):
        option = "--target" if targets else "--replace" if replace else "--allow-large"
        raise UsageError(
            f"{option} cannot be combined with a saved plan; it applies exactly as planned"
            + (
                " (apply without the plan file to lift its block)"
                if option == "--allow-large"
                else ""
            )
        )
    specs = load_specs(settings)
    check_allow_large(specs, allow_large)
    store = store_for(settings)
    place = say_where(settings, store, console)
    settle_s = settle_seconds()
    provenance = current_provenance(settings.project_dir).run_fields()
    events = console.events
    with store.lock() as writer, open_client(settings, console) as client:
        executor = Executor(
            client,
            writer,
            read_held(writer.read),
            specs,
            events=events,
            settle_s=settle_s,
            provenance=provenance,
        )
        chosen = _plan_to_apply(
            executor, specs, saved, planfile, targets, replace, reads or PlanReads()
        )
        events.planned(chosen)
        _check_replace_confirmed(chosen, confirm_replace_dataset)
        if saved is None and not auto_approve and any(a.action != "wait" for a in chosen.actions):
            _ask(console)
        # Approved: only now do recovery and observations reach the state (issue 13, case 14).
        executor.flush()
        report = ApplyReport(
            where=place,
            planfile=planfile,
            waited=wait,
            planned=sum(1 for a in chosen.actions if a.action != "wait"),
            waits=sum(1 for a in chosen.actions if a.action == "wait"),
        )
        started = time.monotonic()
        try:
            executor.execute(chosen)
            _fill(report, executor, chosen, specs, started)
            report.executed = True
            events.executed(report)
            if wait:
                report.runs = _follow(executor, chosen, timeout_s=timeout_s, poll_s=poll_s)
                report.followed = True
        except (Exception, KeyboardInterrupt) as exc:
            _fill(report, executor, chosen, specs, started, error=exc)
            raise ApplyFailed(report, exc) from exc
    _fill(report, executor, chosen, specs, started)
    error = _closing_error(report)
    if error is not None:
        _fill(report, executor, chosen, specs, started, error=error)
        raise ApplyFailed(report, error)
    return report


def _fill(
    report: ApplyReport,
    executor: Executor,
    chosen: Plan,
    specs: SpecSet,
    started: float,
    *,
    error: BaseException | None = None,
) -> None:
    """The report as the executor's record stands now (actions, stops, runs in flight)."""
    report.actions = list(executor.outcomes)
    report.stopped = dict(executor.stopped)
    report.held_back = held_back(chosen, specs)
    report.in_flight = in_flight(executor.state, chosen)
    report.elapsed_s = time.monotonic() - started
    report.pending = len(executor.state.pending)
    if error is not None:
        report.interrupted = isinstance(error, KeyboardInterrupt)
        report.error = "interrupted" if report.interrupted else (str(error) or repr(error))
        report.error_type = type(error).__name__


def in_flight(state: State, chosen: Plan) -> list[InFlight]:
    """The runs of the plan's export jobs still going on the platform, as the state records them."""
    addresses = sorted({a.address for a in chosen.actions if a.kind == "exportjob"})
    flying = []
    for address in addresses:
        res = state.export_job(address)
        for run in res.runs if res is not None else ():
            if not is_terminal(run.status):
                flying.append(InFlight(address, run.jobId, run.status))
    return flying


def held_back(chosen: Plan, specs: SpecSet) -> list[str]:
    """Documents the plan's findings held back (removed documents' waits are not counted)."""
    return sorted(
        {
            f.address
            for f in chosen.findings
            if f.finding in HOLDING_FINDINGS and specs.by_address(f.address) is not None
        }
    )


def _closing_error(report: ApplyReport) -> ReconcilerError | None:
    """Exit 1 after the work: failed runs, then stopped addresses, then held back documents."""
    failed = runs_failed(report.runs)
    if failed is not None:
        return failed
    if report.stopped:
        n = len(report.stopped)
        return AddressesStopped(
            f"{n} address{'es' if n != 1 else ''} stopped ({', '.join(sorted(report.stopped))}); "
            "the other actions were carried out; see the lines above for what settles each"
        )
    if report.held_back:
        n = len(report.held_back)
        return AddressesStopped(
            f"{n} address{'es' if n != 1 else ''} held back ({', '.join(report.held_back)}); the "
            "other actions were carried out; the plan's findings above say what settles each"
        )
    return None


def runs_failed(waited: Sequence[WaitedRun]) -> RunsFailed | None:
    """The error for followed runs that did not succeed (None: all did)."""
    bad = [w for w in waited if w.status != "SUCCEEDED"]
    if not bad:
        return None
    detail = "; ".join(
        f"{w.address} job {w.job_id} {w.status}"
        + (f" ({w.errors[0].get('msg', '')})" if w.errors else "")
        for w in bad
    )
    return RunsFailed(f"{len(bad)} run{'s' if len(bad) != 1 else ''} did not succeed: {detail}")


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
    return read_for_actions(executor.client, fresh, specs, reads, executor.state)


def _follow(
    executor: Executor, chosen: Plan, *, timeout_s: float, poll_s: float
) -> list[WaitedRun]:
    """Poll the runs of the plan's export jobs to their end (the events show each change)."""
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
    waited = executor.wait(addresses, timeout_s=timeout_s, poll_s=poll_s)
    kept = []
    for w in waited:
        if w.address in removed and w.status not in ("MISSING", "UNREADABLE"):
            if executor.forget_cancelled(w.address):
                executor.events.progress(f"{w.address}: job {w.job_id} {w.status}; forgotten")
            continue
        kept.append(w)
    return kept


def read_plan(planfile: Path) -> Plan:
    """A saved plan file, read back (one line when it cannot be)."""
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
