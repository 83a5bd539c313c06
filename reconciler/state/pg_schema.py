"""The PostgreSQL state's tables, versioned: created and migrated by `reconciler state init`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.state.pg_connect import PgTarget, StateBackendError, connect, scrub

if TYPE_CHECKING:
    import psycopg

# The schema this tool writes; `reconciler state init` brings a database up to it.
SCHEMA_VERSION = 3

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

# 2: each run's provenance as columns (the run's `doc` carried it already: copied from there),
# indexed for "runs by actor" and "runs of a commit".
_SCHEMA_V2 = """
ALTER TABLE runs
    ADD COLUMN git_commit text,
    ADD COLUMN commit_dirty boolean,
    ADD COLUMN actor text,
    ADD COLUMN ci_run text,
    ADD COLUMN tool_version text;
UPDATE runs SET
    git_commit = doc::jsonb ->> 'commit',
    commit_dirty = (doc::jsonb ->> 'commitDirty')::boolean,
    actor = doc::jsonb ->> 'actor',
    ci_run = doc::jsonb ->> 'ciRun',
    tool_version = doc::jsonb ->> 'toolVersion'
WHERE doc ~ '"(commit|commitDirty|actor|ciRun|toolVersion)":';
CREATE INDEX runs_actor ON runs (sandbox, actor, created_at) WHERE actor IS NOT NULL;
CREATE INDEX runs_git_commit ON runs (git_commit) WHERE git_commit IS NOT NULL;
"""

# 3: the head (issue 16): a resource's `body` says how many of its oldest runs are its history
# (`archivedRuns`); a head read asks which job ids the history claims, by (sandbox, job_id); a
# retired resource's rows move to its entry's seq with UPDATE, its batches following.
_SCHEMA_V3 = """
CREATE INDEX runs_sandbox_job_id ON runs (sandbox, job_id);
ALTER TABLE batches
    DROP CONSTRAINT batches_sandbox_address_retired_seq_run_position_fkey,
    ADD CONSTRAINT batches_run_fkey FOREIGN KEY (sandbox, address, retired_seq, run_position)
        REFERENCES runs (sandbox, address, retired_seq, position)
        ON DELETE CASCADE ON UPDATE CASCADE;
"""

# version N -> the SQL that brings a version N-1 schema to N (0: no tables yet).
SCHEMA_STEPS: Mapping[int, str] = {1: _SCHEMA_V1, 2: _SCHEMA_V2, 3: _SCHEMA_V3}


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The schema version of the connection's current schema (0: no tables yet)."""
    row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    found = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(found[0]) if found else 0


def init_schema(target: PgTarget, upto: int = SCHEMA_VERSION) -> tuple[int, int]:
    """Create or migrate the tables (to version `upto`); (version before, version after)."""
    import psycopg

    try:
        return _init_schema(target, upto)
    except psycopg.Error as exc:
        raise StateBackendError(
            f"cannot create the state tables at {target.display}: {scrub(str(exc), target)}"
        ) from None


def _init_schema(target: PgTarget, upto: int) -> tuple[int, int]:
    with connect(target) as conn:
        with conn.transaction():
            # One initializer at a time (two CI jobs starting together).
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '/schema', 0))"
            )
            before = schema_version(conn)
            if before > SCHEMA_VERSION:
                raise newer(before, target)
            if before == 0:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version ("
                    "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
            for version in range(before + 1, upto + 1):
                conn.execute(SCHEMA_STEPS[version].encode())
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
        return before, max(before, upto)


def newer(version: int, target: PgTarget) -> StateBackendError:
    return StateBackendError(
        f"the PostgreSQL state at {target.display} has schema version {version}, newer than "
        f"this reconciler uses ({SCHEMA_VERSION}); upgrade reconciler"
    )
