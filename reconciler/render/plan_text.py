"""A plan as terminal text: one line per action and finding, Terraform-like symbols, a summary."""

from __future__ import annotations

from reconciler.engine.model import Action, DriftFinding, Plan
from reconciler.render.symbols import (
    ACTION_COLORS,
    ACTION_SYMBOLS,
    FINDING_SYMBOL,
    change_lines,
    paint,
    show_value,
)

_SIGN_COLORS = {"+": "green", "-": "red", "~": "yellow"}


def render_text(plan: Plan, *, color: bool = False) -> str:
    """The plan for a terminal or a log; ANSI colors only when `color` is true."""
    lines: list[str] = []
    if plan.actions:
        lines.append("Actions:")
        for action in plan.actions:
            lines.extend(_action_lines(action, color))
        lines.append("")
    if plan.findings:
        lines.append("Drift:")
        for finding in plan.findings:
            lines.extend(_finding_lines(finding, color))
        lines.append("")
    if plan.refresh_only:
        lines.append("Refresh only: no actions were planned.")
    if plan.targets:
        lines.append(f"Targets: {', '.join(plan.targets)} (other resources are not planned)")
    summary = plan.summary()
    lines.append(paint(summary, None if plan.has_changes else "green", color))
    return "\n".join(lines) + "\n"


def _action_lines(action: Action, color: bool) -> list[str]:
    symbol = ACTION_SYMBOLS[action.action]
    tint = ACTION_COLORS[action.action]
    head = f"  {paint(symbol.rjust(3), tint, color)} {action.address}  {paint(action.action, tint, color)}: {action.reason}"
    lines = [head]
    for change in action.diff:
        for sign, text in change_lines(change):
            lines.append(f"        {paint(sign, _SIGN_COLORS[sign], color)} {text}")
    if action.cancel_job_id is not None and action.action != "cancel":
        lines.append(f"        cancels job {action.cancel_job_id} (still in flight)")
    if action.adopt_id is not None:
        lines.append(f"        adopts {action.adopt_id}")
    if action.depends_on:
        lines.append(f"        after {', '.join(action.depends_on)}")
    return lines


def _finding_lines(finding: DriftFinding, color: bool) -> list[str]:
    head = f"  {paint(FINDING_SYMBOL.rjust(3), 'magenta', color)} {finding.address}  {paint(finding.finding, 'magenta', color)}: {finding.reason}"
    lines = [head]
    for key in sorted(finding.evidence):
        lines.append(f"        {key}: {show_value(finding.evidence[key])}")
    return lines
