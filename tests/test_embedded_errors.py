"""The embedded local platform's start-up failures are one line, never an internal error."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_an_unknown_emulator_profile_is_one_line(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    (tmp_path / "reconciler.yaml").write_text("platform: local\nspecs: [specs]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AEP_", "RECONCILER_"))}
    env["RECONCILER_EMULATOR_PROFILE"] = "bogus"
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: the embedded local platform did not start: ")
    assert "RECONCILER_EMULATOR_PROFILE='bogus'" in line and "internal error" not in line
