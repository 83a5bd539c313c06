"""The report's open drift is the planner's: `plan --refresh-only`'s findings over the listings
the report already read (no request of its own).

The snapshot is the one a full refresh would make, with one difference the report accepts: a
recorded run the job listing no longer shows is missing (a full refresh would ask for it by id;
the listing holds every job the platform still has).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from reconciler.engine.model import CANCELLING, DriftFinding, LiveSnapshot
from reconciler.engine.observations import record_observations
from reconciler.engine.plan_context import DesiredSpecs
from reconciler.engine.planner import make_plan
from reconciler.engine.refresh import deleted_by_cancel, live_dataset, live_run, runs_to_reread
from reconciler.platform import CatalogDataset, ExportJobRecord
from reconciler.platform.models import UnreadableRecord
from reconciler.state import ExportJobResource, State


def listed_snapshot(
    state: State,
    datasets: Sequence[CatalogDataset],
    jobs: Sequence[ExportJobRecord],
    unreadable: Sequence[UnreadableRecord],
    now: datetime,
) -> LiveSnapshot:
    """The LiveSnapshot of a full refresh, from complete dataset and job listings."""
    runs = {record.id: live_run(record) for record in jobs}
    bad = {u.id for u in unreadable}
    missing = {j for j in runs_to_reread(state, full=True) if j not in runs and j not in bad}
    for res in state.resources.values():
        if not isinstance(res, ExportJobResource):
            continue
        for run in res.runs:
            # A run whose DELETE this tool sent and whose record is gone was cancelled by it.
            if run.jobId in missing and run.status == CANCELLING:
                missing.discard(run.jobId)
                runs[run.jobId] = deleted_by_cancel(run, now)
    return LiveSnapshot(
        datasets={d.id: live_dataset(d) for d in datasets},
        runs=runs,
        missing_runs=frozenset(missing),
        new_jobs=tuple(r.id for r in jobs),
        watermark_ms=max((r.creationTime for r in jobs), default=None),
        full=True,
        unreadable=tuple(unreadable),
        platform_now=now,
        newest_job_id=max((r.id for r in jobs), default=None),
    )


def open_drift(
    specs: DesiredSpecs,
    state: State,
    datasets: Sequence[CatalogDataset],
    jobs: Sequence[ExportJobRecord],
    unreadable: Sequence[UnreadableRecord],
    now: datetime,
) -> tuple[DriftFinding, ...]:
    """What `reconciler plan --refresh-only` would find, over the report's listings."""
    live = listed_snapshot(state, datasets, jobs, unreadable, now)
    observed = record_observations(state, live)
    return make_plan(specs, observed, live, now=now, refresh_only=True).findings
