"""Plan-time reference checks (issue 14): ids the platform does not know block their address.

To be filled by the issue-14 owner: for each export job action that starts a run (create,
replace, rerun), the segment ids of `filter.segments` and the merge policy id must exist; one
listing of segment definitions (only when an action names segments) and one GET per distinct
merge policy; an id that does not exist turns the action into a `blocked` finding.
"""

from __future__ import annotations

from reconciler.engine.model import Plan
from reconciler.platform.client import PlatformClient
from reconciler.spec.loader import SpecSet


def check_references(client: PlatformClient, plan: Plan, specs: SpecSet) -> Plan:
    """The plan, with actions whose segment or merge-policy ids do not exist held back."""
    return plan
