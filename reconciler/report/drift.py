"""The drift a report shows: what the sandbox's listings contradict in the state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.platform import CatalogDataset
from reconciler.state import DatasetResource, State

if TYPE_CHECKING:
    from reconciler.report.data import ExportView


@dataclass(frozen=True)
class DriftItem:
    """A difference between what the state records and what the listing shows."""

    subject: str  # an address, or a live object for unmanaged ones
    kind: str
    detail: str


def drift_items(
    state: State, datasets: Sequence[CatalogDataset], exports: Sequence[ExportView]
) -> tuple[DriftItem, ...]:
    """What the listing contradicts in the state: the drift still open when the report was made."""
    items = []
    live = {d.id: d for d in datasets}
    managed_datasets: dict[str, str] = {}
    for address, res in sorted(state.resources.items()):
        if not isinstance(res, DatasetResource):
            continue
        managed_datasets[res.datasetId] = address
        ds = live.get(res.datasetId)
        if ds is None:
            items.append(
                DriftItem(address, "deleted", f"dataset {res.datasetId} is no longer listed")
            )
        elif ds.name != res.name:
            items.append(
                DriftItem(
                    address,
                    "renamed",
                    f"dataset {res.datasetId} is named '{ds.name}', not '{res.name}'",
                )
            )
    for export in exports:
        newest = export.newest
        if export.managed and not export.retired and newest is not None:
            run = newest
            if not run.listed:
                items.append(
                    DriftItem(
                        export.key,
                        "run missing",
                        f"job {run.job_id} ({run.status}) is recorded but no longer listed",
                    )
                )
            elif run.category == "failed":
                items.append(
                    DriftItem(export.key, "failed", f"newest run, job {run.job_id}, FAILED")
                )
            elif run.category == "cancelled" and not run.cancel_asked:
                items.append(
                    DriftItem(
                        export.key,
                        "cancelled",
                        f"newest run, job {run.job_id}, was cancelled outside this tool",
                    )
                )
        if not export.managed:
            into = [r for r in export.runs if export.dataset_id in managed_datasets]
            if into:
                items.append(
                    DriftItem(
                        export.title,
                        "unmanaged writer",
                        f"{len(into)} job(s) not in state write into "
                        f"{managed_datasets[export.dataset_id or '']}",
                    )
                )
    return tuple(items)
