"""status, audit, lineage, report, import and state: the commands that read and repair the record."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.commands.common import engine


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option(
    "--history", is_flag=True, help="Also every recorded run of each export job, newest first."
)
@click.pass_context
def status(ctx: click.Context, fmt: str, history: bool) -> None:
    """Every managed resource: live status, newest run, its batch(es)."""
    from reconciler.engine import records
    from reconciler.render.status import render_status

    settings, console = engine(ctx)
    entries = records.status(settings, console, history=history)
    click.echo(render_status(entries, fmt).rstrip("\n"))


@click.command()
@click.option(
    "--format", "fmt", type=click.Choice(["text", "markdown", "json", "csv"]), default="text"
)
@click.option(
    "--since", metavar="DURATION|TIME", help="Only objects created since (7d, or RFC 3339)."
)
@click.option(
    "--label", "labels", multiple=True, metavar="KEY=VALUE", help="Owner label (repeat: all match)."
)
@click.option(
    "--status", "statuses", multiple=True, metavar="STATUS", help="Only this status (repeatable)."
)
@click.pass_context
def audit(
    ctx: click.Context,
    fmt: str,
    since: str | None,
    labels: tuple[str, ...],
    statuses: tuple[str, ...],
) -> None:
    """Every export job and dataset in the sandbox, managed or not."""
    from reconciler.engine import audit as audit_command
    from reconciler.render.audit import render_audit

    settings, console = engine(ctx)
    found = audit_command.audit(settings, console, since=since, labels=labels, statuses=statuses)
    click.echo(render_audit(found.entries, fmt, found.at).rstrip("\n"))


@click.command()
@click.argument("ident", metavar="ID")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def lineage(ctx: click.Context, ident: str, fmt: str) -> None:
    """For a batch id or job id: the document, commit, actor and time of the run that made it."""
    from reconciler.engine.lineage import find_lineage
    from reconciler.render.lineage import render_lineage

    settings, console = engine(ctx)
    console.out(render_lineage(find_lineage(settings, ident), fmt).rstrip("\n"))


@click.command()
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="The HTML file to write.",
)
@click.pass_context
def report(ctx: click.Context, out: Path) -> None:
    """Write one self-contained HTML report: exports, runs, records, drift, datasets."""
    from reconciler.report.command import report as report_command

    settings, console = engine(ctx)
    report_command(settings, console, out)


@click.command("import")
@click.argument("address")
@click.argument("live_id", metavar="ID")
@click.pass_context
def import_(ctx: click.Context, address: str, live_id: str) -> None:
    """Adopt an existing dataset or export job into state for a document."""
    from reconciler.engine import records

    settings, console = engine(ctx)
    click.echo(records.import_(settings, console, address, live_id))


@click.group()
def state() -> None:
    """Read and repair the state."""


@state.command("list")
@click.pass_context
def state_list(ctx: click.Context) -> None:
    """List the addresses in state."""
    from reconciler.engine import records
    from reconciler.render.state import render_state_list

    settings, console = engine(ctx)
    click.echo(render_state_list(records.state_list(settings, console)), nl=False)


@state.command("show")
@click.argument("address")
@click.pass_context
def state_show(ctx: click.Context, address: str) -> None:
    """Show one resource's state, runs included."""
    import json

    from reconciler.engine import records

    settings, console = engine(ctx)
    shown = records.state_show(settings, console, address)
    click.echo(json.dumps(shown, indent=2, ensure_ascii=False))


@state.command("rm")
@click.argument("address")
@click.pass_context
def state_rm(ctx: click.Context, address: str) -> None:
    """Stop managing a resource (the live object is left alone)."""
    from reconciler.engine import records

    settings, console = engine(ctx)
    click.echo(records.state_rm(settings, console, address))


@state.command("init")
@click.pass_context
def state_init(ctx: click.Context) -> None:
    """Create or migrate the state backend's tables (postgres; local needs none)."""
    from reconciler.state.backends import init_backend

    settings, _ = engine(ctx)
    click.echo(init_backend(settings))


@state.command("migrate")
@click.option(
    "--to",
    "to",
    type=click.Choice(["local", "postgres"]),
    required=True,
    help="The backend to copy the state into (from the other one).",
)
@click.pass_context
def state_migrate(ctx: click.Context, to: str) -> None:
    """Copy the sandbox's state between the local file and PostgreSQL, exactly."""
    from typing import cast

    from reconciler.state.backends import BACKEND_VARIABLE, Backend, configured_backend, migrate

    settings, _ = engine(ctx)
    done = migrate(settings, cast(Backend, to))
    what = f"serial {done.serial}, {done.resources} resources, {done.runs} runs"
    if done.copied:
        click.echo(f"copied the state {done.source} to {done.target} ({what})")
    else:
        click.echo(f"the state {done.target} already is the state {done.source} ({what})")
    if to != configured_backend(settings):
        click.echo(
            f"set 'state.backend: {to}' in reconciler.yaml (or {BACKEND_VARIABLE}={to}) to use it"
        )
