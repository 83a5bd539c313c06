"""Impact estimates in the plan (issue 17): the profiles each run-starting action will export.

For every export job create, replace and rerun (apply's fresh plan: only documents with
`maxProfiles`), one estimate of the audience the run writes: the union of its
`filter.segments`' PQL as one preview (never a sum that counts a profile twice), or the profile
store's total for an export without segments; the interval; the records and bytes the
document's newest successful run wrote (its batches, one GET per distinct batch). Estimates
run in parallel, are cached per expression and merge policy (the client's cache), and all of it
waits at most `estimate_timeout_s`: what has not settled is `pending`, never a failure. Then
`maxProfiles`: a ready estimate whose lower bound is over it blocks the address (a `blocked`
finding) unless `allow_large` names it. A plan without such actions reads nothing here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.engine.impact_model import Impact, LastRun
from reconciler.engine.model import Action, DriftFinding, Plan, job_status
from reconciler.platform.client import PlatformClient, pql_of
from reconciler.platform.errors import PlatformError
from reconciler.platform.estimates import Estimate, union_pql
from reconciler.platform.models import CatalogBatch, SegmentDefinition
from reconciler.spec.models import ExportJobDoc
from reconciler.state.models import ExportJobResource, State

if TYPE_CHECKING:
    from reconciler.engine.plan_reads import PlanReads

RUN_STARTING = ("create", "replace", "rerun")
_REASON_CHARS = 120  # a failure's reason is a few words, not the platform's whole answer
_CUT_SHORT = "cut short by the deadline"  # a side read's error that means pending, not failed
_PENDING = "not settled within the estimate timeout"


class _Specs(Protocol):
    @property
    def export_jobs(self) -> Mapping[str, ExportJobDoc]: ...


@dataclass(frozen=True)
class _Wanted:
    """What one action's estimate asks: the segments (none: the store) and the merge policy."""

    address: str
    segments: tuple[str, ...]
    merge_policy_id: str | None


def estimate_impact(
    client: PlatformClient,
    plan: Plan,
    specs: _Specs,
    reads: PlanReads,
    state: State | None = None,
) -> Plan:
    """The plan with each create, replace and rerun of an export job's estimated impact, and
    the `maxProfiles` blocks; `state` (when given) names each document's last successful run."""
    docs = {a.address: doc for a in plan.actions if (doc := _doc_of(a, specs, reads)) is not None}
    if not docs:
        return plan
    wanted = {address: _wanted(address, doc) for address, doc in docs.items()}
    if reads.estimate:
        impacts = _read(client, wanted, reads.estimate_timeout_s, state)
    else:
        impacts = {
            address: Impact(
                "skipped",
                "segments" if w.segments else "store",
                segments=w.segments,
                merge_policy_id=w.merge_policy_id,
                reason="--no-estimate",
            )
            for address, w in wanted.items()
        }
    limits = {address: doc.spec.maxProfiles for address, doc in docs.items()}
    return _with_policy(plan, impacts, limits, frozenset(reads.allow_large))


def _doc_of(action: Action, specs: _Specs, reads: PlanReads) -> ExportJobDoc | None:
    if action.kind != "exportjob" or action.action not in RUN_STARTING:
        return None
    doc = specs.export_jobs.get(action.address.partition("/")[2])
    if doc is None or (reads.scope == "policy" and doc.spec.maxProfiles is None):
        return None
    return doc


def _wanted(address: str, doc: ExportJobDoc) -> _Wanted:
    segments = doc.spec.filter.segments if doc.spec.filter is not None else None
    ids = tuple(dict.fromkeys(s.segmentId for s in segments or ()))
    policy = doc.spec.mergePolicy.id if doc.spec.mergePolicy is not None else None
    return _Wanted(address, ids, policy)


# Reading


@dataclass
class _SideReads:
    """The reads besides the previews, made side by side before them."""

    definitions: dict[str, SegmentDefinition] | None = None
    definitions_error: str | None = None
    total: int | None = None
    total_error: str | None = None
    batches: dict[str, CatalogBatch | None] | None = None


def _read(
    client: PlatformClient,
    wanted: Mapping[str, _Wanted],
    timeout_s: float,
    state: State | None,
) -> dict[str, Impact]:
    deadline = time.monotonic() + max(0.0, timeout_s)
    runs = _last_successful_runs(state, wanted) if state is not None else {}
    side = _side_reads(client, wanted, runs, deadline)
    keys: dict[str, tuple[str, str | None]] = {}
    impacts: dict[str, Impact] = {}
    for address, w in wanted.items():
        if not w.segments:
            impacts[address] = _store_impact(side)
            continue
        expression = _expression(w, side)
        if isinstance(expression, Impact):
            impacts[address] = expression
        else:
            keys[address] = (expression, w.merge_policy_id)
    if keys:
        left = max(0.0, deadline - time.monotonic())
        found = client.estimate_expressions(list(keys.values()), timeout_s=left)
        for address, key in keys.items():
            impacts[address] = _segment_impact(wanted[address], found.get(key), timeout_s)
    return {
        address: impact.with_last_run(_last_run(runs.get(address), side.batches or {}))
        for address, impact in impacts.items()
    }


def _side_reads(
    client: PlatformClient,
    wanted: Mapping[str, _Wanted],
    runs: Mapping[str, tuple[int, tuple[str, ...]]],
    deadline: float,
) -> _SideReads:
    """The segment listing, the store total and the batches, in parallel on the client's pool."""
    side = _SideReads()
    batch_ids = sorted({b for _, batches in runs.values() for b in batches})
    tasks: list[Callable[[], None]] = []
    if any(w.segments for w in wanted.values()):

        def definitions() -> None:
            try:
                listed = client.list_segment_definitions(deadline=deadline)
                side.definitions = {d.id: d for d in listed}
            except PlatformError as exc:
                side.definitions_error = _short(exc, deadline)

        tasks.append(definitions)
    if any(not w.segments for w in wanted.values()):

        def total() -> None:
            try:
                side.total = client.profile_store_total(deadline=deadline)
                if side.total is None:
                    side.total_error = "the profile store has no sample yet"
            except PlatformError as exc:
                side.total_error = _short(exc, deadline)

        tasks.append(total)
    found: dict[str, CatalogBatch | None] = {}
    side.batches = found

    def batch_task(batch_id: str) -> Callable[[], None]:
        def read() -> None:
            try:
                found[batch_id] = client.get_batch(batch_id, deadline=deadline)
            except PlatformError:
                found[batch_id] = None  # the last run's numbers are shown without it

        return read

    tasks.extend(batch_task(b) for b in batch_ids)
    if tasks:
        client.map(lambda task: task(), tasks)
    return side


def _short(exc: PlatformError, deadline: float) -> str:
    if time.monotonic() >= deadline:
        return _CUT_SHORT
    text = str(exc)
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 3] + "..."


def _expression(w: _Wanted, side: _SideReads) -> str | Impact:
    """The union PQL of the action's segments, or the Impact that says why there is none."""

    def failed(reason: str) -> Impact:
        base = Impact("failed", "segments", segments=w.segments, merge_policy_id=w.merge_policy_id)
        if reason == _CUT_SHORT:
            return replace(base, state="pending", reason=_PENDING)
        return replace(base, reason=reason)

    if side.definitions is None:
        return failed(side.definitions_error or "the segment definitions were not listed")
    expressions = []
    for segment_id in w.segments:
        definition = side.definitions.get(segment_id)
        if definition is None:
            return failed(f"unknown segment {segment_id}")
        pql = pql_of(definition)
        if pql is None:
            return failed(f"segment {segment_id} has no PQL expression")
        expressions.append(pql)
    return union_pql(expressions)


def _store_impact(side: _SideReads) -> Impact:
    if side.total is None:
        reason = side.total_error or "the profile store total was not read"
        if reason == _CUT_SHORT:
            return Impact("pending", "store", reason=_PENDING)
        return Impact("failed", "store", reason=reason)
    return Impact("ready", "store", profiles=side.total, low=side.total, high=side.total)


def _segment_impact(w: _Wanted, estimate: Estimate | None, timeout_s: float) -> Impact:
    base = Impact("pending", "segments", segments=w.segments, merge_policy_id=w.merge_policy_id)
    if estimate is None:
        return replace(base, reason=f"not settled within {timeout_s:g} s")
    if estimate.failed or not estimate.ready:
        why = estimate.error_description or "the platform could not estimate it"
        short = why if len(why) <= _REASON_CHARS else why[: _REASON_CHARS - 3] + "..."
        return replace(base, state="failed", reason=short)
    interval = estimate.interval or (estimate.estimatedSize, estimate.estimatedSize)
    low, high = interval
    return replace(
        base,
        state="ready",
        profiles=estimate.estimatedSize,
        low=low,
        high=high,
        level=estimate.level if low != high else None,
    )


# The last successful run


def _last_successful_runs(
    state: State, wanted: Mapping[str, _Wanted]
) -> dict[str, tuple[int, tuple[str, ...]]]:
    """Per address, the newest SUCCEEDED run's job id and its distinct batch ids."""
    found = {}
    for address in wanted:
        res = state.resources.get(address)
        if not isinstance(res, ExportJobResource):
            continue
        done = [r for r in res.runs if job_status(r.status) == "SUCCEEDED"]
        if not done:
            continue
        run = max(done, key=lambda r: (r.createdAt, r.jobId))
        batches = [run.batchId] if run.batchId else []
        batches += [b.batchId for b in run.batches]
        found[address] = (run.jobId, tuple(dict.fromkeys(batches)))
    return found


def _last_run(
    run: tuple[int, tuple[str, ...]] | None, batches: Mapping[str, CatalogBatch | None]
) -> LastRun | None:
    if run is None:
        return None
    job_id, batch_ids = run
    read = [b for i in batch_ids if (b := batches.get(i)) is not None]
    records = [b.record_count for b in read if b.record_count is not None]
    sizes = [b.byte_count for b in read if b.byte_count is not None]
    return LastRun(
        job_id,
        records=sum(records) if records else None,
        bytes=sum(sizes) if sizes else None,
        batches=len(read),
    )


# maxProfiles


def _with_policy(
    plan: Plan,
    impacts: Mapping[str, Impact],
    limits: Mapping[str, int | None],
    allow_large: frozenset[str],
) -> Plan:
    actions: list[Action] = []
    findings = list(plan.findings)
    for action in plan.actions:
        impact = impacts.get(action.address)
        if impact is None:
            actions.append(action)
            continue
        impact = replace(impact, max_profiles=limits.get(action.address))
        if impact.over_limit and action.address in allow_large:
            impact = replace(impact, allowed=True)
        elif impact.over_limit:
            findings.append(_blocked(action, impact))
            continue
        actions.append(replace(action, impact=impact))
    return replace(
        plan,
        actions=tuple(actions),
        findings=tuple(sorted(findings, key=lambda f: (f.address, f.finding))),
    )


def _blocked(action: Action, impact: Impact) -> DriftFinding:
    cancel = (
        f"; job {action.cancel_job_id} is not cancelled" if action.cancel_job_id is not None else ""
    )
    reason = (
        f"the {action.action} is held back: its estimate is ~{impact.profiles:,} profiles "
        f"({impact.low:,}-{impact.high:,}), over maxProfiles {impact.max_profiles:,}{cancel}; "
        f"apply --allow-large {action.address} to allow it"
    )
    evidence: dict[str, Any] = {
        "action": action.action,
        "maxProfiles": impact.max_profiles,
        "profiles": impact.profiles,
        "low": impact.low,
        "high": impact.high,
        "segments": list(impact.segments),
        "command": f"reconciler apply --allow-large {action.address}",
    }
    if action.cancel_job_id is not None:
        evidence["cancelJobId"] = action.cancel_job_id
    return DriftFinding(action.address, "blocked", reason, evidence)
