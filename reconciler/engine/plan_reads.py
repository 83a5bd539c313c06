"""What a fresh plan reads beyond the refresh, for the documents with an action only.

A steady-state plan (nothing to do) reads nothing here. Two steps, each pure over what it read:
the reference checks of issue 14 (`references.check_references`: segment and merge-policy ids
that do not exist block their address at plan time) and the impact estimates of issue 17
(`impact.estimate_impact`: the profiles each create, replace and rerun will export, and the
`maxProfiles` policy). A saved plan carries both, so applying it reads neither again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from reconciler.engine.impact import estimate_impact
from reconciler.engine.model import Plan
from reconciler.engine.references import check_references
from reconciler.platform.client import PlatformClient
from reconciler.spec.loader import SpecSet
from reconciler.state.models import State

DEFAULT_ESTIMATE_TIMEOUT_S = 20.0
NO_ESTIMATE_ENV = "RECONCILER_NO_ESTIMATE"  # set (non-empty, not "0"): as --no-estimate


def estimates_wanted() -> bool:
    """False when RECONCILER_NO_ESTIMATE is set (non-empty, not "0"): every caller reads it alike."""
    return os.environ.get(NO_ESTIMATE_ENV, "").strip() in ("", "0")


@dataclass(frozen=True)
class PlanReads:
    """The options of those reads (plan and apply: --no-estimate, --estimate-timeout, --allow-large)."""

    # the default follows RECONCILER_NO_ESTIMATE, so a PlanReads() of any caller honours it
    estimate: bool = field(default_factory=estimates_wanted)
    estimate_timeout_s: float = DEFAULT_ESTIMATE_TIMEOUT_S
    allow_large: tuple[str, ...] = ()  # addresses whose maxProfiles block is lifted
    # "all": every create, replace and rerun (plan); "policy": only documents with maxProfiles
    # (a fresh plan in apply: the policy must hold, but apply should not wait on the rest)
    scope: Literal["all", "policy"] = "all"


def read_for_actions(
    client: PlatformClient,
    plan: Plan,
    specs: SpecSet,
    reads: PlanReads,
    state: State | None = None,
) -> Plan:
    """The plan with its references checked and its impact estimated (only for its actions);
    `state` (the one the plan was made from) names each document's last successful run."""
    plan = check_references(client, plan, specs)
    return estimate_impact(client, plan, specs, reads, state)
