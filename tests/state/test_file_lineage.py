"""Lineage on the file backend reads only the history lines it needs, and answers exactly what a
scan of the whole state answers (issue 16)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.state import StateStore
from reconciler.state.history import find_runs_in
from reconciler.state.models import BatchRef, ExportJobResource, Run, State

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _runs(first: int, count: int, fingerprint: str) -> list[Run]:
    return [
        Run(
            jobId=first + i,
            fingerprint=fingerprint,
            status=("SUCCEEDED", "FAILED", "CANCELLED")[i % 3],
            batchId=f"batch-{first + i}" if i % 2 else None,
            batches=[BatchRef(segmentId="seg", batchId=f"seg-batch-{first + i}")]
            if i % 2 == 0
            else [],
            createdAt=T0 + timedelta(hours=first + i),
            finishedAt=T0 + timedelta(hours=first + i, minutes=5),
            reason="create" if i == 0 else "rerun: refresh due",
            actor="octo",
        )
        for i in range(count)
    ]


def _job(first: int, count: int, fingerprint: str = "f1") -> ExportJobResource:
    return ExportJobResource(
        fingerprint=fingerprint, request={"fields": "a"}, runs=_runs(first, count, fingerprint)
    )


def whole_state() -> State:
    state = State(
        sandbox="prod",
        resources={"exportjob/a": _job(1000, 45), "exportjob/b": _job(2000, 25)},
    )
    state.retire("exportjob/a", reason="forget", at=T0 + timedelta(days=400))
    state.resources["exportjob/a"] = _job(3000, 33, "f2")  # a later document at the same address
    state.resources["exportjob/c"] = _job(4000, 27)
    state.retire("exportjob/c", reason="state rm", at=T0 + timedelta(days=500))
    return state


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    store = StateStore(tmp_path / "prod.json", "prod")
    with store.lock() as writer:
        writer.replace(whole_state().model_copy(update={"serial": 7, "lineage": "l-1"}))
    return store


def _ids(state: State) -> tuple[list[int], list[str]]:
    jobs, batches = [], []
    for res in [*state.resources.values(), *(r.resource for r in state.retired)]:
        assert isinstance(res, ExportJobResource)
        for run in res.runs:
            jobs.append(run.jobId)
            batches += [run.batchId] if run.batchId else []
            batches += [b.batchId for b in run.batches]
    return jobs, batches


def test_the_history_is_apart_and_lineage_answers_as_a_scan_of_the_whole_state(
    store: StateStore,
) -> None:
    head = store.read()
    assert head.is_head and store.history_path.exists()
    everything = store.read_history()
    jobs, batches = _ids(everything)
    assert len(jobs) == 45 + 25 + 33 + 27
    for job_id in [*jobs, 999_999]:
        assert store.find_runs(job_id=job_id) == find_runs_in(everything, job_id=job_id), job_id
    for batch_id in [*batches, "batch-nobody"]:
        assert store.find_runs(batch_id=batch_id) == find_runs_in(everything, batch_id=batch_id)
    oldest = store.find_runs(job_id=1000)
    assert len(oldest) == 1 and oldest[0].retired is not None
    assert len(oldest[0].others) + oldest[0].more == 45 + 33 - 1


def test_lineage_parses_only_the_lines_of_the_address_it_answers_for(store: StateStore) -> None:
    # the lines of other addresses may be anything: lineage of exportjob/b never parses them
    text = store.history_path.read_bytes().splitlines(keepends=True)
    kept = [
        line
        if line.startswith(b'{"address":"exportjob/b"')
        else line.replace(b'"runs":', b'"ruins":')
        for line in text
    ]
    store.history_path.write_bytes(b"".join(kept))
    assert store.read().export_job("exportjob/b").archivedRuns  # type: ignore[union-attr]
    (match,) = store.find_runs(job_id=2003)  # a run of its history
    assert match.address == "exportjob/b" and len(match.others) + match.more == 24
    with pytest.raises(Exception, match="not a history line"):
        store.find_runs(job_id=1000)
