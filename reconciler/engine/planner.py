"""The pure planner: (desired documents, state, live snapshot) -> Plan. No I/O, clock or randomness.

The semantics are written down in docs/engine.md; these modules are their only implementation:
`plan_datasets`, `plan_adoption` (decided for every document at once), `plan_jobs`, `plan_removals`
(removed documents, unmanaged objects), and here what holds across them: --target with its
prerequisites, and unreadable job records. `record_observations` (in `observations`) is the
other pure half: it folds a snapshot's facts into the state.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from datetime import datetime

from reconciler.engine.model import Action, LiveSnapshot, Plan
from reconciler.engine.observations import record_observations
from reconciler.engine.plan_adoption import decide_adoptions
from reconciler.engine.plan_context import (
    BLOCKED,
    UNREADABLE,
    DesiredSpecs,
    Planning,
    unmanaged_address,
)
from reconciler.engine.plan_datasets import ADDRESS_TAG, dataset_request, plan_dataset
from reconciler.engine.plan_jobs import plan_export_job
from reconciler.engine.plan_removals import find_unmanaged, plan_removed
from reconciler.errors import ReconcilerError
from reconciler.state.models import ExportJobResource, State

__all__ = [
    "ADDRESS_TAG",
    "DesiredSpecs",
    "UnknownReplace",
    "UnknownTarget",
    "dataset_request",
    "make_plan",
    "record_observations",
    "unmanaged_address",
]


class UnknownTarget(ReconcilerError):
    """A --target address that names no document and no state entry."""


class UnknownReplace(UnknownTarget):
    """A --replace address that is no export job document, or lies outside --target."""


def make_plan(
    specs: DesiredSpecs,
    state: State,
    live: LiveSnapshot,
    *,
    now: datetime,
    targets: Iterable[str] = (),
    refresh_only: bool = False,
    replace: Iterable[str] = (),
) -> Plan:
    """Compare the documents with state and the live snapshot; return the actions and drift.

    `replace` (plan/apply --replace ADDR): export jobs to run again whatever their status
    (`rerun: requested`); an address that is no export job document is an UnknownTarget.
    """
    targets = tuple(sorted(set(targets)))
    _check_targets(specs, state, targets)
    replace = tuple(sorted(set(replace)))
    _check_replace(specs, state, replace, targets, refresh_only)
    work = Planning(
        specs,
        state,
        live,
        now,
        claimed_jobs=_claimed_candidates(state, live),
        unreadable=_unreadable(live),
        replace=frozenset(replace),
    )
    for name in sorted(specs.datasets):
        plan_dataset(work, specs.datasets[name])
    decide_adoptions(work)
    for name in sorted(specs.export_jobs):
        plan_export_job(work, specs.export_jobs[name])
    plan_removed(work)
    find_unmanaged(work)
    chosen = [a for _, a in sorted(work.actions, key=lambda ga: (ga[0], ga[1].address))]
    chosen = _hold_unreadable(work, chosen)
    if targets:
        chosen = _with_dependencies(chosen, targets)
    chosen = _hold_without_prerequisites(work, chosen)
    findings = sorted(work.findings, key=lambda f: (f.address, f.finding))
    if targets:
        findings = [f for f in findings if f.address in targets]
    return Plan(
        actions=() if refresh_only else tuple(chosen),
        findings=tuple(findings),
        state_lineage=state.lineage,
        state_serial=state.serial,
        spec_digest=specs.digest,
        live_digest=live.digest(),
        refresh_only=refresh_only,
        targets=targets,
        refresh="full" if live.full else "incremental",
        live_facts=live.fact_index(),
    )


def _claimed_candidates(state: State, live: LiveSnapshot) -> set[int]:
    """The claimed ones of the job ids a plan asks about: the live ones, the new ones, the
    remembered unmanaged ones (one question to the state's history, not every id it holds)."""
    ids = set(live.runs) | set(live.new_jobs) | set(state.observed.unmanagedJobs)
    ids |= live.unreadable_ids() | live.missing_runs
    return state.claimed_job_ids().among(ids)


def _check_targets(specs: DesiredSpecs, state: State, targets: tuple[str, ...]) -> None:
    known = set(state.resources)
    known.update(doc.address for doc in specs.datasets.values())
    known.update(doc.address for doc in specs.export_jobs.values())
    unknown = [t for t in targets if t not in known]
    if unknown:
        raise UnknownTarget(
            f"--target {unknown[0]} names no document and no state entry; {_suggest(unknown[0], known)}"
        )


def _check_replace(
    specs: DesiredSpecs,
    state: State,
    replace: tuple[str, ...],
    targets: tuple[str, ...],
    refresh_only: bool,
) -> None:
    """Each --replace address is an export job document (inside --target when one is given)."""
    if not replace:
        return
    if refresh_only:
        raise UnknownReplace(
            "--replace cannot be combined with --refresh-only: a refresh-only plan takes no "
            "action; drop one of them"
        )
    jobs = {doc.address for doc in specs.export_jobs.values()}
    for address in replace:
        if address in jobs:
            continue
        if address in {doc.address for doc in specs.datasets.values()}:
            name = address.partition("/")[2]
            writers = sorted(
                doc.address
                for doc in specs.export_jobs.values()
                if doc.spec.destination.dataset == name
            )
            hint = (
                f"the export jobs writing into it: {', '.join(writers)}"
                if writers
                else "no export job document writes into it"
            )
            raise UnknownReplace(
                f"--replace {address} is a dataset; --replace starts a new run of an export job "
                f"({hint})"
            )
        if address in state.resources:
            raise UnknownReplace(
                f"--replace {address} is in state only: its document was removed, so there is no "
                "spec to run again (the plan cancels or forgets it)"
            )
        guess = address if "/" in address else f"exportjob/{address}"
        hint = f"did you mean {guess}?" if guess in jobs else _suggest(guess, jobs)
        raise UnknownReplace(f"--replace {address} names no export job document; {hint}")
    outside = [a for a in replace if targets and a not in targets]
    if outside:
        raise UnknownReplace(
            f"--replace {outside[0]} is outside --target ({', '.join(targets)}); add "
            f"--target {outside[0]} or drop that --replace"
        )


def check_allow_large(specs: DesiredSpecs, addresses: Iterable[str]) -> None:
    """Each `apply --allow-large` address is an export job document (else one line, exit 1)."""
    jobs = {doc.address for doc in specs.export_jobs.values()}
    for address in addresses:
        if address in jobs:
            continue
        guess = address if "/" in address else f"exportjob/{address}"
        hint = f"did you mean {guess}?" if guess in jobs else _suggest(guess, jobs)
        raise UnknownTarget(
            f"--allow-large {address} names no export job document; {hint} (nothing was changed)"
        )


def _suggest(target: str, known: set[str]) -> str:
    """The closest known address of the same kind, or the kinds' address forms."""
    kind, _, name = target.partition("/")
    same_kind = sorted(a for a in known if a.startswith(f"{kind}/"))
    names = [a.partition("/")[2] for a in same_kind]
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return f"did you mean {kind}/{close[0]}?"
    if same_kind:
        return f"the {kind} addresses are: {', '.join(same_kind[:5])}" + (
            ", ..." if len(same_kind) > 5 else ""
        )
    return "addresses look like dataset/<name> or exportjob/<name> (see 'reconciler state list')"


def _with_dependencies(actions: list[Action], targets: tuple[str, ...]) -> list[Action]:
    wanted = set(targets)
    for action in actions:
        if action.address in targets:
            wanted.update(action.depends_on)
    return [a for a in actions if a.address in wanted]


def _hold_without_prerequisites(work: Planning, actions: list[Action]) -> list[Action]:
    """Drop an export job action whose dataset action is not in the plan (and say so).

    Above all a replace: its cancel would stop the running export with nothing to replace it.
    """
    planned = {a.address for a in actions}
    kept = []
    for action in actions:
        missing = [d for d in action.depends_on if d not in planned]
        if not missing:
            kept.append(action)
            continue
        cancel = (
            f"; job {action.cancel_job_id} is not cancelled"
            if action.cancel_job_id is not None
            else ""
        )
        work.find(
            action.address,
            BLOCKED,
            f"the {action.action} is held back: it needs {', '.join(missing)}, which this "
            f"plan does not change{cancel}; plan it together (e.g. add --target {missing[0]})",
            {"action": action.action, "needs": missing, "cancelJobId": action.cancel_job_id},
        )
    return kept


# Unreadable job records


def _unreadable(live: LiveSnapshot) -> dict[int, str]:
    # LiveSnapshot.unreadable: reconciler.platform.models.UnreadableRecord(id, reason)
    records = getattr(live, "unreadable", ())
    return {r.id: str(r.reason) for r in records if getattr(r, "id", None) is not None}


def _owners(state: State, job_ids: Mapping[int, str]) -> dict[int, str]:
    """The address whose resource (managed) records each job id as a run."""
    owners = {}
    for address, res in state.resources.items():
        if isinstance(res, ExportJobResource):
            for run in res.runs:
                if run.jobId in job_ids:
                    owners[run.jobId] = address
    return owners


def _hold_unreadable(work: Planning, actions: list[Action]) -> list[Action]:
    """One finding per unreadable record; no action on an address whose current run is one."""
    owners = _owners(work.state, work.unreadable) if work.unreadable else {}
    current = {}
    for job_id, address in owners.items():
        res = work.state.export_job(address)
        newest = res.newest_run() if res is not None else None
        if newest is not None and newest.jobId == job_id:
            current[address] = job_id
    held = {a.address: a for a in actions if a.address in current}
    for job_id, reason in sorted(work.unreadable.items()):
        address = owners.get(job_id, unmanaged_address("exportjob", job_id))
        text = f"the record of job {job_id} cannot be read ({reason}); it is left alone"
        evidence: dict[str, object] = {"jobId": job_id, "reason": reason}
        if current.get(address) == job_id:
            text += (
                ": it is this document's current run, so nothing is done for the document "
                "until the record reads again"
            )
            if address in held:
                text += f" (held back: {held[address].action})"
                evidence["heldAction"] = held[address].action
        work.find(address, UNREADABLE, text, evidence)
    for record in getattr(work.live, "unreadable", ()):
        if getattr(record, "id", None) is None:
            work.find(
                unmanaged_address("exportjob", "unknown"),
                UNREADABLE,
                f"a job record without a readable id was listed ({record.reason})",
                {"jobId": None, "reason": str(record.reason)},
            )
    return [a for a in actions if a.address not in current]
