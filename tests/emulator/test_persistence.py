"""Restarts lose nothing; two emulators in one process share nothing; the serve command runs."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from reconciler.emulator.server import EmulatorStartError, start_in_thread

from .helpers import DATASETS, JOBS, Api, get_token


def test_a_restart_keeps_datasets_jobs_batches_clock_config_and_tokens(tmp_path: Path) -> None:
    data = tmp_path / "platform"
    with start_in_thread(data) as first:
        api = Api(first.base_url, get_token(first.base_url))
        api.admin("POST", "/clock", {"freeze": True})
        api.admin("POST", "/config", {"job_processing_seconds": 30, "delete_style": "200"})
        dataset_id = api.create_dataset("kept")
        done = api.create_job(dataset_id)
        api.advance(40)
        batch_id = api.job(done["id"])["destination"]["batchId"]
        running = api.create_job(dataset_id)
        clock = api.admin("GET", "/clock").json()
        token = api.token
    with start_in_thread(data) as second:
        api = Api(second.base_url, token)  # tokens are stored too
        assert api.admin("GET", "/clock").json() == clock
        assert api.admin("GET", "/config").json()["delete_style"] == "200"
        assert api.get(f"{DATASETS}/{dataset_id}").json()[dataset_id]["name"] == "kept"
        assert api.job(done["id"])["status"] == "SUCCEEDED"
        assert api.job(running["id"])["status"] == "NEW"
        batch = api.get(f"/data/foundation/catalog/batches/{batch_id}").json()[batch_id]
        assert batch["status"] == "success"
        files = api.get(f"/data/foundation/export/batches/{batch_id}/files").json()["data"]
        assert len(files) == 1
        api.advance(40)
        assert api.job(running["id"])["status"] == "SUCCEEDED"
        assert [r["id"] for r in api.get(JOBS).json()["records"]] == [running["id"], done["id"]]


def test_two_emulators_in_one_process_are_independent(tmp_path: Path) -> None:
    with start_in_thread(tmp_path / "a") as one, start_in_thread(tmp_path / "b") as two:
        assert one.base_url != two.base_url
        a = Api(one.base_url, get_token(one.base_url))
        b = Api(two.base_url, get_token(two.base_url))
        a.create_dataset("only in a")
        assert b.get(DATASETS).json() == {}
        # Tokens belong to the emulator that issued them.
        assert Api(two.base_url, a.token).get(DATASETS).status_code == 401
        a.admin("POST", "/clock", {"freeze": True, "set_ms": 1_000})
        assert b.admin("GET", "/clock").json()["frozen"] is False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_serve_command_answers_until_stopped(tmp_path: Path) -> None:
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "reconciler",
        "emulator",
        "serve",
        "--port",
        str(port),
        "--data",
        str(tmp_path / "served"),
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"{base}/_emulator/clock", timeout=1).raise_for_status()
                break
            except requests.ConnectionError:
                assert server.poll() is None, server.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert Api(base, get_token(base)).get(DATASETS).status_code == 200
        assert (tmp_path / "served" / "emulator.sqlite3").exists()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with start_in_thread(tmp_path / "first") as first:
        port = int(first.base_url.rsplit(":", 1)[1])
        with pytest.raises(EmulatorStartError, match="could not listen"):
            start_in_thread(tmp_path / "second", port=port)
        assert requests.get(f"{first.base_url}/_emulator/clock", timeout=5).status_code == 200
