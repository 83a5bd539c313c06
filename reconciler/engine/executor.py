"""Plan -> platform calls and state writes: crash-safe and level-triggered.

Every effect is bracketed by state writes: before a POST a write-ahead intent goes into
`pending` (with the platform's watermark); after it the new job or dataset id is recorded and
the intent dropped. An unknown outcome (a lost answer, a kill) keeps the intent; it is resolved
by the create protocol (engine/create.py), never by sending again while unresolved. A cancel
reads the job first, DELETEs only a job in flight, never retries the DELETE, and keeps the run
CANCELLING until a read shows it ended (docs/engine.md: the intent and run life cycles).

Split by concern: executor_records (errors, state values from live records), executor_base
(state, intents, records), executor_recovery, executor_effects, executor_wait, and here the
actions of a plan. Progress goes to the `Events` the executor is given (engine/events.py).
"""

from __future__ import annotations

import contextlib

from reconciler.engine.executor_records import (
    AddressStopped,
    ApplyError,
    WaitedRun,
    WaitTimeout,
    after_earlier_runs,
    dataset_resource,
    observe_state,
    run_from_record,
    run_reason,
)
from reconciler.engine.executor_wait import Waiting
from reconciler.engine.model import Action, Plan, is_terminal
from reconciler.engine.refresh import get_job
from reconciler.engine.results import ActionOutcome
from reconciler.platform import (
    NotFoundError,
)
from reconciler.platform.models import ExportJobRecord

__all__ = [
    "AddressStopped",
    "ApplyError",
    "Executor",
    "WaitTimeout",
    "WaitedRun",
    "after_earlier_runs",
    "dataset_resource",
    "observe_state",
    "run_from_record",
]


class Executor(Waiting):
    """Carries out a plan against one client, writing state through the held lock."""

    def execute(self, plan: Plan) -> list[str]:
        """Carry out every action in order, writing state after each effect; returns a log.

        An address that cannot go on (an ambiguous create, an unreadable job record) is stopped
        with one line and skipped; the other addresses go on (`stopped` lists them). Each action
        ends up in `outcomes` (done, failed or skipped); an error (or Ctrl-C) ends the apply
        with the actions not reached recorded as skipped.
        """
        done: list[str] = []
        actions = [a for a in plan.actions if a.action != "wait"]
        for n, action in enumerate(actions):
            blocked = self._blocked(action)
            if blocked is not None:
                self._stop(action.address, blocked)
                self._outcome(action, "skipped", blocked)
                continue
            handler = self._dataset_action if action.kind == "dataset" else self._export_job_action
            before = self.state.dataset(action.address) if action.kind == "dataset" else None
            try:
                line = handler(action)
            except AddressStopped as stop:
                self._stop(action.address, stop.line)
                self._outcome(action, "skipped", stop.line)
                continue
            except BaseException as exc:
                why = "interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt) else str(exc)
                self._outcome(action, "failed", f"{action.address}: {why}")
                for later in actions[n + 1 :]:
                    self._outcome(later, "skipped", f"{later.address}: not reached")
                raise
            done.append(line)
            gone = before.datasetId if before is not None else None  # a delete's, a forget's
            self.events.action_done(self._outcome(action, "done", line, gone))
        return done

    def _outcome(
        self, action: Action, result: str, line: str, before: str | None = None
    ) -> ActionOutcome:
        """Record what became of one action (the ids it made or touched, from the state)."""
        job_id = dataset_id = None
        if result == "done" and action.kind == "exportjob":
            newest = self._newest(action.address)
            if action.action in ("create", "replace", "rerun", "adopt") and newest is not None:
                job_id = newest.jobId
            elif action.action == "cancel":
                job_id = action.cancel_job_id
        elif result == "done":
            res = self.state.dataset(action.address)
            dataset_id = res.datasetId if res is not None else before or action.adopt_id
        outcome = ActionOutcome(
            action.address,
            action.kind,
            action.action,
            "done" if result == "done" else "failed" if result == "failed" else "skipped",
            line,
            job_id=job_id,
            dataset_id=dataset_id,
        )
        self.outcomes.append(outcome)
        return outcome

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
            record = self._start_run(doc, reason=run_reason(action))
            return f"{address}: {prefix}started job {record.id} ({action.action})"
        raise ApplyError(
            f"{address}: an export job cannot '{action.action}'; run 'reconciler plan' again"
        )
