"""The executor's core: the state it holds and writes, its intents, and how runs are recorded."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from reconciler.engine.create import (
    DEFAULT_SETTLE_S,
    WatermarkSource,
    to_ms,
)
from reconciler.engine.events import QUIET, Events, Lines
from reconciler.engine.executor_records import (
    AddressStopped,
    ApplyError,
    Clock,
    after_earlier_runs,
    changed_addresses,
    observe_state,
    run_from_record,
    utc_now,
)
from reconciler.engine.model import LiveSnapshot
from reconciler.engine.refresh import platform_now
from reconciler.engine.results import ActionOutcome
from reconciler.platform import (
    PlatformClient,
)
from reconciler.platform.models import CatalogDataset, ExportJobRecord
from reconciler.spec.canonical import (
    canonical_request,
    fingerprint,
)
from reconciler.spec.loader import SpecSet
from reconciler.spec.models import DatasetDoc, ExportJobDoc
from reconciler.state import (
    DatasetResource,
    ExportJobResource,
    Intent,
    Run,
    State,
)
from reconciler.state.protocol import Writer


class ExecutorBase:
    """State, writes and records shared by every part of the executor (one client, one lock)."""

    def __init__(
        self,
        client: PlatformClient,
        writer: Writer,
        state: State,
        specs: SpecSet,
        *,
        clock: Clock | None = None,
        events: Events = QUIET,
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
        self.clock: Clock = clock or (lambda: platform_now(client) or utc_now())
        self.events = events
        self.outcomes: list[ActionOutcome] = []  # what execute() did with each action
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

    @property
    def progress(self) -> Callable[[str], None]:
        """The sink of the sentences a caller sees (its events' `progress`)."""
        return self.events.progress

    @progress.setter
    def progress(self, line: Callable[[str], None]) -> None:
        """Send every sentence (done, stopped, progress) to one callable instead of the events."""
        self.events = Lines(line)

    def save(self, changed: Iterable[str] | None = None) -> None:
        """Write the state now (serial + 1); `changed`: the addresses modified (None: unsure).

        Addresses changed in memory since the last write (`_dirty`) are written too.
        """
        names = None if changed is None else sorted(set(changed) | self._dirty)
        self.state = self.writer.write(self.state, names)
        self._written = self.state
        self._dirty = set()
        self._pending_changed = False

    def now_ms(self) -> int:
        """The platform's clock (the client's estimate from the answers' Date header), in ms."""
        return to_ms(platform_now(self.client)) or int(time.time() * 1000)

    def _watermark_job_id(self) -> int | None:
        """The newest job id seen: in this apply's refresh and creates, and anywhere in state."""
        if not self._state_marked:  # once: later ids come through see_job as they are recorded
            self.marks.see_job(self.state.claimed_job_ids().max())
            self.marks.see_job(max(self.state.observed.unmanagedJobs, default=None))
            self._state_marked = True
        return self.marks.newest_job_id

    def _stop(self, address: str, line: str) -> None:
        """Stop one address for this apply (other addresses go on; apply exits 1)."""
        if address not in self.stopped:
            self.stopped[address] = line
            self.events.stopped(address, line)

    def observe(self, live: LiveSnapshot, *, write: bool = True) -> None:
        """Fold a refresh into state (statuses, batches, unmanaged jobs); write only on change."""
        self.live = live
        self.marks.see_job(live.newest_job_id)
        self.marks.see_job(max(live.runs, default=None))
        self.marks.seen_datasets.update(live.datasets)
        observed = observe_state(self.state, live)
        if observed != self.state:
            changed = changed_addresses(self.state, observed)
            self.state = observed
            self._dirty.update(changed)
            if write:
                self.save(changed)

    def flush(self) -> None:
        """Write what was changed in memory (recovery, observations) since the last write."""
        if self._dirty or self._pending_changed or self.state != self._written:
            self.save(changed_addresses(self._written, self.state))

    def _retire(self, address: str) -> None:
        """A `forget`: the resource moves to the retired history, which keeps claiming its objects."""
        if address in self.state.resources:
            self.state.retire(address, reason="forget", at=self.clock())
            self.save([address])

    def _claimed_by(self, job_id: int) -> str | None:
        for address, res in self.state.resources.items():
            if isinstance(res, ExportJobResource) and any(r.jobId == job_id for r in res.runs):
                return address
        return "a forgotten document" if job_id in self.state.claimed_job_ids() else None

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
            archivedRuns=res.archivedRuns if res is not None else 0,
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

    def _deletion_policy(self, address: str) -> str:
        doc = self.specs.by_address(address)
        return doc.spec.deletionPolicy if isinstance(doc, DatasetDoc) else "Orphan"

    def _record_dataset(self, address: str, dataset_id: str, body: Mapping[str, Any]) -> None:
        schema = body.get("schemaRef") or {}
        self.state.resources[address] = DatasetResource(
            datasetId=dataset_id,
            name=str(body.get("name", "")),
            description=body.get("description"),
            tags={k: list(v) for k, v in (body.get("tags") or {}).items()},
            schemaId=str(schema.get("id", "")),
            deletionPolicy="Delete" if self._deletion_policy(address) == "Delete" else "Orphan",
            createdAt=utc_now(),
        )
        self._dirty.add(address)

    def _record_recovered_dataset(self, intent: Intent, found: CatalogDataset) -> None:
        self._record_dataset(intent.address, found.id, intent.request)

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
            createdAt=utc_now(),
        )
        self.state.pending.append(intent)
        self.save(())
        return intent

    def _drop(self, intent: Intent) -> None:
        self.state.pending = [i for i in self.state.pending if i.id != intent.id]
        self._pending_changed = True

    def _newest(self, address: str) -> Run | None:
        res = self.state.export_job(address)
        return res.newest_run() if res is not None else None

    def _run(self, address: str, job_id: int) -> Run | None:
        res = self.state.export_job(address)
        return next((r for r in res.runs if r.jobId == job_id), None) if res else None
