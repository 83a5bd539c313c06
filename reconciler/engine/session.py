"""What every command shares: settings, the state store, a connected client, the clock, notes."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from reconciler.config import Settings, load_settings
from reconciler.engine.connect import connect, describe_platform
from reconciler.engine.create import DEFAULT_SETTLE_S
from reconciler.engine.events import Console, Where
from reconciler.engine.model import LiveSnapshot
from reconciler.errors import ReconcilerError
from reconciler.gcpause import gc_paused
from reconciler.platform import PlatformClient
from reconciler.state import State
from reconciler.state.backends import open_store
from reconciler.state.protocol import Store

SETTLE_ENV = "RECONCILER_SETTLE_SECONDS"  # how long a lost create may take to show up


class UsageError(ReconcilerError):
    """A command-line value the command cannot use."""


def settle_seconds(environ: Mapping[str, str] | None = None) -> float:
    """The settle window of the create protocol: RECONCILER_SETTLE_SECONDS, else 30 s."""
    raw = (os.environ if environ is None else environ).get(SETTLE_ENV, "").strip()
    if not raw:
        return DEFAULT_SETTLE_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise UsageError(
            f"{SETTLE_ENV}='{raw}' is not a number of seconds between 0 and 3600; "
            "set it to e.g. 30 or unset it"
        )
    return value


def settings_for(
    project_dir: Path, sandbox: str | None, env: Mapping[str, str] | None = None
) -> Settings:
    """The project's settings, with the process environment (AEP_SANDBOX) unless given."""
    return load_settings(project_dir, sandbox, dict(os.environ) if env is None else env)


def now() -> datetime:
    """The wall clock (UTC): the state's record timestamps (ages use `platform_time`)."""
    return datetime.now(UTC)


def platform_time(live: LiveSnapshot) -> datetime:
    """The planner's `now`: the platform's clock as the refresh read it, else the wall clock.

    Ages (refresh due, "finished 3h ago") compare platform timestamps, so they are measured on
    the platform's clock (issue 13, case 16).
    """
    return live.platform_now or now()


def where(settings: Settings, store: Store) -> Where:
    """The sandbox, the platform and the state a command works on (the text's first line)."""
    return Where(settings.sandbox, describe_platform(settings), store.where)


def say_where(settings: Settings, store: Store, console: Console) -> Where:
    """Tell the events what the command works on, before anything is read."""
    place = where(settings, store)
    console.events.reading(place)
    return place


def store_for(settings: Settings) -> Store:
    """The state of the settings' sandbox, in the backend reconciler.yaml names (file or PostgreSQL)."""
    return open_store(settings)


@contextmanager
def open_client(settings: Settings, console: Console) -> Iterator[PlatformClient]:
    """A connected client whose retry notices go to the events; -v: the request count at the end.

    The -v request log itself is the command line's (a handler on logger "reconciler.http").
    """
    notify: Callable[[str], None] = console.events.waiting
    with connect(settings, notify=notify) as client:
        try:
            yield client
        finally:
            if console.verbose:
                console.err(f"http: {client.calls} requests")


def pending_note(state: State, console: Console) -> None:
    """Note that an interrupted apply left intents for the next apply."""
    if state.pending:
        n = len(state.pending)
        console.err(
            f"note: the state holds {n} pending operation{'s' if n != 1 else ''} of an "
            "interrupted apply; the next 'reconciler apply' completes them"
        )


def read_held(read: Callable[[], State]) -> State:
    """Read the state a command keeps until it exits, out of the garbage collector's sight."""
    # A long history is millions of objects; the collections that followed walked them all
    # again (about 0.5 s of a plan at 100,000 runs). A state holds no reference cycles, so
    # refcounting still frees all of it: frozen before the collector runs again, it is only
    # not walked.
    with gc_paused():
        state = read()
        gc.freeze()
    return state
