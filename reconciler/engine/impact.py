"""Impact estimates in the plan (issue 17): the profiles each run-starting action will export.

To be filled by the issue-17 owner (estimates through `PlatformClient.estimate_segments`, the
store total for an export without segments, the last successful run's records, `maxProfiles`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.engine.model import Plan
from reconciler.platform.client import PlatformClient
from reconciler.spec.loader import SpecSet

if TYPE_CHECKING:
    from reconciler.engine.plan_reads import PlanReads


def estimate_impact(client: PlatformClient, plan: Plan, specs: SpecSet, reads: PlanReads) -> Plan:
    """The plan with each create, replace and rerun of an export job's estimated impact."""
    return plan
