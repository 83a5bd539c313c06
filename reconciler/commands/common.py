"""What every command shares: the global options, the settings and the console it runs with."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from reconciler.config import Settings
    from reconciler.engine.events import Console, Events


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


def opts(ctx: click.Context) -> GlobalOptions:
    obj = ctx.find_root().obj
    assert isinstance(obj, GlobalOptions)
    return obj


def err(line: str) -> None:
    click.echo(line, err=True)


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _confirm(question: str) -> bool:
    """The approval question; Ctrl-C or end of input there is a no (nothing was changed)."""
    try:
        return click.confirm(question, default=False)
    except click.Abort:
        click.echo("", err=True)  # past the ^C on the question's line
        return False


def view_for(ctx: click.Context, fmt: str = "text", *, live_line: bool = False) -> Events:
    """The events view of a command: text lines, a terminal's status line, or quiet for a
    machine format (stdout keeps one document)."""
    from reconciler.render.views import MachineView, TerminalView, TextView

    options = opts(ctx)
    if fmt != "text":
        return MachineView(err)
    if live_line and sys.stdout.isatty():
        return TerminalView(click.echo, err, _write, color=options.color, verbose=options.verbose)
    return TextView(click.echo, err, color=options.color, verbose=options.verbose)


def engine(ctx: click.Context, events: Events | None = None) -> tuple[Settings, Console]:
    """The project's settings and a console (notes on stderr, the approval question, events:
    by default only the client's retry notices, on stderr).

    With -v the client's requests are logged on stderr until the command ends.
    """
    from reconciler.engine.events import Console
    from reconciler.engine.session import settings_for
    from reconciler.render.views import MachineView

    options = opts(ctx)
    if options.verbose:
        from reconciler.platform import disable_request_logging, enable_request_logging

        handler = enable_request_logging(sys.stderr)
        ctx.call_on_close(lambda: disable_request_logging(handler))
    console = Console(
        out=click.echo,
        err=err,
        color=options.color,
        verbose=options.verbose,
        interactive=sys.stdin.isatty(),
        tty=sys.stdout.isatty(),
        confirm=_confirm,
        events=events if events is not None else MachineView(err),
    )
    return settings_for(options.project_dir, options.sandbox), console
