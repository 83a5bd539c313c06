"""A job's status as a pure function of its timeline and the clock: no background work needed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Outcome = Literal["succeed", "fail", "stuck"]
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
# Share of the PROCESSING time spent exporting profiles and, later, writing the dataset.
EXPORT_SHARE = 0.6
WRITE_START_SHARE = 0.8


@dataclass(frozen=True)
class Timeline:
    """Everything that decides a job's status; times are epoch ms on the emulator clock."""

    creation_ms: int
    new_ms: int
    processing_ms: int
    outcome: Outcome
    cancelled_ms: int | None = None
    failed_ms: int | None = None
    # A marked cancel (behaviour cancel: marked): from then on the job cannot finish on its own;
    # it ends at cancelled_ms or failed_ms, set in the future when it was marked.
    marked_ms: int | None = None

    @property
    def processing_start_ms(self) -> int:
        """When the job leaves NEW."""
        return self.creation_ms + self.new_ms

    @property
    def natural_end_ms(self) -> int | None:
        """When the job would finish on its own (never, for a stuck job)."""
        if self.outcome == "stuck":
            return None
        end = self.processing_start_ms + self.processing_ms
        return None if self.marked_ms is not None and end > self.marked_ms else end


@dataclass(frozen=True)
class Phase:
    """The status at one instant, with the times the record reports."""

    status: str
    processing_start_ms: int | None
    end_ms: int | None
    update_ms: int

    @property
    def terminal(self) -> bool:
        """Whether the job can no longer change."""
        return self.status in TERMINAL


def phase_at(t: Timeline, now_ms: int) -> Phase:
    """The job's phase at now_ms: NEW, PROCESSING, SUCCEEDED, FAILED or CANCELLED."""
    interrupts = [
        (when, status)
        for when, status in ((t.cancelled_ms, "CANCELLED"), (t.failed_ms, "FAILED"))
        if when is not None
    ]
    first = min(interrupts) if interrupts else None
    natural = t.natural_end_ms
    started = t.processing_start_ms
    if natural is not None and now_ms >= natural and (first is None or natural <= first[0]):
        status = "SUCCEEDED" if t.outcome == "succeed" else "FAILED"
        return Phase(status, started, natural, natural)
    if first is not None and now_ms >= first[0]:
        end = first[0]
        return Phase(first[1], started if end >= started else None, end, end)
    if now_ms >= started:
        return Phase("PROCESSING", started, None, started)
    return Phase("NEW", None, None, t.creation_ms)


def metrics(t: Timeline, phase: Phase, now_ms: int) -> dict[str, dict[str, int]]:
    """The record's metrics block, shaped as in the seeds, for what has happened by now_ms."""

    def span(start: int, end: int | None) -> dict[str, int]:
        if end is None or end > now_ms:
            return {"startTimeInMs": start}
        return {"startTimeInMs": start, "endTimeInMs": end, "totalTimeInMs": end - start}

    result = {"totalTime": span(t.creation_ms, phase.end_ms)}
    start = phase.processing_start_ms
    if start is None:
        return result
    export_end = start + round(t.processing_ms * EXPORT_SHARE)
    if phase.end_ms is not None:
        export_end = min(export_end, phase.end_ms)
    result["profileExportTime"] = span(start, export_end)
    if phase.status == "SUCCEEDED" and phase.end_ms is not None:
        write_start = start + round(t.processing_ms * WRITE_START_SHARE)
        result["aCPDatasetWriteTime"] = span(write_start, phase.end_ms)
    return result
