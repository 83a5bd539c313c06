"""Choosing a state backend from the settings, creating its tables, and moving between backends."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from reconciler.errors import ReconcilerError
from reconciler.state.protocol import Store
from reconciler.state.store import StateStore

if TYPE_CHECKING:
    from reconciler.config import Settings

Backend = Literal["local", "postgres"]
BACKENDS: tuple[Backend, ...] = ("local", "postgres")

# Overrides reconciler.yaml's `state.backend` (a CI workflow picks postgres when its secret
# RECONCILER_STATE_URL is set, the state branch otherwise; docs/gitops.md).
BACKEND_VARIABLE = "RECONCILER_STATE_BACKEND"


class BackendChoiceError(ReconcilerError):
    """RECONCILER_STATE_BACKEND names no backend."""


def configured_backend(settings: Settings, env: Mapping[str, str] | None = None) -> Backend:
    """The backend the environment (RECONCILER_STATE_BACKEND) or reconciler.yaml chooses."""
    value = (os.environ if env is None else env).get(BACKEND_VARIABLE, "").strip()
    if not value:
        return settings.state_backend
    for backend in BACKENDS:
        if value == backend:
            return backend
    raise BackendChoiceError(
        f"{BACKEND_VARIABLE} is '{value}', not a state backend: set it to local or postgres, "
        "or unset it to use state.backend of reconciler.yaml"
    )


class MigrateRefused(ReconcilerError):
    """`state migrate` would overwrite a different state."""


def open_store(
    settings: Settings, env: Mapping[str, str] | None = None, *, backend: Backend | None = None
) -> Store:
    """The state of the settings' sandbox in its backend (`backend` overrides the settings',
    RECONCILER_STATE_BACKEND in `env` overrides reconciler.yaml's).

    postgres: the connection comes from `env` (default: the process environment) only.
    """
    chosen = backend or configured_backend(settings, env)
    if chosen == "local":
        return StateStore(settings.state_path, settings.sandbox)
    from reconciler.state.postgres import PostgresStore, pg_target

    return PostgresStore(pg_target(os.environ if env is None else env), settings.sandbox)


def init_backend(settings: Settings, env: Mapping[str, str] | None = None) -> str:
    """Create or migrate the backend's tables; a line saying what was done."""
    if configured_backend(settings, env) == "local":
        return (
            f"state.backend is local: the state file {settings.state_path} is created by the "
            "first apply; nothing to initialize"
        )
    from reconciler.state.postgres import SCHEMA_VERSION, init_schema, pg_target

    target = pg_target(os.environ if env is None else env)
    before, after = init_schema(target)
    if before == after:
        return f"the PostgreSQL state at {target.display} is at schema version {after}"
    if before == 0:
        return f"created the state tables at {target.display} (schema version {SCHEMA_VERSION})"
    return f"migrated the state tables at {target.display} from schema version {before} to {after}"


@dataclass(frozen=True)
class Migrated:
    source: str
    target: str
    serial: int
    resources: int
    runs: int
    copied: bool  # False: the target already held exactly this state


def migrate(settings: Settings, to: Backend, env: Mapping[str, str] | None = None) -> Migrated:
    """Copy the sandbox's state from the other backend into `to`, exactly (serial and lineage).

    Copying into postgres creates its tables first (as `state init`). Both locks are held
    while copying. A target that holds another state (another lineage, or
    the same lineage at another serial) is refused, never overwritten.
    """
    source_backend: Backend = "postgres" if to == "local" else "local"
    if to == "postgres":  # the tables are created (or migrated) as by `state init`
        from reconciler.state.postgres import init_schema, pg_target

        init_schema(pg_target(os.environ if env is None else env))
    source = open_store(settings, env, backend=source_backend)
    target = open_store(settings, env, backend=to)
    with (
        source.lock("reconciler state migrate") as reader,
        target.lock("reconciler state migrate") as writer,
    ):
        state = reader.read_history()
        existing = writer.read_history()
        runs = sum(len(getattr(res, "runs", [])) for res in state.resources.values())
        if state.serial == 0 and not state.lineage:
            raise MigrateRefused(
                f"the state {source.where} is empty (never written): nothing to migrate"
            )
        if existing.serial or existing.lineage:
            if existing == state:
                return Migrated(
                    source.where, target.where, state.serial, len(state.resources), runs, False
                )
            raise MigrateRefused(
                f"the state {target.where} already holds a state (lineage "
                f"{existing.lineage or '?'}, serial {existing.serial}) that differs from "
                f"{source.where} (lineage {state.lineage}, serial {state.serial}); "
                "remove it first if it is not needed"
            )
        writer.replace(state)
        if writer.read_history() != state:  # read back: the copy is exact or it is an error
            raise MigrateRefused(
                f"the copy {target.where} does not read back as {source.where}; "
                "report this as a bug"
            )
        return Migrated(source.where, target.where, state.serial, len(state.resources), runs, True)
