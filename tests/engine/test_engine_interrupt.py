"""On a terminal, driven through a pseudo-terminal (pexpect): the approval question, Ctrl-C
during apply and apply --wait, Ctrl-C and a busy port on `emulator serve` (issue 14)."""

from __future__ import annotations

import re
import socket
import sys
import time
from collections import Counter
from pathlib import Path

import pexpect  # type: ignore[import-untyped]
import pytest
from engine_harness import Project, live_jobs

BOTH_PROFILES = True
JOBS_POST = "POST /data/core/ups/export/jobs"


def spawn(project: Project | None, *args: str, cwd: Path | None = None) -> pexpect.spawn:
    """The CLI on a pseudo-terminal (stdin, stdout and stderr all on it)."""
    prefix = ["-m", "reconciler"] + (["-C", str(project.root)] if project else [])
    return pexpect.spawn(
        sys.executable,
        [*prefix, *args],
        env=project.env if project else None,
        cwd=str(cwd) if cwd else None,
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 200),
    )


def finish(child: pexpect.spawn) -> tuple[int, str]:
    """Read to the end; (exit code, everything shown with the redrawn line's escapes removed)."""
    child.expect(pexpect.EOF)
    shown = (child.before or "").replace("\r\n", "\n")
    child.close()
    shown = re.sub(r"\x1b\[2Kwaiting for [^\r\n\x1b]*", "", shown)  # the status line's draws
    return child.exitstatus, shown.replace("\x1b[2K", "").replace("\r", "").replace("^C", "")


def test_answering_no_changes_nothing(project: Project) -> None:
    child = spawn(project, "apply")
    child.expect_exact("Apply these changes? [y/N]: ")
    child.sendline("n")
    code, shown = finish(child)
    assert code == 1 and "error: apply cancelled; nothing was changed" in shown
    assert not project.state_path.exists() or not project.state().resources


def test_ctrl_c_at_the_question_is_a_no(project: Project) -> None:
    child = spawn(project, "apply")
    child.expect_exact("Apply these changes? [y/N]: ")
    child.sendintr()
    code, shown = finish(child)
    assert code == 1 and shown.strip().endswith("error: apply cancelled; nothing was changed")
    assert not project.state_path.exists() or not project.state().resources


def test_answering_yes_applies_and_closes_with_the_summary(project: Project) -> None:
    child = spawn(project, "apply", "--wait")
    child.expect("Plan: 4 to create")
    child.expect_exact("Apply these changes? [y/N]: ")
    child.sendline("y")
    code, shown = finish(child)
    assert code == 0, shown
    assert "Summary: 4 created, 0 replaced, 0 cancelled, 0 failed, 0 still in flight" in shown
    assert "Apply complete: 4 actions done; 2 runs followed: 2 succeeded" in shown
    assert len(project.state().resources) == 4


def test_ctrl_c_during_wait_names_the_runs_that_keep_running(project: Project) -> None:
    project.admin("POST", "/config", {"job_processing_seconds": 120})
    try:
        child = spawn(project, "apply", "--auto-approve", "--wait")
        child.expect_exact("following the runs to their end (--wait).")
        child.expect("waiting for 2 runs")  # the redrawn status line
        child.sendintr()
        code, shown = finish(child)
        assert code == 130, shown
        state = project.state()
        jobs = {a: r.newest_run().jobId for a, r in state.resources.items() if a.startswith("exp")}  # type: ignore[union-attr]
        assert len(jobs) == 2 and not state.pending  # everything done so far is in the state
        runs = ", ".join(f"{a} (job {j})" for a, j in sorted(jobs.items()))
        assert (
            f"Interrupted: 2 runs keep running on the platform: {runs}; 'reconciler apply "
            "--wait' (or 'reconciler status') picks them up"
        ) in shown
        assert "still in flight" in shown and shown.rstrip().endswith("error: interrupted")
    finally:
        project.admin("POST", "/config", {"job_processing_seconds": 0.3})
    project.admin("POST", "/clock", {"advance_seconds": 180})  # the slowed runs end now
    again = project.run("apply", "--auto-approve", "--wait")
    assert again.code == 0, again.err
    state = project.state()
    for address, job_id in jobs.items():  # the same runs picked up, none started again
        res = state.export_job(address)
        newest = res.newest_run() if res is not None else None
        assert newest is not None and (newest.jobId, newest.status) == (job_id, "SUCCEEDED")


def test_ctrl_c_during_a_create_keeps_its_intent_for_the_next_apply(project: Project) -> None:
    project.admin("POST", "/faults", {"endpoint": JOBS_POST, "latency_ms": 4000})
    try:
        child = spawn(project, "apply", "--auto-approve")
        child.expect("dataset/crm-profiles: created dataset")
        time.sleep(1.0)  # the first job's POST is waiting on its answer
        child.sendintr()
        code, shown = finish(child)
    finally:
        project.admin("DELETE", "/faults")
    assert code == 130, shown
    assert "The state keeps 1 create whose outcome is not known yet" in shown
    assert "Not reached: exportjob/newsletter-audience" in shown
    assert "Summary: 2 created," in shown and shown.rstrip().endswith("error: interrupted")
    state = project.state()
    assert len(state.pending) == 1 and state.pending[0].address == "exportjob/daily-emails"
    assert sorted(state.resources) == ["dataset/audience-exports", "dataset/crm-profiles"]
    time.sleep(3.5)  # the emulator answers the interrupted POST (it carried it out)
    again = project.run("apply", "--auto-approve", "--wait")
    assert again.code == 0, again.err
    state = project.state()
    assert not state.pending and len(state.resources) == 4
    per_request = Counter(request for _, _, request in live_jobs(project))
    assert set(per_request.values()) == {1}  # each run exactly once


def test_ctrl_c_stops_the_emulator_with_one_line_and_exit_0(tmp_path: Path) -> None:
    port = _free_port()
    child = spawn(None, "emulator", "serve", "--port", str(port), "--data", str(tmp_path / "e"))
    child.expect_exact("Ctrl-C stops it.")
    time.sleep(0.3)
    child.sendintr()
    code, shown = finish(child)
    assert code == 0, shown
    lines = [line for line in shown.splitlines() if line.strip() and line.strip() != "^C"]
    assert lines == [f"local platform stopped; its data is kept in {tmp_path / 'e'}"], shown


def test_a_busy_port_is_one_error_line_and_no_banner(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        child = spawn(None, "emulator", "serve", "--port", str(port), "--data", str(tmp_path / "e"))
        code, shown = finish(child)
    assert code == 1
    assert shown.strip().splitlines() == [
        f"error: the local platform could not listen on 127.0.0.1:{port} (Address already in "
        "use); choose another port with --port"
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(autouse=True)
def _no_estimates(monkeypatch: pytest.MonkeyPatch) -> None:
    """The spawned CLI skips impact estimates, like the in-process runs."""
    monkeypatch.setenv("RECONCILER_NO_ESTIMATE", "1")


def test_ctrl_c_during_wait_still_writes_the_json_report(project: Project) -> None:
    import json

    project.admin("POST", "/config", {"job_processing_seconds": 120})
    try:
        child = spawn(project, "apply", "--auto-approve", "--wait", "--format", "json")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # both runs started: the apply is following them
            res = project.state().export_job("exportjob/newsletter-audience")
            if res is not None and res.runs:
                break
            time.sleep(0.1)
        time.sleep(0.5)
        child.sendintr()
        code, shown = finish(child)
    finally:
        project.admin("POST", "/config", {"job_processing_seconds": 0.3})
        project.admin("POST", "/clock", {"advance_seconds": 180})
    assert code == 130, shown
    document, error = shown.strip().rsplit("\n", 1)
    report = json.loads(document)
    assert report["outcome"] == "interrupted" and error == "error: interrupted"
    assert report["error"] == {"type": "KeyboardInterrupt", "message": "interrupted"}
    assert sorted(r["address"] for r in report["inFlight"]) == [
        "exportjob/daily-emails",
        "exportjob/newsletter-audience",
    ]
