"""SQLite persistence under the data directory: one connection guarded by a lock, WAL journal."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# tokens.token and credentials.client_secret hold sha256 digests, never the secrets themselves.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS credentials (
    client_id TEXT PRIMARY KEY, client_secret TEXT NOT NULL, org_id TEXT NOT NULL,
    scopes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, client_id TEXT NOT NULL, org_id TEXT NOT NULL,
    expires_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS scopes (
    org TEXT NOT NULL, sandbox TEXT NOT NULL, profiles INTEGER NOT NULL, seed INTEGER NOT NULL,
    PRIMARY KEY (org, sandbox));
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY, org TEXT NOT NULL, sandbox TEXT NOT NULL, seq INTEGER NOT NULL,
    body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS datasets_scope ON datasets (org, sandbox, seq);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, org TEXT NOT NULL, sandbox TEXT NOT NULL,
    creation_ms INTEGER NOT NULL, request TEXT NOT NULL, request_id TEXT NOT NULL,
    new_ms INTEGER NOT NULL, processing_ms INTEGER NOT NULL, outcome TEXT NOT NULL,
    cancelled_ms INTEGER, failed_ms INTEGER, fail_errors TEXT,
    materialized INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS jobs_scope ON jobs (org, sandbox, creation_ms, id);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY, org TEXT NOT NULL, sandbox TEXT NOT NULL, job_id INTEGER NOT NULL,
    dataset_id TEXT NOT NULL, segment TEXT, created_ms INTEGER NOT NULL,
    status TEXT, completed_ms INTEGER, records INTEGER, bytes INTEGER, files TEXT);
CREATE INDEX IF NOT EXISTS batches_job ON batches (job_id);
CREATE TABLE IF NOT EXISTS sandboxes (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS previews (
    id TEXT PRIMARY KEY, org TEXT NOT NULL, sandbox TEXT NOT NULL, query_id TEXT NOT NULL,
    created_progress_ms INTEGER NOT NULL, settle_ms INTEGER NOT NULL, sample_ratio REAL NOT NULL,
    request TEXT NOT NULL);
"""
# Columns added after the first release: (table, column, definition), added when missing.
_ADDED_COLUMNS = (
    # The clock's skew when the job was created: its progress does not go back with the clock.
    ("jobs", "skew_ms", "INTEGER NOT NULL DEFAULT 0"),
    # When a marked cancel was asked for: the job's own end after it is suppressed.
    ("jobs", "marked_ms", "INTEGER"),
)

# Job ids start where the seeds' examples live, so ids look like the platform's.
_FIRST_JOB_ID = 24000


class Store:
    """The emulator's database; every public method runs in one transaction under the lock."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            data_dir / "emulator.sqlite3", check_same_thread=False, isolation_level=None
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        for table, column, definition in _ADDED_COLUMNS:
            present = {r["name"] for r in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        with self.tx() as db:
            seeded = db.execute("SELECT 1 FROM sqlite_sequence WHERE name='jobs'").fetchone()
            if seeded is None:
                db.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES ('jobs', ?)", (_FIRST_JOB_ID,)
                )

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One atomic transaction; nested use joins the outer one."""
        with self._lock:
            if self._db.in_transaction:
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def get_meta(self, key: str) -> Any:
        """A JSON value stored under key, or None."""
        with self.tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row["value"])

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON value under key."""
        with self.tx() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        with self._lock:
            self._db.close()
