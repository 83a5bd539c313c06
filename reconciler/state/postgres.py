"""The state in PostgreSQL: one row a resource, one row a run, a server-side lock (docs/state.md).

The connection comes from the environment only (`RECONCILER_STATE_URL`, or libpq's `PG*`
variables). Tables live in the connection's current schema (the first of its `search_path`), so
one database can hold several independent sets of states. Each sandbox's state is keyed by its
name. A write is one transaction and writes only the addresses it is told changed.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from reconciler.state.history import OTHER_RUNS, RunMatch
from reconciler.state.models import ExportJobResource, State, format_time
from reconciler.state.pg_connect import (
    PG_VARIABLES,
    URL_VARIABLE,
    PgTarget,
    StateBackendError,
    connect,
    pg_target,
    scrub,
)
from reconciler.state.pg_head import PgClaims, read_rows
from reconciler.state.pg_schema import (
    SCHEMA_STEPS,
    SCHEMA_VERSION,
    init_schema,
    newer,
    schema_version,
)
from reconciler.state.pg_writer import Baseline, PostgresWriter, baseline_of
from reconciler.state.store import StateLocked

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "PG_VARIABLES",
    "SCHEMA_STEPS",
    "SCHEMA_VERSION",
    "URL_VARIABLE",
    "PgTarget",
    "PostgresStore",
    "PostgresWriter",
    "StateBackendError",
    "connect",
    "init_schema",
    "pg_target",
    "schema_version",
]

# The advisory lock of a sandbox's state (its one parameter: the sandbox), per schema.
_LOCK_KEY = "hashtextextended(current_schema() || '/' || %s, 0)"


class PostgresStore:
    """The state of sandbox `sandbox` in the database `target` names."""

    def __init__(self, target: PgTarget, sandbox: str) -> None:
        self.target = target
        self.sandbox = sandbox

    @property
    def where(self) -> str:
        return f"of sandbox '{self.sandbox}' in {self.target.display}"

    def _failed(self, what: str, exc: Exception) -> StateBackendError:
        return StateBackendError(
            f"cannot {what} the PostgreSQL state {self.where}: {scrub(str(exc), self.target)}"
        )

    def _connect(self, *, autocommit: bool = False) -> psycopg.Connection[Any]:
        import psycopg

        conn = connect(self.target, autocommit=autocommit)
        try:
            version = schema_version(conn)
            if not autocommit:
                conn.commit()
        except psycopg.Error as exc:
            conn.close()
            raise self._failed("read", exc) from None
        if version != SCHEMA_VERSION:
            conn.close()
            if version > SCHEMA_VERSION:
                raise newer(version, self.target)
            state = "has no reconciler tables" if version == 0 else f"has schema version {version}"
            raise StateBackendError(
                f"the PostgreSQL database at {self.target.display} {state}; run "
                f"'reconciler state init' to {'create' if version == 0 else 'migrate'} them "
                f"(schema version {SCHEMA_VERSION})"
            )
        return conn

    def read(self) -> State:
        """The head without taking the lock, as one consistent snapshot of the tables: each
        resource's runs from `archivedRuns` on; the history's claimed job ids are asked."""
        with self._connect(autocommit=True) as conn:
            return self._read_on(conn, whole=False)[0]

    def read_history(self) -> State:
        """The whole state without the lock: every run of every resource."""
        with self._connect(autocommit=True) as conn:
            return self._read_on(conn, whole=True)[0]

    def find_runs(
        self, *, job_id: int | None = None, batch_id: str | None = None, others: int = OTHER_RUNS
    ) -> list[RunMatch]:
        """The runs with that job id or batch id, newest first: one indexed query."""
        import psycopg

        from reconciler.state import pg_history

        with self._connect(autocommit=True) as conn:
            try:
                return pg_history.find_runs(
                    conn, self.sandbox, job_id=job_id, batch_id=batch_id, others=others
                )
            except psycopg.Error as exc:
                raise self._failed("read", exc) from None

    def _read_on(
        self,
        conn: psycopg.Connection[Any],
        *,
        whole: bool,
        writer: PostgresWriter | None = None,
    ) -> tuple[State, Baseline]:
        import psycopg

        try:
            with conn.transaction():  # the lock's and read()'s connections are autocommit
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                got = read_rows(conn, self, whole=whole)
        except psycopg.Error as exc:
            raise self._failed("read", exc) from None
        if got is None:
            empty = State(sandbox=self.sandbox)
            return empty, baseline_of(empty, {})
        state, archived = got
        # Only a writer compares its next write with what it read.
        base = baseline_of(state, archived) if writer is not None else Baseline()
        if not whole:
            self._attach(state, writer)
        return state, base

    def _baseline_on(self, conn: psycopg.Connection[Any]) -> Baseline:
        """The baseline of the rows as they are (inside a write's transaction)."""
        got = read_rows(conn, self, whole=False)
        if got is None:
            return baseline_of(State(sandbox=self.sandbox), {})
        return baseline_of(*got)

    def _attach(self, head: State, writer: PostgresWriter | None) -> State:
        """Give a head whose history holds runs the index of their claimed job ids."""
        held = any(
            isinstance(res, ExportJobResource) and res.archivedRuns
            for res in (*head.resources.values(), *(e.resource for e in head.retired))
        )
        return head.attach_history(PgClaims(self, self._lender(writer)) if held else None)

    def _lender(self, writer: PostgresWriter | None) -> Any:
        """A connection for each question of a head's claims index: the lock's while it is
        held (the questions then see this process's own writes), else a new one."""

        @contextlib.contextmanager
        def lend() -> Iterator[psycopg.Connection[Any]]:
            if writer is not None and not writer.connection.closed:
                yield writer.connection
                return
            with self._connect(autocommit=True) as conn:
                yield conn

        return lend

    @contextlib.contextmanager
    def lock(self, command: str | None = None) -> Iterator[PostgresWriter]:
        """Hold the state's session advisory lock; fail fast with `StateLocked` naming the holder.

        The lock belongs to this process's connection: if the process dies, the server ends the
        session and the lock is free again (the `locks` row it left is replaced by the next holder).
        """
        import psycopg

        conn = self._connect(autocommit=True)
        try:
            try:
                got = conn.execute(
                    f"SELECT pg_try_advisory_lock({_LOCK_KEY})", (self.sandbox,)
                ).fetchone()
                held = bool(got and got[0])
                if held:
                    conn.execute(
                        "INSERT INTO locks (sandbox, pid, host, command, since, backend_pid) "
                        "VALUES (%s, %s, %s, %s, %s, pg_backend_pid()) ON CONFLICT (sandbox) DO "
                        "UPDATE SET pid = excluded.pid, host = excluded.host, command = "
                        "excluded.command, since = excluded.since, "
                        "backend_pid = excluded.backend_pid",
                        (
                            self.sandbox,
                            os.getpid(),
                            socket.gethostname(),
                            command or " ".join(["reconciler", *sys.argv[1:]]),
                            datetime.now(UTC),
                        ),
                    )
                else:
                    message = self._locked_message(conn)
            except psycopg.Error as exc:
                raise self._failed("lock", exc) from None
            if not held:
                raise StateLocked(message)
            try:
                yield PostgresWriter(self, conn)
            finally:
                with contextlib.suppress(psycopg.Error):
                    conn.execute(
                        "DELETE FROM locks WHERE sandbox = %s AND backend_pid = pg_backend_pid()",
                        (self.sandbox,),
                    )
                    conn.execute(f"SELECT pg_advisory_unlock({_LOCK_KEY})", (self.sandbox,))
        finally:
            conn.close()

    def _holder_on(self, conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
        row = conn.execute(
            "SELECT l.pid, l.host, l.command, l.since FROM locks l WHERE l.sandbox = %s AND "
            "EXISTS (SELECT 1 FROM pg_locks p WHERE p.locktype = 'advisory' AND p.granted "
            "AND p.pid = l.backend_pid AND p.objsubid = 1 AND p.database = (SELECT oid FROM "
            "pg_database WHERE datname = current_database()) AND "
            f"((p.classid::bigint << 32) | p.objid::bigint) = {_LOCK_KEY})",
            (self.sandbox, self.sandbox),
        ).fetchone()
        if row is None:
            return None
        return {"pid": row[0], "host": row[1], "command": row[2], "startedAt": format_time(row[3])}

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lock now (pid, host, command, startedAt), or None if nobody does."""
        import psycopg

        with self._connect(autocommit=True) as conn:
            try:
                return self._holder_on(conn)
            except psycopg.Error as exc:
                raise self._failed("read the lock of", exc) from None

    def _locked_message(self, conn: psycopg.Connection[Any]) -> str:
        # A holder writes its row just after taking the lock: give it a moment to be named.
        deadline = time.monotonic() + 1.0
        info = self._holder_on(conn)
        while info is None and time.monotonic() < deadline:
            time.sleep(0.02)
            info = self._holder_on(conn)
        if info:
            who = (
                f"pid {info['pid']} on {info['host']} running '{info['command']}' since "
                f"{info['startedAt']}"
            )
        else:
            who = "another process"
        return (
            f"the state {self.where} is locked by {who}; wait for it to finish (the server "
            "releases the lock by itself if that process dies)"
        )
