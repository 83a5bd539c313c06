"""Project discovery: the nearest reconciler.yaml up from the working folder, like git's .git."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.config import find_project


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _project(root: Path) -> Path:
    (root / "specs" / "exports").mkdir(parents=True)
    (root / "reconciler.yaml").write_text("platform: local\nspecs: [specs]\n", encoding="utf-8")
    return root


def test_find_project_walks_up(tmp_path: Path) -> None:
    root = _project(tmp_path / "repo")
    assert find_project(root / "specs" / "exports") == root.resolve()
    assert find_project(root) == root.resolve()
    assert find_project(tmp_path) is None


def test_commands_run_from_a_subfolder(tmp_path: Path) -> None:
    root = _project(tmp_path / "repo")
    result = _run(root / "specs" / "exports", "validate")
    assert result.returncode == 0, result.stderr
    assert "0 documents" in result.stdout
    assert not (root / "specs" / "exports" / ".reconciler").exists()


@pytest.mark.parametrize(
    "command", [["validate"], ["plan"], ["status"], ["audit"], ["state", "list"]]
)
def test_outside_a_project_one_line_and_nothing_written(tmp_path: Path, command: list[str]) -> None:
    result = _run(tmp_path, *command)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: no reconciler.yaml in {tmp_path.resolve()} or any folder above it: run "
        "reconciler from the specs repository, or pass -C DIR"
    ]
    assert list(tmp_path.iterdir()) == []


def test_schema_needs_no_project(tmp_path: Path) -> None:
    result = _run(tmp_path, "schema")
    assert result.returncode == 0
    assert result.stdout.lstrip().startswith("{")
