"""Plan -> platform calls and state writes: crash-safe and level-triggered.

Every effect is bracketed by state writes: before a POST a write-ahead intent goes into
`pending` (with the platform's watermark); after it the new job or dataset id is recorded and
the intent dropped. An unknown outcome (a lost answer, a kill) keeps the intent; it is resolved
by the create protocol (engine/create.py), never by sending again while unresolved. A cancel
reads the job first, DELETEs only a job in flight, never retries the DELETE, and keeps the run
CANCELLING until a read shows it ended (docs/engine.md: the intent and run life cycles).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.engine.create import (
    DEFAULT_SETTLE_S,
    Resolution,
    WatermarkSource,
    ambiguity_line,
    listing_floor_ms,
    resolve_dataset,
    resolve_jobs,
    to_ms,
)
from reconciler.engine.model import CANCELLING, Action, LiveSnapshot, Plan, is_terminal
from reconciler.engine.planner import ADDRESS_TAG, record_observations
from reconciler.engine.refresh import deleted_by_cancel, get_job, live_run, platform_now
from reconciler.errors import ReconcilerError
from reconciler.platform import (
    NotFoundError,
    OutcomeUnknown,
    PlatformClient,
    PlatformError,
    UnexpectedResponseError,
)
from reconciler.platform.models import CatalogDataset, ExportJobRecord, UnreadableRecord
from reconciler.spec.canonical import (
    canonical_request,
    fingerprint,
    normalize_request,
)
from reconciler.spec.canonical import request_body as resolved_request
from reconciler.spec.loader import SpecSet
from reconciler.spec.models import DatasetDoc, ExportJobDoc
from reconciler.state import (
    BatchRef,
    DatasetResource,
    ExportJobResource,
    Intent,
    Run,
    State,
)
from reconciler.state.protocol import Writer

Progress = Callable[[str], None]
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


@dataclass(frozen=True)
class WaitedRun:
    """The outcome of one run `apply --wait` followed to its end."""

    address: str
    job_id: int
    status: str
    batch_id: str | None
    errors: tuple[Mapping[str, Any], ...]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _digest(value: Mapping[str, Any]) -> str:
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
    finished = _from_ms(live.updated_ms or live.created_ms) if live.terminal else None
    return Run(
        jobId=live.job_id,
        fingerprint=fingerprint,
        status=live.status,
        batchId=live.batch_id,
        batches=[BatchRef(segmentId=s, batchId=b) for s, b in live.batches],
        datasetId=live.dataset_id or dataset_id,
        createdAt=_from_ms(live.created_ms),
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


def _changed_addresses(before: State, after: State) -> list[str]:
    """The addresses whose resource differs (cheap: unchanged runs are the same objects)."""
    changed = []
    for address in before.resources.keys() | after.resources.keys():
        old, new = before.resources.get(address), after.resources.get(address)
        if old is not new and old != new:
            changed.append(address)
    return changed


def _run_reason(action: Action) -> str:
    if action.action in ("create", "replace"):
        return action.action
    reason = action.reason.removeprefix("rerun: ")
    return f"rerun: {reason}"


class Executor:
    """Carries out a plan against one client, writing state through the held lock."""

    def __init__(
        self,
        client: PlatformClient,
        writer: Writer,
        state: State,
        specs: SpecSet,
        *,
        clock: Clock | None = None,
        progress: Progress = lambda line: None,
        settle_s: float = DEFAULT_SETTLE_S,
        sleep: Callable[[float], None] = time.sleep,
        provenance: Mapping[str, str | bool] | None = None,
    ) -> None:
        self.client = client
        # recorded on every run this apply starts, adopts or recovers (read once per command)
        self.provenance: dict[str, str | bool] = dict(provenance or {})
        self.writer = writer
        self.state = state
        self.specs = specs
        # the platform's clock (answers' Date header) when known: ages are measured on it
        self.clock: Clock = clock or (lambda: platform_now(client) or _utc_now())
        self.progress = progress
        self.settle_s = settle_s
        self.sleep = sleep
        self.live: LiveSnapshot | None = None
        self.marks = WatermarkSource()
        self.stopped: dict[str, str] = {}  # address -> the line that stopped it
        self._written = state
        self._dirty: set[str] = set()
        # `pending` changed in memory since the last write (the list may be shared with it)
        self._pending_changed = False
        self._state_marked = False

    def save(self, changed: Iterable[str] | None = None) -> None:
        """Write the state now (serial + 1); `changed`: the addresses modified (None: unsure).

        Addresses changed in memory since the last write (`_dirty`) are written too.
        """
        names = None if changed is None else sorted(set(changed) | self._dirty)
        self.state = self.writer.write(self.state, names)
        self._written = self.state
        self._dirty = set()
        self._pending_changed = False

    # Recovery and observations

    def now_ms(self) -> int:
        """The platform's clock (the client's estimate from the answers' Date header), in ms."""
        return to_ms(platform_now(self.client)) or int(time.time() * 1000)

    def _watermark_job_id(self) -> int | None:
        """The newest job id seen: in this apply's refresh and creates, and anywhere in state."""
        if not self._state_marked:  # once: later ids come through see_job as they are recorded
            self.marks.see_job(max(self.state.claimed_job_ids(), default=None))
            self.marks.see_job(max(self.state.observed.unmanagedJobs, default=None))
            self._state_marked = True
        return self.marks.newest_job_id

    def _settled_by_state(self, intent: Intent) -> bool:
        """The address already holds what the intent's POST would have made (an import, say)."""
        if intent.kind == "exportjob":
            res = self.state.export_job(intent.address)
            mark = intent.watermarkJobId
            return (
                res is not None
                and mark is not None
                and any(r.jobId > mark and r.fingerprint == intent.fingerprint for r in res.runs)
            )
        ds = self.state.dataset(intent.address)
        return ds is not None and ds.createdAt >= intent.createdAt

    def _settle_window_passed(self, intent: Intent, waited_s: float = 0.0) -> bool:
        """Platform time since the POST, or `waited_s` of this process's own waiting, reached
        the window (a frozen or stepped-back platform clock must not make apply hang)."""
        posted = intent.postedAtMs
        if posted is None or waited_s >= self.settle_s:
            return True
        return self.now_ms() - posted >= self.settle_s * 1000

    def resolve_pending(self, *, write: bool = True) -> int:
        """Resolve the intents an interrupted apply left; returns how many there were.

        Each is adopted (one candidate), dropped (none after the settle window: the POST did not
        happen, so the plan creates it) or kept with its address stopped (ambiguous). With
        `write=False` the state changes in memory only (`flush()` writes them once approved).
        """
        intents = list(self.state.pending)
        for intent in intents:
            if self._settled_by_state(intent):
                self._drop(intent)
        jobs = [i for i in self.state.pending if i.kind == "exportjob"]
        if jobs:
            for intent, res in self._settle_jobs(jobs):
                self._apply_recovered_job(intent, res)
        for intent in [i for i in self.state.pending if i.kind == "dataset"]:
            self._apply_recovered_dataset(intent, self._settle_dataset(intent, seen_before=set()))
        if write and intents:
            self.flush()
        return len(intents)

    def _apply_recovered_job(self, intent: Intent, res: Resolution) -> None:
        if res.outcome == "adopt":
            assert res.record is not None
            self._record_recovered_run(intent, res.record)
            self.marks.see_job(res.record.id)
            self._drop(intent)
            self.progress(
                f"{intent.address}: recovered job {res.record.id} from an interrupted apply"
            )
        elif res.outcome == "ambiguous":
            self._stop_ambiguous(intent, res, "exportjob")
        else:
            self._drop(intent)
            self.progress(
                f"{intent.address}: the interrupted create reached no job "
                f"(none after {self.settle_s:g}s); the plan sends it"
            )

    def _stop_ambiguous(self, intent: Intent, res: Resolution, kind: str) -> None:
        """Stop the intent's address, naming the candidates and what settles the ambiguity."""
        in_state = intent.address in self.state.resources
        self._stop(
            intent.address, ambiguity_line(intent.address, res, kind=kind, in_state=in_state)
        )

    def _apply_recovered_dataset(self, intent: Intent, res: Resolution) -> None:
        if res.outcome == "adopt":
            assert res.dataset is not None
            self._record_recovered_dataset(intent, res.dataset)
            self._drop(intent)
            self.progress(
                f"{intent.address}: recovered dataset {res.dataset.id} from an interrupted apply"
            )
        elif res.outcome == "ambiguous":
            self._stop_ambiguous(intent, res, "dataset")
        else:
            self._drop(intent)

    def _settle_jobs(self, intents: list[Intent]) -> list[tuple[Intent, Resolution]]:
        """Resolve export job intents, waiting out the settle window of those with no candidate."""
        started = time.monotonic()
        while True:
            everyone = [i for i in self.state.pending if i.kind == "exportjob"]
            floor = listing_floor_ms(everyone)
            unreadable: list[UnreadableRecord] = []
            records = list(
                self.client.iter_export_jobs(created_since_ms=floor, unreadable=unreadable)
            )
            answered: dict[str, ExportJobRecord | None] = {}
            for intent in everyone:
                if intent.answerJobId is not None:
                    got = get_job(self.client, intent.answerJobId)
                    answered[intent.id] = got if isinstance(got, ExportJobRecord) else None
            found = resolve_jobs(
                everyone,
                records,
                self.state.claimed_job_ids(),
                answered,
                unreadable=[r.id for r in unreadable if r.id is not None],
            )
            out = [(i, found[i.id]) for i in intents]
            waited = time.monotonic() - started
            waiting = [
                i
                for i, res in out
                if res.outcome == "none" and not self._settle_window_passed(i, waited)
            ]
            if not waiting:
                return out
            self.sleep(min(1.0, self.settle_s))

    def _settle_dataset(self, intent: Intent, *, seen_before: set[str]) -> Resolution:
        started = time.monotonic()
        while True:
            res = resolve_dataset(
                intent,
                self.client.iter_datasets(),
                tag=ADDRESS_TAG,
                claimed=self.state.claimed_dataset_ids(),
                seen_before=seen_before,
            )
            waited = time.monotonic() - started
            if res.outcome != "none" or self._settle_window_passed(intent, waited):
                return res
            self.sleep(min(1.0, self.settle_s))

    def _stop(self, address: str, line: str) -> None:
        """Stop one address for this apply (other addresses go on; apply exits 1)."""
        if address not in self.stopped:
            self.stopped[address] = line
            self.progress(line)

    def observe(self, live: LiveSnapshot, *, write: bool = True) -> None:
        """Fold a refresh into state (statuses, batches, unmanaged jobs); write only on change."""
        self.live = live
        self.marks.see_job(live.newest_job_id)
        self.marks.see_job(max(live.runs, default=None))
        self.marks.seen_datasets.update(live.datasets)
        observed = observe_state(self.state, live)
        if observed != self.state:
            changed = _changed_addresses(self.state, observed)
            self.state = observed
            self._dirty.update(changed)
            if write:
                self.save(changed)

    def flush(self) -> None:
        """Write what was changed in memory (recovery, observations) since the last write."""
        if self._dirty or self._pending_changed or self.state != self._written:
            self.save(_changed_addresses(self._written, self.state))

    # Carrying out a plan

    def execute(self, plan: Plan) -> list[str]:
        """Carry out every action in order, writing state after each effect; returns a log.

        An address that cannot go on (an ambiguous create, an unreadable job record) is stopped
        with one line and skipped; the other addresses go on (`stopped` lists them).
        """
        done: list[str] = []
        for action in plan.actions:
            if action.action == "wait":
                continue
            blocked = self._blocked(action)
            if blocked is not None:
                self._stop(action.address, blocked)
                continue
            handler = self._dataset_action if action.kind == "dataset" else self._export_job_action
            try:
                line = handler(action)
            except AddressStopped as stop:
                self._stop(action.address, stop.line)
                continue
            self.progress(line)
            done.append(line)
        return done

    def _blocked(self, action: Action) -> str | None:
        """Why this action must not run now (None: it may)."""
        address = action.address
        if address in self.stopped:
            return self.stopped[address]
        waits_for = [d for d in action.depends_on if d in self.stopped]
        if waits_for:
            return f"{address}: not applied: it needs {', '.join(waits_for)}, which stopped above"
        if any(i.address == address for i in self.state.pending):
            return f"{address}: not applied: the outcome of its last create is still unresolved"
        unreadable = self._unreadable_job(action)
        if unreadable is not None:
            job_id, reason = unreadable
            return (
                f"{address}: not applied: the record of its job {job_id} cannot be read "
                f"({reason}); nothing is done to it until the platform answers it readably"
            )
        return None

    def _unreadable_job(self, action: Action) -> tuple[int, str] | None:
        if action.kind != "exportjob" or self.live is None or not self.live.unreadable:
            return None
        bad = {r.id: str(r.reason) for r in self.live.unreadable if r.id is not None}
        ids = [action.cancel_job_id]
        res = self.state.export_job(action.address)
        newest = res.newest_run() if res is not None else None
        if newest is not None:
            ids.append(newest.jobId)
        if action.adopt_id is not None and action.adopt_id.isdigit():
            ids.append(int(action.adopt_id))
        for job_id in ids:
            if job_id is not None and job_id in bad:
                return job_id, bad[job_id]
        return None

    def _dataset_action(self, action: Action) -> str:
        address = action.address
        res = self.state.dataset(address)
        if action.action in ("create", "replace"):
            new_id = self._create_dataset(address, dict(action.request or {}))
            if res is not None and action.action == "replace":
                return f"{address}: replaced dataset {res.datasetId} with {new_id} ({res.datasetId} is orphaned)"
            return f"{address}: created dataset {new_id}"
        if action.action == "adopt":
            live = self._live_dataset(address, str(action.adopt_id))
            self.state.resources[address] = dataset_resource(
                live, deletion_policy=self._deletion_policy(address), created_at=self.clock()
            )
            self.save([address])
            return f"{address}: adopted dataset {live.id}"
        if action.action == "update" and res is not None:
            self._update_dataset(address, res, dict(action.request or {}))
            return f"{address}: updated dataset {res.datasetId}"
        if action.action == "delete" and res is not None:
            with contextlib.suppress(NotFoundError):  # already gone: the goal is reached
                self.client.delete_dataset(res.datasetId)
            del self.state.resources[address]
            self.save([address])
            return f"{address}: deleted dataset {res.datasetId}"
        if action.action == "forget":
            self._retire(address)
            return f"{address}: forgotten (dataset left in place, kept in the state's history)"
        raise ApplyError(
            f"{address}: cannot {action.action} this dataset as planned (the state no longer "
            "matches the plan); run 'reconciler plan' again"
        )

    def _retire(self, address: str) -> None:
        """A `forget`: the resource moves to the retired history, which keeps claiming its objects."""
        if address in self.state.resources:
            self.state.retire(address, reason="forget", at=self.clock())
            self.save([address])

    def forget_cancelled(self, address: str) -> bool:
        """Retire a removed document's resource once its cancelled run ended (apply --wait)."""
        if self.specs.by_address(address) is not None:
            return False
        res = self.state.export_job(address)
        newest = res.newest_run() if res is not None else None
        if res is None or (newest is not None and not is_terminal(newest.status)):
            return False
        self._retire(address)
        return True

    def _update_dataset(self, address: str, res: DatasetResource, changes: dict[str, Any]) -> None:
        """PATCH what the Catalog can change in place and record what was set."""
        self.client.update_dataset(res.datasetId, changes)
        self.state.resources[address] = res.model_copy(
            update={
                "name": changes.get("name", res.name),
                "description": changes.get("description", res.description),
                "tags": changes.get("tags", res.tags),
            }
        )
        self.save([address])

    def _export_job_action(self, action: Action) -> str:
        address = action.address
        if action.action == "forget":
            self._retire(address)
            return f"{address}: forgotten (its finished runs are kept in the state's history)"
        if action.action == "cancel":
            assert action.cancel_job_id is not None
            line = self._cancel(address, action.cancel_job_id)
            if self.specs.by_address(address) is None:
                newest = self._newest(address)
                if newest is not None and is_terminal(newest.status):
                    line += "; the next apply forgets it"
                else:
                    line += "; 'apply --wait' follows it and forgets it, or the next apply does"
            return f"{address}: {line}"
        doc = self._export_job_doc(address)
        if action.action == "adopt":
            got = get_job(self.client, int(str(action.adopt_id)))
            if not isinstance(got, ExportJobRecord):
                raise ApplyError(
                    f"{address}: job {action.adopt_id} is gone or unreadable; run 'reconciler plan' again"
                )
            owner = self._claimed_by(got.id)
            if owner is not None:
                raise AddressStopped(
                    f"{address}: not adopted: job {got.id} is already recorded for {owner}; "
                    "one live job is never adopted for two documents"
                )
            self._record_run(doc, got, reason="adopt")
            self.save([address])
            return f"{address}: adopted job {got.id} ({got.status})"
        if action.action in ("create", "replace", "rerun"):
            prefix = ""
            if action.cancel_job_id is not None:
                prefix = self._cancel(address, action.cancel_job_id) + ", "
            record = self._start_run(doc, reason=_run_reason(action))
            return f"{address}: {prefix}started job {record.id} ({action.action})"
        raise ApplyError(
            f"{address}: an export job cannot '{action.action}'; run 'reconciler plan' again"
        )

    def _claimed_by(self, job_id: int) -> str | None:
        for address, res in self.state.resources.items():
            if isinstance(res, ExportJobResource) and any(r.jobId == job_id for r in res.runs):
                return address
        return "a forgotten document" if job_id in self.state.claimed_job_ids() else None

    # Export jobs

    def _export_job_doc(self, address: str) -> ExportJobDoc:
        doc = self.specs.by_address(address)
        if not isinstance(doc, ExportJobDoc):
            raise ApplyError(
                f"{address}: no ExportJob document has this address; run 'reconciler plan' again"
            )
        return doc

    def _destination_id(self, doc: ExportJobDoc) -> tuple[str | None, str]:
        dest = doc.spec.destination
        if dest.datasetId is not None:
            return None, dest.datasetId
        address = f"dataset/{dest.dataset}"
        res = self.state.dataset(address)
        if res is None:
            if address in self.stopped:
                raise AddressStopped(
                    f"{doc.address}: not applied: it needs {address}, which stopped above"
                )
            raise ApplyError(
                f"{doc.address}: its destination {address} has no dataset yet; "
                f"apply it first (e.g. drop --target or add --target {address})"
            )
        return address, res.datasetId

    def _start_run(self, doc: ExportJobDoc, *, reason: str) -> ExportJobRecord:
        """POST one run under a write-ahead intent; an unknown outcome is resolved, never resent.

        Unknown: the jobs after the intent's watermark are searched (a GET by id first when the
        answer named one) until one candidate is found, or the settle window passes with none
        (then the POST did not happen and is sent again, at most three times in all), or the
        search finds more than one (the address stops: `AddressStopped`).
        """
        _, dataset_id = self._destination_id(doc)
        body = resolved_request(doc, dataset_id)
        for _attempt in range(3):
            intent = self._add_intent(
                doc.address, "exportjob", fingerprint(doc), normalize_request(body)
            )
            try:
                record = self.client.create_export_job(body)
            except (OutcomeUnknown, UnexpectedResponseError) as exc:
                # An unreadable answer is no refusal: the job may exist (issue 13, case 2).
                intent = self._mark_unknown(intent, getattr(exc, "job_id", None))
                [(_, res)] = self._settle_jobs([intent])
                if res.outcome == "ambiguous":
                    raise AddressStopped(
                        ambiguity_line(
                            doc.address,
                            res,
                            kind="exportjob",
                            in_state=doc.address in self.state.resources,
                        )
                    ) from None
                if res.outcome == "none":
                    self._drop(intent)
                    self.save(())
                    self.progress(
                        f"{doc.address}: the create's outcome was unknown and no job appeared "
                        f"within {self.settle_s:g}s: it did not happen; sending it again"
                    )
                    continue
                assert res.record is not None
                record = res.record
                self.progress(f"{doc.address}: the create's answer was lost; found job {record.id}")
            except PlatformError:
                # A definite answer (rejected, or never sent): nothing was created. Anything
                # else (an interrupt mid-POST) keeps the intent for the next apply to resolve.
                self._drop(intent)
                self.save(())
                raise
            self._record_run(doc, record, reason=reason)
            self.marks.see_job(record.id)
            self._drop(intent)
            self.save([doc.address])
            return record
        raise AddressStopped(
            f"{doc.address}: stopped: three creates in a row had no answer and left no job; "
            "run 'reconciler apply' again later"
        )

    def _mark_unknown(self, intent: Intent, answer_job_id: int | None) -> Intent:
        update: dict[str, Any] = {"outcome": "unknown"}
        if answer_job_id is not None:
            update["answerJobId"] = answer_job_id
        marked = intent.model_copy(update=update)
        self.state.pending = [marked if i.id == intent.id else i for i in self.state.pending]
        self.save(())
        return marked

    def _record_run(self, doc: ExportJobDoc, record: ExportJobRecord, *, reason: str) -> None:
        dataset_address, dataset_id = self._destination_id(doc)
        run = run_from_record(
            record,
            fingerprint=fingerprint(doc),
            reason=reason,
            dataset_id=dataset_id,
            provenance=self.provenance,
        )
        res = self.state.export_job(doc.address)
        runs = [r for r in res.runs if r.jobId != run.jobId] if res is not None else []
        run = after_earlier_runs(run, runs)
        self.state.resources[doc.address] = ExportJobResource(
            fingerprint=fingerprint(doc),
            request=canonical_request(doc),
            datasetAddress=dataset_address,
            datasetId=None if dataset_address else dataset_id,
            runs=[*runs, run],
        )
        self.state.observed.unmanagedJobs.pop(run.jobId, None)
        self._dirty.add(doc.address)

    def _record_recovered_run(self, intent: Intent, record: ExportJobRecord) -> None:
        doc = self.specs.by_address(intent.address)
        self._dirty.add(intent.address)
        if isinstance(doc, ExportJobDoc) and fingerprint(doc) == intent.fingerprint:
            try:
                self._record_run(
                    doc, record, reason="create (recovered after an interrupted apply)"
                )
                return
            except (ApplyError, AddressStopped):
                pass  # its dataset is not in state (any more): recorded under the intent
        # The document changed (or went) since the crash: keep the run under the intent's
        # fingerprint, so the next plan sees the difference and replaces it.
        res = self.state.export_job(intent.address)
        run = run_from_record(
            record,
            fingerprint=intent.fingerprint,
            reason="recovered after an interrupted apply",
            dataset_id=record.destination.datasetId,
            provenance=self.provenance,
        )
        if res is None:
            res = ExportJobResource(
                fingerprint=intent.fingerprint,
                request=dict(intent.request),
                datasetId=run.datasetId,
            )
        earlier = [r for r in res.runs if r.jobId != run.jobId]
        res.runs = [*earlier, after_earlier_runs(run, earlier)]
        self.state.resources[intent.address] = res
        self.state.observed.unmanagedJobs.pop(run.jobId, None)

    # Cancelling

    def _cancel(self, address: str, job_id: int) -> str:
        """Read the job; DELETE it only while in flight, once; record CANCELLING until it ends.

        Returns what happened, as the middle of a progress line.
        """
        got = get_job(self.client, job_id)
        if got is not None and not isinstance(got, ExportJobRecord):
            raise AddressStopped(
                f"{address}: not cancelled: the record of job {job_id} cannot be read "
                f"({got.reason}); nothing is done to it until it can"
            )
        if got is None:
            self._update_run(address, job_id, None, cancelled=True)
            return f"job {job_id} is gone from the platform already (recorded as cancelled)"
        if got.is_terminal:
            # "cancel or delete": a DELETE now would remove the finished record.
            self._update_run(address, job_id, got, cancelled=False)
            return f"job {job_id} had already ended {got.status.upper()} (not cancelled)"
        deleted = False
        try:
            self.client.cancel_export_job(job_id)  # never retried once it may have arrived
        except NotFoundError:
            deleted = True  # ended and removed between the read and the DELETE
        except OutcomeUnknown:
            pass  # it may have arrived: CANCELLING until a read shows the job ended
        except UnexpectedResponseError as exc:  # a definite "no" (status: false)
            raise AddressStopped(
                f"{address}: not cancelled: the platform declined to cancel job {job_id} ({exc})"
            ) from None
        self._update_run(address, job_id, None, cancelling=True)
        after = None if deleted else get_job(self.client, job_id)
        if after is None:
            self._update_run(address, job_id, None, cancelled=True)
            return f"cancelled job {job_id}"
        if isinstance(after, ExportJobRecord) and after.is_terminal:
            self._update_run(address, job_id, after, cancelled=False)
            return f"cancelled job {job_id} ({after.status.upper()})"
        return f"asked the platform to cancel job {job_id} (CANCELLING until it ends)"

    def _update_run(
        self,
        address: str,
        job_id: int,
        record: ExportJobRecord | None,
        *,
        cancelled: bool = False,
        cancelling: bool = False,
    ) -> None:
        """Record a cancel step on the run of `job_id` (a live record, or CANCELLING/CANCELLED)."""
        res = self.state.export_job(address)
        if res is None:
            return
        runs = []
        for run in res.runs:
            if run.jobId == job_id:
                if record is not None:
                    fresh = run_from_record(
                        record,
                        fingerprint=run.fingerprint,
                        reason=run.reason,
                        dataset_id=run.datasetId,
                    )
                    run = run.model_copy(
                        update={
                            "status": fresh.status,
                            "finishedAt": fresh.finishedAt,
                            "batchId": fresh.batchId or run.batchId,
                            "batches": fresh.batches or run.batches,
                        }
                    )
                elif cancelling:
                    run = run.model_copy(update={"status": CANCELLING, "cancelledAt": self.clock()})
                elif cancelled:
                    # the record is gone (the platform's "cancel or delete"): batches kept
                    gone = deleted_by_cancel(run, platform_now(self.client))
                    run = run.model_copy(
                        update={
                            "status": "CANCELLED",
                            "cancelledAt": run.cancelledAt or self.clock(),
                            "finishedAt": run.finishedAt or _from_ms(gone.updated_ms or 0),
                        }
                    )
            runs.append(run)
        self.state.resources[address] = res.model_copy(update={"runs": runs})
        self.save([address])

    # Datasets

    def _deletion_policy(self, address: str) -> str:
        doc = self.specs.by_address(address)
        return doc.spec.deletionPolicy if isinstance(doc, DatasetDoc) else "Orphan"

    def _live_dataset(self, address: str, dataset_id: str) -> CatalogDataset:
        live = self.client.get_dataset(dataset_id)
        if live is None:
            raise ApplyError(
                f"{address}: dataset {dataset_id} is gone; run 'reconciler plan' again"
            )
        return live

    def _create_dataset(self, address: str, body: dict[str, Any]) -> str:
        """POST one dataset under a write-ahead intent; an unknown outcome is resolved first.

        Only a dataset new since the intent counts (tagged with the address, unclaimed, not
        listed by this apply's refresh, created at or after the intent's platform time): an
        older one an earlier replace orphaned carries the same tag (issue 13, case 8).
        """
        for _attempt in range(3):
            intent = self._add_intent(address, "dataset", _digest(body), body)
            try:
                new_id = self.client.create_dataset(body)
            except (OutcomeUnknown, UnexpectedResponseError):
                intent = self._mark_unknown(intent, None)
                res = self._settle_dataset(intent, seen_before=set(self.marks.seen_datasets))
                if res.outcome == "ambiguous":
                    raise AddressStopped(
                        ambiguity_line(
                            address, res, kind="dataset", in_state=address in self.state.resources
                        )
                    ) from None
                if res.outcome == "none":
                    self._drop(intent)
                    self.save(())
                    self.progress(
                        f"{address}: the dataset create's outcome was unknown and none appeared "
                        f"within {self.settle_s:g}s: it did not happen; sending it again"
                    )
                    continue
                assert res.dataset is not None
                new_id = res.dataset.id
            except PlatformError:
                # A definite answer (rejected, or never sent): nothing was created. Anything
                # else (an interrupt mid-POST) keeps the intent for the next apply to resolve.
                self._drop(intent)
                self.save(())
                raise
            self._record_dataset(address, new_id, body)
            self.marks.seen_datasets.add(new_id)
            self._drop(intent)
            self.save([address])
            return new_id
        raise AddressStopped(
            f"{address}: stopped: three dataset creates in a row had no answer and left no "
            "dataset; run 'reconciler apply' again later"
        )

    def _record_dataset(self, address: str, dataset_id: str, body: Mapping[str, Any]) -> None:
        schema = body.get("schemaRef") or {}
        self.state.resources[address] = DatasetResource(
            datasetId=dataset_id,
            name=str(body.get("name", "")),
            description=body.get("description"),
            tags={k: list(v) for k, v in (body.get("tags") or {}).items()},
            schemaId=str(schema.get("id", "")),
            deletionPolicy="Delete" if self._deletion_policy(address) == "Delete" else "Orphan",
            createdAt=_utc_now(),
        )
        self._dirty.add(address)

    def _record_recovered_dataset(self, intent: Intent, found: CatalogDataset) -> None:
        self._record_dataset(intent.address, found.id, intent.request)

    # Intents

    def _add_intent(
        self, address: str, kind: str, digest: str, request: Mapping[str, Any]
    ) -> Intent:
        now_ms = self.now_ms()
        intent = Intent(
            id=str(uuid.uuid4()),
            address=address,
            kind="dataset" if kind == "dataset" else "exportjob",
            fingerprint=digest,
            request=dict(request),
            watermarkMs=self.state.observed.watermarkMs,
            watermarkJobId=self._watermark_job_id(),
            platformTimeMs=now_ms,
            postedAtMs=now_ms,
            outcome="pending",
            # the wall clock: compared with the time a resource was recorded (import included)
            createdAt=_utc_now(),
        )
        self.state.pending.append(intent)
        self.save(())
        return intent

    def _drop(self, intent: Intent) -> None:
        self.state.pending = [i for i in self.state.pending if i.id != intent.id]
        self._pending_changed = True

    # Waiting

    def wait(
        self,
        addresses: Iterable[str],
        *,
        timeout_s: float,
        poll_s: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        tick: Progress | None = None,
    ) -> list[WaitedRun]:
        """Poll the runs in flight of each address until terminal; record every status change.

        The newest run of each address is the one reported; an older one being cancelled (a
        replace's) is followed too, so no run stays CANCELLING in state once its job ended.
        `progress` gets a line per status change; `tick` (a terminal's status line) a summary per
        poll. A followed job that vanished is reported with status MISSING (unless it was being
        cancelled: the platform's "cancel or delete" removed it, so it is CANCELLED).
        """
        wanted = sorted(set(addresses))
        started = time.monotonic()
        delay = min(0.2, poll_s)
        errors: dict[str, tuple[Mapping[str, Any], ...]] = {}
        vanished: dict[str, WaitedRun] = {}
        dropped: set[int] = set()  # older runs no longer followed (gone, unreadable)
        while True:
            flying = [(a, j) for a, j in self._in_flight(wanted, every=True) if j not in dropped]
            if not flying:
                break
            if time.monotonic() - started > timeout_s:
                names = ", ".join(f"{a} (job {j})" for a, j in flying)
                raise WaitTimeout(
                    f"timed out after {timeout_s:g}s waiting for {names}; "
                    "run 'reconciler apply --wait' again to keep waiting"
                )
            if tick is not None:
                tick(self._summary(self._in_flight(wanted), time.monotonic() - started))
            sleep(delay)
            delay = min(delay * 2, poll_s)
            records = self.client.map(lambda j: get_job(self.client, j), [j for _, j in flying])
            runs = {}
            for (address, job_id), got in zip(flying, records, strict=True):
                if address not in wanted:
                    continue
                newest = self._newest(address)
                old = self._run(address, job_id)
                is_newest = newest is not None and newest.jobId == job_id
                if got is None and old is not None and old.cancelledAt is not None:
                    runs[job_id] = deleted_by_cancel(old, platform_now(self.client))
                    self.progress(f"{address}: job {job_id} CANCELLED (its record was removed)")
                    continue
                if not isinstance(got, ExportJobRecord):
                    dropped.add(job_id)
                    if not is_newest:
                        continue
                    if got is None:
                        self.progress(f"{address}: job {job_id} is gone from the platform")
                        vanished[address] = WaitedRun(address, job_id, "MISSING", None, ())
                    else:
                        self.progress(
                            f"{address}: job {job_id}'s record cannot be read ({got.reason}); "
                            "no longer followed"
                        )
                        vanished[address] = WaitedRun(address, job_id, "UNREADABLE", None, ())
                    wanted.remove(address)
                    continue
                live = live_run(got)
                if old is not None and old.status != live.status:
                    self.progress(f"{address}: job {job_id} {live.status}")
                runs[job_id] = live
                if is_newest:
                    errors[address] = live.errors
            before = self.state
            self.state = observe_state(self.state, LiveSnapshot(runs=runs))
            if self.state != before:
                self.save(_changed_addresses(before, self.state))
        done = [self._waited(a, errors.get(a, ())) for a in wanted if self._newest(a) is not None]
        return sorted([*done, *vanished.values()], key=lambda w: w.address)

    def _summary(self, flying: list[tuple[str, int]], elapsed: float) -> str:
        counts: dict[str, int] = {}
        for address, _ in flying:
            run = self._newest(address)
            status = run.status if run is not None else "?"
            counts[status] = counts.get(status, 0) + 1
        parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        return f"waiting for {len(flying)} run{'s' if len(flying) != 1 else ''}: {parts} ({elapsed:.0f}s)"

    def _newest(self, address: str) -> Run | None:
        res = self.state.export_job(address)
        return res.newest_run() if res is not None else None

    def _run(self, address: str, job_id: int) -> Run | None:
        res = self.state.export_job(address)
        return next((r for r in res.runs if r.jobId == job_id), None) if res else None

    def _in_flight(self, addresses: Iterable[str], *, every: bool = False) -> list[tuple[str, int]]:
        """(address, job id) of each address's newest run in flight; `every`: and older ones
        still in flight (a replaced run being cancelled)."""
        out = []
        for address in addresses:
            run = self._newest(address)
            if run is not None and not is_terminal(run.status):
                out.append((address, run.jobId))
            if every:
                res = self.state.export_job(address)
                out.extend(
                    (address, r.jobId)
                    for r in (res.runs if res is not None else ())
                    if r is not run and not is_terminal(r.status)
                )
        return out

    def _waited(self, address: str, errors: tuple[Mapping[str, Any], ...]) -> WaitedRun:
        run = self._newest(address)
        assert run is not None
        return WaitedRun(address, run.jobId, run.status, run.batchId, errors)
