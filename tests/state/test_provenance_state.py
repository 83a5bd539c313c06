"""A run's provenance in both backends: stored, migrated and read back exactly (issue 16).

Unknown provenance is not written (a long history must not grow by five nulls a run), runs
recorded before provenance existed read fine, and the PostgreSQL runs table carries the fields
as columns from schema version 2 on (a version-1 database is migrated, its runs backfilled).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import psycopg
from test_store import T0, sample_state

from reconciler.config import load_settings
from reconciler.state import ExportJobResource, Run, State, StateStore, models
from reconciler.state.backends import migrate
from reconciler.state.postgres import (
    SCHEMA_VERSION,
    PgTarget,
    PostgresStore,
    init_schema,
    pg_target,
)

PROVENANCE = {
    "commit": "0123456789abcdef0123456789abcdef01234567",
    "commitDirty": False,
    "actor": "octo-engineer",
    "ciRun": "https://gitlab.example.com/data/specs/-/jobs/99",
    "toolVersion": "1.2.3",
}


def with_provenance() -> State:
    """sample_state's run (no provenance) followed by a run that has all of it."""
    state = sample_state()
    job = state.export_job("exportjob/daily")
    assert job is not None
    newer = Run.model_validate(
        {
            **job.runs[0].model_dump(exclude=set(PROVENANCE)),
            "jobId": 43,
            "createdAt": T0 + timedelta(days=1),
            **PROVENANCE,
        }
    )
    job.runs = [*job.runs, newer]
    return state


def test_the_state_file_keeps_provenance_and_writes_no_null_keys(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "prod.json", "prod")
    with store.lock() as writer:
        writer.read()
        written = writer.write(with_provenance())
    text = store.path.read_text()
    runs = json.loads(text)["resources"]["exportjob/daily"]["runs"]
    assert set(PROVENANCE).isdisjoint(runs[0])  # unknown: not written at all
    assert {k: runs[1][k] for k in PROVENANCE} == PROVENANCE
    back = store.read()
    assert back == written
    old, new = back.resources["exportjob/daily"].runs  # type: ignore[union-attr]
    assert (old.commit, old.actor, old.toolVersion) == (None, None, None)
    assert new.model_dump(include=set(PROVENANCE)) == PROVENANCE
    # read from the file, both share one set of field names (memory per run stays low)
    assert old.__pydantic_fields_set__ is models._RUN_FIELDS
    assert new.__pydantic_fields_set__ is models._RUN_FIELDS


def test_a_journal_line_adds_provenance_without_nulls(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "prod.json", "prod")
    with store.lock() as writer:
        writer.read()
        state = writer.write(sample_state())
        after = with_provenance().model_copy(
            update={"serial": state.serial, "lineage": state.lineage}
        )
        state = writer.write(after, changed=["exportjob/daily"])
        line = store.journal_path.read_text()
        assert '"toolVersion":"1.2.3"' in line and '"commit":null' not in line
    assert store.read() == state


def test_postgres_stores_provenance_in_doc_and_columns(pg_store: PostgresStore) -> None:
    with pg_store.lock() as writer:
        writer.read()
        written = writer.write(with_provenance())
    assert pg_store.read() == written
    with psycopg.connect(pg_store.target.conninfo, options=pg_store.target.params["options"]) as c:
        rows = c.execute(
            "SELECT job_id, git_commit, commit_dirty, actor, ci_run, tool_version, doc "
            "FROM runs ORDER BY job_id"
        ).fetchall()
    assert rows[0][1:6] == (None,) * 5 and '"commit"' not in rows[0][6]
    assert rows[1][:6] == (43, *PROVENANCE.values())
    assert json.loads(rows[1][6])["actor"] == "octo-engineer"


def test_migrate_local_postgres_local_keeps_provenance_exactly(
    tmp_path: Path, pg_env: dict[str, str]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "reconciler.yaml").write_text("sandbox: prod\n")
    settings = load_settings(project, env={})
    local = StateStore(settings.state_path, "prod")
    with local.lock() as writer:
        writer.read()
        original = writer.write(with_provenance())
    text = local.path.read_text()
    assert migrate(settings, "postgres", pg_env).copied
    assert PostgresStore(pg_target(pg_env), "prod").read() == original
    local.path.unlink()
    assert migrate(settings, "local", pg_env).copied
    assert local.read() == original
    assert local.path.read_text() == text  # byte for byte: no null provenance appeared


def _execute(target: PgTarget, sql: str, params: tuple[object, ...] = ()) -> list[tuple]:  # type: ignore[type-arg]
    with psycopg.connect(target.conninfo, options=target.params["options"]) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def test_a_version_1_database_is_migrated_and_its_runs_backfilled(pg_env: dict[str, str]) -> None:
    target = pg_target(pg_env)
    assert init_schema(target, upto=1) == (0, 1)
    state = with_provenance()
    job = state.export_job("exportjob/daily")
    assert isinstance(job, ExportJobResource)
    # rows as a version-1 writer left them: provenance only inside each run's doc
    _execute(
        target,
        "INSERT INTO state_heads (sandbox, lineage, serial, state_version, observed) "
        "VALUES ('prod', 'l-1', 3, 2, '{}')",
    )
    _execute(
        target,
        "INSERT INTO resources (sandbox, address, kind, body) VALUES ('prod', %s, %s, %s)",
        (
            "exportjob/daily",
            "ExportJob",
            json.dumps(job.model_dump(mode="json", exclude={"runs"})),
        ),
    )
    for position, run in enumerate(job.runs):
        _execute(
            target,
            "INSERT INTO runs (sandbox, address, position, job_id, fingerprint, status, "
            "created_at, reason, doc) VALUES ('prod', 'exportjob/daily', %s, %s, %s, %s, %s, "
            "%s, %s)",
            (position, run.jobId, run.fingerprint, run.status, run.createdAt, run.reason,
             run.model_dump_json()),
        )  # fmt: skip
    assert init_schema(target) == (1, SCHEMA_VERSION)
    assert init_schema(target) == (SCHEMA_VERSION, SCHEMA_VERSION)
    rows = _execute(
        target,
        "SELECT job_id, git_commit, commit_dirty, actor, ci_run, tool_version FROM runs "
        "ORDER BY job_id",
    )
    assert rows == [(42, None, None, None, None, None), (43, *PROVENANCE.values())]
    read = PostgresStore(target, "prod").read()
    assert read.resources["exportjob/daily"] == job
    assert _execute(
        target,
        "SELECT job_id FROM runs WHERE sandbox = 'prod' AND actor = 'octo-engineer'",
    ) == [(43,)]
