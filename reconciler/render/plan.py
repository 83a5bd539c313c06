"""Pick the plan renderer for a `--format`, and show each action's impact (issue 17) in it."""

from __future__ import annotations

from typing import Literal

from reconciler.engine.model import Plan
from reconciler.render.impact import impact_table, with_impact_lines, with_impact_table
from reconciler.render.plan_json import render_json
from reconciler.render.plan_markdown import MARKDOWN_LIMIT, render_markdown
from reconciler.render.plan_text import render_text

PlanFormat = Literal["text", "markdown", "json"]
# The impact table's share of the comment: what is left is the plan's own budget.
_IMPACT_SHARE = 4


def render_plan(
    plan: Plan, fmt: PlanFormat = "text", *, color: bool = False, verbose: bool = False
) -> str:
    """The plan in `fmt`; `color` and `verbose` (error call stacks) only affect text."""
    if fmt == "markdown":
        table = impact_table(plan, limit=MARKDOWN_LIMIT // _IMPACT_SHARE)
        rest = render_markdown(plan, limit=MARKDOWN_LIMIT - len(table) - 1)
        return with_impact_table(rest, table)
    if fmt == "json":
        return render_json(plan)
    text = render_text(plan, color=color, verbose=verbose)
    return with_impact_lines(text, plan, color=color)
