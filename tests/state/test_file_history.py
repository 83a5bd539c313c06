"""The file backend's head and history (issue 16): `<state>.json.history` and `.claims`.

Commands that decide read the head (snapshot + journal) only; audit, `state show` and lineage
read the whole state (head + history). A random schedule of writes reads back, whole and as a
head, as the same state kept in memory whole.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.state import ExportJobResource, Run, State, StateFileError, StateStore, file_history
from reconciler.state.file_history import FileClaims, append, pack
from reconciler.state.head import slots, whole
from reconciler.state.models import HEAD_RUNS, head_start

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STEP = timedelta(seconds=1)


def run(job_id: int, status: str = "SUCCEEDED") -> Run:
    return Run(
        jobId=job_id,
        fingerprint="f",
        status=status,
        batchId=f"b{job_id}",
        createdAt=T0 + job_id * STEP,
        reason="create",
    )


def job(first: int, count: int, status: str = "SUCCEEDED") -> ExportJobResource:
    return ExportJobResource(
        fingerprint="f",
        request={"fields": "a"},
        runs=[run(i, status) for i in range(first, first + count)],
    )


def written(tmp_path: Path, runs: int = 25, address: str = "exportjob/a") -> StateStore:
    store = StateStore(tmp_path / "s.json", sandbox="prod")
    with store.lock() as writer:
        writer.write(State(resources={address: job(1, runs)}))
    return store


def lines_of(store: StateStore) -> list[dict[str, Any]]:
    return [json.loads(line) for line in store.history_path.read_text().splitlines()]


def test_runs_the_head_no_longer_needs_move_to_the_history_file(tmp_path: Path) -> None:
    store = written(tmp_path, runs=25)
    head = store.read()
    res = head.export_job("exportjob/a")
    assert (
        res is not None
        and res.archivedRuns == 15
        and [r.jobId for r in res.runs] == list(range(16, 26))
    )
    snapshot = json.loads(store.path.read_text())
    assert snapshot["resources"]["exportjob/a"]["archivedRuns"] == 15
    assert len(snapshot["resources"]["exportjob/a"]["runs"]) == 10
    [line] = lines_of(store)
    assert list(line) == ["address", "generation", "from", "runs"]
    assert (line["address"], line["generation"], line["from"]) == ("exportjob/a", 0, 0)
    # run JSON exactly as in the snapshot
    assert line["runs"] == [json.loads(run(i).model_dump_json()) for i in range(1, 16)]
    assert store.claims_path.read_bytes() == pack(range(1, 16))
    assert len(store.claims_path.read_bytes()) == 15 * 8
    for path in (store.history_path, store.claims_path):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert head.is_head
    assert store.read_history() == State(
        lineage=head.lineage, serial=1, sandbox="prod", resources={"exportjob/a": job(1, 25)}
    )
    assert not store.read_history().is_head


def test_a_small_state_keeps_every_run_and_no_history_file(tmp_path: Path) -> None:
    store = written(tmp_path, runs=2 * HEAD_RUNS - 1)
    assert not store.history_path.exists() and not store.claims_path.exists()
    assert not store.read().is_head
    assert store.read() == store.read_history()


_OPENED: list[str] = []
_WATCHING = [False]


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _WATCHING[0] and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
        _OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


def test_a_plan_style_read_never_opens_the_history(tmp_path: Path) -> None:
    store = written(tmp_path)
    _OPENED.clear()
    _WATCHING[0] = True
    try:
        head = store.read()
        assert 3 in head.claimed_job_ids() and head.claimed_job_ids().max() == 25
        with store.lock() as writer:
            writer.read()
    finally:
        _WATCHING[0] = False
    assert str(store.history_path) not in _OPENED
    assert str(store.claims_path) in _OPENED  # opened (and read when asked about job 3)
    # unreadable history: the head still reads, the whole state is one clear line
    store.history_path.unlink()
    store.history_path.mkdir()  # unreadable even by root (chmod 000 is not)
    if os.geteuid():
        store.history_path.rmdir()
        store.history_path.write_text("")
        store.history_path.chmod(0)
    assert store.read().export_job("exportjob/a") is not None
    with pytest.raises(StateFileError) as caught:
        store.read_history()
    assert str(store.history_path) in str(caught.value) and "\n" not in str(caught.value)


def test_the_claims_file_is_read_only_for_ids_the_head_does_not_hold(tmp_path: Path) -> None:
    store = written(tmp_path)
    store.claims_path.unlink()
    store.claims_path.mkdir()  # opening it fails: the head reads, a question about it does not
    claimed = store.read().claimed_job_ids()
    assert claimed.among([20, 25]) == {20, 25} and 16 in claimed  # the head holds 16..25
    with pytest.raises(StateFileError, match="claims"):
        claimed.among([3])
    with pytest.raises(StateFileError, match="claims"):
        claimed.max()


def test_a_torn_history_line_is_ignored_and_cut_off_by_the_next_writer(tmp_path: Path) -> None:
    store = written(tmp_path)
    whole_before = store.read_history()
    with store.history_path.open("ab") as handle:
        handle.write(b'{"address":"exportjob/a","generation":0,"from":15,"ru')
    with store.claims_path.open("ab") as handle:
        handle.write(b"\x01\x02\x03")  # a torn id
    assert store.read_history() == whole_before
    assert store.read().claimed_job_ids().among(range(1, 30)) == set(range(1, 26))
    with store.lock() as writer:
        state = writer.read()
        res = state.export_job("exportjob/a")
        assert res is not None
        state.resources["exportjob/a"] = res.model_copy(
            update={"runs": [*res.runs, *(run(i) for i in range(26, 40))]}
        )
        writer.write(state, ["exportjob/a"])
    assert [(line["from"], len(line["runs"])) for line in lines_of(store)] == [(0, 15), (15, 14)]
    assert len(store.claims_path.read_bytes()) == 29 * 8
    assert store.read_history().export_job("exportjob/a") == job(1, 39)


def test_a_broken_line_before_the_last_is_one_line_naming_the_file(tmp_path: Path) -> None:
    store = written(tmp_path)
    text = store.history_path.read_bytes()
    store.history_path.write_bytes(b"not json\n" + text)
    with pytest.raises(StateFileError) as caught:
        store.read_history()
    message = str(caught.value)
    assert f"{store.history_path} line 1 is not a history line" in message and "\n" not in message
    store.history_path.write_bytes(text + b'{"address": 1}\n' + text)
    with pytest.raises(StateFileError, match="line 2 is not a history line"):
        store.read_history()


def test_lines_past_the_heads_count_are_ignored_and_a_later_line_wins(tmp_path: Path) -> None:
    store = written(tmp_path)
    moved = run(99, "FAILED").model_dump(mode="json")
    with store.history_path.open("a") as handle:
        # a killed writer's line (positions 15.. are still the head's) ...
        handle.write(json.dumps({"address": "exportjob/a", "generation": 0, "from": 15,
                                 "runs": [moved]}) + "\n")  # fmt: skip
        # ... and one for a resource the head does not have
        handle.write(json.dumps({"address": "exportjob/b", "generation": 0, "from": 0,
                                 "runs": [moved]}) + "\n")  # fmt: skip
    assert store.read_history().export_job("exportjob/a") == job(1, 25)
    with store.history_path.open("a") as handle:
        handle.write(json.dumps({"address": "exportjob/a", "generation": 0, "from": 2,
                                 "runs": [moved]}) + "\n")  # fmt: skip
    res = store.read_history().export_job("exportjob/a")
    assert res is not None and res.runs[2].jobId == 99 and len(res.runs) == 25


def test_a_missing_position_or_a_missing_history_is_an_error(tmp_path: Path) -> None:
    store = written(tmp_path)
    [line] = lines_of(store)
    line["from"] = 1
    store.history_path.write_text(json.dumps(line) + "\n")
    with pytest.raises(StateFileError, match="holds 0 of its 15 oldest runs"):
        store.read_history()
    store.history_path.unlink()
    with pytest.raises(StateFileError, match="is missing"):
        store.read_history()
    assert store.read().serial == 1  # the head does not need it


def test_state_rm_of_a_resource_with_history_rebuilds_the_claims(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json", sandbox="prod")
    with store.lock() as writer:
        writer.write(State(resources={"exportjob/a": job(1, 25), "exportjob/b": job(100, 30)}))
    with store.lock() as writer:
        state = writer.read_history()
        state.retire("exportjob/a", reason="state rm", at=T0)
        head = writer.write(state)
    assert head.claimed_job_ids().among(range(1, 200)) == set(range(100, 130))
    # the whole state written (changed None) did not copy the history into the snapshot
    snapshot = json.loads(store.path.read_text())
    kept = [snapshot["resources"]["exportjob/b"], snapshot["retired"][0]["resource"]]
    assert [(r["archivedRuns"], len(r["runs"])) for r in kept] == [(20, 10), (15, 10)]
    assert store.read().claimed_job_ids().among(range(1, 200)) == set(range(100, 130))
    assert sorted(set(memoryview(store.claims_path.read_bytes()).cast("q"))) == list(
        range(100, 120)
    )
    whole_state = store.read_history()
    assert whole_state.retired[0].resource == job(1, 25)
    # the backup (the head before the rm) reads whole, and claims what it claimed
    backup = store.backup.read()
    assert backup.serial == 1 and backup.claimed_job_ids().among([3, 105]) == {3, 105}
    assert store.backup.read_history().export_job("exportjob/a") == job(1, 25)


def test_forget_keeps_claiming_and_a_reimport_is_a_new_generation(tmp_path: Path) -> None:
    store = written(tmp_path)
    with store.lock() as writer:
        state = writer.read()
        state.retire("exportjob/a", reason="forget", at=T0)
        state = writer.write(state, ["exportjob/a"])
        state.resources["exportjob/a"] = job(200, 22)
        state = writer.write(state, ["exportjob/a"])
    lines = lines_of(store)
    assert [(x["generation"], x["from"], len(x["runs"])) for x in lines] == [(0, 0, 15), (1, 0, 12)]
    head = store.read()
    assert head.claimed_job_ids().among([1, 20, 200, 221, 300]) == {1, 20, 200, 221}
    assert head.claimed_job_ids().max() == 221
    full = store.read_history()
    assert full.retired[0].resource == job(1, 25) and full.export_job("exportjob/a") == job(200, 22)
    assert [m.run.jobId for m in store.find_runs(batch_id="b3")] == [3]


def test_migrate_replace_writes_history_and_claims_from_scratch(tmp_path: Path) -> None:
    source = State(
        lineage="L", serial=7, sandbox="prod", resources={"exportjob/a": job(1, 40, "FAILED")}
    )
    store = StateStore(tmp_path / "s.json", sandbox="prod")
    store.history_path.write_text("junk from before\n")
    with store.lock() as writer:
        head = writer.replace(source)
        assert head.serial == 7 and head.is_head
        assert writer.read_history() == source
    assert store.read_history() == source
    assert store.read().claimed_job_ids().among(range(50)) == set(range(1, 41))


# --- a random schedule of writes, against the whole state kept in memory ---------------------

ADDRESSES = ("exportjob/a", "exportjob/b", "exportjob/c")
_OPS = st.tuples(
    st.sampled_from(["runs"] * 5 + ["settle", "forget", "rm", "compact", "reopen"]),
    st.integers(0, len(ADDRESSES) - 1),
    st.integers(3, 14),  # how many runs
    st.booleans(),  # the new runs are in flight
    st.booleans(),  # journal (changed named) or snapshot (changed None)
)


class _Schedule:
    def __init__(self, folder: Path) -> None:
        self.store = StateStore(folder / "s.json", sandbox="prod")
        self.reference = State(sandbox="prod")  # whole, always
        self.next_id = 1

    def _sync(self, head: State) -> State:
        self.reference = self.reference.model_copy(
            update={"serial": head.serial, "lineage": head.lineage, "sandbox": head.sandbox}
        )
        return head

    def apply(self, ops: list[tuple[str, int, int, bool, bool]]) -> None:
        lock = self.store.lock()
        writer = lock.__enter__()
        state = writer.read()
        try:
            for op, which, count, in_flight, journal in ops:
                address = ADDRESSES[which]
                if op == "runs":
                    new = [
                        run(i, "RUNNING" if in_flight else "SUCCEEDED")
                        for i in range(self.next_id, self.next_id + count)
                    ]
                    self.next_id += count
                    for target in (state, self.reference):
                        res = target.export_job(address) or job(0, 0)
                        target.resources[address] = res.model_copy(
                            update={"runs": [*res.runs, *new]}
                        )
                elif op == "settle":
                    for target in (state, self.reference):
                        found = target.export_job(address)
                        if found is not None:
                            ended = [
                                r.model_copy(update={"status": "FAILED"})
                                if r.status == "RUNNING"
                                else r
                                for r in found.runs
                            ]
                            target.resources[address] = found.model_copy(update={"runs": ended})
                elif op == "forget":
                    if address not in state.resources:
                        continue
                    for target in (state, self.reference):
                        target.retire(address, reason="forget", at=T0)
                elif op == "rm":
                    if address not in state.resources:
                        continue
                    state = writer.read_history()
                    assert state == self.reference
                    for target in (state, self.reference):
                        target.retire(address, reason="state rm", at=T0)
                    state = self._sync(writer.write(state))
                    continue
                elif op == "compact":
                    writer.compact()
                    state = writer.read()
                    continue
                else:  # reopen: the lock released (its settle), taken again
                    lock.__exit__(None, None, None)
                    lock = self.store.lock()
                    writer = lock.__enter__()
                    state = writer.read()
                    continue
                state = self._sync(writer.write(state, [address] if journal else None))
                self.check(state)
        finally:
            lock.__exit__(None, None, None)
        self.check(self.store.read())
        assert self.store.read_history() == self.reference

    def check(self, head: State) -> None:
        reference = self.reference
        assert self.store.read() == head
        full = dict(((s.address, s.generation), r.runs) for s, r in slots(reference))
        assert whole(head, full) == reference
        for slot, res in slots(head):
            if res.archivedRuns:
                all_runs = full[(slot.address, slot.generation)]
                assert HEAD_RUNS <= res.archivedRuns <= head_start(all_runs)
        ids = range(0, self.next_id + 5)
        claimed = head.claimed_job_ids()
        expected = set(reference.claimed_job_ids())
        assert claimed.among(ids) == expected
        assert claimed.max() == max(expected, default=None)


def _run_schedule(ops: list[tuple[str, int, int, bool, bool]]) -> int:
    """Run `ops`; how many history lines they wrote."""
    with tempfile.TemporaryDirectory() as folder:
        schedule = _Schedule(Path(folder))
        schedule.apply(ops)
        history = schedule.store.history_path
        return len(history.read_bytes().splitlines()) if history.exists() else 0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_OPS, min_size=10, max_size=30))
def test_any_schedule_of_writes_reads_back_whole_and_as_its_head(
    ops: list[tuple[str, int, int, bool, bool]],
) -> None:
    _run_schedule(ops)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_OPS, min_size=1, max_size=60))
def test_many_schedules_of_writes_read_back_whole_and_as_their_head(
    ops: list[tuple[str, int, int, bool, bool]],
) -> None:
    _run_schedule(ops)


def test_a_long_schedule_moves_runs_and_reads_back() -> None:
    ops: list[tuple[str, int, int, bool, bool]] = [
        ("runs", i % 3, 9, i % 4 == 0, i % 2 == 0) for i in range(30)
    ]
    ops += [("settle", 0, 1, False, True), ("rm", 1, 1, False, False), ("runs", 1, 14, False, True)]
    ops += [
        ("forget", 2, 1, False, True),
        ("runs", 2, 12, False, True),
        ("compact", 0, 1, False, False),
    ]
    ops += [("reopen", 0, 1, False, False), ("runs", 0, 13, False, True)]
    assert _run_schedule(ops) >= 3


def test_the_claims_index_answers_few_and_many_ids_alike(tmp_path: Path) -> None:
    path = tmp_path / "s.json.claims"
    a, b = 0x1122334455667788, 0x19AABBCCDDEEFF00
    straddling = int.from_bytes(pack([a, b])[4:12], "little", signed=True)  # not a whole id
    path.write_bytes(pack([5, a, b, 5, 7]) + b"\x09\x09")  # a duplicate, and a torn tail
    for many in (False, True):
        index = FileClaims(path)
        extra = list(range(1000, 1100)) if many else []
        assert index.among([5, 6, a, b, straddling, *extra]) == {5, a, b}
        assert index.max_job_id() == b
        assert index.add([]) and index.all_job_ids() == {5, 7, a, b}
    index = FileClaims(path)
    assert index.max_job_id() == b
    append(path, pack([8, 2**62]), unit=8)  # the torn tail cut off first
    assert index.add([8, 2**62])  # appended since the index was opened: it reads them too
    assert index.among([8, 9, 2**62]) == {8, 2**62} and index.max_job_id() == 2**62
    assert index.among([8, 9, 2**62, *range(1000, 1100)]) == {8, 2**62}
    assert FileClaims(path).all_job_ids() == {5, 7, 8, a, b, 2**62}
    missing = FileClaims(tmp_path / "none.claims")
    assert not missing.add([1])  # opened before the file existed: a writer opens a new one
    with pytest.raises(StateFileError, match=r"none\.claims is missing"):
        missing.max_job_id()


def test_a_state_started_over_does_not_claim_the_old_histories_jobs(tmp_path: Path) -> None:
    store = written(tmp_path)  # jobs 1..15 in the history
    store.path.unlink()  # started over (the history and claims files left behind)
    assert store.read().serial == 0 and not store.read().is_head
    with store.lock() as writer:
        head = writer.write(State(resources={"exportjob/b": job(500, 21)}))
    assert head.claimed_job_ids().among(range(1, 600)) == set(range(500, 521))
    assert [line["address"] for line in lines_of(store)] == ["exportjob/b"]
    assert store.read_history().export_job("exportjob/b") == job(500, 21)


@pytest.mark.parametrize("chunk", [8, 12, 24])
def test_the_claims_are_read_a_chunk_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(file_history, "_CHUNK", chunk)  # 12: reads that end inside an id
    path = tmp_path / "s.json.claims"
    path.write_bytes(pack(range(1, 40)) + b"\x01")
    index = FileClaims(path)
    assert index.among([1, 20, 39, 40]) == {1, 20, 39}
    assert index.among([*range(30, 50), *range(100, 150)]) == set(range(30, 40))
    assert index.max_job_id() == 39 and index.all_job_ids() == set(range(1, 40))


def test_the_head_of_a_long_history_is_the_size_of_a_short_one(tmp_path: Path) -> None:
    """Not timed: what a plan reads (the snapshot) does not grow with the history."""

    def state(runs: int) -> State:
        return State(resources={f"exportjob/j{i}": job(i * 1000, runs) for i in range(30)})

    long, short = StateStore(tmp_path / "long.json"), StateStore(tmp_path / "short.json")
    with long.lock() as writer:
        writer.replace(state(200).model_copy(update={"lineage": "L", "serial": 1}))
    with short.lock() as writer:
        writer.replace(state(HEAD_RUNS).model_copy(update={"lineage": "L", "serial": 1}))
    assert long.history_path.stat().st_size > 8 * long.path.stat().st_size  # compact JSON
    assert long.path.stat().st_size < 1.05 * short.path.stat().st_size
    assert len(long.read().claimed_job_ids().head) == len(short.read().claimed_job_ids().head)


def test_claimed_job_ids_work_as_a_set_in_operators() -> None:
    # tests and benches take differences and unions with plain sets: those are plain sets
    from reconciler.state.models import ClaimedJobIds

    claimed = ClaimedJobIds({1, 2})
    assert {1, 3} - claimed == {3} and claimed | {5} == {1, 2, 5} and claimed & {2, 9} == {2}
    assert claimed == {1, 2} and claimed <= {1, 2, 3} and len(claimed) == 2
