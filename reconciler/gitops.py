"""The scripted steps of the GitHub workflows: PR comment and drift issue bodies, the matrix.

Run as `python -m reconciler.gitops COMMAND ...`. Pure text assembly on files the workflow
wrote (the CLI's outputs and exit codes), so the same steps run in tests on a laptop. Only the
standard library and pyyaml are imported: the workflows call this before anything else.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# GitHub rejects issue and PR comment bodies over 65,536 characters.
GITHUB_BODY_LIMIT = 65_536
_SAFETY = 512  # room for the truncation note and the footer's variable parts


def plan_marker(project: str) -> str:
    """The hidden tag that makes the PR comment sticky (one per project/sandbox)."""
    return f"<!-- aep-export-reconciler:plan:{project} -->"


def drift_marker(project: str) -> str:
    """The hidden tag that identifies the drift issue of one project/sandbox."""
    return f"<!-- aep-export-reconciler:drift:{project} -->"


def truncate_markdown(text: str, budget: int, artifact: str) -> str:
    """Cut markdown at a line boundary to fit `budget`, closing open fences and details."""
    if len(text) <= budget:
        return text
    note = (
        f"\n\n> **Truncated:** {len(text):,} characters did not fit in one GitHub comment; "
        f"the full output is in the workflow artifact `{artifact}`.\n"
    )
    room = max(0, budget - len(note) - 64)
    cut = text[:room]
    if "\n" in cut:
        cut = cut[: cut.rfind("\n")]
    closing = ""
    if cut.count("```") % 2 == 1:
        closing += "\n```"
    open_details = cut.count("<details>") - cut.count("</details>")
    closing += "\n</details>" * max(0, open_details)
    return cut + closing + note


@dataclass(frozen=True)
class StepResult:
    """What one CLI step left behind: its exit code and its output files."""

    exit_code: int | None
    output: str = ""
    log: str = ""


def _read(path: Path | None) -> str:
    if path is None or not path.exists():
        return ""
    return path.read_text(encoding="utf-8", errors="replace")


def _fenced(text: str) -> str:
    return "```\n" + text.strip().replace("```", "`\u200b``") + "\n```"


def plan_comment(
    project: str,
    validate: StepResult,
    plan: StepResult,
    *,
    footer: str = "",
    skipped: str | None = None,
    limit: int = GITHUB_BODY_LIMIT,
) -> str:
    """The sticky PR comment for one project: validation errors, the plan, or why it was skipped."""
    head = f"{plan_marker(project)}\n### reconciler plan: `{project}`\n\n"
    tail = f"\n\n---\n{footer}\n" if footer else "\n"
    budget = limit - len(head) - len(tail) - _SAFETY
    artifact = f"plan-{project}"
    if validate.exit_code not in (0, None):
        body = "**Validation failed** (nothing was planned):\n\n" + _fenced(
            validate.log or validate.output or "no output"
        )
    elif skipped:
        body = f"**Plan skipped:** {skipped}"
    elif plan.exit_code == 1 or plan.exit_code is None:
        body = "**Plan failed:**\n\n" + _fenced(plan.log or "no output")
    else:
        verdict = (
            "**Changes or drift found** (apply runs on merge)."
            if plan.exit_code == 2
            else "**No changes.** Live state matches the specs."
        )
        body = verdict + "\n\n" + plan.output.strip()
    return head + truncate_markdown(body, budget, artifact) + tail


@dataclass(frozen=True)
class DriftVerdict:
    """What the drift workflow should do with the project's drift issue."""

    action: str  # "open" (create or update), "close", or "error"
    title: str
    body: str


def drift_issue(
    project: str,
    result: StepResult,
    *,
    footer: str = "",
    limit: int = GITHUB_BODY_LIMIT,
) -> DriftVerdict:
    """The drift issue for one project: open/update on drift, close when gone, error otherwise."""
    title = f"Drift detected in `{project}`"
    head = f"{drift_marker(project)}\n"
    tail = f"\n\n---\n{footer}\n" if footer else "\n"
    budget = limit - len(head) - len(tail) - _SAFETY
    if result.exit_code == 2:
        text = (
            "A scheduled `reconciler plan --refresh-only` found drift between the specs and "
            "the live platform. Review it, then fix the platform or the specs (a merge to the "
            "default branch applies the specs).\n\n" + result.output.strip()
        )
        return DriftVerdict(
            "open", title, head + truncate_markdown(text, budget, f"drift-{project}") + tail
        )
    if result.exit_code == 0:
        return DriftVerdict(
            "close", title, head + "No drift any more: live state matches the specs." + tail
        )
    text = "The drift check itself failed:\n\n" + _fenced(result.log or "no output")
    return DriftVerdict(
        "error", title, head + truncate_markdown(text, budget, f"drift-{project}") + tail
    )


def discover_projects(root: Path) -> list[dict[str, str]]:
    """Projects of a repository: the root (if it has reconciler.yaml) and sandboxes/*/."""
    import yaml

    found: list[dict[str, str]] = []
    candidates = [root / "reconciler.yaml", *sorted(root.glob("sandboxes/*/reconciler.yaml"))]
    for config in candidates:
        if not config.is_file():
            continue
        try:
            data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            data = {}
        sandbox = data.get("sandbox") if isinstance(data, dict) else None
        directory = config.parent.relative_to(root).as_posix() or "."
        name = str(sandbox) if isinstance(sandbox, str) and sandbox else config.parent.name
        found.append({"dir": directory, "name": name if directory == "." else config.parent.name})
    return found


STATE_URL_SECRET = "RECONCILER_STATE_URL"


def state_backend(project_dir: Path, env: Mapping[str, str]) -> tuple[str, str]:
    """(backend, reason) for one project's CI job: `postgres` when the workflow was given the
    RECONCILER_STATE_URL secret, `local` (the state branch) otherwise, `none` when the project
    says postgres and the secret is missing (a fork's pull request gets no secrets)."""
    import yaml

    if env.get(STATE_URL_SECRET, "").strip():
        return "postgres", ""
    configured = "local"
    try:
        data = yaml.safe_load((project_dir / "reconciler.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        data = None  # the tool itself reports an unreadable reconciler.yaml
    state = data.get("state") if isinstance(data, dict) else None
    if isinstance(state, dict) and state.get("backend") == "postgres":
        configured = "postgres"
    if configured == "postgres":
        return "none", (
            f"state.backend is postgres but the repository secret {STATE_URL_SECRET} is not "
            "set for this workflow (a pull request from a fork gets no repository secrets)"
        )
    return "local", ""


def _exit_code(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"error: --*-exit takes a number, got '{value}'") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of the workflow steps."""
    parser = argparse.ArgumentParser(prog="python -m reconciler.gitops")
    sub = parser.add_subparsers(dest="command", required=True)

    matrix = sub.add_parser("matrix", help="print the projects of the repository as JSON")
    matrix.add_argument("--root", type=Path, default=Path("."))

    backend = sub.add_parser(
        "state-backend", help="which state backend a project's job uses (for GITHUB_OUTPUT)"
    )
    backend.add_argument("--project-dir", type=Path, default=Path("."))

    comment = sub.add_parser("plan-comment", help="assemble the sticky PR comment")
    comment.add_argument("--project", required=True)
    comment.add_argument("--validate-exit")
    comment.add_argument("--validate-log", type=Path)
    comment.add_argument("--plan-exit")
    comment.add_argument("--plan-output", type=Path)
    comment.add_argument("--plan-log", type=Path)
    comment.add_argument("--skipped")
    comment.add_argument("--footer", default="")
    comment.add_argument("--out", type=Path, required=True)

    drift = sub.add_parser("drift-issue", help="assemble the drift issue and say what to do")
    drift.add_argument("--project", required=True)
    drift.add_argument("--exit")
    drift.add_argument("--report", type=Path)
    drift.add_argument("--log", type=Path)
    drift.add_argument("--footer", default="")
    drift.add_argument("--out", type=Path, required=True)

    args = parser.parse_args(argv)
    if args.command == "matrix":
        print(json.dumps(discover_projects(args.root)))
        return 0
    if args.command == "state-backend":
        chosen, reason = state_backend(args.project_dir, os.environ)
        print(f"backend={chosen}")  # never the URL: only whether it was given
        print(f"reason={reason}")
        return 0
    if args.command == "plan-comment":
        body = plan_comment(
            args.project,
            StepResult(_exit_code(args.validate_exit), log=_read(args.validate_log)),
            StepResult(
                _exit_code(args.plan_exit),
                output=_read(args.plan_output),
                log=_read(args.plan_log),
            ),
            footer=args.footer,
            skipped=args.skipped or None,
        )
        args.out.write_text(body, encoding="utf-8")
        return 0
    verdict = drift_issue(
        args.project,
        StepResult(_exit_code(args.exit), output=_read(args.report), log=_read(args.log)),
        footer=args.footer,
    )
    args.out.write_text(verdict.body, encoding="utf-8")
    print(f"action={verdict.action}")
    print(f"title={verdict.title}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
