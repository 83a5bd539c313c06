"""Plan -> platform calls and state writes: crash-safe and level-triggered.

Every effect is bracketed by state writes: before a POST a write-ahead intent goes into
`pending`; after it the new job or dataset id is recorded and the intent dropped. A process
killed in between leaves an intent that the next apply resolves by searching the live platform
for what the POST made, so a create is completed, never repeated.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.engine.model import Action, LiveSnapshot, Plan, is_terminal
from reconciler.engine.planner import ADDRESS_TAG, record_observations
from reconciler.engine.refresh import live_run
from reconciler.errors import ReconcilerError
from reconciler.platform import NotFoundError, OutcomeUnknown, PlatformClient, PlatformError
from reconciler.platform.models import CatalogDataset, ExportJobRecord
from reconciler.spec.canonical import (
    canonical_request,
    fingerprint,
    normalize_request,
    request_matches,
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
    StateWriter,
)

Progress = Callable[[str], None]
Clock = Callable[[], datetime]


class ApplyError(ReconcilerError):
    """An action of the plan cannot be carried out as planned."""


class WaitTimeout(ReconcilerError):
    """`apply --wait` gave up before every run finished."""


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
    record: ExportJobRecord, *, fingerprint: str, reason: str, dataset_id: str | None
) -> Run:
    """A state run for a live job record."""
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
    )


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
        writer: StateWriter,
        state: State,
        specs: SpecSet,
        *,
        clock: Clock = _utc_now,
        progress: Progress = lambda line: None,
    ) -> None:
        self.client = client
        self.writer = writer
        self.state = state
        self.specs = specs
        self.clock = clock
        self.progress = progress

    def save(self, changed: Iterable[str] | None = None) -> None:
        """Write the state now (serial + 1); `changed`: the addresses modified (None: unsure)."""
        self.state = self.writer.write(self.state, changed)

    # Recovery and observations

    def resolve_pending(self) -> int:
        """Complete or drop the intents an interrupted apply left; returns how many there were."""
        intents = list(self.state.pending)
        for intent in intents:
            if intent.kind == "exportjob":
                record = self._find_job(intent)
                if record is not None:
                    self._record_recovered_run(intent, record)
                    self.progress(
                        f"{intent.address}: recovered job {record.id} from an interrupted apply"
                    )
            else:
                found = self._find_dataset(intent.address)
                if found is not None:
                    self._record_recovered_dataset(intent, found)
                    self.progress(
                        f"{intent.address}: recovered dataset {found.id} from an interrupted apply"
                    )
            self._drop(intent)
            self.save([intent.address])
        return len(intents)

    def observe(self, live: LiveSnapshot) -> None:
        """Fold a refresh into state (statuses, batches, unmanaged jobs); write only on change."""
        observed = record_observations(self.state, live)
        if observed != self.state:
            changed = _changed_addresses(self.state, observed)
            self.state = observed
            self.save(changed)

    # Carrying out a plan

    def execute(self, plan: Plan) -> list[str]:
        """Carry out every action in order, writing state after each effect; returns a log."""
        done: list[str] = []
        for action in plan.actions:
            if action.action == "wait":
                continue
            handler = self._dataset_action if action.kind == "dataset" else self._export_job_action
            line = handler(action)
            self.progress(line)
            done.append(line)
        return done

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
            self._cancel(address, action.cancel_job_id)
            return f"{address}: cancelled job {action.cancel_job_id}"
        doc = self._export_job_doc(address)
        if action.action == "adopt":
            record = self.client.get_export_job(str(action.adopt_id))
            if record is None:
                raise ApplyError(
                    f"{address}: job {action.adopt_id} is gone; run 'reconciler plan' again"
                )
            self._record_run(doc, record, reason="adopt")
            self.save([address])
            return f"{address}: adopted job {record.id} ({record.status})"
        if action.action in ("create", "replace", "rerun"):
            prefix = ""
            if action.cancel_job_id is not None:
                self._cancel(address, action.cancel_job_id)
                prefix = f"cancelled job {action.cancel_job_id}, "
            record = self._start_run(doc, reason=_run_reason(action))
            return f"{address}: {prefix}started job {record.id} ({action.action})"
        raise ApplyError(
            f"{address}: an export job cannot '{action.action}'; run 'reconciler plan' again"
        )

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
            raise ApplyError(
                f"{doc.address}: its destination {address} has no dataset yet; "
                f"apply it first (e.g. drop --target or add --target {address})"
            )
        return address, res.datasetId

    def _start_run(self, doc: ExportJobDoc, *, reason: str) -> ExportJobRecord:
        """POST one run with a write-ahead intent; on an unknown outcome search, then POST once more."""
        _, dataset_id = self._destination_id(doc)
        body = resolved_request(doc, dataset_id)
        for attempt in (1, 2):
            intent = self._add_intent(
                doc.address, "exportjob", fingerprint(doc), normalize_request(body)
            )
            try:
                record = self.client.create_export_job(body)
            except OutcomeUnknown:
                found = self._find_job(intent)
                if found is None and attempt == 1:
                    self._drop(intent)
                    self.save(())
                    self.progress(
                        f"{doc.address}: the create's outcome is unknown and no job was found; sending it once more"
                    )
                    continue
                if found is None:
                    raise ApplyError(
                        f"{doc.address}: twice the platform did not answer whether the job was "
                        "created; run 'reconciler apply' again later to find or create it"
                    ) from None
                record = found
            except PlatformError:
                # A definite answer (rejected, or never sent): nothing was created. Anything
                # else (an interrupt mid-POST) keeps the intent for the next apply to resolve.
                self._drop(intent)
                self.save(())
                raise
            self._record_run(doc, record, reason=reason)
            self._drop(intent)
            self.save([doc.address])
            return record
        raise AssertionError("unreachable")

    def _record_run(self, doc: ExportJobDoc, record: ExportJobRecord, *, reason: str) -> None:
        dataset_address, dataset_id = self._destination_id(doc)
        run = run_from_record(
            record, fingerprint=fingerprint(doc), reason=reason, dataset_id=dataset_id
        )
        res = self.state.export_job(doc.address)
        runs = [r for r in res.runs if r.jobId != run.jobId] if res is not None else []
        self.state.resources[doc.address] = ExportJobResource(
            fingerprint=fingerprint(doc),
            request=canonical_request(doc),
            datasetAddress=dataset_address,
            datasetId=None if dataset_address else dataset_id,
            runs=[*runs, run],
        )
        self.state.observed.unmanagedJobs.pop(run.jobId, None)

    def _record_recovered_run(self, intent: Intent, record: ExportJobRecord) -> None:
        doc = self.specs.by_address(intent.address)
        if isinstance(doc, ExportJobDoc) and fingerprint(doc) == intent.fingerprint:
            self._record_run(doc, record, reason="create (recovered after an interrupted apply)")
            return
        # The document changed (or went) since the crash: keep the run under the intent's
        # fingerprint, so the next plan sees the difference and replaces it.
        res = self.state.export_job(intent.address)
        run = run_from_record(
            record,
            fingerprint=intent.fingerprint,
            reason="recovered after an interrupted apply",
            dataset_id=record.destination.datasetId,
        )
        if res is None:
            res = ExportJobResource(
                fingerprint=intent.fingerprint,
                request=dict(intent.request),
                datasetId=run.datasetId,
            )
        res.runs = [*res.runs, run]
        self.state.resources[intent.address] = res
        self.state.observed.unmanagedJobs.pop(run.jobId, None)

    def _find_job(self, intent: Intent) -> ExportJobRecord | None:
        """A live job created since the intent whose request is the intent's and no run claims."""
        claimed = self.state.claimed_job_ids()
        matches = [
            record
            for record in self.client.iter_export_jobs(created_since_ms=intent.watermarkMs)
            if record.id not in claimed and request_matches(intent.request, record.raw())
        ]
        # The oldest match is the one the lost POST made; a later twin would be someone else's.
        return min(matches, key=lambda r: (r.creationTime, r.id), default=None)

    def _cancel(self, address: str, job_id: int) -> None:
        with contextlib.suppress(NotFoundError):  # gone already: nothing left to cancel
            self.client.cancel_export_job(job_id)
        res = self.state.export_job(address)
        if res is None:
            return
        record = self.client.get_export_job(job_id)
        runs = []
        for run in res.runs:
            if run.jobId == job_id:
                update: dict[str, Any] = {"cancelledAt": self.clock()}
                if record is not None:
                    fresh = run_from_record(
                        record,
                        fingerprint=run.fingerprint,
                        reason=run.reason,
                        dataset_id=run.datasetId,
                    )
                    update.update(status=fresh.status, finishedAt=fresh.finishedAt)
                run = run.model_copy(update=update)
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
        """POST one dataset with a write-ahead intent; on an unknown outcome search, then POST once more."""
        for attempt in (1, 2):
            intent = self._add_intent(address, "dataset", _digest(body), body)
            try:
                new_id = self.client.create_dataset(body)
            except OutcomeUnknown:
                found = self._find_dataset(address)
                if found is None and attempt == 1:
                    self._drop(intent)
                    self.save(())
                    continue
                if found is None:
                    raise ApplyError(
                        f"{address}: twice the platform did not answer whether the dataset was "
                        "created; run 'reconciler apply' again later to find or create it"
                    ) from None
                new_id = found.id
            except PlatformError:
                # A definite answer (rejected, or never sent): nothing was created. Anything
                # else (an interrupt mid-POST) keeps the intent for the next apply to resolve.
                self._drop(intent)
                self.save(())
                raise
            self._record_dataset(address, new_id, body)
            self._drop(intent)
            self.save([address])
            return new_id
        raise AssertionError("unreachable")

    def _record_dataset(self, address: str, dataset_id: str, body: Mapping[str, Any]) -> None:
        schema = body.get("schemaRef") or {}
        self.state.resources[address] = DatasetResource(
            datasetId=dataset_id,
            name=str(body.get("name", "")),
            description=body.get("description"),
            tags={k: list(v) for k, v in (body.get("tags") or {}).items()},
            schemaId=str(schema.get("id", "")),
            deletionPolicy="Delete" if self._deletion_policy(address) == "Delete" else "Orphan",
            createdAt=self.clock(),
        )

    def _record_recovered_dataset(self, intent: Intent, found: CatalogDataset) -> None:
        self._record_dataset(intent.address, found.id, intent.request)

    def _find_dataset(self, address: str) -> CatalogDataset | None:
        """The newest live dataset tagged with `address` that state does not already hold."""
        claimed = {
            r.datasetId for r in self.state.resources.values() if isinstance(r, DatasetResource)
        }
        tagged = [
            ds
            for ds in self.client.iter_datasets()
            if list(ds.tags.get(ADDRESS_TAG, ())) == [address] and ds.id not in claimed
        ]
        return max(tagged, key=lambda ds: (ds.created or 0, ds.id), default=None)

    # Intents

    def _add_intent(
        self, address: str, kind: str, digest: str, request: Mapping[str, Any]
    ) -> Intent:
        intent = Intent(
            id=str(uuid.uuid4()),
            address=address,
            kind="dataset" if kind == "dataset" else "exportjob",
            fingerprint=digest,
            request=dict(request),
            watermarkMs=self.state.observed.watermarkMs,
            createdAt=self.clock(),
        )
        self.state.pending.append(intent)
        self.save(())
        return intent

    def _drop(self, intent: Intent) -> None:
        self.state.pending = [i for i in self.state.pending if i.id != intent.id]

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
        """Poll the newest run of each address until terminal; record every status change.

        `progress` gets a line per status change; `tick` (a terminal's status line) a summary per poll.
        """
        wanted = sorted(set(addresses))
        started = time.monotonic()
        delay = min(0.2, poll_s)
        errors: dict[str, tuple[Mapping[str, Any], ...]] = {}
        while True:
            flying = self._in_flight(wanted)
            if not flying:
                break
            if time.monotonic() - started > timeout_s:
                names = ", ".join(f"{a} (job {j})" for a, j in flying)
                raise WaitTimeout(
                    f"timed out after {timeout_s:g}s waiting for {names}; "
                    "run 'reconciler apply --wait' again to keep waiting"
                )
            if tick is not None:
                tick(self._summary(flying, time.monotonic() - started))
            sleep(delay)
            delay = min(delay * 2, poll_s)
            records = self.client.map(self.client.get_export_job, [j for _, j in flying])
            runs = {}
            for (address, job_id), record in zip(flying, records, strict=True):
                if record is None:
                    self.progress(f"{address}: job {job_id} is gone from the platform")
                    wanted.remove(address)
                    continue
                old = self._newest(address)
                status = record.status.upper()
                if old is not None and old.status != status:
                    self.progress(f"{address}: job {job_id} {status}")
                runs[job_id] = live_run(record)
                errors[address] = runs[job_id].errors
            before = self.state
            self.state = record_observations(self.state, LiveSnapshot(runs=runs))
            if self.state != before:
                self.save(_changed_addresses(before, self.state))
        return [self._waited(a, errors.get(a, ())) for a in wanted if self._newest(a) is not None]

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

    def _in_flight(self, addresses: Iterable[str]) -> list[tuple[str, int]]:
        out = []
        for address in addresses:
            run = self._newest(address)
            if run is not None and not is_terminal(run.status):
                out.append((address, run.jobId))
        return out

    def _waited(self, address: str, errors: tuple[Mapping[str, Any], ...]) -> WaitedRun:
        run = self._newest(address)
        assert run is not None
        return WaitedRun(address, run.jobId, run.status, run.batchId, errors)
