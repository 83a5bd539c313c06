"""The command line: parse options, call the library, pick a renderer. No logic lives here.

Imports of the library happen inside each command so that `reconciler --help` and
`reconciler validate` start fast (no web framework, HTTP stack or deepdiff on those paths).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from reconciler import __version__
from reconciler.errors import NotImplementedYet, ReconcilerError
from reconciler.globalopts import hoist_global_options, use_color

if TYPE_CHECKING:
    from reconciler.config import Settings
    from reconciler.engine.plan_reads import PlanReads
    from reconciler.engine.workflow import Console

_VERBOSE = False


@dataclass(frozen=True)
class GlobalOptions:
    """Options every command sees."""

    project: Path | None  # -C, or the nearest folder up from here holding reconciler.yaml
    sandbox: str | None
    color: bool
    verbose: int

    @property
    def project_dir(self) -> Path:
        """The specs repository; a command that needs one fails with one line where there is none."""
        if self.project is None:
            from reconciler.config import NoProject

            raise NoProject(Path.cwd())
        return self.project


def _not_implemented(command: str) -> NoReturn:
    raise NotImplementedYet(f"'reconciler {command}' is not implemented yet")


def _opts(ctx: click.Context) -> GlobalOptions:
    obj = ctx.find_root().obj
    assert isinstance(obj, GlobalOptions)
    return obj


def _engine(ctx: click.Context) -> tuple[Settings, Console]:
    """The project's settings and a console on stdout/stderr for the engine's commands."""
    from reconciler.engine import workflow

    opts = _opts(ctx)
    console = workflow.Console(
        out=click.echo,
        err=lambda line: click.echo(line, err=True),
        color=opts.color,
        verbose=opts.verbose,
        interactive=sys.stdin.isatty(),
        tty=sys.stdout.isatty(),
        confirm=lambda question: click.confirm(question, default=False),
    )
    return workflow.settings_for(opts.project_dir, opts.sandbox), console


def _estimate_options(fn: Callable[..., None]) -> Callable[..., None]:
    """--replace, --no-estimate, --estimate-timeout: what plan and apply share."""
    fn = click.option(
        "--estimate-timeout",
        default=None,
        metavar="DURATION",
        help="Wait at most this long for impact estimates (default 20s).",
    )(fn)
    fn = click.option(
        "--no-estimate", is_flag=True, help="Do not estimate the profiles each run will export."
    )(fn)
    return click.option(
        "--replace",
        "replace",
        multiple=True,
        metavar="ADDR",
        help="Start a new run of this export job whatever its status (repeatable).",
    )(fn)


def _reads(
    no_estimate: bool,
    estimate_timeout: str | None,
    allow_large: tuple[str, ...] = (),
    *,
    apply: bool = False,
) -> PlanReads:
    from reconciler.engine.plan_reads import (
        DEFAULT_ESTIMATE_TIMEOUT_S,
        NO_ESTIMATE_ENV,
        PlanReads,
    )
    from reconciler.engine.workflow import UsageError
    from reconciler.spec.models import parse_duration

    timeout_s = DEFAULT_ESTIMATE_TIMEOUT_S
    if estimate_timeout is not None:
        try:
            timeout_s = float(parse_duration(estimate_timeout).total_seconds())
        except ValueError as exc:
            raise UsageError(f"--estimate-timeout: {exc}") from None
    off = os.environ.get(NO_ESTIMATE_ENV, "").strip() not in ("", "0")
    return PlanReads(
        estimate=not (no_estimate or off),
        estimate_timeout_s=timeout_s,
        allow_large=tuple(allow_large),
        scope="policy" if apply else "all",
    )


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


_FORMATS_PLAN = click.Choice(["text", "markdown", "json"])


@cli.command()
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

    settings, console = _engine(ctx)
    code = workflow.plan(
        settings,
        console,
        out=out,
        fmt=fmt,
        detailed_exitcode=detailed_exitcode,
        targets=targets,
        refresh_only=refresh_only,
        full_refresh=refresh == "full",
        replace=replace,
        reads=_reads(no_estimate, estimate_timeout),
    )
    if code:
        sys.exit(code)  # main() ignores click's return value, so exit here


@cli.command()
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
    replace: tuple[str, ...],
    no_estimate: bool,
    estimate_timeout: str | None,
) -> None:
    """Carry out a fresh plan, or exactly a saved one."""
    from reconciler.engine import workflow

    settings, console = _engine(ctx)
    workflow.apply(
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


@cli.command()
@click.argument("planfile", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=_FORMATS_PLAN, default="text", show_default=True)
@click.pass_context
def show(ctx: click.Context, planfile: Path, fmt: str) -> None:
    """Render a saved plan (from 'plan --out') without reading the platform or the state."""
    from typing import cast

    from reconciler.engine.model import Plan
    from reconciler.engine.workflow import UsageError
    from reconciler.render.plan import PlanFormat, render_plan

    try:
        text = planfile.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the saved plan {planfile}: {exc.strerror}") from None
    saved = Plan.from_json(text, source=str(planfile))
    opts = _opts(ctx)
    rendered = render_plan(saved, cast(PlanFormat, fmt), color=opts.color, verbose=opts.verbose > 0)
    click.echo(rendered.rstrip("\n"))


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def status(ctx: click.Context, fmt: str) -> None:
    """Every managed resource: live status, newest run, its batch(es)."""
    from reconciler.engine import records

    settings, console = _engine(ctx)
    records.status(settings, console, fmt=fmt)


@cli.command()
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

    settings, console = _engine(ctx)
    audit_command.audit(settings, console, fmt=fmt, since=since, labels=labels, statuses=statuses)


@cli.command()
@click.argument("ident", metavar="ID")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def lineage(ctx: click.Context, ident: str, fmt: str) -> None:
    """For a batch id or job id: the document, commit, actor and time of the run that made it."""
    from reconciler.engine.lineage import find_lineage
    from reconciler.render.lineage import render_lineage

    settings, console = _engine(ctx)
    console.out(render_lineage(find_lineage(settings, ident), fmt).rstrip("\n"))


@cli.command()
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

    settings, console = _engine(ctx)
    report_command(settings, console, out)


@cli.command("import")
@click.argument("address")
@click.argument("live_id", metavar="ID")
@click.pass_context
def import_(ctx: click.Context, address: str, live_id: str) -> None:
    """Adopt an existing dataset or export job into state for a document."""
    from reconciler.engine import records

    settings, console = _engine(ctx)
    records.import_(settings, console, address, live_id)


@cli.group()
def state() -> None:
    """Read and repair the state."""


@state.command("list")
@click.pass_context
def state_list(ctx: click.Context) -> None:
    """List the addresses in state."""
    from reconciler.engine import records

    settings, console = _engine(ctx)
    records.state_list(settings, console)


@state.command("show")
@click.argument("address")
@click.pass_context
def state_show(ctx: click.Context, address: str) -> None:
    """Show one resource's state, runs included."""
    from reconciler.engine import records

    settings, console = _engine(ctx)
    records.state_show(settings, console, address)


@state.command("rm")
@click.argument("address")
@click.pass_context
def state_rm(ctx: click.Context, address: str) -> None:
    """Stop managing a resource (the live object is left alone)."""
    from reconciler.engine import records

    settings, console = _engine(ctx)
    records.state_rm(settings, console, address)


@state.command("init")
@click.pass_context
def state_init(ctx: click.Context) -> None:
    """Create or migrate the state backend's tables (postgres; local needs none)."""
    from reconciler.state.backends import init_backend

    settings, console = _engine(ctx)
    console.out(init_backend(settings))


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

    from reconciler.state.backends import Backend, migrate

    settings, console = _engine(ctx)
    done = migrate(settings, cast(Backend, to))
    what = f"serial {done.serial}, {done.resources} resources, {done.runs} runs"
    if done.copied:
        console.out(f"copied the state {done.source} to {done.target} ({what})")
    else:
        console.out(f"the state {done.target} already is the state {done.source} ({what})")
    if to != settings.state_backend:
        console.out(f"set 'state.backend: {to}' in reconciler.yaml to use it")


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
        serve(host, port, data_dir, profile=profile)
    except EmulatorStartError as exc:
        raise click.ClickException(str(exc)) from None


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
    except click.exceptions.Abort:
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
