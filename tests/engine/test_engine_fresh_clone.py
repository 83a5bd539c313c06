"""The README's main job on a fresh clone: the embedded emulator, nothing else running."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from engine_harness import ROOT

from reconciler.engine.connect import LOCAL_ENDPOINT_ENV


def test_apply_wait_on_the_repository_specs_with_the_embedded_emulator(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    clone.mkdir()
    shutil.copytree(ROOT / "specs", clone / "specs")
    shutil.copy(ROOT / "reconciler.yaml", clone / "reconciler.yaml")
    env = {
        k: v
        for k, v in __import__("os").environ.items()
        if k != LOCAL_ENDPOINT_ENV and not k.startswith("AEP_")
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "reconciler", *args],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    applied = run("apply", "--auto-approve", "--wait", "--timeout", "90s")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "SUCCEEDED" in applied.stdout
    assert (clone / ".reconciler" / "emulator").is_dir()  # the embedded platform's data
    assert (clone / ".reconciler" / "state" / "prod.json").is_file()

    # A later command starts the embedded emulator again on the same data: nothing to do.
    planned = run("plan", "--detailed-exitcode")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    status = run("status")
    assert status.returncode == 0 and "SUCCEEDED" in status.stdout
