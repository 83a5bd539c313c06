"""Effects on the platform: a run started, a job cancelled, a dataset created or changed.

Each effect is bracketed by state writes (a write-ahead intent before a POST); an unknown
outcome is resolved by the create protocol, never by sending again while unresolved.
"""

from __future__ import annotations

from typing import Any

from reconciler.engine.create import (
    ambiguity_line,
)
from reconciler.engine.executor_records import (
    AddressStopped,
    ApplyError,
    digest,
    from_ms,
    run_from_record,
)
from reconciler.engine.executor_recovery import Recovery
from reconciler.engine.model import CANCELLING, is_terminal
from reconciler.engine.refresh import deleted_by_cancel, get_job, platform_now
from reconciler.platform import (
    NotFoundError,
    OutcomeUnknown,
    PlatformError,
    UnexpectedResponseError,
)
from reconciler.platform.models import CatalogDataset, ExportJobRecord
from reconciler.spec.canonical import (
    fingerprint,
    normalize_request,
)
from reconciler.spec.canonical import request_body as resolved_request
from reconciler.spec.models import ExportJobDoc
from reconciler.state import (
    DatasetResource,
)


class Effects(Recovery):
    """The platform calls of the plan's actions, each recorded in state as it happens."""

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
                    self.events.progress(
                        f"{doc.address}: the create's outcome was unknown and no job appeared "
                        f"within {self.settle_s:g}s: it did not happen; sending it again"
                    )
                    continue
                assert res.record is not None
                record = res.record
                self.events.progress(
                    f"{doc.address}: the create's answer was lost; found job {record.id}"
                )
            except PlatformError:
                # A definite answer (rejected, or never sent): nothing was created. Anything
                # else (an interrupt mid-POST) keeps the intent for the next apply to resolve.
                self._drop(intent)
                self.save(())
                raise
            self._record_run(doc, record, reason=reason)
            self.events.run_started(doc.address, record.id, reason)
            self.marks.see_job(record.id)
            self._drop(intent)
            self.save([doc.address])
            return record
        raise AddressStopped(
            f"{doc.address}: stopped: three creates in a row had no answer and left no job; "
            "run 'reconciler apply' again later"
        )

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
                            "finishedAt": run.finishedAt or from_ms(gone.updated_ms or 0),
                        }
                    )
            runs.append(run)
        self.state.resources[address] = res.model_copy(update={"runs": runs})
        self.save([address])

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
            intent = self._add_intent(address, "dataset", digest(body), body)
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
                    self.events.progress(
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
