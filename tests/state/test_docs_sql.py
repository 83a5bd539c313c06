"""The example queries of docs/state.md run as written against a real state (issue 16)."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
from test_lineage import COMMIT, history

from reconciler.state.postgres import PostgresStore

DOC = Path(__file__).resolve().parents[2] / "docs" / "state.md"


def _queries() -> list[str]:
    blocks = re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    return [q.strip() for block in blocks for q in block.split(";") if q.strip()]


def test_every_example_query_runs_and_the_batch_query_finds_its_run(
    pg_store: PostgresStore,
) -> None:
    state = history()
    with pg_store.lock() as writer:
        writer.read()
        writer.write(state)
    queries = _queries()
    assert len(queries) >= 10
    target = pg_store.target
    with psycopg.connect(target.conninfo, options=target.params["options"]) as conn:
        for query in queries:
            conn.execute(query.replace("'batch-1'", "'batch-114'")).fetchall()
        [row] = conn.execute(queries[0].replace("'batch-1'", "'batch-114'")).fetchall()
        assert row[1] == "exportjob/daily" and row[3] == 114 and row[9] == COMMIT
        assert row[14] == {"fields": "person.name", "destination": {"dataset": "crm"}}
        [seg] = conn.execute(queries[0].replace("'batch-1'", "'sb-b'")).fetchall()
        assert seg[3] == 200
        [old] = conn.execute(queries[0].replace("'batch-1'", "'batch-101'")).fetchall()
        assert old[14] is None  # made from an older request: only its fingerprint is kept
        [gone] = conn.execute(queries[0].replace("'batch-1'", "'batch-300'")).fetchall()
        assert gone[2] is True and gone[14] == {"fields": "x"}
        by_actor = conn.execute(queries[1].replace("date_trunc('year', now())", "'2026-01-01'"))
        assert [r[2] for r in by_actor] == [114]
        by_commit = conn.execute(
            queries[2].replace("0123456789abcdef0123456789abcdef01234567", COMMIT)
        )
        assert [r[2] for r in by_commit] == [114]
