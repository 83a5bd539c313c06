"""The impact of a plan's actions (issue 17) as text: one line under each action in the terminal
plan, and a table in the pull-request comment.

`render.plan` adds them to what `plan_text` and `plan_markdown` render; `impact_line` and
`impact_table` are what those renderers would call to show impact themselves.
"""

from __future__ import annotations

import re

from reconciler.engine.impact_model import Impact, LastRun
from reconciler.engine.model import Action, Plan
from reconciler.render.symbols import paint

_ANSI_CODE = re.compile(r"\x1b\[[0-9;]*m")
IMPACT_TITLE = "**Impact** (estimated before anything runs)"


def size_text(count: int) -> str:
    """Bytes as a short decimal size: `3.1 MB`, `870 kB`, `12 B`."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


def profiles_text(impact: Impact) -> str:
    """`~12,345 profiles (12,100-12,590)`, `60 profiles (the whole store)`, or the state's words."""
    if impact.state == "ready" and impact.profiles is not None:
        if impact.basis == "store":
            return f"{impact.profiles:,} profiles (the whole store)"
        if impact.low is not None and impact.high is not None and impact.low != impact.high:
            return f"~{impact.profiles:,} profiles ({impact.low:,}-{impact.high:,})"
        return f"{impact.profiles:,} profiles"
    if impact.state == "skipped":
        return f"not estimated ({impact.reason or 'skipped'})"
    why = f" ({impact.reason})" if impact.reason else ""
    return f"estimate {impact.state}{why}"


def last_run_text(last: LastRun | None) -> str | None:
    """`last run wrote 11,980 records, 3.1 MB` (None when the document never succeeded)."""
    if last is None:
        return None
    if last.records is None and last.bytes is None:
        return f"last run (job {last.job_id}) shows no record count"
    parts = [f"{last.records:,} records"] if last.records is not None else []
    if last.bytes is not None:
        parts.append(size_text(last.bytes))
    return "last run wrote " + ", ".join(parts)


def limit_text(impact: Impact) -> str | None:
    """What became of the document's maxProfiles (None without one)."""
    limit = impact.max_profiles
    if limit is None:
        return None
    if impact.over_limit and impact.allowed:
        return f"over maxProfiles {limit:,}, allowed by --allow-large"
    if impact.state != "ready":
        return f"maxProfiles {limit:,} not checked"
    return f"within maxProfiles {limit:,}"


def shown(impact: Impact | None) -> bool:
    """Whether an impact is worth a line: a skipped estimate (the user asked for none) only when
    it leaves a maxProfiles unchecked; the JSON carries every impact."""
    return impact is not None and (impact.state != "skipped" or impact.max_profiles is not None)


def impact_line(impact: Impact) -> str:
    """The line shown under an action: `impact: ~12,345 profiles (...), last run wrote ...`."""
    parts = [profiles_text(impact)]
    parts += [t for t in (last_run_text(impact.last_run), limit_text(impact)) if t]
    return "impact: " + ", ".join(parts)


def with_impact_lines(text: str, plan: Plan, *, color: bool = False) -> str:
    """The terminal plan with each estimated action's impact line under its head line."""
    lines = text.split("\n")
    at = 0
    for action in plan.actions:
        if action.impact is None or not shown(action.impact):
            continue
        found = _head_index(lines, action, at)
        if found is None:
            continue
        tint = "yellow" if action.impact.allowed else None
        lines.insert(found + 1, "        " + paint(impact_line(action.impact), tint, color))
        at = found + 2
    return "\n".join(lines)


def _head_index(lines: list[str], action: Action, start: int) -> int | None:
    """The line where the action's entry begins: `  <symbol> <address>  <action>: ...`."""
    head = re.compile(rf"^\s+\S+ {re.escape(action.address)}  {re.escape(action.action)}:")
    for index in range(start, len(lines)):
        if head.match(_ANSI_CODE.sub("", lines[index])):
            return index
    return None


def impact_table(plan: Plan, *, limit: int) -> str:
    """The markdown table of every estimated action, at most `limit` characters ("" if none)."""
    estimated = [a for a in plan.actions if shown(a.impact)]
    if not estimated:
        return ""
    head = [
        IMPACT_TITLE,
        "",
        "| Address | Action | Profiles | Last successful run | maxProfiles |",
        "|---|---|---|---|---|",
    ]
    out = "\n".join(head) + "\n"
    for done, action in enumerate(estimated):
        row = _row(action)
        rest = len(estimated) - done
        note = f"\n_{rest} more estimated action{'s' if rest != 1 else ''} in `reconciler plan`._\n"
        if len(out) + len(row) + 1 + len(note) > limit:
            return out + note
        out += row + "\n"
    return out


def _row(action: Action) -> str:
    impact = action.impact
    assert impact is not None
    last = _last_run_cell(impact.last_run)
    limit = limit_text(impact) or "-"
    cells = [f"`{action.address}`", action.action, profiles_text(impact), last, limit]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _last_run_cell(last: LastRun | None) -> str:
    if last is None:
        return "none"
    parts = [f"{last.records:,} records"] if last.records is not None else ["no record count"]
    if last.bytes is not None:
        parts.append(size_text(last.bytes))
    return f"job {last.job_id}: " + ", ".join(parts)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def with_impact_table(markdown: str, table: str) -> str:
    """The comment with the impact table right before the table of actions (or at its end)."""
    if not table:
        return markdown
    marker = "| | Address | Action | Reason |"
    where = markdown.find(marker)
    if where < 0:
        return markdown.rstrip("\n") + "\n\n" + table
    return markdown[:where] + table + "\n" + markdown[where:]
