"""The drift a report shows: the planner's findings (report.findings), as plain items."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.engine.model import DriftFinding


@dataclass(frozen=True)
class DriftItem:
    """A finding of `plan --refresh-only`: the address, the finding's kind and its reason."""

    subject: str  # an address, or `exportjob@<id>` / `dataset@<id>` for unmanaged objects
    kind: str  # the finding: missing, failed, cancelled, modified, unmanaged, ...
    detail: str


def drift_item(finding: DriftFinding) -> DriftItem:
    """A planner finding as the report lists it: its address, kind and reason."""
    return DriftItem(finding.address, finding.finding, finding.reason)
