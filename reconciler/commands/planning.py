"""plan, apply and show: the commands that make, carry out and render plans."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from reconciler.commands.common import engine, err, opts, view_for
from reconciler.commands.estimates import _estimate_options, _reads

if TYPE_CHECKING:
    from reconciler.engine.results import ApplyReport

_FORMATS_PLAN = click.Choice(["text", "markdown", "json"])


@click.command()
@click.option(
    "--out", "out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan."
)
@click.option("--format", "fmt", type=_FORMATS_PLAN, default="text", show_default=True)
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 2 on actions (with --refresh-only: drift)."
)
@click.option("--target", "targets", multiple=True, metavar="ADDR", help="Limit to an address.")
@click.option("--refresh-only", is_flag=True, help="Only report drift; plan no changes.")
@click.option(
    "--refresh",
    type=click.Choice(["incremental", "full"]),
    default="incremental",
    show_default=True,
    help="full re-reads every recorded run.",
)
@_estimate_options
@click.pass_context
def plan(
    ctx: click.Context,
    out: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
    refresh_only: bool,
    refresh: str,
    replace: tuple[str, ...],
    no_estimate: bool,
    estimate_timeout: str | None,
) -> None:
    """Read live state; print the actions apply would take and the drift found."""
    from reconciler.engine import workflow
    from reconciler.render.plan import PlanFormat, render_plan

    settings, console = engine(ctx, view_for(ctx, fmt))
    result = workflow.plan(
        settings,
        console,
        out=out,
        targets=targets,
        refresh_only=refresh_only,
        full_refresh=refresh == "full",
        replace=replace,
        reads=_reads(no_estimate, estimate_timeout),
    )
    options = opts(ctx)
    shown = render_plan(
        result.plan, cast(PlanFormat, fmt), color=options.color, verbose=options.verbose > 0
    )
    click.echo(shown.rstrip("\n"))
    if out is not None:
        err(f"saved the plan to {out}; apply exactly it with 'reconciler apply {out}'")
    if detailed_exitcode and (result.plan.has_changes or result.held_back):
        sys.exit(2)  # main() ignores click's return value, so exit here


@click.command()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--wait", is_flag=True, help="Poll runs until they finish; exit 1 if any failed.")
@click.option("--timeout", default=None, metavar="DURATION", help="Give up waiting after this.")
@click.option("--target", "targets", multiple=True, metavar="ADDR", help="Limit to an address.")
@click.option(
    "--confirm-replace-dataset",
    is_flag=True,
    help="Allow replacing datasets whose schema changed (orphans their data).",
)
@click.option(
    "--allow-large",
    "allow_large",
    multiple=True,
    metavar="ADDR",
    help="Allow this export job over its maxProfiles (repeatable).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one document on stdout saying what was done (docs/apply-format.md).",
)
@_estimate_options
@click.pass_context
def apply(
    ctx: click.Context,
    planfile: Path | None,
    auto_approve: bool,
    wait: bool,
    timeout: str | None,
    targets: tuple[str, ...],
    confirm_replace_dataset: bool,
    allow_large: tuple[str, ...],
    fmt: str,
    replace: tuple[str, ...],
    no_estimate: bool,
    estimate_timeout: str | None,
) -> None:
    """Carry out a fresh plan, or exactly a saved one."""
    from reconciler.engine import workflow
    from reconciler.engine.results import ApplyFailed

    if fmt == "json" and not auto_approve and planfile is None:
        raise workflow.UsageError(
            "apply --format json cannot ask for approval; add --auto-approve or apply a saved "
            "plan (nothing was changed)"
        )
    view = view_for(ctx, fmt, live_line=True)
    settings, console = engine(ctx, view)
    try:
        report = workflow.apply(
            settings,
            console,
            planfile=planfile,
            auto_approve=auto_approve,
            wait=wait,
            timeout=timeout,
            targets=targets,
            confirm_replace_dataset=confirm_replace_dataset,
            replace=replace,
            reads=_reads(no_estimate, estimate_timeout, allow_large, apply=True),
        )
    except ApplyFailed as failed:
        _show_report(failed.report, fmt, view)
        raise failed.error from None
    _show_report(report, fmt, view)


def _show_report(report: ApplyReport, fmt: str, view: object) -> None:
    """The closing summary (text) or the JSON report, on stdout."""
    from reconciler.render.views import MachineView

    if isinstance(view, MachineView):
        view.finish()  # a terminal's status line goes before the summary
    if fmt == "json":
        from reconciler.render.apply_json import render_apply_json

        click.echo(render_apply_json(report).rstrip("\n"))
        return
    from reconciler.render.apply_text import closing_lines

    for line in closing_lines(report):
        click.echo(line)


@click.command()
@click.argument("planfile", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=_FORMATS_PLAN, default="text", show_default=True)
@click.pass_context
def show(ctx: click.Context, planfile: Path, fmt: str) -> None:
    """Render a saved plan (from 'plan --out') without reading the platform or the state."""
    from reconciler.engine.applying import read_plan
    from reconciler.render.plan import PlanFormat, render_plan

    saved = read_plan(planfile)
    options = opts(ctx)
    rendered = render_plan(
        saved, cast(PlanFormat, fmt), color=options.color, verbose=options.verbose > 0
    )
    click.echo(rendered.rstrip("\n"))
