"""The platform's own datasets (classification.managedBy SYSTEM) are nobody's drift."""

from __future__ import annotations

from plan_fixtures import NOW, specs

from reconciler.engine.model import LiveDataset, LiveSnapshot
from reconciler.engine.planner import make_plan
from reconciler.spec.models import PROFILE_UNION_SCHEMA
from reconciler.state import State


def test_system_datasets_are_not_unmanaged_but_customer_ones_are() -> None:
    system = LiveDataset(
        id="a" * 24,
        name="Profile Snapshot Export - prod",
        schema_id=PROFILE_UNION_SCHEMA,
        managed_by="SYSTEM",
    )
    by_hand = LiveDataset(id="b" * 24, name="made by hand", managed_by="CUSTOMER")
    live = LiveSnapshot(datasets={system.id: system, by_hand.id: by_hand}, full=True)
    plan = make_plan(specs(), State(), live, now=NOW, refresh_only=True)
    assert [(f.address, f.finding) for f in plan.findings] == [(f"dataset@{'b' * 24}", "unmanaged")]
