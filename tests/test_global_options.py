"""Global options after the command (Terraform habit) and NO_COLOR (no-color.org)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.globalopts import hoist_global_options, use_color

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("argv", "hoisted"),
    [
        (["plan", "-v"], ["-v", "plan"]),
        (["plan", "--no-color", "--format", "json"], ["--no-color", "plan", "--format", "json"]),
        (["state", "show", "-C", "dir", "dataset/x"], ["-C", "dir", "state", "show", "dataset/x"]),
        (["audit", "--sandbox=dev", "-vv"], ["--sandbox=dev", "-vv", "audit"]),
        (["-Cdir", "plan", "--project-dir", "x"], ["-Cdir", "--project-dir", "x", "plan"]),
        (["import", "--", "-v"], ["import", "--", "-v"]),
        (["plan", "--target", "exportjob/a"], ["plan", "--target", "exportjob/a"]),
        (["plan", "-vx"], ["plan", "-vx"]),
    ],
)
def test_hoist(argv: list[str], hoisted: list[str]) -> None:
    assert hoist_global_options(argv) == hoisted


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_project_dir_after_the_command(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "reconciler.yaml").write_text("platform: local\nspecs: [specs]\n")
    result = _run("validate", "-C", str(tmp_path), "--no-color")
    assert result.returncode == 0, result.stderr
    assert "0 documents" in result.stdout


@pytest.mark.parametrize(
    ("flag", "env", "tty", "color"),
    [
        (False, {}, True, True),
        (False, {"NO_COLOR": "1"}, True, False),
        (False, {"NO_COLOR": ""}, True, True),
        (True, {}, True, False),
        (False, {}, False, False),
    ],
)
def test_color_rules(flag: bool, env: dict[str, str], tty: bool, color: bool) -> None:
    assert use_color(flag, env, tty) is color
