"""A plan as a pull-request comment: summary and tables first, details folded, size-capped."""

from __future__ import annotations

import json

from reconciler.engine.model import Action, DriftFinding, Plan
from reconciler.render.symbols import ACTION_SYMBOLS, FINDING_SYMBOL, show_value

# GitHub rejects comments over 65,536 characters; stay well clear of it.
MARKDOWN_LIMIT = 60_000
_CUT_RESERVE = 400  # room kept for the note that says what was cut
_TITLE = "## Reconciler plan"


def render_markdown(plan: Plan, *, limit: int = MARKDOWN_LIMIT) -> str:
    """The plan as GitHub markdown of at most `limit` characters, with a note if anything is cut."""
    head = [_TITLE, "", f"**{_cell(plan.summary())}**", ""]
    if plan.refresh_only:
        head += ["_Refresh only: no actions were planned._", ""]
    if plan.targets:
        head += [f"_Targets: {', '.join(f'`{t}`' for t in plan.targets)}_", ""]
    head += _counts_table(plan)
    rows = _table_rows(plan)
    details = [_details(a) for a in plan.actions if _has_details(a)]
    details += [_finding_details(f) for f in plan.findings if f.evidence]
    budget = limit - _CUT_RESERVE
    out = "\n".join(head) + "\n"
    shown_rows = 0
    for row in rows:
        if len(out) + len(row) + 1 > budget:
            break
        out += row + "\n"
        shown_rows += 1
    shown_details = 0
    if shown_rows == len(rows):
        for block in details:
            if len(out) + len(block) + 2 > budget:
                break
            out += "\n" + block + "\n"
            shown_details += 1
    cut_rows, cut_details = len(rows) - shown_rows, len(details) - shown_details
    if cut_rows or cut_details:
        out += "\n" + _cut_note(cut_rows, cut_details) + "\n"
    return out


def _counts_table(plan: Plan) -> list[str]:
    """One row of counts per action kind and per finding kind: always shown, whatever is cut."""
    actions = plan.action_counts()
    findings = plan.finding_counts()
    columns = [(f"`{ACTION_SYMBOLS[k]}` {k}", n) for k, n in actions.items()]
    columns += [(f"`{FINDING_SYMBOL}` {k}", n) for k, n in sorted(findings.items())]
    if not columns:
        return []
    return [
        "| " + " | ".join(name for name, _ in columns) + " |",
        "|" + "---|" * len(columns),
        "| " + " | ".join(str(n) for _, n in columns) + " |",
        "",
    ]


def _table_rows(plan: Plan) -> list[str]:
    rows: list[str] = []
    if plan.actions:
        rows += ["| | Address | Action | Reason |", "|---|---|---|---|"]
        rows += [
            f"| `{ACTION_SYMBOLS[a.action]}` | `{a.address}` | {a.action} | {_cell(a.reason)} |"
            for a in plan.actions
        ]
    if plan.findings:
        if rows:
            rows.append("")
        rows += ["| | Address | Drift | Reason |", "|---|---|---|---|"]
        rows += [
            f"| `{FINDING_SYMBOL}` | `{f.address}` | {f.finding} | {_cell(f.reason)} |"
            for f in plan.findings
        ]
    return rows


# Actions that send a new request: a reviewer sees the request itself, not only a reason.
_SHOWS_REQUEST = ("create", "rerun")


def _has_details(action: Action) -> bool:
    cancels = action.cancel_job_id is not None and action.action != "cancel"
    sends = action.action in _SHOWS_REQUEST and action.request is not None
    return bool(action.diff) or cancels or bool(action.depends_on) or sends


def _diff_lines(action: Action) -> list[str]:
    """Each change as `-`/`+` lines so GitHub colors them."""
    lines: list[str] = []
    for change in action.diff:
        if change.old is not None:
            lines.append(f"- {change.path}: {show_value(change.old)}")
        if change.new is not None:
            lines.append(f"+ {change.path}: {show_value(change.new)}")
    return lines


def _details(action: Action) -> str:
    count = len(action.diff)
    summary = f"<code>{action.address}</code>: {action.action}"
    if count:
        summary += f" ({count} changed field{'s' if count != 1 else ''})"
    body = [f"<details><summary>{summary}</summary>", ""]
    if action.diff:
        body += ["```diff", *(_fence_safe(line) for line in _diff_lines(action)), "```", ""]
    if action.action in _SHOWS_REQUEST and action.request is not None:
        what = "Export job request" if action.kind == "exportjob" else "Catalog dataset body"
        text = json.dumps(action.request, indent=2, sort_keys=True, ensure_ascii=False)
        body += [f"{what}:", "", "```json", *map(_fence_safe, text.splitlines()), "```", ""]
    if action.cancel_job_id is not None and action.action != "cancel":
        body += [f"Cancels job {action.cancel_job_id} (still in flight).", ""]
    if action.depends_on:
        body += [f"Runs after {', '.join(f'`{d}`' for d in action.depends_on)}.", ""]
    body.append("</details>")
    return "\n".join(body)


def _finding_details(finding: DriftFinding) -> str:
    body = [
        f"<details><summary><code>{finding.address}</code>: {finding.finding} (evidence)</summary>",
        "",
        "```",
        *(
            _fence_safe(f"{k}: {show_value(finding.evidence[k], 1000)}")
            for k in sorted(finding.evidence)
        ),
        "```",
        "",
        "</details>",
    ]
    return "\n".join(body)


def _fence_safe(line: str) -> str:
    # A value holding ``` would close the code block early.
    return line.replace("```", "`\u200b``")


def _cell(text: str) -> str:
    """Text safe inside a table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _cut_note(rows: int, details: int) -> str:
    parts = []
    if rows:
        parts.append(f"{rows} table row{'s' if rows != 1 else ''}")
    if details:
        parts.append(f"{details} detail section{'s' if details != 1 else ''}")
    return (
        f"> **Note:** this comment was cut to stay under {MARKDOWN_LIMIT:,} characters: "
        f"{' and '.join(parts)} omitted. Run `reconciler plan` for the full plan."
    )
