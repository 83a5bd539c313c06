"""A plan as the documented JSON document (docs/plan-format.md, formatVersion 1)."""

from __future__ import annotations

from reconciler.engine.model import Plan


def render_json(plan: Plan) -> str:
    """The same document `plan --out` saves and `apply PLANFILE` reads."""
    return plan.to_json()
