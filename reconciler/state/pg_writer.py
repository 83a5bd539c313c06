"""Writing the PostgreSQL state: one transaction a write, only the rows of what changed.

Every write starts with `head.to_head`: the runs the history already holds are dropped from
what is written, and the runs the head no longer needs move to the history (their rows stay in
`runs`; the resource's `body` says how many: `archivedRuns`). Rows are compared with what the
last read or write left, position by position, and only those that differ are written. A
resource that is retired keeps its rows: they are moved to its retired entry with UPDATE.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reconciler.state.head import HeadWrite, slots, to_head
from reconciler.state.migrations import StateFileError
from reconciler.state.models import (
    STATE_VERSION,
    ExportJobResource,
    RetiredResource,
    Run,
    State,
)
from reconciler.state.pg_rows import body, copy_runs, ms, write_runs

if TYPE_CHECKING:
    import psycopg

    from reconciler.state.pg_moves import Moves
    from reconciler.state.postgres import PostgresStore


@dataclass
class SlotRows:
    """The rows of one export job resource, as the last read or write left them."""

    address: str
    seq: int  # its rows' retired_seq
    start: int  # the position of runs[0]
    runs: tuple[Run, ...]
    archived: int  # the rows the history holds: positions below this are never rewritten


@dataclass
class Baseline:
    """What the tables hold after the last read or write, so a write sends only what differs.

    Runs are kept as the tuple of the run objects read or written: the engine replaces a run
    (model_copy), never edits one in place (as the file journal assumes for its lists), so an
    unchanged run is the same object; a different object is compared by value.
    """

    serial: int | None = None  # None: nothing read yet (the next write reads the rows first)
    observed: dict[str, Any] | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)
    retired: list[RetiredResource] = field(default_factory=list)
    retired_bodies: list[dict[str, Any]] = field(default_factory=list)
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    slots: dict[tuple[str, int], SlotRows] = field(default_factory=dict)  # (address, generation)


def baseline_of(state: State, archived: dict[tuple[str, int], int]) -> Baseline:
    """The baseline of `state` read (head or whole); `archived`: (address, retired_seq) -> the
    rows the history holds (the bodies' archivedRuns in the tables)."""

    def stored(address: str, seq: int, res: Any) -> dict[str, Any]:
        out = body(res)
        held = archived.get((address, seq), 0)
        if held:
            out["archivedRuns"] = held
        return out

    return Baseline(
        serial=state.serial,
        observed=state.observed.model_dump(mode="json"),
        pending=[i.model_dump(mode="json") for i in state.pending],
        retired=list(state.retired),
        retired_bodies=[
            stored(e.address, seq, e.resource) for seq, e in enumerate(state.retired, 1)
        ],
        bodies={a: stored(a, 0, r) for a, r in state.resources.items()},
        slots={
            (s.address, s.generation): SlotRows(
                s.address,
                s.retired_seq,
                res.archivedRuns,
                tuple(res.runs),
                archived.get((s.address, s.retired_seq), 0),
            )
            for s, res in slots(state)
        },
    )


class PostgresWriter:
    """Handed out by `PostgresStore.lock()`: reads and writes on the lock's own connection."""

    def __init__(self, store: PostgresStore, conn: psycopg.Connection[Any]) -> None:
        self._store = store
        self._conn = conn
        self._base = Baseline()

    @property
    def connection(self) -> psycopg.Connection[Any]:
        return self._conn

    @property
    def journal_lines(self) -> int:
        return 0  # nothing is kept apart: every write is in the tables

    def compact(self) -> None:
        """Nothing to fold: the tables are the state after every write."""

    def settle(self) -> None:
        """As `compact`."""

    def read(self) -> State:
        """The head: each resource's runs from `archivedRuns` on; the history's claims asked."""
        state, self._base = self._store._read_on(self._conn, whole=False, writer=self)
        return state

    def read_history(self) -> State:
        """The whole state: every run of every resource."""
        state, self._base = self._store._read_on(self._conn, whole=True, writer=self)
        return state

    def write(self, state: State, changed: Iterable[str] | None = None) -> State:
        """Write `state` (head or whole) with serial + 1 in one transaction; only the rows of
        `changed` addresses (None: all) and retired entries that differ. Returns the head."""
        written = state.model_copy(
            update={
                "serial": state.serial + 1,
                "lineage": state.lineage or str(uuid.uuid4()),
                "sandbox": self._store.sandbox,
            }
        )
        same = self._base.serial is not None and self._base.serial == state.serial
        names = set(changed) if changed is not None and same else None
        head = self._commit(written, names, whole=False)
        return self._store._attach(head, self)

    def replace(self, state: State) -> State:
        """Write `state` as it is (serial and lineage kept): a copy from another backend."""
        self._commit(state.model_copy(update={"sandbox": self._store.sandbox}), None, whole=True)
        return state

    def _commit(self, state: State, changed: set[str] | None, *, whole: bool) -> State:
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
                if row is not None and not whole and self._base.serial is None:
                    # Nothing read yet (or the last write rolled back): the rows are the baseline.
                    self._base = self._store._baseline_on(self._conn)
                    changed = None
                if row is None or whole:
                    return self._write_all(state)
                return self._write_changed(state, changed)
        except BaseException as exc:
            # Rolled back: what the baseline says was written was not, so the next write
            # starts from the rows again.
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

    def _write_all(self, state: State) -> State:
        """Every row anew (COPY): `replace`, and the first write of a sandbox."""
        from psycopg.types.json import Jsonb

        hw = to_head(state, {})
        head = hw.state
        sandbox = self._store.sandbox
        cur = self._conn.cursor()
        self._head(head)
        for table in ("batches", "runs", "resources", "retired", "pending_intents"):
            cur.execute(f"DELETE FROM {table} WHERE sandbox = %s", (sandbox,))
        with cur.copy("COPY resources (sandbox, address, kind, body) FROM STDIN") as copy:
            for address, res in head.resources.items():
                copy.write_row((sandbox, address, res.kind, Jsonb(body(res))))
        with cur.copy(
            "COPY retired (sandbox, seq, address, retired_at, reason, kind, body) FROM STDIN"
        ) as copy:
            for seq, entry in enumerate(head.retired, 1):
                res = entry.resource
                copy.write_row(
                    (sandbox, seq, entry.address, ms(entry.retiredAt), entry.reason, res.kind,
                     Jsonb(body(res)))
                )  # fmt: skip
        moved = {(a.slot.address, a.slot.retired_seq): a for a in hw.archived}
        owners = []
        for slot, res in slots(head):
            arch = moved.get((slot.address, slot.retired_seq))
            older = arch.runs if arch is not None else ()
            owners.append((slot.address, slot.retired_seq, 0, (*older, *res.runs)))
        copy_runs(self._conn, sandbox, owners)
        self._write_pending(head)
        self._base = baseline_of(head, _archived_of(head))
        return head

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

    def _write_changed(self, state: State, changed: set[str] | None) -> State:
        from reconciler.state.pg_moves import appended, plan_moves

        base = self._base
        # What may differ: the named addresses, those a retire in this write moves, and those
        # whose history the state counts otherwise than the tables (a whole state); the other
        # resources are not looked at (a write's cost does not grow with the resources).
        scope: set[str] | None = None
        if changed is not None and appended(base, state):
            generation = Counter(e.address for e in state.retired)
            scope = set(changed) | {e.address for e in state.retired[len(base.retired) :]}
            for address, res in state.resources.items():
                if isinstance(res, ExportJobResource):
                    rows = base.slots.get((address, generation[address]))
                    if res.archivedRuns != (rows.archived if rows is not None else 0):
                        scope.add(address)
        part = state
        if scope is not None:
            part = state.model_copy(
                update={"resources": {a: state.resources[a] for a in scope if a in state.resources}}
            )
        moves = plan_moves(base, part, lambda: self._store.where, scope)
        hw = to_head(
            part,
            moves.known,
            changed,
            new_retired_from=len(base.retired) + 1 if moves.appended else None,
        )
        if scope is not None:
            hw.state = state.model_copy(
                update={
                    "resources": {**state.resources, **hw.state.resources},
                    "retired": hw.state.retired,
                }
            )
        head = hw.state
        self._head(head)
        moves.apply(self._conn, self._store.sandbox)
        self._write_retired(hw, moves.appended)
        self._write_resources(hw, changed, moves, scope)
        pending = [i.model_dump(mode="json") for i in head.pending]
        if pending != base.pending:
            self._write_pending(head)
        base.serial = head.serial
        base.pending = pending
        base.observed = head.observed.model_dump(mode="json")
        return head

    def _write_retired(self, hw: HeadWrite, appended: bool) -> None:
        from psycopg.types.json import Jsonb

        base, head = self._base, hw.state
        sandbox = self._store.sandbox
        cur = self._conn.cursor()
        kept = len(base.retired) if appended else 0
        if not appended:
            cur.execute("DELETE FROM retired WHERE sandbox = %s", (sandbox,))
        bodies = base.retired_bodies[:kept]
        for seq, entry in enumerate(head.retired[:kept], 1):
            if entry is base.retired[seq - 1] and seq not in hw.retired_changed:
                continue
            new = body(entry.resource)
            if new != bodies[seq - 1]:
                cur.execute(
                    "UPDATE retired SET body = %s WHERE sandbox = %s AND seq = %s",
                    (Jsonb(new), sandbox, seq),
                )
                bodies[seq - 1] = new
        for seq, entry in list(enumerate(head.retired, 1))[kept:]:
            gone = entry.resource
            new = body(gone)
            cur.execute(
                "INSERT INTO retired (sandbox, seq, address, retired_at, reason, kind, body) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (sandbox, seq, entry.address, ms(entry.retiredAt), entry.reason, gone.kind,
                 Jsonb(new)),
            )  # fmt: skip
            bodies.append(new)
        base.retired = list(head.retired)
        base.retired_bodies = bodies

    def _write_resources(
        self, hw: HeadWrite, changed: set[str] | None, moves: Moves, scope: set[str] | None
    ) -> None:
        from psycopg.types.json import Jsonb

        base, head = self._base, hw.state
        sandbox = self._store.sandbox
        cur = self._conn.cursor()
        names = (
            set(head.resources) | set(base.bodies)
            if changed is None
            else changed | hw.changed | moves.addresses
        )
        for address in sorted(names):
            res = head.resources.get(address)
            if res is None:
                if address in base.bodies:
                    cur.execute(
                        "DELETE FROM resources WHERE sandbox = %s AND address = %s",
                        (sandbox, address),
                    )
                    del base.bodies[address]
                continue
            new = body(res)
            if base.bodies.get(address) != new:
                cur.execute(
                    "INSERT INTO resources (sandbox, address, kind, body) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (sandbox, address) DO UPDATE SET kind = excluded.kind, "
                    "body = excluded.body",
                    (sandbox, address, res.kind, Jsonb(new)),
                )
                base.bodies[address] = new
        # The runs: of the named managed resources, and of every retired one (a few identity
        # checks each), from the position the history held before this write.
        moved = {(a.slot.address, a.slot.generation): a for a in hw.archived}
        if scope is None:
            slots_now: dict[tuple[str, int], SlotRows] = {}
            looked = slots(head)
        else:  # the baseline's other resources stay as they are
            slots_now = dict(base.slots)
            for key in moves.gone:
                del slots_now[key]
            looked = slots(
                head.model_copy(
                    update={
                        "resources": {a: head.resources[a] for a in scope if a in head.resources}
                    }
                )
            )
        for slot, res in looked:
            key = (slot.address, slot.generation)
            prior = moves.rows.get(key)
            if not slot.retired_seq and slot.address not in names and prior is not None:
                slots_now[key] = prior
                continue
            arch = moved.get(key)
            older = arch.runs if arch is not None else ()
            runs = (*older, *res.runs)
            start = res.archivedRuns - len(older)
            if prior is None:
                write_runs(
                    self._conn, sandbox, (slot.address, slot.retired_seq), start, runs, 0, ()
                )
            else:
                write_runs(
                    self._conn,
                    sandbox,
                    (slot.address, slot.retired_seq),
                    start,
                    runs,
                    prior.start,
                    prior.runs,
                )
            slots_now[key] = SlotRows(
                slot.address, slot.retired_seq, res.archivedRuns, tuple(res.runs), res.archivedRuns
            )
        base.slots = slots_now


def _archived_of(head: State) -> dict[tuple[str, int], int]:
    return {
        (s.address, s.retired_seq): res.archivedRuns
        for s, res in slots(head)
        if isinstance(res, ExportJobResource) and res.archivedRuns
    }
