"""Recovery: the intents an interrupted apply left, adopted, dropped or stopped as ambiguous."""

from __future__ import annotations

import time

from reconciler.engine.create import (
    Resolution,
    ambiguity_line,
    listing_floor_ms,
    resolve_dataset,
    resolve_jobs,
)
from reconciler.engine.executor_base import ExecutorBase
from reconciler.engine.planner import ADDRESS_TAG
from reconciler.engine.refresh import get_job
from reconciler.platform.models import ExportJobRecord, UnreadableRecord
from reconciler.state import (
    Intent,
)


class Recovery(ExecutorBase):
    """Resolves pending intents through the create protocol (engine/create.py)."""

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
            self.events.progress(
                f"{intent.address}: recovered job {res.record.id} from an interrupted apply"
            )
        elif res.outcome == "ambiguous":
            self._stop_ambiguous(intent, res, "exportjob")
        else:
            self._drop(intent)
            self.events.progress(
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
            self.events.progress(
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
            asked = {r.id for r in records} | {r.id for r in unreadable if r.id is not None}
            asked |= {got.id for got in answered.values() if got is not None}
            asked |= {i.answerJobId for i in everyone if i.answerJobId is not None}
            found = resolve_jobs(
                everyone,
                records,
                self.state.claimed_job_ids().among(asked),
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
