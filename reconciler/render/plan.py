"""Pick the plan renderer for a `--format`."""

from __future__ import annotations

from typing import Literal

from reconciler.engine.model import Plan
from reconciler.render.plan_json import render_json
from reconciler.render.plan_markdown import render_markdown
from reconciler.render.plan_text import render_text

PlanFormat = Literal["text", "markdown", "json"]


def render_plan(
    plan: Plan, fmt: PlanFormat = "text", *, color: bool = False, verbose: bool = False
) -> str:
    """The plan in `fmt`; `color` and `verbose` (error call stacks) only affect text."""
    if fmt == "markdown":
        return render_markdown(plan)
    if fmt == "json":
        return render_json(plan)
    return render_text(plan, color=color, verbose=verbose)
