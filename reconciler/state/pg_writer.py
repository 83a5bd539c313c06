"""Writing the PostgreSQL state: one transaction a write, only the rows of what changed."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconciler.state.migrations import StateFileError
from reconciler.state.models import (
    STATE_VERSION,
    DatasetResource,
    ExportJobResource,
    RetiredResource,
    Run,
    State,
)

if TYPE_CHECKING:
    import psycopg

    from reconciler.state.postgres import PostgresStore

_RUN_COLUMNS = (
    "sandbox, address, retired_seq, position, job_id, fingerprint, status, batch_id, "
    "dataset_id, created_at, finished_at, reason, cancelled_at, doc, git_commit, commit_dirty, "
    "actor, ci_run, tool_version"
)
_BATCH_COLUMNS = (
    "sandbox, address, retired_seq, run_position, position, job_id, segment_id, batch_id"
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
        run.commit,
        run.commitDirty,
        run.actor,
        run.ciRun,
        run.toolVersion,
    )


def _body(res: DatasetResource | ExportJobResource) -> dict[str, Any]:
    return res.model_dump(mode="json", exclude={"runs"})


@dataclass
class Baseline:
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


def baseline_of(state: State) -> Baseline:
    return Baseline(
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
        self._base = Baseline()

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

    def read_history(self) -> State:
        """The whole state (as `read`: nothing is kept apart yet)."""
        return self.read()

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
            self._base = Baseline()
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
        self._base = baseline_of(state)

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
            f"({', '.join(['%s'] * _RUN_COLUMNS.count(','))}, %s) "
            "ON CONFLICT (sandbox, address, retired_seq, position) DO UPDATE SET "
            "job_id = excluded.job_id, fingerprint = excluded.fingerprint, "
            "status = excluded.status, batch_id = excluded.batch_id, "
            "dataset_id = excluded.dataset_id, created_at = excluded.created_at, "
            "finished_at = excluded.finished_at, reason = excluded.reason, "
            "cancelled_at = excluded.cancelled_at, doc = excluded.doc, "
            "git_commit = excluded.git_commit, commit_dirty = excluded.commit_dirty, "
            "actor = excluded.actor, ci_run = excluded.ci_run, "
            "tool_version = excluded.tool_version, recorded_at = now()",
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
