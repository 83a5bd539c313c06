"""The report's open drift is `plan --refresh-only`'s findings over the listings it read: plain
values (the listings as the platform answers them), no platform."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from reconciler.platform import CatalogDataset, ExportJobRecord
from reconciler.platform.models import UnreadableRecord
from reconciler.report.findings import listed_snapshot, open_drift
from reconciler.spec.canonical import request_body
from reconciler.state import Run
from tests.planner.plan_fixtures import (
    NOW,
    NOW_MS,
    dataset_doc,
    dataset_resource,
    ds_id,
    job_doc,
    job_resource,
    run_for,
    specs,
    state_of,
)

DS = dataset_doc("crm")
JOB = job_doc("daily", "crm")
DS_ID = ds_id("crm")


def listed_dataset() -> CatalogDataset:
    res = dataset_resource(DS)
    return CatalogDataset.model_validate(
        {"id": res.datasetId, "name": res.name, "description": res.description, "tags": res.tags}
    )


def record(job_id: int, status: str, **body: Any) -> ExportJobRecord:
    return ExportJobRecord.model_validate(
        {
            **request_body(JOB, DS_ID),
            **body,
            "id": job_id,
            "status": status,
            "creationTime": NOW_MS - 3_600_000,
            "updateTime": NOW_MS - 1_800_000,
        }
    )


def drift(
    *runs: Run, jobs: list[ExportJobRecord], datasets: list[CatalogDataset] | None = None
) -> list[tuple[str, str]]:
    state = state_of((DS.address, dataset_resource(DS)), (JOB.address, job_resource(JOB, *runs)))
    listed = [listed_dataset()] if datasets is None else datasets
    found = open_drift(specs(DS, JOB), state, listed, jobs, [], NOW)
    return [(f.address, f.finding) for f in found]


def test_a_converged_sandbox_has_no_drift() -> None:
    assert drift(run_for(JOB, 5), jobs=[record(5, "SUCCEEDED")]) == []


def test_cancelled_outside_the_tool_is_drift_and_a_cancel_it_asked_for_is_not() -> None:
    outside = drift(run_for(JOB, 5, "CANCELLED"), jobs=[record(5, "CANCELLED")])
    assert (JOB.address, "cancelled") in outside
    asked = run_for(JOB, 5, "CANCELLED", cancelledAt=NOW - timedelta(minutes=30))
    assert (JOB.address, "cancelled") not in drift(asked, jobs=[record(5, "CANCELLED")])


def test_a_deleted_dataset_and_a_run_no_longer_listed_are_missing() -> None:
    assert (DS.address, "missing") in drift(run_for(JOB, 5), jobs=[], datasets=[])
    assert drift(run_for(JOB, 5), jobs=[]) == [(JOB.address, "missing")]


def test_a_job_no_document_claims_is_unmanaged() -> None:
    other = record(9, "SUCCEEDED", fields="identities.id")
    found = drift(run_for(JOB, 5), jobs=[record(5, "SUCCEEDED"), other])
    assert found == [("exportjob@9", "unmanaged")]


def test_the_snapshot_is_a_full_refresh_of_the_listings() -> None:
    cancelling = run_for(JOB, 6, "CANCELLING")
    state = state_of((JOB.address, job_resource(JOB, run_for(JOB, 5), cancelling)))
    bad = UnreadableRecord(7, "status: not a string")
    live = listed_snapshot(state, [listed_dataset()], [record(5, "SUCCEEDED")], [bad], NOW)
    assert live.full and set(live.runs) == {5, 6} and live.missing_runs == frozenset()
    assert live.runs[6].status == "CANCELLED"  # its DELETE removed it
    assert live.unreadable == (bad,) and set(live.datasets) == {DS_ID}
    gone = listed_snapshot(
        state_of((JOB.address, job_resource(JOB, run_for(JOB, 5)))), [], [], [], NOW
    )
    assert gone.missing_runs == frozenset({5})
