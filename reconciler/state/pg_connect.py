"""Where the PostgreSQL state is: the connection from the environment only, never a password shown."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reconciler.errors import ReconcilerError

if TYPE_CHECKING:
    import psycopg

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


def scrub(text: str, target: PgTarget) -> str:
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
            f"{scrub(str(exc), target)}; check {URL_VARIABLE} or the PG* variables"
        ) from None
    conn.execute("SET TIME ZONE 'UTC'")
    if not autocommit:
        conn.commit()
    return conn
