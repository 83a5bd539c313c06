"""The PostgreSQL backend's own behaviour: connection from the environment only, one-line errors
without a password, the versioned schema, two writers racing, and `state init` / `state migrate`
through the real command line (local -> postgres -> local round trip)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest
from test_store import sample_state

from reconciler.config import load_settings
from reconciler.state import State, StateStore, UnmanagedJob
from reconciler.state.backends import open_store
from reconciler.state.postgres import (
    SCHEMA_VERSION,
    PgTarget,
    PostgresStore,
    StateBackendError,
    init_schema,
    pg_target,
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def reconciler(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "-C", str(project), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_no_connection_in_the_environment_is_one_line() -> None:
    with pytest.raises(StateBackendError) as info:
        pg_target({"HOME": "/root"})
    message = str(info.value)
    assert "RECONCILER_STATE_URL" in message and "PG*" in message and "\n" not in message


def test_a_refused_connection_is_one_line_without_the_password(tmp_path: Path) -> None:
    port = _free_port()  # nothing listens there
    url = f"postgresql://alice:s3cret-pw@127.0.0.1:{port}/states"
    store = PostgresStore(pg_target({"RECONCILER_STATE_URL": url}), "prod")
    with pytest.raises(StateBackendError) as info:
        store.read()
    message = str(info.value)
    assert message.startswith(
        f"cannot connect to the PostgreSQL state at postgresql://alice@127.0.0.1:{port}/states: "
    )
    assert "s3cret-pw" not in message and "\n" not in message
    # the same through the command line: exit 1, one line on stderr, the password nowhere
    result = reconciler(
        tmp_path,
        {"RECONCILER_STATE_URL": url, "PGPASSWORD": "other-pw"},
        "state",
        "migrate",
        "--to",
        "local",
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: cannot connect")
    assert "s3cret-pw" not in result.stderr and "other-pw" not in result.stderr
    assert not (tmp_path / ".reconciler").exists()  # nothing was written


def test_a_password_libpq_echoes_is_scrubbed(pg_server: str) -> None:
    # the test server trusts every local connection, so check the scrubbing on a message that
    # carries the password verbatim (libpq echoes a bad option's value)
    target = pg_target(
        {"RECONCILER_STATE_URL": pg_server, "PGPASSWORD": "pw-123", "PGSSLMODE": "pw-123"}
    )
    with pytest.raises(StateBackendError) as info:
        PostgresStore(target, "prod").read()
    assert "pw-123" not in str(info.value) and "***" in str(info.value)


def test_tables_missing_or_newer_name_the_command(pg_env: dict[str, str]) -> None:
    target = pg_target(pg_env)
    store = PostgresStore(target, "prod")
    with pytest.raises(
        StateBackendError, match=r"has no reconciler tables; run 'reconciler state init'"
    ):
        store.read()
    assert init_schema(target) == (0, SCHEMA_VERSION)
    assert init_schema(target) == (SCHEMA_VERSION, SCHEMA_VERSION)  # idempotent
    assert store.read().serial == 0
    with psycopg.connect(
        pg_env["RECONCILER_STATE_URL"], options=pg_env["PGOPTIONS"], autocommit=True
    ) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(
        StateBackendError, match=r"newer than this reconciler uses .*; upgrade reconciler"
    ):
        store.read()


def test_the_tables_are_what_docs_state_md_says(
    pg_target: PgTarget, pg_env: dict[str, str]
) -> None:
    store = PostgresStore(pg_target, "prod")
    with store.lock() as writer:
        written = writer.write(sample_state())
    with psycopg.connect(pg_env["RECONCILER_STATE_URL"], options=pg_env["PGOPTIONS"]) as conn:
        head = conn.execute(
            "SELECT lineage, serial FROM state_heads WHERE sandbox = 'prod'"
        ).fetchone()
        assert head == (written.lineage, 1)
        run = conn.execute(
            "SELECT r.address, r.job_id, r.status, b.batch_id FROM runs r JOIN batches b "
            "USING (sandbox, address, retired_seq) WHERE b.run_position = r.position"
        ).fetchall()
        assert run == [("exportjob/daily", 42, "SUCCEEDED", "b1")]
        intent = conn.execute("SELECT id, address, outcome FROM pending_intents").fetchall()
        assert intent == [("i1", "exportjob/daily", "pending")]
        assert conn.execute("SELECT count(*) FROM locks").fetchone() == (0,)


_RACER = textwrap.dedent(
    """
    import os, sys, time
    from reconciler.state import State, StateLocked
    from reconciler.state.postgres import PostgresStore, pg_target
    store = PostgresStore(pg_target(os.environ), "prod")
    print("ready", flush=True)
    sys.stdin.readline()  # both start together
    try:
        with store.lock(command=f"reconciler apply (racer {sys.argv[1]})") as writer:
            state = writer.write(writer.read())
            print("won", flush=True)
            time.sleep(1.5)  # holds the lock while the other one tries
    except StateLocked as exc:
        print("lost", exc, flush=True)
    """
)


def test_two_concurrent_writers_one_wins_the_other_fails_fast_naming_it(
    pg_target: PgTarget, pg_env: dict[str, str]
) -> None:
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **pg_env},
        )
        for n in (1, 2)
    ]
    for racer in racers:
        assert racer.stdout is not None and racer.stdout.readline().strip() == "ready"
    for racer in racers:
        assert racer.stdin is not None
        racer.stdin.write("go\n")
        racer.stdin.flush()
    lines = [racer.communicate(timeout=30)[0].strip() for racer in racers]
    won = [n for n, line in enumerate(lines, 1) if line == "won"]
    lost = [line for line in lines if line.startswith("lost ")]
    assert len(won) == 1 and len(lost) == 1, lines
    winner = racers[won[0] - 1]
    assert (
        f"pid {winner.pid} on {socket.gethostname()} running 'reconciler apply (racer {won[0]})'"
        in lost[0]
    )
    assert "of sandbox 'prod'" in lost[0]
    assert PostgresStore(pg_target, "prod").read().serial == 1


def test_states_of_two_sandboxes_are_apart(pg_target: PgTarget) -> None:
    prod, dev = PostgresStore(pg_target, "prod"), PostgresStore(pg_target, "dev")
    with prod.lock() as writer, dev.lock():  # two locks: one each
        writer.write(sample_state())
    assert prod.read().serial == 1 and dev.read() == State(sandbox="dev")


def test_open_store_follows_the_settings(tmp_path: Path, pg_env: dict[str, str]) -> None:
    (tmp_path / "reconciler.yaml").write_text("sandbox: dev\n")
    local = open_store(load_settings(tmp_path, env={}), pg_env)
    assert (
        isinstance(local, StateStore)
        and local.path == tmp_path.resolve() / ".reconciler/state/dev.json"
    )
    (tmp_path / "reconciler.yaml").write_text("sandbox: dev\nstate: {backend: postgres}\n")
    remote = open_store(load_settings(tmp_path, env={}), pg_env)
    assert isinstance(remote, PostgresStore) and remote.sandbox == "dev"
    with pytest.raises(StateBackendError, match="names no database"):
        open_store(load_settings(tmp_path, env={}), {})


def _history_state() -> State:
    """A state with runs, a retired resource, an intent and observations to copy."""
    state = sample_state()
    state.observed.watermarkJobId = 77
    state.observed.unmanagedJobs[9] = UnmanagedJob(status="SUCCEEDED", createdMs=5)
    job = state.export_job("exportjob/daily")
    assert job is not None
    state.resources["exportjob/old"] = job.model_copy(deep=True)
    state.retire("exportjob/old", reason="forget", at=job.runs[0].createdAt)
    return state


def test_migrate_round_trips_local_to_postgres_to_local(
    tmp_path: Path, pg_env: dict[str, str]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "reconciler.yaml").write_text("state: {backend: postgres}\n")
    local = StateStore(project / ".reconciler/state/prod.json", "prod")
    with local.lock() as writer:
        writer.write(State(sandbox="prod"))
        original = writer.write(_history_state().model_copy(update={"serial": 1}))
    assert original.serial == 2 and original.retired and original.pending

    result = reconciler(project, pg_env, "state", "init")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("created the state tables at postgresql://")
    result = reconciler(project, pg_env, "state", "migrate", "--to", "postgres")
    assert result.returncode == 0, result.stderr
    assert "(serial 2, 2 resources, 1 runs)" in result.stdout
    assert "set 'state.backend" not in result.stdout  # reconciler.yaml already says postgres
    remote = PostgresStore(pg_target(pg_env), "prod")
    assert remote.read() == original

    # the local copy goes; back from postgres into a new file
    local.path.unlink()
    result = reconciler(project, pg_env, "state", "migrate", "--to", "local")
    assert result.returncode == 0, result.stderr
    assert "set 'state.backend: local' in reconciler.yaml (or RECONCILER_STATE_BACKEND=local)" in (
        result.stdout
    )
    back = local.read()
    assert back == original and back.to_json() == original.to_json()
    # again: already there, nothing written
    result = reconciler(project, pg_env, "state", "migrate", "--to", "local")
    assert result.returncode == 0 and "already is the state" in result.stdout


def test_migrate_never_overwrites_another_state(
    tmp_path: Path, pg_env: dict[str, str], pg_target: PgTarget
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    local = StateStore(project / ".reconciler/state/prod.json", "prod")
    with local.lock() as writer:
        writer.write(sample_state())
    with PostgresStore(pg_target, "prod").lock() as writer:
        other = writer.write(State())
    result = reconciler(project, pg_env, "state", "migrate", "--to", "postgres")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert f"already holds a state (lineage {other.lineage}, serial 1)" in result.stderr
    assert PostgresStore(pg_target, "prod").read() == other


def test_a_write_touches_only_the_rows_of_the_addresses_it_names(
    pg_target: PgTarget, pg_env: dict[str, str]
) -> None:
    store = PostgresStore(pg_target, "prod")

    def versions() -> dict[tuple[str, int], str]:
        # xmin: the transaction that last wrote the row
        with psycopg.connect(pg_env["RECONCILER_STATE_URL"], options=pg_env["PGOPTIONS"]) as conn:
            rows = conn.execute("SELECT address, position, xmin::text FROM runs").fetchall()
        return {(a, p): x for a, p, x in rows}

    with store.lock() as writer:
        state = sample_state()
        job = state.export_job("exportjob/daily")
        assert job is not None
        state.resources["exportjob/other"] = job.model_copy(deep=True)
        state = writer.write(state)
        before = versions()
        job = state.export_job("exportjob/daily")
        assert job is not None
        newer = job.runs[0].model_copy(update={"jobId": 43, "status": "PROCESSING"})
        state.resources["exportjob/daily"] = job.model_copy(update={"runs": [*job.runs, newer]})
        state = writer.write(state, ["exportjob/daily"])
    after = versions()
    assert set(after) == {*before, ("exportjob/daily", 1)}
    # the unchanged run of the named address and every run of the other one were not rewritten
    assert after[("exportjob/daily", 0)] == before[("exportjob/daily", 0)]
    assert after[("exportjob/other", 0)] == before[("exportjob/other", 0)]
    assert store.read() == state


def _doc_queries() -> list[str]:
    text = (Path(__file__).resolve().parents[2] / "docs" / "state.md").read_text()
    blocks = re.findall(r"```sql\n(.*?)```", text, flags=re.S)
    return [q.strip() for block in blocks for q in block.split(";\n") if q.strip()]


def test_the_example_queries_of_docs_state_md_run_and_answer(
    pg_target: PgTarget, pg_env: dict[str, str]
) -> None:
    queries = _doc_queries()
    assert len(queries) >= 8
    store = PostgresStore(pg_target, "prod")
    with store.lock() as writer:
        writer.write(_history_state())
        with psycopg.connect(pg_env["RECONCILER_STATE_URL"], options=pg_env["PGOPTIONS"]) as conn:
            answers = [conn.execute(q.replace("'batch-1'", "'b1'")).fetchall() for q in queries]
    assert queries[0].startswith("SELECT r.sandbox, r.address, r.retired_seq > 0 AS retired")
    # batch b1 was written by job 42 of exportjob/daily and, as history, of the retired copy
    assert sorted((a[1], a[2], a[3]) for a in answers[0]) == [
        ("exportjob/daily", False, 42),
        ("exportjob/old", True, 42),
    ]
    holders = next(a for q, a in zip(queries, answers, strict=True) if "FROM locks l" in q)
    assert [(h[0], h[1]) for h in holders] == [("prod", os.getpid())]


def test_the_command_line_imports_psycopg_only_for_the_postgres_backend(tmp_path: Path) -> None:
    probe = (
        "import sys\nfrom reconciler.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('psycopg' in sys.modules)"
    )
    for args in (["--help"], ["state", "--help"], ["-C", str(tmp_path), "state", "list"]):
        done = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=60
        )
        assert done.stdout.strip().splitlines()[-1] == "False", (args, done.stderr)


def test_a_search_path_without_a_schema_is_one_line(pg_server: str) -> None:
    env = {"RECONCILER_STATE_URL": pg_server, "PGOPTIONS": "-c search_path=no_such_schema"}
    with pytest.raises(StateBackendError) as info:
        init_schema(pg_target(env))
    message = str(info.value)
    assert message.startswith("cannot create the state tables at postgresql://")
    assert "\n" not in message


def test_a_failed_write_leaves_the_state_as_it_was_and_the_next_write_whole(
    pg_target: PgTarget,
) -> None:
    store = PostgresStore(pg_target, "prod")
    with store.lock() as writer:
        first = writer.write(sample_state())
        job = first.export_job("exportjob/daily")
        assert job is not None
        bad = job.runs[0].model_copy(update={"jobId": 43, "reason": "nul \x00 inside"})
        broken = first.model_copy(deep=True)
        broken.resources["exportjob/daily"] = job.model_copy(update={"runs": [*job.runs, bad]})
        broken.resources["dataset/crm"] = broken.resources["dataset/crm"].model_copy(
            update={"name": "renamed"}
        )
        with pytest.raises(StateBackendError) as info:
            writer.write(broken, ["dataset/crm", "exportjob/daily"])  # the dataset goes first
        assert "\n" not in str(info.value) and "cannot write the PostgreSQL state" in str(
            info.value
        )
        assert store.read() == first  # one transaction: the dataset's row was rolled back too
        good = broken.model_copy(deep=True)
        good.resources["exportjob/daily"] = job
        second = writer.write(good, ["exportjob/daily"])  # names too little: written whole
    assert store.read() == second and second.dataset("dataset/crm").name == "renamed"  # type: ignore[union-attr]
