"""A writer killed (SIGKILL) at random moments never leaves a state file that does not parse."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.state import ExportJobResource, Run, State, StateStore
from reconciler.state.models import HEAD_RUNS

_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from reconciler.state import StateStore, State
    store = StateStore(Path(sys.argv[1]), sandbox="prod")
    with store.lock() as writer:
        state = writer.read()
        print("ready", flush=True)
        while True:
            # a large-ish document so that a write takes measurable time
            state = state.model_copy(update={"observed": state.observed.model_copy(
                update={"watermarkMs": state.serial, "unmanagedJobs": {
                    i: {"status": "SUCCEEDED", "createdMs": i, "datasetId": "d" * 24}
                    for i in range(2000)}})})
            state = writer.write(state)
    """
)


def test_killed_writers_leave_a_parsable_state_with_a_growing_serial(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json", sandbox="prod")
    rng = random.Random(6)
    last_serial = 0
    for _ in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(store.path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.01, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = store.read()  # parses, or raises and fails the test
        assert state.serial >= last_serial
        last_serial = state.serial
        with store.lock():  # the dead writer's lock is gone
            pass
    assert last_serial > 0
    # temp files of killed writers are cleared by the next lock holder
    left = sorted(p.name for p in tmp_path.iterdir() if ".backup" not in p.name)
    assert left == ["state.json", "state.json.lock"]
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


# --- the history (issue 16): killed around the history and claims appends --------------------

_HISTORY_SETUP = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from datetime import UTC, datetime, timedelta
    from reconciler.state import ExportJobResource, Run, StateStore, file_history

    def run(i):
        return Run(jobId=i, fingerprint="f", status="SUCCEEDED", batchId=f"b{i}",
                   createdAt=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i),
                   reason="create")

    point = sys.argv[2]
    real_append, real_keep = file_history.append, file_history.keep_claims

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def append(path, data, *, unit=None):
        kind = "claims" if unit else "history"
        if point == f"before-{kind}":
            die()
        if point == f"torn-{kind}":
            real_append(path, data[: len(data) // 2 + 3], unit=unit)
            die()
        real_append(path, data, unit=unit)
        if point == f"after-{kind}":
            die()

    def keep_claims(path, backup):
        if point == "before-rebuild":
            die()
        real_keep(path, backup)

    file_history.append, file_history.keep_claims = append, keep_claims
    """
)

_HISTORY_WRITER = _HISTORY_SETUP + textwrap.dedent(
    """
    store = StateStore(Path(sys.argv[1]), sandbox="prod")
    with store.lock() as writer:
        state = writer.read()
        if sys.argv[3] == "rm":
            state = writer.read_history()
            state.retire("exportjob/a", reason="state rm", at=datetime(2026, 1, 1, tzinfo=UTC))
            b = state.export_job("exportjob/b")  # and b's runs grow: some move to the history
            runs = [*b.runs, *(run(i) for i in range(200, 220))]
            state.resources["exportjob/b"] = b.model_copy(update={"runs": runs})
            writer.write(state)
        else:
            res = state.export_job("exportjob/a")
            first = res.run_count + 1
            runs = [*res.runs, *(run(i) for i in range(first, first + 20))]
            state.resources["exportjob/a"] = res.model_copy(update={"runs": runs})
            writer.write(state, ["exportjob/a"] if sys.argv[3] == "journal" else None)
        print("written", flush=True)
    """
)


def _runs(first: int, count: int) -> list[Run]:
    return [
        Run(
            jobId=i,
            fingerprint="f",
            status="SUCCEEDED",
            batchId=f"b{i}",
            createdAt=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i),
            reason="create",
        )
        for i in range(first, first + count)
    ]


def _job_ids(state: State, address: str = "exportjob/a") -> list[int]:
    res = state.export_job(address)
    return [r.jobId for r in res.runs] if res is not None else []


@pytest.mark.parametrize(
    "point",
    [
        "before-history",
        "torn-history",
        "after-history",
        "torn-claims",
        "after-claims",
        "none",
    ],
)
@pytest.mark.parametrize("how", ["journal", "snapshot"])
def test_a_writer_killed_around_the_history_append_leaves_both_reads_whole(
    tmp_path: Path, point: str, how: str
) -> None:
    store = StateStore(tmp_path / "state.json", sandbox="prod")
    with store.lock() as writer:  # 25 runs: 15 in the history already
        writer.write(State(resources={"exportjob/a": ExportJobResource(
            fingerprint="f", request={}, runs=_runs(1, 25))}))  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", _HISTORY_WRITER, str(store.path), point, how],
        capture_output=True,
        text=True,
        timeout=60,
    )
    done = point == "none"
    assert (proc.returncode == 0) == done, proc.stderr
    count = 45 if done else 25
    head = store.read()
    assert head.serial == (2 if done else 1)
    assert store.read_history().export_job("exportjob/a") == ExportJobResource(
        fingerprint="f", request={}, runs=_runs(1, count)
    )
    # read without the lock, the claims may name the runs the killed writer was adding ...
    assert head.claimed_job_ids().among(range(100)) >= set(range(1, count + 1))
    # ... never under it (the lock taken after a killed holder rebuilds them), and the next
    # writer cuts off what the killed one left torn: its write reads back whole
    with store.lock() as writer:
        state = writer.read()
        assert state.claimed_job_ids().among(range(100)) == set(range(1, count + 1))
        assert state.claimed_job_ids().max() == count
        res = state.export_job("exportjob/a")
        assert res is not None
        state.resources["exportjob/a"] = res.model_copy(
            update={"runs": [*res.runs, *_runs(count + 1, 20)]}
        )
        writer.write(state, ["exportjob/a"])
    assert _job_ids(store.read_history()) == list(range(1, count + 21))
    assert store.read().claimed_job_ids().among(range(100)) == set(range(1, count + 21))
    assert store.history_path.read_bytes().endswith(b"\n")
    assert len(store.claims_path.read_bytes()) % 8 == 0


@pytest.mark.parametrize("point", ["after-history", "after-claims", "before-rebuild", "none"])
def test_a_state_rm_killed_around_its_writes_reads_whole(tmp_path: Path, point: str) -> None:
    store = StateStore(tmp_path / "state.json", sandbox="prod")
    a = ExportJobResource(fingerprint="f", request={}, runs=_runs(1, 25))
    b = ExportJobResource(fingerprint="f", request={}, runs=_runs(100, 25))
    with store.lock() as writer:
        writer.write(State(resources={"exportjob/a": a, "exportjob/b": b}))
    proc = subprocess.run(
        [sys.executable, "-c", _HISTORY_WRITER, str(store.path), point, "rm"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    full = store.read_history()
    with store.lock() as writer:
        claimed = writer.read().claimed_job_ids().among(range(300))
    if point in ("before-rebuild", "none"):  # the head was written: a is retired
        grown = b.model_copy(update={"runs": [*b.runs, *_runs(200, 20)]})
        assert full.retired[0].resource == a and full.export_job("exportjob/b") == grown
        # killed before the claims' rebuild: the next lock rebuilds them
        assert claimed == set(range(100, 125)) | set(range(200, 220))
        assert (proc.returncode == 0) == (point == "none")
    else:
        assert proc.returncode != 0
        assert full.export_job("exportjob/a") == a and full.retired == []
        assert claimed == set(range(1, 26)) | set(range(100, 125))


_GROWING_WRITER = _HISTORY_SETUP.replace("point = sys.argv[2]", 'point = "none"') + textwrap.dedent(
    """
    store = StateStore(Path(sys.argv[1]), sandbox="prod")
    with store.lock() as writer:
        state = writer.read()
        print("ready", flush=True)
        while True:
            n = state.serial + 1
            address = f"exportjob/r{n % 3}"
            res = state.export_job(address) or ExportJobResource(fingerprint="f", request={})
            state.resources[address] = res.model_copy(update={"runs": [*res.runs, run(n)]})
            state = writer.write(state, None if n % 7 == 0 else [address])
    """
)


def test_writers_killed_while_runs_move_to_the_history_leave_an_exact_state(
    tmp_path: Path,
) -> None:
    store = StateStore(tmp_path / "state.json", sandbox="prod")
    rng = random.Random(16)
    for _ in range(6):
        proc = subprocess.Popen(
            [sys.executable, "-c", _GROWING_WRITER, str(store.path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        head = store.read()
        n = head.serial
        full = store.read_history()  # the whole state reads, and is the one of its serial
        assert full.serial == n
        for i in range(3):
            assert _job_ids(full, f"exportjob/r{i}") == [k for k in range(1, n + 1) if k % 3 == i]
        with store.lock() as writer:
            claimed = writer.read().claimed_job_ids()
            assert claimed.among(range(n + 50)) == set(range(1, n + 1))
    assert n > 3 * 2 * HEAD_RUNS  # runs did move
    assert store.read().is_head
