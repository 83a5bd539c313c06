"""The state in PostgreSQL: one row a resource, one row a run, a server-side lock (docs/state.md).

The connection comes from the environment only (`RECONCILER_STATE_URL`, or libpq's `PG*`
variables). Tables live in the connection's current schema (the first of its `search_path`), so
one database can hold several independent sets of states. Each sandbox's state is keyed by its
name. A write is one transaction and writes only the addresses it is told changed.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from reconciler.gcpause import gc_paused
from reconciler.state.history import OTHER_RUNS, RunMatch
from reconciler.state.journal import first_error
from reconciler.state.migrations import StateFileError
from reconciler.state.models import STATE_VERSION, State, format_time
from reconciler.state.pg_connect import (
    PG_VARIABLES,
    URL_VARIABLE,
    PgTarget,
    StateBackendError,
    connect,
    pg_target,
    scrub,
)
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

# Each (address, retired_seq)'s runs as one JSON array, in their order: the `doc` of each run
# is its JSON as the state file writes it (the other columns are the same values, for queries).
_RUNS_JSON = """
SELECT address, retired_seq, '[' || string_agg(doc, ',' ORDER BY position) || ']'
FROM runs WHERE sandbox = %s GROUP BY address, retired_seq
"""


def _with_runs(kind: str, body: str, runs: str | None) -> str:
    """A resource's JSON: its body, and for an export job its runs."""
    if kind != "ExportJob":
        return body
    return f'{body[:-1]}, "runs": {runs or "[]"}}}'


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
        """The state without taking the lock, as one consistent snapshot of the tables."""
        with self._connect(autocommit=True) as conn:
            return self._read_on(conn)[0]

    def read_history(self) -> State:
        """The whole state without the lock (as `read`: nothing is kept apart yet)."""
        return self.read()

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

    def _read_on(self, conn: psycopg.Connection[Any]) -> tuple[State, Baseline]:
        import psycopg

        try:
            with conn.transaction():  # the lock's and read()'s connections are autocommit
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                return self._read_rows(conn)
        except psycopg.Error as exc:
            raise self._failed("read", exc) from None

    def _read_rows(self, conn: psycopg.Connection[Any]) -> tuple[State, Baseline]:
        key = (self.sandbox,)
        head = conn.execute(
            "SELECT lineage, serial, state_version, observed::text FROM state_heads "
            "WHERE sandbox = %s",
            key,
        ).fetchone()
        if head is None:
            empty = State(sandbox=self.sandbox)
            return empty, baseline_of(empty)
        lineage, serial, version, observed = head
        if version != STATE_VERSION:
            raise StateFileError(
                f"the state {self.where} has state version {version}, not {STATE_VERSION}; "
                "upgrade reconciler"
            )
        # The server writes each resource's runs as JSON text (C, not Python, per run), and
        # the whole state is parsed in one go by pydantic-core, as the state file is.
        runs = {(address, slot): text for address, slot, text in conn.execute(_RUNS_JSON, key)}
        parts = []
        for address, kind, body in conn.execute(
            "SELECT address, kind, body::text FROM resources WHERE sandbox = %s ORDER BY address",
            key,
        ):
            parts.append(f"{json.dumps(address)}:{_with_runs(kind, body, runs.get((address, 0)))}")
        retired = [
            f'{{"address":{json.dumps(address)},"retiredAt":{at},"reason":{json.dumps(reason)},'
            f'"resource":{_with_runs(kind, body, runs.get((address, seq)))}}}'
            for seq, address, at, reason, kind, body in conn.execute(
                "SELECT seq, address, to_json(retired_at)::text, reason, kind, body::text "
                "FROM retired WHERE sandbox = %s ORDER BY seq",
                key,
            )
        ]
        pending = [
            body
            for (body,) in conn.execute(
                "SELECT body::text FROM pending_intents WHERE sandbox = %s ORDER BY position",
                key,
            )
        ]
        text = (
            f'{{"version":{STATE_VERSION},"lineage":{json.dumps(lineage)},"serial":{serial},'
            f'"sandbox":{json.dumps(self.sandbox)},"resources":{{{",".join(parts)}}},'
            f'"pending":[{",".join(pending)}],"observed":{observed},'
            f'"retired":[{",".join(retired)}]}}'
        )
        try:
            with gc_paused():
                state = State.model_validate_json(text, strict=True)
        except ValidationError as exc:
            raise StateFileError(
                f"the state {self.where} does not read ({first_error(exc)}); repair the rows "
                "or restore the database from a backup"
            ) from exc
        return state, baseline_of(state)

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
