"""On a terminal: apply asks before changing anything, and --wait redraws one status line."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time

from engine_harness import Project


def run_on_terminal(project: Project, *args: str, answer: bytes = b"") -> tuple[int, str]:
    """The CLI with stdin and stdout on a pseudo-terminal; returns (exit code, what it showed)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "-C", str(project.root), *args],
        env=project.env,
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    shown = b""
    sent = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the process has ended
            break
        if not chunk:
            break
        shown += chunk
        if answer and not sent and b"Apply these changes?" in shown:
            os.write(leader, answer)
            sent = True
    os.close(leader)
    return process.wait(timeout=30), shown.decode("utf-8", "replace")


def test_declining_the_question_changes_nothing(project: Project) -> None:
    code, shown = run_on_terminal(project, "apply", answer=b"n\n")
    assert code == 1, shown
    assert "Apply these changes?" in shown and "apply cancelled; nothing was changed" in shown
    assert not project.state_path.exists() or not project.state().resources


def test_approving_on_a_terminal_applies_and_redraws_the_wait_line(project: Project) -> None:
    code, shown = run_on_terminal(project, "apply", "--wait", answer=b"y\n")
    assert code == 0, shown
    assert "\x1b[2K" in shown and "waiting for 2 runs" in shown  # the redrawn status line
    assert "exportjob/daily-emails: job" in shown and "SUCCEEDED" in shown
    assert len(project.state().resources) == 4
