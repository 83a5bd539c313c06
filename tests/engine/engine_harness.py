"""Helpers for end-to-end engine tests: a temp specs repository driving the CLI against an emulator."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from reconciler.cli import main
from reconciler.emulator.server import RunningEmulator, start_in_thread
from reconciler.engine.connect import LOCAL_ENDPOINT_ENV, local_credentials, local_endpoints
from reconciler.platform import PlatformClient
from reconciler.spec.canonical import normalize_request
from reconciler.state import State, StateStore, parse_state, write_atomic
from reconciler.state.backends import BACKEND_VARIABLE
from reconciler.state.protocol import Store

ROOT = Path(__file__).resolve().parents[2]
_SANDBOXES = itertools.count()


@dataclass
class Result:
    """What one command run printed and returned."""

    code: int
    out: str
    err: str


@dataclass
class Project:
    """A temporary specs repository pointed at the module's emulator, in its own sandbox."""

    root: Path
    sandbox: str
    base_url: str
    # datasets the sandbox held before the project applied anything (the platform's own
    # system datasets under the realistic catalog): not this repository's, so tests skip them
    baseline_datasets: frozenset[str] = frozenset()

    def own_findings(self, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Plan JSON findings, without those about the sandbox's baseline datasets."""
        return [
            f
            for f in findings
            if (f.get("evidence") or {}).get("datasetId") not in self.baseline_datasets
            or f["address"].startswith("exportjob")
        ]

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AEP_")}
        env[LOCAL_ENDPOINT_ENV] = self.base_url
        return env

    @property
    def state_path(self) -> Path:
        return self.root / ".reconciler" / "state" / f"{self.sandbox}.json"

    def store(self) -> Store:
        """The project's state in the backend the tests run on (the conftest's `state_backend`)."""
        return store_at(self.state_path, self.sandbox)

    def state(self) -> State:
        return self.store().read()

    def write(self, relative: str, text: str) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def run(self, *args: str) -> Result:
        """The CLI in-process (fast): main() with captured stdout and stderr."""
        out, err = io.StringIO(), io.StringIO()
        code = 0
        old = os.environ.get(LOCAL_ENDPOINT_ENV)
        os.environ[LOCAL_ENDPOINT_ENV] = self.base_url
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    main(["-C", str(self.root), *args])
                except SystemExit as stop:
                    code = int(stop.code or 0)
        finally:
            if old is None:
                del os.environ[LOCAL_ENDPOINT_ENV]
            else:
                os.environ[LOCAL_ENDPOINT_ENV] = old
        return Result(code, out.getvalue(), err.getvalue())

    def spawn(self, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
        """The CLI as a separate process (for kills and concurrency)."""
        return subprocess.Popen(
            [sys.executable, "-m", "reconciler", "-C", str(self.root), *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kwargs,
        )

    def client(self) -> PlatformClient:
        return PlatformClient(local_endpoints(self.base_url), local_credentials(), self.sandbox)

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call an /_emulator/ endpoint in this project's sandbox (out-of-band changes)."""
        response = requests.request(
            method,
            f"{self.base_url}/_emulator{path}",
            json=body,
            headers={"x-sandbox-name": self.sandbox},
            timeout=10,
        )
        response.raise_for_status()
        return response.json() if response.content else None


def on_postgres() -> bool:
    """Whether this test runs on the PostgreSQL backend (the conftest sets the variable)."""
    return os.environ.get(BACKEND_VARIABLE) == "postgres"


def _is_state_file(path: Path) -> bool:
    return path.suffix == ".json" and path.parent.parts[-2:] == (".reconciler", "state")


def store_at(path: Path, sandbox: str | None = None) -> Store:
    """The state a project keeps at `path`: that file, or on PostgreSQL its sandbox's state.

    Under the postgres backend the conftest gives test modules this in place of `StateStore`,
    so a test that locks or reads "the state file" locks and reads the state the CLI uses.
    """
    if on_postgres() and _is_state_file(Path(path)):
        from reconciler.state.postgres import PostgresStore, pg_target

        return PostgresStore(pg_target(os.environ), sandbox or Path(path).stem)
    return StateStore(path, sandbox)


def write_state_text(path: Path, text: str) -> None:
    """`write_atomic` of a state file's text, or on PostgreSQL the same state written there."""
    if not (on_postgres() and _is_state_file(Path(path))):
        write_atomic(path, text)
        return
    state = parse_state(text, str(path))
    with store_at(path, state.sandbox or None).lock("test: edit the state") as writer:
        writer.read()
        writer.replace(state)


@contextlib.contextmanager
def full_echo(base_url: str) -> Iterator[None]:
    """Job records echo every request field while inside (to tell twins apart under terse echo)."""
    got = requests.get(f"{base_url}/_emulator/behaviour", timeout=10)
    before = got.json().get("echo") if got.status_code == 200 else None
    if before not in (None, "full"):
        requests.post(f"{base_url}/_emulator/behaviour", json={"echo": "full"}, timeout=10)
    try:
        yield
    finally:
        if before not in (None, "full"):
            requests.post(f"{base_url}/_emulator/behaviour", json={"echo": before}, timeout=10)


def live_jobs(project: Project) -> list[tuple[int, str, str]]:
    """(job id, status, full normalized request as JSON) of every job in the project's sandbox."""
    with full_echo(project.base_url), project.client() as client:
        return [
            (r.id, r.status.upper(), json.dumps(normalize_request(r.raw()), sort_keys=True))
            for r in client.iter_export_jobs()
        ]


def make_project(root: Path, base_url: str, sandbox: str | None = None) -> Project:
    """A copy of the repository's example specs with its own sandbox (registered with the emulator)."""
    name = sandbox or f"t{os.getpid()}-{next(_SANDBOXES)}"
    register_sandbox(base_url, name)
    shutil.copytree(ROOT / "specs", root / "specs")
    (root / "reconciler.yaml").write_text(
        f"platform: local\nsandbox: {name}\nspecs: [specs]\n", encoding="utf-8"
    )
    project = Project(root, name, base_url)
    with project.client() as client:
        project.baseline_datasets = frozenset(d.id for d in client.iter_datasets())
    return project


def register_sandbox(base_url: str, name: str) -> None:
    """Create the sandbox (strict sandboxes refuse unknown names; harmless when lazy)."""
    response = requests.post(f"{base_url}/_emulator/sandboxes", json={"name": name}, timeout=10)
    if response.status_code != 404:  # 404: an emulator without sandbox administration
        response.raise_for_status()


def set_profile(base_url: str, profile: str) -> None:
    """Apply a behaviour profile; a documented profile on an emulator without profiles skips."""
    response = requests.post(f"{base_url}/_emulator/profile", json={"name": profile}, timeout=10)
    if response.status_code == 404:
        if profile != "cooperative":
            pytest.skip(f"this emulator has no behaviour profiles (wanted {profile})")
        return
    response.raise_for_status()


def emulator_with_short_jobs(data_dir: Path, profile: str = "cooperative") -> RunningEmulator:
    """Start an emulator in `profile` whose jobs finish (and cancels end) in about half a second."""
    emu = start_in_thread(data_dir)
    try:
        set_profile(emu.base_url, profile)
    except BaseException:
        emu.stop()
        raise
    if profile != "cooperative":
        requests.post(
            f"{emu.base_url}/_emulator/behaviour", json={"cancel_delay_seconds": 0.5}, timeout=10
        )
    response = requests.post(
        f"{emu.base_url}/_emulator/config",
        json={"job_new_seconds": 0.2, "job_processing_seconds": 0.3},
        timeout=10,
    )
    response.raise_for_status()
    return emu
