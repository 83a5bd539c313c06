"""The state journal: a write costs what changed; replay after a crash at any point is exact."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.state import (
    STATE_VERSION,
    ExportJobResource,
    Intent,
    Run,
    State,
    StateFileError,
    StateStore,
)
from reconciler.state import store as store_module
from reconciler.state.journal import MAX_LINES
from reconciler.state.models import HEAD_RUNS

T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


@pytest.fixture(autouse=True)
def journal_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests look at the journal itself: keep it when the lock is released."""
    monkeypatch.setattr(store_module, "SETTLE_BYTES", 0)


def job(fingerprint: str, runs: int = 1) -> ExportJobResource:
    return ExportJobResource(
        fingerprint=fingerprint,
        request={"fields": "a,b"},
        runs=[
            Run(
                jobId=i + 1,
                fingerprint=fingerprint,
                status="SUCCEEDED",
                createdAt=T0,
                reason="create",
            )
            for i in range(runs)
        ],
    )


def intent(name: str) -> Intent:
    return Intent(
        id=name,
        address=f"exportjob/{name}",
        kind="exportjob",
        fingerprint="f",
        request={},
        createdAt=T0,
    )


def big_state() -> State:
    """A snapshot large enough that a few journal lines stay under its size (runs below
    2 * HEAD_RUNS a resource: none moves to the history, the snapshot keeps its size)."""
    runs = 2 * HEAD_RUNS - 1
    return State(resources={f"exportjob/old-{i}": job(f"old-{i}", runs=runs) for i in range(20)})


def journal_of(store: StateStore) -> list[dict[str, object]]:
    text = store.journal_path.read_text() if store.journal_path.exists() else ""
    return [json.loads(line) for line in text.splitlines()]


def test_a_write_naming_what_changed_appends_one_line_and_leaves_the_snapshot(
    tmp_path: Path,
) -> None:
    store = StateStore(tmp_path / "s.json", sandbox="prod")
    with store.lock() as writer:
        state = writer.write(big_state())  # the first write is a snapshot
        snapshot = store.path.read_bytes()
        inode = store.path.stat().st_ino
        state.pending.append(intent("new"))
        state = writer.write(state, ())
        state.resources["exportjob/new"] = job("new")
        state.pending = []
        state = writer.write(state, ["exportjob/new"])
        del state.resources["exportjob/old-3"]
        state = writer.write(state, ["exportjob/old-3"])
    assert store.path.read_bytes() == snapshot and store.path.stat().st_ino == inode
    lines = journal_of(store)
    assert [(line["base"], line["serial"]) for line in lines] == [(1, 2), (1, 3), (1, 4)]
    assert lines[0] == {
        "base": 1,
        "serial": 2,
        "resources": {},
        "append": {"pending": [json.loads(intent("new").model_dump_json())]},
    }
    assert lines[1]["resources"] == {"exportjob/new": json.loads(job("new").model_dump_json())}
    assert lines[1]["pending"] == [] and "observed" not in lines[1]
    assert lines[2] == {"base": 1, "serial": 4, "resources": {"exportjob/old-3": None}}
    assert store.read() == state


def test_changed_none_rewrites_the_snapshot_and_empties_the_journal(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    with store.lock() as writer:
        state = writer.write(big_state())
        state.resources["exportjob/new"] = job("new")
        state = writer.write(state, ["exportjob/new"])
        assert writer.journal_lines == 1
        state = writer.write(state)
        assert writer.journal_lines == 0 and state.serial == 3
    assert store.journal_path.read_bytes() == b""
    assert json.loads(store.path.read_text())["serial"] == 3
    assert store.read() == state


def test_the_journal_is_compacted_past_its_bounds(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    with store.lock() as writer:
        state = writer.write(State())  # a tiny snapshot: one line outgrows it
        state.resources["exportjob/a"] = job("a", runs=5)
        state = writer.write(state, ["exportjob/a"])
        assert writer.journal_lines == 1
        state.resources["exportjob/b"] = job("b")
        state = writer.write(state, ["exportjob/b"])
        assert writer.journal_lines == 0  # the journal had outgrown the snapshot
    assert store.read() == state
    with store.lock() as writer:
        state = writer.write(big_state())
        for i in range(MAX_LINES + 5):
            state.observed.watermarkMs = i
            state = writer.write(state, ())
        assert 0 < writer.journal_lines <= 5
    assert store.read() == state


def test_lock_drops_a_torn_line_before_the_next_append(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    with store.lock() as writer:
        state = writer.write(big_state())
        state.resources["exportjob/new"] = job("new")
        state = writer.write(state, ["exportjob/new"])
    with open(store.journal_path, "ab") as handle:
        handle.write(b'{"base": 1, "serial": 3, "resour')  # a writer killed mid-line
    assert store.read() == state
    with store.lock() as writer:
        assert store.journal_path.read_bytes().endswith(b"}\n")  # the torn line is gone
        back = writer.read()
        back.observed.watermarkMs = 7
        back = writer.write(back, ())
    assert store.read() == back and back.serial == 3


def test_lock_folds_a_journal_grown_past_the_snapshot(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    with store.lock() as writer:
        state = writer.write(State())
        state.resources["exportjob/a"] = job("a", runs=5)
        state = writer.write(state, ["exportjob/a"])
        assert writer.journal_lines == 1
    with store.lock():
        pass
    assert store.journal_path.read_bytes() == b""
    # Folding is not a write of the state: a plan saved against this serial is still current.
    assert store.read().resources == state.resources and store.read().serial == state.serial


def _writes(store: StateStore) -> tuple[list[State], bytes]:
    """Five journaled writes after a snapshot: the state after each, and the journal's bytes."""
    states = []
    with store.lock() as writer:
        state = writer.write(big_state())
        states.append(state.model_copy(deep=True))  # later writes edit the shared containers
        for i in range(5):
            state.resources[f"exportjob/n{i}"] = job(f"n{i}")
            if i % 2:
                state.pending.append(intent(f"i{i}"))
            else:
                state.pending = []
            state.observed.watermarkMs = i
            state = writer.write(state, [f"exportjob/n{i}"])
            states.append(state.model_copy(deep=True))
    return states, store.journal_path.read_bytes()


def test_a_journal_cut_at_any_byte_reads_as_the_last_complete_write(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    states, journal = _writes(store)
    ends = [i + 1 for i, byte in enumerate(journal) if byte == ord("\n")]
    for cut in range(len(journal) + 1):
        store.journal_path.write_bytes(journal[:cut])
        complete = sum(1 for end in ends if end <= cut)
        assert store.read() == states[complete], f"cut at byte {cut}"


def test_a_crash_between_the_snapshot_and_the_journal_truncation(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    _, journal = _writes(store)
    with store.lock() as writer:
        compacted = writer.write(writer.read())
    store.journal_path.write_bytes(journal)  # as if killed before the truncation
    assert store.read() == compacted
    # the next writer appends after the stale lines, which replay keeps skipping
    with store.lock() as writer:
        state = writer.read()
        state.resources["exportjob/after"] = job("after")
        state = writer.write(state, ["exportjob/after"])
    assert store.read() == state


def test_duplicated_lines_are_replayed_once_and_a_gap_is_an_error(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    states, journal = _writes(store)
    lines = journal.splitlines(keepends=True)
    store.journal_path.write_bytes(b"".join([lines[0], lines[0], lines[1], lines[1], *lines[2:]]))
    assert store.read() == states[-1]
    store.journal_path.write_bytes(b"".join([lines[0], *lines[2:]]))
    with pytest.raises(StateFileError, match=r"s\.json\.journal line 2 has serial 4 after 2"):
        store.read()


def test_a_broken_line_before_the_last_is_an_error(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    _, journal = _writes(store)
    lines = journal.splitlines(keepends=True)
    store.journal_path.write_bytes(b"".join([lines[0], b"{oops\n", *lines[1:]]))
    with pytest.raises(StateFileError, match="line 2 is not valid JSON"):
        store.read()
    store.journal_path.write_bytes(lines[0] + b'{"base": 1, "serial": 3, "resources": {"x": 1}}\n')
    with pytest.raises(StateFileError, match="line 2 is not a valid journal entry"):
        store.read()


def test_a_journal_without_its_snapshot_is_a_clear_error(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    _writes(store)
    store.path.unlink()
    with pytest.raises(StateFileError, match=r"s\.json\.journal exists but .*s\.json does not"):
        store.read()


def test_a_version_1_file_loads_and_is_rewritten_before_any_journal_line(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    old = json.loads(big_state().model_copy(update={"serial": 4, "lineage": "l"}).to_json())
    old["version"] = 1
    store.path.write_text(json.dumps(old, indent=2))
    with store.lock() as writer:
        state = writer.read()
        assert state.serial == 4 and state.version == STATE_VERSION
        state.resources["exportjob/new"] = job("new")
        state = writer.write(state, ["exportjob/new"])
    # a version-1 tool would ignore a journal, so the snapshot is rewritten at the new version
    assert not store.journal_path.exists() or store.journal_path.read_bytes() == b""
    assert json.loads(store.path.read_text())["version"] == STATE_VERSION
    assert store.read() == state


_KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from reconciler.state import ExportJobResource, Intent, StateStore
    store = StateStore(Path(sys.argv[1]), sandbox="prod")
    with store.lock() as writer:
        state = writer.read()
        print("ready", flush=True)
        while True:
            n = state.serial + 1
            address = f"exportjob/slot-{n % 7}"
            state.resources[address] = ExportJobResource(
                fingerprint=str(n), request={"pad": "x" * 4000}
            )
            if n % 5:
                state.pending.append(Intent(
                    id=str(n), address=address, kind="exportjob", fingerprint="f",
                    request={}, createdAt="2026-01-01T00:00:00Z",
                ))
            else:
                state.pending = []
            state.observed.watermarkMs = n
            state = writer.write(state, None if n % 11 == 0 else [address])
            print(state.serial, flush=True)
    """
)


def expected_at(serial: int) -> dict[str, object]:
    """What the killed writer's state holds at `serial` (every write is a function of it)."""
    slots = {f"exportjob/slot-{n % 7}": str(n) for n in range(1, serial + 1)}
    pending = [str(n) for n in range(serial - serial % 5 + 1, serial + 1)] if serial else []
    return {"slots": slots, "pending": pending, "watermark": serial or None}


def observed_facts(state: State) -> dict[str, object]:
    return {
        "slots": {
            a: r.fingerprint for a, r in state.resources.items() if isinstance(r, ExportJobResource)
        },
        "pending": [i.id for i in state.pending],
        "watermark": state.observed.watermarkMs,
    }


def test_writers_killed_at_random_points_leave_an_exact_state(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json", sandbox="prod")
    rng = random.Random(9)
    last = 0
    for _ in range(6):
        proc = subprocess.Popen(
            [sys.executable, "-c", _KILLED_WRITER, str(store.path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.4))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        printed = [int(line) for line in out.split()]
        confirmed = printed[-1] if printed else last
        state = store.read()
        # the write in progress when killed is either wholly there or not at all
        assert confirmed <= state.serial <= confirmed + 1
        assert state.serial >= last
        assert observed_facts(state) == expected_at(state.serial)
        last = state.serial
    assert last > 20


_BUSY_WRITER = _KILLED_WRITER.replace("print(state.serial, flush=True)", "pass")


def test_a_reader_racing_a_writer_never_sees_a_broken_state(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json", sandbox="prod")
    proc = subprocess.Popen(
        [sys.executable, "-c", _BUSY_WRITER, str(store.path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        serials = set()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            state = store.read()  # without the lock, as `plan` reads
            assert observed_facts(state) == expected_at(state.serial)
            serials.add(state.serial)
    finally:
        proc.kill()
        proc.wait()
    assert len(serials) > 10  # the reads really raced the writes


# Equivalence: any sequence of writes that name what they changed reads back as written.

addresses = st.sampled_from([f"exportjob/{name}" for name in "abcde"])
operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), addresses, st.integers(0, 3)),
        st.tuples(st.just("remove"), addresses, st.just(0)),
        st.tuples(st.just("intent"), addresses, st.just(0)),
        st.tuples(st.just("clear"), st.just(""), st.just(0)),
        st.tuples(st.just("watermark"), st.just(""), st.integers(0, 10**12)),
        st.tuples(st.just("snapshot"), st.just(""), st.just(0)),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(ops=operations)
def test_any_sequence_of_writes_reads_back_as_the_state_in_memory(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, str, int]]
) -> None:
    store = StateStore(tmp_path_factory.mktemp("j") / "state.json", sandbox="prod")
    with store.lock() as writer:
        state = writer.write(big_state())
        for step, (op, address, value) in enumerate(ops):
            changed: list[str] | None = []
            if op == "put":
                state.resources[address] = job(f"{address}-{step}", runs=value)
                changed = [address]
            elif op == "remove":
                state.resources.pop(address, None)
                changed = [address]
            elif op == "intent":
                state.pending.append(intent(f"{step}"))
            elif op == "clear":
                state.pending = []
            elif op == "watermark":
                state.observed.watermarkMs = value
            else:
                changed = None
            state = writer.write(state, changed)
            assert store.read() == state
    assert store.read() == state


def test_a_reader_reads_again_once_when_the_journal_changed_under_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = StateStore(tmp_path / "s.json")
    states, journal = _writes(store)
    lines = journal.splitlines(keepends=True)
    mixed = lines[0] + lines[1][:20] + lines[2] + lines[3]  # a read across a compaction
    answers = {store.journal_path: [mixed, journal]}
    read_bytes = StateStore._read_bytes

    def flaky(self: StateStore, path: Path) -> bytes | None:
        queue = answers.get(path)
        return queue.pop(0) if queue else read_bytes(self, path)

    monkeypatch.setattr(StateStore, "_read_bytes", flaky)
    assert store.read() == states[-1]
    answers[store.journal_path] = [mixed, mixed]
    with pytest.raises(StateFileError, match="line 2 is not valid JSON"):
        store.read()


def test_a_small_journal_is_folded_into_the_snapshot_when_the_lock_is_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "SETTLE_BYTES", 4 * 1024 * 1024)
    store = StateStore(tmp_path / "s.json", sandbox="prod")
    with store.lock() as writer:
        state = writer.write(writer.read())
        state.resources["exportjob/a"] = job("f1")
        state = writer.write(state, ["exportjob/a"])
        assert writer.journal_lines == 1
    assert store.journal_path.read_bytes() == b""
    on_disk = json.loads(store.path.read_text(encoding="utf-8"))
    assert "exportjob/a" in on_disk["resources"]  # the file alone is the whole state
    assert on_disk["serial"] == state.serial
    assert store.read() == state


def test_a_large_state_keeps_its_journal_when_the_lock_is_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "SETTLE_BYTES", 10)
    store = StateStore(tmp_path / "s.json", sandbox="prod")
    with store.lock() as writer:
        state = writer.write(writer.read())
        state.resources["exportjob/a"] = job("f1")
        state = writer.write(state, ["exportjob/a"])
    assert len(journal_of(store)) == 1
    assert store.read() == state


def test_the_compaction_when_the_lock_is_taken_keeps_the_serial(tmp_path: Path) -> None:
    # Issue 13 case 13: a plan saved on a large state was refused as stale by the apply that
    # took the lock, because folding the journal in counted as a write.
    store = StateStore(tmp_path / "s.json")
    with store.lock() as writer:
        state = writer.write(big_state())
        for i in range(MAX_LINES):
            state.observed.watermarkMs = i
            state = writer.write(state, ())
        assert writer.journal_lines == MAX_LINES  # bounds reached, folded at the next lock
    saved = store.read()  # what `plan --out` reads (no lock)
    snapshot_serial = json.loads(store.path.read_text())["serial"]
    assert saved.serial == snapshot_serial + MAX_LINES
    with store.lock() as writer:
        assert store.journal_path.read_bytes() == b""  # the journal was folded in
        held = writer.read()
        assert held == saved and held.serial == saved.serial
        assert json.loads(store.path.read_text())["serial"] == saved.serial
        held.observed.watermarkMs = -1
        after = writer.write(held, ())  # the next real write journals after the new snapshot
    assert after.serial == saved.serial + 1
    assert journal_of(store)[0]["base"] == saved.serial
    assert store.read() == after


def test_the_journal_is_private_like_the_snapshot(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    with store.lock() as writer:
        state = writer.write(big_state())
        state.observed.watermarkMs = 1
        state = writer.write(state, ())
    assert store.path.stat().st_mode & 0o777 == 0o600
    assert store.journal_path.stat().st_mode & 0o777 == 0o600
    # A journal an older version left readable by all is made private by the next append.
    store.journal_path.chmod(0o644)
    with store.lock() as writer:
        state = writer.read()
        state.observed.watermarkMs = 2
        writer.write(state, ())
    assert store.journal_path.stat().st_mode & 0o777 == 0o600
    assert store.read().observed.watermarkMs == 2
