"""Helpers for end-to-end engine tests: a temp specs repository driving the CLI against an emulator."""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from reconciler.cli import main
from reconciler.emulator.server import RunningEmulator, start_in_thread
from reconciler.engine.connect import LOCAL_ENDPOINT_ENV, local_credentials, local_endpoints
from reconciler.platform import PlatformClient
from reconciler.state import State, StateStore

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

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AEP_")}
        env[LOCAL_ENDPOINT_ENV] = self.base_url
        return env

    @property
    def state_path(self) -> Path:
        return self.root / ".reconciler" / "state" / f"{self.sandbox}.json"

    def state(self) -> State:
        return StateStore(self.state_path, self.sandbox).read()

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


def make_project(root: Path, base_url: str, sandbox: str | None = None) -> Project:
    """A copy of the repository's example specs with its own sandbox."""
    name = sandbox or f"t{os.getpid()}-{next(_SANDBOXES)}"
    shutil.copytree(ROOT / "specs", root / "specs")
    (root / "reconciler.yaml").write_text(
        f"platform: local\nsandbox: {name}\nspecs: [specs]\n", encoding="utf-8"
    )
    return Project(root, name, base_url)


def emulator_with_short_jobs(data_dir: Path) -> RunningEmulator:
    """Start an emulator whose jobs finish in about half a second."""
    emu = start_in_thread(data_dir)
    response = requests.post(
        f"{emu.base_url}/_emulator/config",
        json={"job_new_seconds": 0.2, "job_processing_seconds": 0.3},
        timeout=10,
    )
    response.raise_for_status()
    return emu
