"""The engine benches' harness: an emulator in its own process and the CLI timed as a subprocess.

The emulator runs in a child process (not a thread of the bench) so that the bench's own client
threads, when it measures a baseline in-process, do not share a GIL with the server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
from common import ROOT

# The child prints its base URL, then serves until its stdin closes (the bench ended or died).
_SERVE = """
import sys
from pathlib import Path
from reconciler.emulator.server import start_in_thread
emu = start_in_thread(Path(sys.argv[1]))
print(emu.base_url, flush=True)
sys.stdin.read()
emu.stop()
"""

LOCAL_ENDPOINT_ENV = "RECONCILER_LOCAL_ENDPOINT"
JOBS_PATH = "/data/core/ups/export/jobs"


class EmulatorProcess:
    """`reconciler.emulator` serving `data_dir` in a child process, with its admin endpoints."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _SERVE, str(data_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line.startswith("http"):
            self._proc.kill()
            raise RuntimeError(f"the emulator did not start (it printed {line!r})")
        self.base_url = line
        self.http = requests.Session()

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call `/_emulator/<path>`; the JSON answer (None for 204)."""
        response = self.http.request(
            method, f"{self.base_url}/_emulator/{path}", json=body, timeout=30
        )
        if response.status_code >= 400:
            raise RuntimeError(
                f"{method} /_emulator/{path}: {response.status_code} {response.text}"
            )
        return response.json() if response.content else None

    def reset_stats(self) -> None:
        """Forget the request counts."""
        self.admin("DELETE", "stats")

    def requests_since_reset(self) -> int:
        """Platform requests (token, Catalog, export jobs) served since the last reset."""
        return int(self.admin("GET", "stats")["total"])

    def set_fault(self, **fault: Any) -> None:
        """Add one fault (see POST /_emulator/faults)."""
        self.admin("POST", "faults", fault)

    def clear_faults(self) -> None:
        """Remove every fault."""
        self.admin("DELETE", "faults")

    def configure(self, **config: Any) -> None:
        """Change the emulator's config (job timings etc.)."""
        self.admin("POST", "config", config)

    def env(self) -> dict[str, str]:
        """The environment that points `platform: local` at this emulator."""
        return {**os.environ, LOCAL_ENDPOINT_ENV: self.base_url}

    def stop(self) -> None:
        """Close the child's stdin (it stops serving) and wait for it."""
        self.http.close()
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class CliRun:
    """One finished `reconciler` command: exit code, wall time, peak RSS and its output."""

    returncode: int
    seconds: float
    max_rss_mb: float
    stdout: str
    stderr: str


# A small launcher runs the command and reports its rusage: the kernel carries the forking
# process's peak RSS into the child's ru_maxrss (vfork/exec), so the bench itself, holding large
# states, must not be the direct parent of a measured command.
_LAUNCH = """
import json, os, subprocess, sys, time
out, err = open(sys.argv[1], "w"), open(sys.argv[2], "w")
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[3:], stdin=subprocess.DEVNULL, stdout=out, stderr=err)
_, status, usage = os.wait4(proc.pid, 0)
seconds = time.perf_counter() - start
code = os.waitstatus_to_exitcode(status)
print(json.dumps({"returncode": code, "seconds": seconds, "maxrss_kb": usage.ru_maxrss}))
"""


def run_cli(
    project: Path, args: list[str], env: dict[str, str], *, ok: tuple[int, ...] = (0, 2)
) -> CliRun:
    """Run `python -m reconciler -C project ARGS`, timed; raise if it exits outside `ok`."""
    command = [sys.executable, "-m", "reconciler", "-C", str(project), "--no-color", *args]
    with tempfile.TemporaryDirectory() as tmp:
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        launched = subprocess.run(
            [sys.executable, "-c", _LAUNCH, str(out), str(err), *command],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        report = json.loads(launched.stdout)
        result = CliRun(
            report["returncode"],
            report["seconds"],
            report["maxrss_kb"] / 1024,
            out.read_text(),
            err.read_text(),
        )
    if result.returncode not in ok:
        tail = (result.stderr.strip() or result.stdout.strip())[-400:]
        raise RuntimeError(f"reconciler {' '.join(args)} exited {result.returncode}: {tail}")
    return result
