"""The state's behaviour on both backends (the local file and PostgreSQL), through `Store`.

Round trip, serial, incremental writes equal to full ones, the lock across processes (fails fast
naming the holder; a SIGKILLed holder's lock is free again) and writers killed mid-write.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_store import T0, sample_state

from reconciler.state import (
    BatchRef,
    DatasetResource,
    ExportJobResource,
    Intent,
    Run,
    State,
    StateLocked,
    StateStore,
)
from reconciler.state.postgres import PostgresStore, pg_target
from reconciler.state.protocol import Store

BACKENDS = ["local", "postgres"]


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[Store, list[str], dict[str, str]]:
    """(a store of sandbox prod, the child-process arguments that open it, their environment)."""
    if request.param == "local":
        path = tmp_path / "state" / "prod.json"
        return StateStore(path, "prod"), ["local", str(path)], dict(os.environ)
    env = request.getfixturevalue("pg_env")
    request.getfixturevalue("pg_target")  # the tables
    return PostgresStore(pg_target(env), "prod"), ["postgres"], {**os.environ, **env}


_OPEN = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from reconciler.state import StateStore, State
    def open_store():
        if sys.argv[1] == "local":
            return StateStore(Path(sys.argv[2]), "prod")
        from reconciler.state.postgres import PostgresStore, pg_target
        return PostgresStore(pg_target(os.environ), "prod")
    store = open_store()
    """
)


def _run(index: int, status: str = "SUCCEEDED") -> Run:
    return Run(
        jobId=1000 + index,
        fingerprint="a" * 64,
        status=status,
        batchId=f"batch-{index}",
        batches=[BatchRef(segmentId="s", batchId=f"batch-{index}")],
        datasetId="d" * 24,
        createdAt=T0 + timedelta(hours=index),
        finishedAt=T0 + timedelta(hours=index, minutes=3) if status != "PROCESSING" else None,
        reason="rerun: refresh due",
    )


def test_a_new_store_reads_as_an_empty_state(
    backend: tuple[Store, list[str], dict[str, str]],
) -> None:
    store = backend[0]
    state = store.read()
    assert (state.serial, state.lineage, state.sandbox, state.resources) == (0, "", "prod", {})
    assert store.holder() is None


def test_write_round_trips_and_bumps_serial(
    backend: tuple[Store, list[str], dict[str, str]],
) -> None:
    store = backend[0]
    with store.lock() as writer:
        first = writer.write(sample_state())
        second = writer.write(first)
    assert (first.serial, second.serial) == (1, 2)
    assert first.lineage and second.lineage == first.lineage
    back = store.read()
    assert back == second and back.to_json() == second.to_json()
    assert store.holder() is None


def test_incremental_writes_read_back_as_the_state_written(
    backend: tuple[Store, list[str], dict[str, str]],
) -> None:
    """An apply's sequence: runs added and settled, an intent, a removal, a retirement."""
    store = backend[0]
    with store.lock() as writer:
        state = writer.write(sample_state())
        job = state.export_job("exportjob/daily")
        assert job is not None
        for i in range(3):  # a run added, then settled: only that address is named
            job = job.model_copy(update={"runs": [*job.runs, _run(i, "PROCESSING")]})
            state.resources["exportjob/daily"] = job
            state = writer.write(state, ["exportjob/daily"])
            settled = [*job.runs[:-1], _run(i)]
            job = job.model_copy(update={"runs": settled})
            state.resources["exportjob/daily"] = job
            state = writer.write(state, ["exportjob/daily"])
            assert store.read() == state
        intent = Intent(
            id="i2",
            address="exportjob/new",
            kind="exportjob",
            fingerprint="b" * 64,
            request={"x": 1},
            createdAt=T0,
        )
        state = state.model_copy(update={"pending": [*state.pending, intent]})
        state.observed.watermarkJobId = 99
        state = writer.write(state, [])
        assert store.read() == state
        state.retire("exportjob/daily", reason="state rm", at=T0)
        state.resources["dataset/other"] = DatasetResource(
            datasetId="e" * 24, name="Other", schemaId="s", createdAt=T0
        )
        state = state.model_copy(update={"pending": []})
        state = writer.write(state, ["exportjob/daily", "dataset/other"])
        assert writer.read() == state
    back = store.read()
    assert back == state and back.to_json() == state.to_json()
    assert back.retired[0].resource == job and len(job.runs) == 4


def _text(max_size: int) -> st.SearchStrategy[str]:
    # PostgreSQL's text and jsonb hold no NUL character (docs/state.md)
    return st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=max_size
    )


run_strategy = st.builds(
    Run,
    jobId=st.integers(1, 2**53),
    fingerprint=st.text("0123456789abcdef", min_size=1, max_size=64),
    status=st.sampled_from(["NEW", "PROCESSING", "SUCCEEDED", "FAILED", "CANCELLING"]),
    batchId=st.none() | _text(max_size=20),
    batches=st.lists(st.builds(BatchRef, segmentId=_text(max_size=8), batchId=_text(max_size=8))),
    createdAt=st.datetimes(timezones=st.just(T0.tzinfo)).map(
        lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
    ),
    reason=_text(max_size=30),
)


@pytest.mark.parametrize("kind", BACKENDS)
def test_any_state_survives_a_write_and_read(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "local":
        make = lambda n: StateStore(tmp_path / f"{n}.json", "prod")  # noqa: E731
    else:
        target = request.getfixturevalue("pg_target")
        make = lambda n: PostgresStore(target, f"s{n}")  # noqa: E731
    counter = iter(range(10**6))

    @settings(max_examples=25, deadline=None)
    @given(runs=st.lists(run_strategy, max_size=4), text=_text(max_size=30), split=st.booleans())
    def check(runs: list[Run], text: str, split: bool) -> None:
        store = make(next(counter))
        state = State(
            resources={
                "exportjob/x": ExportJobResource(
                    fingerprint="f", request={"t": text, "n": [1, {"k": None}]}, runs=runs
                )
            },
        )
        with store.lock() as writer:
            writer.read()
            written = writer.write(state if not split else State())
            if split:  # the same content through an incremental write
                written = writer.write(
                    state.model_copy(update={"serial": written.serial, "lineage": written.lineage}),
                    ["exportjob/x"],
                )
        assert store.read().resources == written.resources

    check()


_HOLDER = _OPEN + textwrap.dedent(
    """
    with store.lock(command="reconciler apply --auto-approve"):
        print("locked", flush=True)
        time.sleep(60)
    """
)


def test_second_locker_fails_fast_naming_the_holder_and_a_killed_holder_frees_it(
    backend: tuple[Store, list[str], dict[str, str]],
) -> None:
    store, args, env = backend
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, *args], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        holder = store.holder()
        assert holder is not None and holder["pid"] == proc.pid
        started = time.monotonic()
        with pytest.raises(StateLocked) as info, store.lock():
            pass
        assert time.monotonic() - started < 1.0
        message = str(info.value)
        assert f"pid {proc.pid}" in message and "'reconciler apply --auto-approve'" in message
        assert store.where in message and "\n" not in message
        assert store.read().serial == 0  # reading never needs the lock
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # the kernel (local) or the server (postgres) drops a dead holder's lock
    deadline = time.monotonic() + 10
    while True:
        try:
            with store.lock() as writer:
                writer.write(State())
            break
        except StateLocked:
            assert time.monotonic() < deadline, "a SIGKILLed holder's lock was never released"
            time.sleep(0.05)
    assert store.holder() is None and store.read().serial == 1


def test_lock_is_released_after_an_error(backend: tuple[Store, list[str], dict[str, str]]) -> None:
    store = backend[0]
    with pytest.raises(RuntimeError), store.lock():
        raise RuntimeError("boom")
    with store.lock():
        assert store.holder() is not None
    assert store.holder() is None


_WRITER = _OPEN + textwrap.dedent(
    """
    from reconciler.state import ExportJobResource, Run
    from datetime import datetime, UTC
    with store.lock() as writer:
        state = writer.read()
        print("ready", flush=True)
        while True:
            n = state.serial
            address = f"exportjob/e{n % 7}"
            old = state.resources.get(address)
            runs = list(old.runs) if old is not None else []
            runs.append(Run(jobId=n, fingerprint="f", status="NEW", reason="create",
                            createdAt=datetime.now(UTC)))
            state.resources[address] = ExportJobResource(fingerprint="f", request={}, runs=runs)
            state = writer.write(state, [address] if n % 5 else None)
    """
)


def test_killed_writers_leave_a_state_that_reads_with_a_growing_serial(
    backend: tuple[Store, list[str], dict[str, str]],
) -> None:
    store, args, env = backend
    rng = random.Random(16)
    last = 0
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, *args], stdout=subprocess.PIPE, text=True, env=env
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while True:  # the next lock holder reads what the killed one committed
            try:
                with store.lock() as writer:
                    state = writer.read()
                break
            except StateLocked:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        runs = sorted(r.jobId for res in state.resources.values() for r in getattr(res, "runs", []))
        assert state.serial >= last and runs == list(range(state.serial))
        last = state.serial
    assert last > 0
