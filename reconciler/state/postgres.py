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
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from reconciler.errors import ReconcilerError
from reconciler.state.history import OTHER_RUNS, RunMatch
from reconciler.state.journal import first_error
from reconciler.state.migrations import StateFileError
from reconciler.state.models import (
    STATE_VERSION,
    DatasetResource,
    ExportJobResource,
    RetiredResource,
    Run,
    State,
    format_time,
)
from reconciler.state.store import StateLocked, _gc_paused

if TYPE_CHECKING:
    import psycopg

# The schema this tool writes; `reconciler state init` brings a database up to it.
SCHEMA_VERSION = 1

# libpq's own environment variables (https://www.postgresql.org/docs/current/libpq-envars.html)
# -> connection keywords; read from the environment given, so tests need not touch os.environ.
PG_VARIABLES = {
    "PGHOST": "host",
    "PGHOSTADDR": "hostaddr",
    "PGPORT": "port",
    "PGDATABASE": "dbname",
    "PGUSER": "user",
    "PGPASSWORD": "password",
    "PGPASSFILE": "passfile",
    "PGSERVICE": "service",
    "PGSSLMODE": "sslmode",
    "PGSSLROOTCERT": "sslrootcert",
    "PGCONNECT_TIMEOUT": "connect_timeout",
    "PGOPTIONS": "options",
    "PGAPPNAME": "application_name",
}
URL_VARIABLE = "RECONCILER_STATE_URL"

_SCHEMA_V1 = """
CREATE TABLE state_heads (
    sandbox text PRIMARY KEY,
    lineage text NOT NULL,
    serial bigint NOT NULL,
    state_version integer NOT NULL,
    observed jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE resources (
    sandbox text NOT NULL REFERENCES state_heads ON DELETE CASCADE,
    address text NOT NULL,
    kind text NOT NULL,
    body jsonb NOT NULL,
    PRIMARY KEY (sandbox, address)
);
CREATE TABLE retired (
    sandbox text NOT NULL REFERENCES state_heads ON DELETE CASCADE,
    seq integer NOT NULL,
    address text NOT NULL,
    retired_at timestamptz NOT NULL,
    reason text NOT NULL,
    kind text NOT NULL,
    body jsonb NOT NULL,
    PRIMARY KEY (sandbox, seq)
);
CREATE INDEX retired_address ON retired (sandbox, address);
CREATE TABLE runs (
    sandbox text NOT NULL REFERENCES state_heads ON DELETE CASCADE,
    address text NOT NULL,
    retired_seq integer NOT NULL DEFAULT 0,
    position integer NOT NULL,
    job_id bigint NOT NULL,
    fingerprint text NOT NULL,
    status text NOT NULL,
    batch_id text,
    dataset_id text,
    created_at timestamptz NOT NULL,
    finished_at timestamptz,
    reason text NOT NULL,
    cancelled_at timestamptz,
    doc text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sandbox, address, retired_seq, position)
);
CREATE INDEX runs_job_id ON runs (job_id);
CREATE INDEX runs_batch_id ON runs (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX runs_created_at ON runs (sandbox, created_at);
CREATE TABLE batches (
    sandbox text NOT NULL,
    address text NOT NULL,
    retired_seq integer NOT NULL,
    run_position integer NOT NULL,
    position integer NOT NULL,
    job_id bigint NOT NULL,
    segment_id text NOT NULL,
    batch_id text NOT NULL,
    PRIMARY KEY (sandbox, address, retired_seq, run_position, position),
    FOREIGN KEY (sandbox, address, retired_seq, run_position)
        REFERENCES runs (sandbox, address, retired_seq, position) ON DELETE CASCADE
);
CREATE INDEX batches_batch_id ON batches (batch_id);
CREATE INDEX batches_job_id ON batches (job_id);
CREATE TABLE pending_intents (
    sandbox text NOT NULL REFERENCES state_heads ON DELETE CASCADE,
    position integer NOT NULL,
    id text NOT NULL,
    address text NOT NULL,
    kind text NOT NULL,
    fingerprint text NOT NULL,
    outcome text NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb NOT NULL,
    PRIMARY KEY (sandbox, position)
);
CREATE TABLE locks (
    sandbox text PRIMARY KEY,
    pid integer NOT NULL,
    host text NOT NULL,
    command text NOT NULL,
    since timestamptz NOT NULL,
    backend_pid integer NOT NULL
);
"""

# version N -> the SQL that brings a version N-1 schema to N (0: no tables yet).
SCHEMA_STEPS: Mapping[int, str] = {1: _SCHEMA_V1}

_RUN_COLUMNS = (
    "sandbox, address, retired_seq, position, job_id, fingerprint, status, batch_id, "
    "dataset_id, created_at, finished_at, reason, cancelled_at, doc"
)
_BATCH_COLUMNS = (
    "sandbox, address, retired_seq, run_position, position, job_id, segment_id, batch_id"
)


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


class StateBackendError(ReconcilerError):
    """The PostgreSQL state cannot be reached or used (one line, never a password)."""


@dataclass(frozen=True)
class PgTarget:
    """Where the state database is: libpq keywords from the environment, and a safe display."""

    conninfo: str
    params: Mapping[str, str]

    @property
    def display(self) -> str:
        from psycopg.conninfo import conninfo_to_dict

        try:
            given: dict[str, Any] = {**conninfo_to_dict(self.conninfo), **self.params}
        except Exception:
            return "postgresql://(unparsable RECONCILER_STATE_URL)"
        user = given.get("user")
        host = given.get("host") or given.get("hostaddr") or "localhost"
        port = given.get("port")
        db = given.get("dbname") or given.get("service") or user or ""
        return f"postgresql://{f'{user}@' if user else ''}{host}{f':{port}' if port else ''}/{db}"

    def secrets(self) -> list[str]:
        """Every password the target holds, to be scrubbed from any message."""
        from psycopg.conninfo import conninfo_to_dict

        found = [self.params.get("password", "")]
        with contextlib.suppress(Exception):
            found.append(str(conninfo_to_dict(self.conninfo).get("password") or ""))
        return [s for s in found if s]


def pg_target(env: Mapping[str, str]) -> PgTarget:
    """The connection named by the environment; one clear line when it names none."""
    url = env.get(URL_VARIABLE, "")
    params = {key: env[var] for var, key in PG_VARIABLES.items() if env.get(var)}
    if not url and not params:
        raise StateBackendError(
            "state.backend is postgres but the environment names no database: set "
            f"{URL_VARIABLE} (postgresql://user@host/db) or the PG* variables (PGHOST, "
            "PGDATABASE, PGUSER, ...); a password belongs in PGPASSWORD or ~/.pgpass, never in "
            "reconciler.yaml"
        )
    return PgTarget(url, params)


def _scrub(text: str, target: PgTarget) -> str:
    line = " ".join(text.strip().split())
    for secret in target.secrets():
        line = line.replace(secret, "***")
    return line


def connect(target: PgTarget, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    """A connection to the state database, or one line saying why there is none."""
    try:
        import psycopg
    except ImportError:
        raise StateBackendError(
            "state.backend is postgres but psycopg is not installed: pip install 'psycopg[binary]'"
        ) from None
    params = dict(target.params)
    params.setdefault("connect_timeout", "10")  # never hang on an unreachable host
    params.setdefault("application_name", "reconciler")
    try:
        from psycopg.conninfo import make_conninfo

        conn = psycopg.connect(make_conninfo(target.conninfo, **params), autocommit=autocommit)
    except psycopg.Error as exc:
        raise StateBackendError(
            f"cannot connect to the PostgreSQL state at {target.display}: "
            f"{_scrub(str(exc), target)}; check {URL_VARIABLE} or the PG* variables"
        ) from None
    conn.execute("SET TIME ZONE 'UTC'")
    if not autocommit:
        conn.commit()
    return conn


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The schema version of the connection's current schema (0: no tables yet)."""
    row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    found = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(found[0]) if found else 0


def init_schema(target: PgTarget) -> tuple[int, int]:
    """Create or migrate the tables; (version before, version after)."""
    import psycopg

    try:
        return _init_schema(target)
    except psycopg.Error as exc:
        raise StateBackendError(
            f"cannot create the state tables at {target.display}: {_scrub(str(exc), target)}"
        ) from None


def _init_schema(target: PgTarget) -> tuple[int, int]:
    with connect(target) as conn:
        with conn.transaction():
            # One initializer at a time (two CI jobs starting together).
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '/schema', 0))"
            )
            before = schema_version(conn)
            if before > SCHEMA_VERSION:
                raise _newer(before, target)
            if before == 0:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version ("
                    "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
            for version in range(before + 1, SCHEMA_VERSION + 1):
                conn.execute(SCHEMA_STEPS[version].encode())
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
        return before, SCHEMA_VERSION


def _newer(version: int, target: PgTarget) -> StateBackendError:
    return StateBackendError(
        f"the PostgreSQL state at {target.display} has schema version {version}, newer than "
        f"this reconciler uses ({SCHEMA_VERSION}); upgrade reconciler"
    )


RunRow = tuple[Any, ...]


def _ms(value: datetime | None) -> datetime | None:
    """To the millisecond, as the state file keeps times (so both backends read the same)."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000) if value else value


def _run_row(run: Run) -> RunRow:
    """A run's columns after (sandbox, address, retired_seq, position)."""
    return (
        run.jobId,
        run.fingerprint,
        run.status,
        run.batchId,
        run.datasetId,
        _ms(run.createdAt),
        _ms(run.finishedAt),
        run.reason,
        _ms(run.cancelledAt),
        run.model_dump_json(),  # what a read parses: the run as the state file writes it
    )


def _body(res: DatasetResource | ExportJobResource) -> dict[str, Any]:
    return res.model_dump(mode="json", exclude={"runs"})


@dataclass
class _Baseline:
    """What the tables hold after the last read or write, so a write sends only what differs.

    Runs are kept as the tuple of the run objects read or written: the engine replaces a run
    (model_copy), never edits one in place (as the file journal assumes for its lists), so an
    unchanged run is the same object; a different object is compared by value.
    """

    serial: int | None = None  # None: nothing read yet (the next write writes everything)
    observed: dict[str, Any] | None = None
    pending: list[dict[str, Any]] | None = None
    retired: list[RetiredResource] | None = None
    bodies: dict[str, dict[str, Any]] | None = None
    runs: dict[str, tuple[Run, ...]] | None = None


def _baseline_of(state: State) -> _Baseline:
    return _Baseline(
        serial=state.serial,
        observed=state.observed.model_dump(mode="json"),
        pending=[i.model_dump(mode="json") for i in state.pending],
        retired=list(state.retired),
        bodies={a: _body(r) for a, r in state.resources.items()},
        runs={
            a: tuple(r.runs) for a, r in state.resources.items() if isinstance(r, ExportJobResource)
        },
    )


class PostgresWriter:
    """Handed out by `PostgresStore.lock()`: reads and writes on the lock's own connection."""

    def __init__(self, store: PostgresStore, conn: psycopg.Connection[Any]) -> None:
        self._store = store
        self._conn = conn
        self._base = _Baseline()

    @property
    def journal_lines(self) -> int:
        return 0  # nothing is kept apart: every write is in the tables

    def compact(self) -> None:
        """Nothing to fold: the tables are the state after every write."""

    def settle(self) -> None:
        """As `compact`."""

    def read(self) -> State:
        state, base = self._store._read_on(self._conn)
        self._base = base
        return state

    def write(self, state: State, changed: Iterable[str] | None = None) -> State:
        """Write `state` with serial + 1 in one transaction; only `changed` addresses' rows."""
        written = state.model_copy(
            update={
                "serial": state.serial + 1,
                "lineage": state.lineage or str(uuid.uuid4()),
                "sandbox": self._store.sandbox,
            }
        )
        incremental = (
            changed is not None
            and self._base.serial is not None
            and self._base.serial == state.serial
        )
        self._commit(written, set(changed) if incremental and changed is not None else None)
        return written

    def replace(self, state: State) -> State:
        """Write `state` as it is (serial and lineage kept): a copy from another backend."""
        self._commit(state.model_copy(update={"sandbox": self._store.sandbox}), None)
        return state

    def _commit(self, state: State, changed: set[str] | None) -> None:
        import psycopg

        sandbox = self._store.sandbox
        try:
            with self._conn.transaction():
                row = self._conn.execute(
                    "SELECT serial FROM state_heads WHERE sandbox = %s FOR UPDATE", (sandbox,)
                ).fetchone()
                if (
                    row is not None
                    and self._base.serial is not None
                    and row[0] != self._base.serial
                ):
                    raise StateFileError(
                        f"the state {self._store.where} changed to serial {row[0]} while this "
                        f"process held its lock at serial {self._base.serial}; run the command again"
                    )
                if changed is None:
                    self._write_all(state)
                else:
                    self._write_changed(state, changed)
        except BaseException as exc:
            # Rolled back: what the baseline says was written was not, so the next write
            # writes everything.
            self._base = _Baseline()
            if isinstance(exc, psycopg.Error):
                raise self._store._failed("write", exc) from None
            raise

    def _head(self, state: State) -> None:
        from psycopg.types.json import Jsonb

        self._conn.execute(
            "INSERT INTO state_heads (sandbox, lineage, serial, state_version, observed, "
            "updated_at) VALUES (%s, %s, %s, %s, %s, now()) ON CONFLICT (sandbox) DO UPDATE SET "
            "lineage = excluded.lineage, serial = excluded.serial, "
            "state_version = excluded.state_version, observed = excluded.observed, "
            "updated_at = excluded.updated_at",
            (
                self._store.sandbox,
                state.lineage,
                state.serial,
                STATE_VERSION,
                Jsonb(state.observed.model_dump(mode="json")),
            ),
        )

    def _write_all(self, state: State) -> None:
        from psycopg.types.json import Jsonb

        sandbox = self._store.sandbox
        cur = self._conn.cursor()
        self._head(state)
        for table in ("batches", "runs", "resources", "retired", "pending_intents"):
            cur.execute(f"DELETE FROM {table} WHERE sandbox = %s", (sandbox,))
        with cur.copy("COPY resources (sandbox, address, kind, body) FROM STDIN") as copy:
            for address, res in state.resources.items():
                copy.write_row((sandbox, address, res.kind, Jsonb(_body(res))))
        with cur.copy(
            "COPY retired (sandbox, seq, address, retired_at, reason, kind, body) FROM STDIN"
        ) as copy:
            for seq, entry in enumerate(state.retired, 1):
                res = entry.resource
                copy.write_row(
                    (sandbox, seq, entry.address, _ms(entry.retiredAt), entry.reason, res.kind,
                     Jsonb(_body(res)))
                )  # fmt: skip
        owners = [(address, 0, res) for address, res in state.resources.items()]
        owners += [(e.address, seq, e.resource) for seq, e in enumerate(state.retired, 1)]
        with cur.copy(f"COPY runs ({_RUN_COLUMNS}) FROM STDIN") as copy:
            for address, slot, res in owners:
                if isinstance(res, ExportJobResource):
                    for position, run in enumerate(res.runs):
                        copy.write_row((sandbox, address, slot, position, *_run_row(run)))
        with cur.copy(f"COPY batches ({_BATCH_COLUMNS}) FROM STDIN") as copy:
            for address, slot, res in owners:
                if isinstance(res, ExportJobResource):
                    for position, run in enumerate(res.runs):
                        for index, ref in enumerate(run.batches):
                            copy.write_row(
                                (sandbox, address, slot, position, index, run.jobId,
                                 ref.segmentId, ref.batchId)
                            )  # fmt: skip
        self._write_pending(state)
        self._base = _baseline_of(state)

    def _write_pending(self, state: State) -> None:
        from psycopg.types.json import Jsonb

        sandbox = self._store.sandbox
        self._conn.execute("DELETE FROM pending_intents WHERE sandbox = %s", (sandbox,))
        rows = [
            (sandbox, position, i.id, i.address, i.kind, i.fingerprint, i.outcome, i.createdAt,
             Jsonb(i.model_dump(mode="json")))
            for position, i in enumerate(state.pending)
        ]  # fmt: skip
        if rows:
            self._conn.cursor().executemany(
                "INSERT INTO pending_intents (sandbox, position, id, address, kind, fingerprint, "
                "outcome, created_at, body) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )

    def _write_changed(self, state: State, changed: set[str]) -> None:
        from psycopg.types.json import Jsonb

        base = self._base
        assert base.bodies is not None and base.runs is not None and base.retired is not None
        sandbox = self._store.sandbox
        cur = self._conn.cursor()
        self._head(state)
        old_retired = base.retired
        if state.retired[: len(old_retired)] == old_retired:
            new_entries = list(enumerate(state.retired, 1))[len(old_retired) :]
        else:  # edited, not only appended: written again whole
            cur.execute("DELETE FROM retired WHERE sandbox = %s", (sandbox,))
            cur.execute("DELETE FROM runs WHERE sandbox = %s AND retired_seq > 0", (sandbox,))
            new_entries = list(enumerate(state.retired, 1))
        for seq, entry in new_entries:
            gone = entry.resource
            cur.execute(
                "INSERT INTO retired (sandbox, seq, address, retired_at, reason, kind, body) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (sandbox, seq, entry.address, _ms(entry.retiredAt), entry.reason, gone.kind,
                 Jsonb(_body(gone))),
            )  # fmt: skip
            if isinstance(gone, ExportJobResource):
                self._write_runs(entry.address, seq, gone.runs, ())
        for address in sorted(changed):
            res = state.resources.get(address)
            if res is None:
                cur.execute(
                    "DELETE FROM resources WHERE sandbox = %s AND address = %s", (sandbox, address)
                )
                cur.execute(
                    "DELETE FROM runs WHERE sandbox = %s AND address = %s AND retired_seq = 0",
                    (sandbox, address),
                )
                base.bodies.pop(address, None)
                base.runs.pop(address, None)
                continue
            body = _body(res)
            if base.bodies.get(address) != body:
                cur.execute(
                    "INSERT INTO resources (sandbox, address, kind, body) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (sandbox, address) DO UPDATE SET kind = excluded.kind, "
                    "body = excluded.body",
                    (sandbox, address, res.kind, Jsonb(body)),
                )
                base.bodies[address] = body
            runs = tuple(res.runs) if isinstance(res, ExportJobResource) else ()
            self._write_runs(address, 0, runs, base.runs.get(address, ()))
            base.runs[address] = runs
        pending = [i.model_dump(mode="json") for i in state.pending]
        if pending != base.pending:
            self._write_pending(state)
        base.serial = state.serial
        base.pending = pending
        base.retired = list(state.retired)
        base.observed = state.observed.model_dump(mode="json")

    def _write_runs(self, address: str, slot: int, runs: Sequence[Run], old: Sequence[Run]) -> None:
        """The rows of the runs that differ from `old` (position by position), and their batches."""
        sandbox = self._store.sandbox
        cur = self._conn.cursor()
        upserts = [
            (position, run)
            for position, run in enumerate(runs)
            if position >= len(old) or (run is not old[position] and run != old[position])
        ]
        if len(old) > len(runs):
            cur.execute(
                "DELETE FROM runs WHERE sandbox = %s AND address = %s AND retired_seq = %s "
                "AND position >= %s",
                (sandbox, address, slot, len(runs)),
            )
        if not upserts:
            return
        cur.executemany(
            f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (sandbox, address, retired_seq, position) DO UPDATE SET "
            "job_id = excluded.job_id, fingerprint = excluded.fingerprint, "
            "status = excluded.status, batch_id = excluded.batch_id, "
            "dataset_id = excluded.dataset_id, created_at = excluded.created_at, "
            "finished_at = excluded.finished_at, reason = excluded.reason, "
            "cancelled_at = excluded.cancelled_at, doc = excluded.doc, recorded_at = now()",
            [(sandbox, address, slot, position, *_run_row(run)) for position, run in upserts],
        )
        changed_batches = [
            (position, run)
            for position, run in upserts
            if position >= len(old) or old[position].batches != run.batches
        ]
        replaced = [(sandbox, address, slot, p) for p, _ in changed_batches if p < len(old)]
        if replaced:
            cur.executemany(
                "DELETE FROM batches WHERE sandbox = %s AND address = %s AND retired_seq = %s "
                "AND run_position = %s",
                replaced,
            )
        batch_rows = [
            (sandbox, address, slot, position, index, run.jobId, ref.segmentId, ref.batchId)
            for position, run in changed_batches
            for index, ref in enumerate(run.batches)
        ]
        if batch_rows:
            cur.executemany(
                f"INSERT INTO batches ({_BATCH_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                batch_rows,
            )


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
            f"cannot {what} the PostgreSQL state {self.where}: {_scrub(str(exc), self.target)}"
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
                raise _newer(version, self.target)
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

    def _read_on(self, conn: psycopg.Connection[Any]) -> tuple[State, _Baseline]:
        import psycopg

        try:
            with conn.transaction():  # the lock's and read()'s connections are autocommit
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                return self._read_rows(conn)
        except psycopg.Error as exc:
            raise self._failed("read", exc) from None

    def _read_rows(self, conn: psycopg.Connection[Any]) -> tuple[State, _Baseline]:
        key = (self.sandbox,)
        head = conn.execute(
            "SELECT lineage, serial, state_version, observed::text FROM state_heads "
            "WHERE sandbox = %s",
            key,
        ).fetchone()
        if head is None:
            empty = State(sandbox=self.sandbox)
            return empty, _baseline_of(empty)
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
            with _gc_paused():
                state = State.model_validate_json(text, strict=True)
        except ValidationError as exc:
            raise StateFileError(
                f"the state {self.where} does not read ({first_error(exc)}); repair the rows "
                "or restore the database from a backup"
            ) from exc
        return state, _baseline_of(state)

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
