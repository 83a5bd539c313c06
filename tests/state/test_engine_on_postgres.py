"""The engine's commands on the PostgreSQL backend, end to end against the emulator over HTTP.

The real command line (the engine's `store_for` opens the backend reconciler.yaml names), the
real emulator and the real server.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from reconciler.cli import main
from reconciler.emulator.server import RunningEmulator, start_in_thread
from reconciler.engine.connect import LOCAL_ENDPOINT_ENV
from reconciler.state import ExportJobResource, StateStore
from reconciler.state.postgres import PgTarget, PostgresStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[RunningEmulator]:
    emu = start_in_thread(tmp_path / "emulator")
    with emu:
        requests.post(
            f"{emu.base_url}/_emulator/config",
            json={"job_new_seconds": 0.2, "job_processing_seconds": 0.3},
            timeout=10,
        ).raise_for_status()
        yield emu


def _run(root: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["-C", str(root), *args])
        except SystemExit as stop:
            code = int(stop.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_apply_plan_status_and_state_commands_on_postgres(
    tmp_path: Path,
    emulator: RunningEmulator,
    pg_env: dict[str, str],
    pg_target: PgTarget,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {**pg_env, LOCAL_ENDPOINT_ENV: emulator.base_url}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RECONCILER_SETTLE_SECONDS", "1")
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "specs", root / "specs")
    (root / "reconciler.yaml").write_text(
        "platform: local\nsandbox: pgtest\nspecs: [specs]\nstate: {backend: postgres}\n"
    )

    code, out, err = _run(root, "apply", "--auto-approve", "--wait", "--timeout", "60s")
    assert code == 0, err
    store = PostgresStore(pg_target, "pgtest")
    state = store.read()
    assert len(state.resources) == 4 and state.pending == [] and state.serial >= 1
    assert not (root / ".reconciler" / "state").exists()  # nothing went to the file backend
    assert store.holder() is None

    code, out, err = _run(root, "plan", "--detailed-exitcode")
    assert code == 0, out + err  # converged: nothing to do
    code, out, err = _run(root, "state", "list")
    assert code == 0 and all(address in out for address in state.resources), err
    code, out, err = _run(root, "status")
    assert code == 0 and all(address in out for address in state.resources), err
    # a second apply while another process holds the lock fails fast naming it
    with store.lock("reconciler apply (other pipeline)"):
        code, out, err = _run(root, "apply", "--auto-approve")
    assert code == 1 and "locked by pid" in err and "(other pipeline)" in err, err

    # lineage answers from the tables: a real run's job id and batch id
    address, job = next(
        (a, r) for a, r in state.resources.items() if isinstance(r, ExportJobResource) and r.runs
    )
    run = job.newest_run()
    assert run is not None and run.batchId
    for ident in (str(run.jobId), run.batchId):
        code, out, err = _run(root, "lineage", ident, "--format", "json")
        assert code == 0, err
        [found] = json.loads(out)["runs"]
        assert (found["address"], found["jobId"]) == (address, run.jobId)
        assert found["request"] == job.request and found["toolVersion"] == run.toolVersion

    # and the file backend gets exactly the same state
    code, out, err = _run(root, "state", "migrate", "--to", "local")
    assert code == 0, err
    local = StateStore(root / ".reconciler" / "state" / "pgtest.json", "pgtest").read()
    assert local == store.read()


_APPLY = """
import sys
from reconciler.cli import main
main(sys.argv[1:])
"""


def test_an_apply_killed_holding_the_lock_is_completed_by_the_next_one(
    tmp_path: Path,
    emulator: RunningEmulator,
    pg_env: dict[str, str],
    pg_target: PgTarget,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os
    import random
    import subprocess
    import sys
    import time

    from reconciler.engine.connect import local_credentials, local_endpoints
    from reconciler.platform import PlatformClient

    env = {**pg_env, LOCAL_ENDPOINT_ENV: emulator.base_url, "RECONCILER_SETTLE_SECONDS": "1"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "specs", root / "specs")
    (root / "reconciler.yaml").write_text(
        "platform: local\nsandbox: pgcrash\nspecs: [specs]\nstate: {backend: postgres}\n"
    )
    store = PostgresStore(pg_target, "pgcrash")
    rng = random.Random(16)
    for _ in range(4):
        process = subprocess.Popen(
            [sys.executable, "-c", _APPLY, "-C", str(root), "apply", "--auto-approve"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while store.holder() is None and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)  # until the apply holds the lock
        time.sleep(rng.uniform(0.0, 0.4))
        process.kill()  # SIGKILL
        process.wait(timeout=30)
        store.read()  # the state always reads, whenever the kill landed
    code, out, err = _run(root, "apply", "--auto-approve", "--wait", "--timeout", "60s")
    assert code == 0, out + err  # the server released the killed holder's lock
    state = store.read()
    assert state.pending == [] and len(state.resources) == 4
    with PlatformClient(local_endpoints(emulator.base_url), local_credentials(), "pgcrash") as c:
        live = {job.id for job in c.iter_export_jobs()}
    assert live <= state.claimed_job_ids(), "a live job is missing from state"
    code, out, err = _run(root, "plan", "--detailed-exitcode")
    assert code == 0, out + err
