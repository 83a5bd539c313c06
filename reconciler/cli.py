"""The command line: parse options, call the library, pick a view. No logic lives here.

The group, validate, schema, the emulator and the entry point are here; the other commands are
in reconciler/commands/ (planning: plan, apply, show; records: status, audit, lineage, report,
import, state). Imports of the library happen inside each command so that `reconciler --help`
and `reconciler validate` start fast (no web framework, HTTP stack or deepdiff on those paths).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from reconciler import __version__
from reconciler.commands import planning, records
from reconciler.commands.common import GlobalOptions, opts
from reconciler.commands.estimates import _estimate_options, _reads
from reconciler.errors import ReconcilerError
from reconciler.globalopts import hoist_global_options, use_color

_VERBOSE = False
_opts = opts

__all__ = ["GlobalOptions", "_estimate_options", "_reads", "cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="reconciler")
@click.option(
    "-C",
    "--project-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The specs repository (default: the nearest folder up from here with reconciler.yaml).",
)
@click.option(
    "--sandbox", default=None, help="Sandbox name (overrides reconciler.yaml and AEP_SANDBOX)."
)
@click.option("--no-color", is_flag=True, help="Never color the output.")
@click.option("-v", "--verbose", count=True, help="Log each request; show tracebacks on errors.")
@click.pass_context
def cli(
    ctx: click.Context, project_dir: Path | None, sandbox: str | None, no_color: bool, verbose: int
) -> None:
    """Manage Adobe Experience Platform datasets and export jobs as code."""
    global _VERBOSE
    _VERBOSE = verbose > 0
    color = use_color(no_color, os.environ, sys.stdout.isatty())
    if project_dir is None:
        from reconciler.config import find_project

        project_dir = find_project(Path.cwd())
    ctx.obj = GlobalOptions(project=project_dir, sandbox=sandbox, color=color, verbose=verbose)


@cli.command()
@click.pass_context
def validate(ctx: click.Context) -> None:
    """Load and check every document offline; errors as file:line:col: message."""
    import os

    from reconciler.spec.report import ValidationFailed, validate_project

    report = validate_project(_opts(ctx).project_dir, _opts(ctx).sandbox, os.environ)
    for line in report.errors:
        click.echo(line, err=True)
    if not report.ok:
        raise ValidationFailed(report.summary)
    click.echo(report.summary)


for _command in (
    planning.plan,
    planning.apply,
    planning.show,
    records.status,
    records.audit,
    records.lineage,
    records.report,
    records.import_,
    records.state,
):
    cli.add_command(_command)


@cli.command()
@click.pass_context
def schema(ctx: click.Context) -> None:
    """Print the JSON Schema of resource documents (for editors)."""
    from reconciler.spec.schema import json_schema_text

    click.echo(json_schema_text(), nl=False)


@cli.group()
def emulator() -> None:
    """The local platform (an emulator of the documented AEP endpoints)."""


@emulator.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".reconciler/emulator"),
    show_default=True,
)
@click.option(
    "--profile",
    type=click.Choice(["cooperative", "documented"]),
    default=None,
    help="Behaviour profile to apply at start (default: RECONCILER_EMULATOR_PROFILE, else the "
    "settings stored with the data; see docs/emulator.md).",
)
@click.pass_context
def emulator_serve(
    ctx: click.Context, host: str, port: int, data_dir: Path, profile: str | None
) -> None:
    """Run the local platform as an HTTP server (Ctrl-C stops it)."""
    from reconciler.emulator.server import EmulatorStartError, serve

    try:
        serve(host, port, data_dir, profile=profile)  # returns on Ctrl-C (or SIGTERM)
    except EmulatorStartError as exc:
        raise click.ClickException(str(exc)) from None
    # the one line of a stop (after the terminal's ^C): exit 0, nothing lost
    click.echo(f"local platform stopped; its data is kept in {data_dir}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command line and turn failures into one-line errors and exit codes."""
    try:
        args = hoist_global_options(sys.argv[1:] if argv is None else argv)
        code = cli.main(args=args, prog_name="reconciler", standalone_mode=False)
        # Without standalone mode click returns (not raises) the code of ctx.exit(n).
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Exit as stop:
        sys.exit(stop.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:
        # `reconciler state` alone: its help, as `reconciler state --help` prints it.
        click.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
        sys.exit(0)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        click.echo("error: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        # Usage errors are bad input like any other: exit 1 (2 means "plan has changes").
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(1)
    except ReconcilerError as exc:
        if _VERBOSE:
            import traceback

            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if _VERBOSE:
            raise
        click.echo(
            f"error: internal error ({type(exc).__name__}: {exc}); rerun with -v for details",
            err=True,
        )
        sys.exit(1)
    sys.exit(0)
