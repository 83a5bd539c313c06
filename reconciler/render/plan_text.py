"""A plan as terminal text: one line per action and finding, Terraform-like symbols, a summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


# Actions that send a request: its attributes are listed, as Terraform lists a resource's.
_SHOWS_REQUEST = ("create", "replace")


def render_text(plan: Plan, *, color: bool = False, verbose: bool = False) -> str:
    """The plan for a terminal or a log; ANSI colors only when `color` is true.

    Runs of managed documents that FAILED are listed apart from drift (changes made outside
    the tool), with each error's message in full; its `callStack` only when `verbose`.
    """
    lines: list[str] = []
    if plan.actions:
        lines.append("Actions:")
        for action in plan.actions:
            lines.extend(_action_lines(action, color))
        lines.append("")
    failed = [f for f in plan.findings if f.finding == "failed"]
    drift = [f for f in plan.findings if f.finding != "failed"]
    if failed:
        lines.append("Failed runs:")
        for finding in failed:
            lines.extend(_failed_lines(finding, color, verbose))
        lines.append("")
    if drift:
        lines.append("Drift:")
        for finding in drift:
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
    # A reason may repeat the action's word ("rerun: failed"); say it once.
    reason = action.reason.removeprefix(f"{action.action}: ")
    head = f"  {paint(symbol.rjust(3), tint, color)} {action.address}  {paint(action.action, tint, color)}: {reason}"
    lines = [head]
    for change in action.diff:
        for sign, text in change_lines(change):
            lines.append(f"        {paint(sign, _SIGN_COLORS[sign], color)} {text}")
    if action.action in _SHOWS_REQUEST and action.request:
        lines.append("        request:")
        lines.extend(f"          {path} = {value}" for path, value in _attributes(action.request))
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


def _attributes(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """A request as sorted `path = value` leaves (lists of scalars stay one value)."""
    if isinstance(value, Mapping) and value:
        pairs: list[tuple[str, str]] = []
        for key in sorted(value):
            pairs.extend(_attributes(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return pairs
    if isinstance(value, list) and any(isinstance(v, Mapping | list) for v in value):
        pairs = []
        for i, item in enumerate(value):
            pairs.extend(_attributes(item, f"{prefix}[{i}]"))
        return pairs
    return [(prefix, show_value(value))]


def _failed_lines(finding: DriftFinding, color: bool, verbose: bool) -> list[str]:
    head = f"  {paint(FINDING_SYMBOL.rjust(3), 'red', color)} {finding.address}  {paint('failed', 'red', color)}: {finding.reason}"
    lines = [head]
    errors = finding.evidence.get("errors")
    for error in errors if isinstance(errors, list) else ():
        if not isinstance(error, Mapping):
            lines.append(f"        error: {show_value(error)}")
            continue
        code = f" {error['code']}" if error.get("code") else ""
        lines.append(f"        error{code}: {error.get('msg', '')}")
        if verbose and error.get("callStack"):
            lines.extend(f"          {line}" for line in str(error["callStack"]).splitlines())
    for key in sorted(k for k in finding.evidence if k not in ("errors", "jobId")):
        lines.append(f"        {key}: {show_value(finding.evidence[key])}")
    return lines
