"""apply --wait: the runs in flight polled to their end, every status change recorded."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from reconciler.engine.events import WaitTick
from reconciler.engine.executor_effects import Effects
from reconciler.engine.executor_records import (
    WaitedRun,
    WaitTimeout,
    changed_addresses,
    observe_state,
)
from reconciler.engine.model import LiveSnapshot, is_terminal
from reconciler.engine.refresh import deleted_by_cancel, get_job, live_run, platform_now
from reconciler.platform.models import ExportJobRecord


class Waiting(Effects):
    """Follows runs until they end (or the timeout), saying each change through the events."""

    def wait(
        self,
        addresses: Iterable[str],
        *,
        timeout_s: float,
        poll_s: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> list[WaitedRun]:
        """Poll the runs in flight of each address until terminal; record every status change.

        The newest run of each address is the one reported; an older one being cancelled (a
        replace's) is followed too, so no run stays CANCELLING in state once its job ended.
        The events hear of each status change (`run_status`, `run_ended`) and of each poll
        (`tick`: a terminal's status line). A followed job that vanished is reported with status MISSING (unless it was being
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
            self.events.tick(self._tick(self._in_flight(wanted), time.monotonic() - started))
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
                    self.events.progress(
                        f"{address}: job {job_id} CANCELLED (its record was removed)"
                    )
                    continue
                if not isinstance(got, ExportJobRecord):
                    dropped.add(job_id)
                    if not is_newest:
                        continue
                    if got is None:
                        self.events.progress(f"{address}: job {job_id} is gone from the platform")
                        vanished[address] = WaitedRun(address, job_id, "MISSING", None, ())
                    else:
                        self.events.progress(
                            f"{address}: job {job_id}'s record cannot be read ({got.reason}); "
                            "no longer followed"
                        )
                        vanished[address] = WaitedRun(address, job_id, "UNREADABLE", None, ())
                    wanted.remove(address)
                    continue
                live = live_run(got)
                if old is not None and old.status != live.status:
                    if is_terminal(live.status):
                        self.events.run_ended(address, job_id, live.status, live.batch_id)
                    else:
                        self.events.run_status(address, job_id, live.status)
                runs[job_id] = live
                if is_newest:
                    errors[address] = live.errors
            before = self.state
            self.state = observe_state(self.state, LiveSnapshot(runs=runs))
            if self.state != before:
                self.save(changed_addresses(before, self.state))
        done = [self._waited(a, errors.get(a, ())) for a in wanted if self._newest(a) is not None]
        return sorted([*done, *vanished.values()], key=lambda w: w.address)

    def _tick(self, flying: list[tuple[str, int]], elapsed: float) -> WaitTick:
        counts: dict[str, int] = {}
        for address, _ in flying:
            run = self._newest(address)
            status = run.status if run is not None else "?"
            counts[status] = counts.get(status, 0) + 1
        return WaitTick(len(flying), dict(sorted(counts.items())), elapsed)

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
