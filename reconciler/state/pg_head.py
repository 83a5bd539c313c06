"""Reading the PostgreSQL state: its head (what commands decide on) or whole (docs/state.md).

Every run is a row of `runs`, at its position among all its resource's runs. A resource's
`body` carries `archivedRuns` (when above 0): its runs before that position are its history.
The head read takes, per resource, only the runs from that position on (a range scan of the
runs key), and answers the history's claimed job ids through `PgClaims` (one indexed query a
question); the whole read takes every row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from reconciler.gcpause import gc_paused
from reconciler.state.journal import first_error
from reconciler.state.migrations import StateFileError
from reconciler.state.models import STATE_VERSION, State

if TYPE_CHECKING:
    import psycopg

    from reconciler.state.postgres import PostgresStore

# A resource's runs from position `archivedRuns` on, as one JSON array: the `doc` of each run
# is its JSON as the state file writes it (the other columns hold the same values, for queries).
_HEAD_RUNS = """
CROSS JOIN LATERAL (
    SELECT '[' || string_agg(r.doc, ',' ORDER BY r.position) || ']' AS runs
    FROM runs r
    WHERE r.sandbox = {t}.sandbox AND r.address = {t}.address AND r.retired_seq = {seq}
      AND r.position >= coalesce(({t}.body ->> 'archivedRuns')::integer, 0)
) h
"""
_HEAD_RESOURCES = (
    "SELECT res.address, res.kind, res.body::text, h.runs, "
    "coalesce((res.body ->> 'archivedRuns')::integer, 0) FROM resources res"
    + _HEAD_RUNS.format(t="res", seq="0")
    + "WHERE res.sandbox = %s ORDER BY res.address"
)
_HEAD_RETIRED = (
    "SELECT ret.seq, ret.address, to_json(ret.retired_at)::text, ret.reason, ret.kind, "
    "ret.body::text, h.runs, coalesce((ret.body ->> 'archivedRuns')::integer, 0) "
    "FROM retired ret"
    + _HEAD_RUNS.format(t="ret", seq="ret.seq")
    + "WHERE ret.sandbox = %s ORDER BY ret.seq"
)

# The whole state: every run; the bodies without `archivedRuns` (returned apart: what the
# history holds, so the next write knows which rows are there).
_ALL_RUNS = """
SELECT address, retired_seq, '[' || string_agg(doc, ',' ORDER BY position) || ']'
FROM runs WHERE sandbox = %s GROUP BY address, retired_seq
"""
_WHOLE_RESOURCES = (
    "SELECT address, kind, (body - 'archivedRuns')::text, NULL, "
    "coalesce((body ->> 'archivedRuns')::integer, 0) FROM resources WHERE sandbox = %s "
    "ORDER BY address"
)
_WHOLE_RETIRED = (
    "SELECT seq, address, to_json(retired_at)::text, reason, kind, "
    "(body - 'archivedRuns')::text, NULL, coalesce((body ->> 'archivedRuns')::integer, 0) "
    "FROM retired WHERE sandbox = %s ORDER BY seq"
)

# The job ids claimed by runs of claiming resources (managed: retired_seq 0, or retired by
# forget), through the runs_sandbox_job_id index.
_CLAIMING = (
    "sandbox = %(sandbox)s AND (retired_seq = 0 OR retired_seq IN (SELECT seq FROM retired "
    "WHERE sandbox = %(sandbox)s AND reason = 'forget'))"
)
_AMONG = f"SELECT DISTINCT job_id FROM runs WHERE job_id = ANY(%(ids)s) AND {_CLAIMING}"
_MAX = f"SELECT max(job_id) FROM runs WHERE {_CLAIMING}"
_ALL = f"SELECT DISTINCT job_id FROM runs WHERE {_CLAIMING}"


def _with_runs(kind: str, body: str, runs: str | None) -> str:
    """A resource's JSON: its body, and for an export job its runs."""
    if kind != "ExportJob":
        return body
    return f'{body[:-1]}, "runs": {runs or "[]"}}}'


# (address, retired_seq) -> the rows the history holds of that resource (positions below it)
Archived = dict[tuple[str, int], int]


def read_rows(
    conn: psycopg.Connection[Any], store: PostgresStore, *, whole: bool
) -> tuple[State, Archived] | None:
    """The state of `store`'s sandbox (its head, or whole), and what each resource's history
    holds; None when the sandbox has no state yet. Call inside a read-only transaction."""
    key = (store.sandbox,)
    head = conn.execute(
        "SELECT lineage, serial, state_version, observed::text FROM state_heads WHERE sandbox = %s",
        key,
    ).fetchone()
    if head is None:
        return None
    lineage, serial, version, observed = head
    if version != STATE_VERSION:
        raise StateFileError(
            f"the state {store.where} has state version {version}, not {STATE_VERSION}; "
            "upgrade reconciler"
        )
    runs: dict[tuple[str, int], str] = {}
    if whole:
        runs = {(address, seq): text for address, seq, text in conn.execute(_ALL_RUNS, key)}
    archived: Archived = {}
    # The server writes each resource's runs as JSON text (C, not Python, per run), and the
    # whole state is parsed in one go by pydantic-core, as the state file is.
    parts = []
    for address, kind, body, head_runs, held in conn.execute(
        _WHOLE_RESOURCES if whole else _HEAD_RESOURCES, key
    ):
        text = head_runs if not whole else runs.get((address, 0))
        parts.append(f"{json.dumps(address)}:{_with_runs(kind, body, text)}")
        if held:
            archived[(address, 0)] = held
    retired = []
    for seq, address, at, reason, kind, body, head_runs, held in conn.execute(
        _WHOLE_RETIRED if whole else _HEAD_RETIRED, key
    ):
        text = head_runs if not whole else runs.get((address, seq))
        retired.append(
            f'{{"address":{json.dumps(address)},"retiredAt":{at},"reason":{json.dumps(reason)},'
            f'"resource":{_with_runs(kind, body, text)}}}'
        )
        if held:
            archived[(address, seq)] = held
    pending = [
        body
        for (body,) in conn.execute(
            "SELECT body::text FROM pending_intents WHERE sandbox = %s ORDER BY position", key
        )
    ]
    text = (
        f'{{"version":{STATE_VERSION},"lineage":{json.dumps(lineage)},"serial":{serial},'
        f'"sandbox":{json.dumps(store.sandbox)},"resources":{{{",".join(parts)}}},'
        f'"pending":[{",".join(pending)}],"observed":{observed},'
        f'"retired":[{",".join(retired)}]}}'
    )
    try:
        with gc_paused():
            state = State.model_validate_json(text, strict=True)
    except ValidationError as exc:
        raise StateFileError(
            f"the state {store.where} does not read ({first_error(exc)}); repair the rows "
            "or restore the database from a backup"
        ) from exc
    return state, archived


class PgClaims:
    """The claimed job ids of the history's runs: asked of the tables, never loaded.

    `connection()` lends a connection (the lock's while it is held, else a new one) for each
    question; it answers for what the tables hold when asked (a head's written runs included,
    which the head's own set holds too).
    """

    def __init__(
        self,
        store: PostgresStore,
        connection: Callable[[], Any],
    ) -> None:
        self._store = store
        self._connection = connection

    def _ask(self, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        import psycopg

        try:
            with self._connection() as conn:
                return list(conn.execute(query, {"sandbox": self._store.sandbox, **params}))
        except psycopg.Error as exc:
            raise self._store._failed("read", exc) from None

    def among(self, job_ids: Iterable[int]) -> set[int]:
        ids = sorted({int(i) for i in job_ids})
        if not ids:
            return set()
        return {int(row[0]) for row in self._ask(_AMONG, {"ids": ids})}

    def max_job_id(self) -> int | None:
        rows = self._ask(_MAX, {})
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def all_job_ids(self) -> set[int]:
        return {int(row[0]) for row in self._ask(_ALL, {})}
