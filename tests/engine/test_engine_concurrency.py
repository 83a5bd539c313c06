"""Two applies at once: the second fails fast naming the holder of the state lock."""

from __future__ import annotations

import time

from engine_harness import Project

from reconciler.state import StateStore


def test_second_apply_fails_fast_naming_the_lock_holder(project: Project) -> None:
    first = project.spawn("apply", "--auto-approve", "--wait", "--timeout", "60s")
    store = StateStore(project.state_path)
    deadline = time.monotonic() + 30
    while store.holder() is None and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert first.poll() is None, "the first apply ended before the second could start"

    started = time.monotonic()
    second = project.spawn("apply", "--auto-approve")
    _, err = second.communicate(timeout=30)
    assert second.returncode == 1
    assert time.monotonic() - started < 10  # fails fast, does not wait for the first
    assert f"locked by pid {first.pid}" in err and "apply --auto-approve --wait" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err

    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    state = project.state()
    assert state.pending == [] and len(state.resources) == 4
    assert store.holder() is None  # the lock is released


def test_plan_reads_while_an_apply_holds_the_lock(project: Project) -> None:
    store = StateStore(project.state_path, project.sandbox)
    with store.lock("test holder"):
        result = project.run("plan")
        assert result.code == 0, result.err  # plan takes no lock
        refused = project.run("state", "rm", "exportjob/daily-emails")
        assert refused.code == 1 and "test holder" in refused.err
