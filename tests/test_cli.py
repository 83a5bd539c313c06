"""The command line skeleton: help, version, every contract command present, clean errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reconciler import __version__

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_lists_every_contract_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in (
        "validate",
        "plan",
        "apply",
        "status",
        "audit",
        "import",
        "state",
        "schema",
        "emulator",
    ):
        assert command in result.stdout


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert __version__ in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--format", "yaml"],
        ["--no-such-option"],
        ["no-such-command"],
        ["state", "show"],
    ],
)
def test_bad_usage_is_one_line_exit_1(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error:")


@pytest.mark.parametrize("group", ["state", "emulator"])
def test_a_group_alone_prints_its_help(group: str) -> None:
    result = run(group)
    assert result.returncode == 0
    assert result.stdout.startswith(f"Usage: reconciler {group} [OPTIONS] COMMAND")
    assert "error" not in result.stderr
