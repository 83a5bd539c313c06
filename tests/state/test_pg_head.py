"""The PostgreSQL state's head and history (issue 16): a head read takes each resource's runs from
`archivedRuns` on, `read_history` every run, every write keeps every run's row, and the history's
claimed job ids are asked of the tables. Against a real server (tests/state/conftest.py)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_postgres import reconciler

from reconciler.state import State, StateStore
from reconciler.state.head import to_head
from reconciler.state.migrations import StateFileError
from reconciler.state.models import HEAD_RUNS, BatchRef, ExportJobResource, Run, head_start
from reconciler.state.postgres import PgTarget, PostgresStore, init_schema, pg_target

T0 = datetime(2026, 1, 1, tzinfo=UTC)
_jobs = itertools.count(1000)


def run(job: int | None = None, status: str = "SUCCEEDED", hours: int | None = None) -> Run:
    job = next(_jobs) if job is None else job
    return Run(
        jobId=job,
        fingerprint="f" * 64,
        status=status,
        batchId=f"batch-{job}" if status == "SUCCEEDED" else None,
        batches=[BatchRef(segmentId="s", batchId=f"sb-{job}")] if job % 3 == 0 else [],
        createdAt=T0 + timedelta(hours=job if hours is None else hours),
        finishedAt=T0 + timedelta(hours=job, minutes=5) if status == "SUCCEEDED" else None,
        reason="rerun: refresh due",
    )


def job_resource(runs: list[Run]) -> ExportJobResource:
    return ExportJobResource(
        fingerprint="f" * 64,
        request={"fields": "a,b", "destination": {"dataset": "crm"}},
        runs=runs,
    )


def job(state: State, address: str) -> ExportJobResource:
    res = state.export_job(address)
    assert res is not None, address
    return res


def ej(res: object) -> ExportJobResource:
    assert isinstance(res, ExportJobResource)
    return res


def whole_state(resources: int = 3, per: int = 30) -> State:
    return State(
        sandbox="prod",
        resources={
            f"exportjob/e{r}": job_resource([run() for _ in range(per)]) for r in range(resources)
        },
    )


def rows(target: PgTarget, sandbox: str = "prod") -> dict[tuple[str, int, int], tuple[int, str]]:
    """(address, retired_seq, position) -> (job_id, recorded_at) of every run row."""
    with psycopg.connect(target.conninfo, options=target.params["options"]) as conn:
        found = conn.execute(
            "SELECT address, retired_seq, position, job_id, recorded_at::text FROM runs "
            "WHERE sandbox = %s",
            (sandbox,),
        ).fetchall()
    return {(a, s, p): (j, at) for a, s, p, j, at in found}


def test_a_head_read_is_the_suffix_head_start_keeps_and_read_history_the_whole(
    pg_store: PostgresStore,
) -> None:
    whole = whole_state()
    whole.resources["exportjob/e1"] = job_resource(
        [*(run() for _ in range(12)), run(status="PROCESSING"), *(run() for _ in range(17))]
    )
    whole.resources["exportjob/short"] = job_resource([run() for _ in range(HEAD_RUNS + 5)])
    with pg_store.lock() as writer:
        writer.replace(whole)
    head = pg_store.read()
    assert head.is_head and head == to_head(whole, {}).state
    for address, res in whole.resources.items():
        got = head.export_job(address)
        assert got is not None and isinstance(res, ExportJobResource)
        start = head_start(res.runs)
        assert got.archivedRuns == start and got.runs == res.runs[start:], address
        assert got.run_count == len(res.runs)
    assert job(head, "exportjob/e0").archivedRuns == 20
    assert job(head, "exportjob/e1").archivedRuns == 12  # in flight: kept; type: ignore[union-attr]
    assert job(head, "exportjob/short").archivedRuns == 0
    back = pg_store.read_history()
    assert back == whole and not back.is_head
    assert all(
        r.archivedRuns == 0 for r in back.resources.values() if isinstance(r, ExportJobResource)
    )
    with pg_store.lock() as writer:
        assert writer.read() == head and writer.read_history() == whole
    # every run is a row, at its position among all its resource's runs
    table = rows(pg_store.target)
    assert len(table) == sum(len(ej(r).runs) for r in whole.resources.values())
    assert table[("exportjob/e0", 0, 0)][0] == job(whole, "exportjob/e0").runs[0].jobId


def test_the_claims_of_the_history_are_asked_not_loaded(pg_store: PostgresStore) -> None:
    whole = whole_state(resources=2)
    old = job(whole, "exportjob/e0").runs[0].jobId
    newest = max(r.jobId for res in whole.resources.values() for r in ej(res).runs)
    whole.resources["exportjob/gone"] = job_resource([run() for _ in range(25)])
    gone = job(whole, "exportjob/gone").runs[0].jobId
    whole.retire("exportjob/gone", reason="state rm", at=T0)
    with pg_store.lock() as writer:
        writer.replace(whole)
    head = pg_store.read()
    claims = head.claimed_job_ids()
    assert old not in claims.head and old in claims  # asked of the tables
    assert claims.among({old, gone, 1, newest}) == {old, newest}
    assert gone not in claims  # state rm: no longer claimed
    assert claims.max() == max(whole.claimed_job_ids()) == newest
    assert set(claims) == set(whole.claimed_job_ids())
    with pg_store.lock() as writer:  # the lock's connection answers while it is held
        assert writer.read().claimed_job_ids().among([old, gone]) == {old}


def test_many_small_writes_read_back_whole_and_keep_the_history_rows(
    pg_store: PostgresStore,
) -> None:
    reference = whole_state(resources=2, per=5)
    with pg_store.lock() as writer:
        state = writer.write(reference)
        reference.serial, reference.lineage = state.serial, state.lineage
        for step in range(40):
            history_rows = rows(pg_store.target)
            address = f"exportjob/e{step % 2}"
            for target in (state, reference):
                res = target.export_job(address)
                assert res is not None
                settled = [
                    r.model_copy(update={"status": "SUCCEEDED"}) if r.status != "SUCCEEDED" else r
                    for r in res.runs[-1:]
                ]
                new = run(job=10_000 + step, status="PROCESSING")
                target.resources[address] = res.model_copy(
                    update={"runs": [*res.runs[:-1], *settled, new]}
                )
            state = writer.write(state, [address])
            reference.serial = state.serial
        head = writer.read()
    assert pg_store.read_history() == reference
    assert pg_store.read() == head == state
    for held in head.resources.values():
        assert isinstance(held, ExportJobResource)
        assert held.archivedRuns >= HEAD_RUNS and len(held.runs) < 2 * HEAD_RUNS + 2
    # the last write wrote only the last two runs of e1 (one settled, one new)
    after = rows(pg_store.target)
    last = job(reference, "exportjob/e1").run_count
    assert set(after) == {*history_rows, ("exportjob/e1", 0, last - 1)}
    assert {k for k in history_rows if after[k] != history_rows[k]} == {
        ("exportjob/e1", 0, last - 2)
    }


def test_a_retire_moves_the_rows_and_a_re_import_starts_a_new_resource(
    pg_store: PostgresStore,
) -> None:
    reference = whole_state(resources=1, per=30)
    address = "exportjob/e0"
    with pg_store.lock() as writer:
        writer.replace(reference)
        before = rows(pg_store.target)
        head = writer.read()
        head.retire(address, reason="forget", at=T0)
        reference.retire(address, reason="forget", at=T0)
        head = writer.write(head, [address])
        reference.serial, reference.lineage = head.serial, head.lineage
        moved = rows(pg_store.target)
        # the same rows (recorded_at kept: moved by UPDATE, not written again) at seq 1
        assert moved == {(a, 1, p): v for (a, _, p), v in before.items()}
        claims = head.claimed_job_ids()
        first = ej(reference.retired[0].resource).runs[0].jobId
        assert first in claims  # forget: still claimed
        # re-imported at the same address: a new resource, the old one's runs kept
        fresh = [run() for _ in range(22)]
        for target in (head, reference):
            target.resources[address] = job_resource(fresh)
        head = writer.write(head, [address])
        reference.serial = head.serial
        # state rm of the new one, through the whole state (as the command does)
        whole = writer.read_history()
        assert whole == reference
        whole.retire(address, reason="state rm", at=T0 + timedelta(days=1))
        reference.retire(address, reason="state rm", at=T0 + timedelta(days=1))
        head = writer.write(whole)
        reference.serial = head.serial
    back = pg_store.read_history()
    assert back == reference and len(back.retired) == 2
    assert len(rows(pg_store.target)) == 52
    head = pg_store.read()
    assert ej(head.retired[0].resource).archivedRuns == 20
    assert first in head.claimed_job_ids()
    last = ej(reference.retired[1].resource).runs[0].jobId
    assert last not in head.claimed_job_ids()


def test_a_write_that_would_drop_history_rows_is_refused(pg_store: PostgresStore) -> None:
    with pg_store.lock() as writer:
        writer.replace(whole_state(resources=1))
        head = writer.read()
        del head.resources["exportjob/e0"]
        with pytest.raises(StateFileError, match="would drop the 20 runs the history"):
            writer.write(head, ["exportjob/e0"])
        # nothing written; the next write starts from the rows again
        head = writer.read()
        entry = head.resources["exportjob/e0"]
        head.retire("exportjob/e0", reason="forget", at=T0)
        head = writer.write(head, ["exportjob/e0"])
        edited = head.model_copy(update={"retired": []})
        with pytest.raises(StateFileError, match="retired entry 1"):
            writer.write(edited)
    assert pg_store.read().retired[0].resource == entry


def test_a_write_after_a_failed_one_keeps_the_history(pg_store: PostgresStore) -> None:
    reference = whole_state(resources=1)
    with pg_store.lock() as writer:
        writer.replace(reference)
        head = writer.read()
        res = head.export_job("exportjob/e0")
        assert res is not None
        bad = run(status="PROCESSING").model_copy(update={"reason": "nul \x00"})
        head.resources["exportjob/e0"] = res.model_copy(update={"runs": [*res.runs, bad]})
        with pytest.raises(Exception, match="cannot write"):
            writer.write(head, ["exportjob/e0"])
        good = run(status="PROCESSING")
        head.resources["exportjob/e0"] = res.model_copy(update={"runs": [*res.runs, good]})
        written = writer.write(head)  # changed=None on a head: the archived rows stay
    whole = pg_store.read_history()
    assert job(whole, "exportjob/e0").runs == [
        *job(reference, "exportjob/e0").runs,
        good,
    ]
    assert pg_store.read() == written


def test_migrate_round_trips_a_state_with_a_history(tmp_path: Path, pg_env: dict[str, str]) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "reconciler.yaml").write_text("state: {backend: postgres}\n")
    original = whole_state(resources=2, per=25)
    original.resources["exportjob/old"] = job_resource([run() for _ in range(21)])
    original.retire("exportjob/old", reason="forget", at=T0)
    original.serial, original.lineage = 3, str(uuid.uuid4())
    local = StateStore(project / ".reconciler/state/prod.json", "prod")
    with local.lock() as writer:
        writer.replace(original)
    assert reconciler(project, pg_env, "state", "init").returncode == 0
    result = reconciler(project, pg_env, "state", "migrate", "--to", "postgres")
    assert result.returncode == 0, result.stderr
    remote = PostgresStore(pg_target(pg_env), "prod")
    assert remote.read_history() == original
    assert remote.read().is_head
    local.path.unlink()
    for extra in local.path.parent.glob("prod.json*"):
        extra.unlink()
    result = reconciler(project, pg_env, "state", "migrate", "--to", "local")
    assert result.returncode == 0, result.stderr
    assert local.read_history() == original


# --- a property: any schedule of writes reads back whole, and the head is its suffix ---------

_OPS = st.lists(
    st.tuples(
        st.sampled_from(["run", "settle", "forget", "rm", "import", "whole", "all", "reread"]),
        st.integers(0, 2),
    ),
    min_size=5,
    max_size=60,
)


def _apply(state: State, op: str, i: int, job: int) -> str | None:
    """One engine-like change; the address changed (None: nothing to do)."""
    address = f"exportjob/p{i}"
    res = state.export_job(address)
    when = T0 + timedelta(hours=job)
    if op == "import":
        if res is not None:
            return None
        state.resources[address] = job_resource([run(job=job)])
    elif res is None:
        return None
    elif op == "run":
        n = 1 + job % 7  # some writes add several runs
        new = [run(job=job * 10 + k, status="PROCESSING") for k in range(n)]
        state.resources[address] = res.model_copy(update={"runs": [*res.runs, *new]})
    elif op == "settle":
        runs = [
            r.model_copy(update={"status": "SUCCEEDED", "finishedAt": when})
            if r.status == "PROCESSING"
            else r
            for r in res.runs
        ]
        state.resources[address] = res.model_copy(update={"runs": runs})
    else:
        state.retire(address, reason="forget" if op == "forget" else "state rm", at=when)
    return address


def _check_head(head: State, whole: State) -> None:
    """`head` is `whole` but for each resource's oldest runs (0, or HEAD_RUNS and more)."""
    assert sorted(head.resources) == sorted(whole.resources)
    assert [(e.address, e.reason, e.retiredAt) for e in head.retired] == [
        (e.address, e.reason, e.retiredAt) for e in whole.retired
    ]
    pairs = [
        *((head.resources[a], r) for a, r in whole.resources.items()),
        *((h.resource, w.resource) for h, w in zip(head.retired, whole.retired, strict=True)),
    ]
    for res, full in pairs:
        assert isinstance(res, ExportJobResource) and isinstance(full, ExportJobResource)
        assert res.runs == full.runs[res.archivedRuns :]
        assert res.archivedRuns == 0 or res.archivedRuns >= HEAD_RUNS
        assert res.model_copy(update={"runs": full.runs, "archivedRuns": 0}) == full
    rest = {"resources", "retired"}
    assert head.model_dump(exclude=rest) == whole.model_dump(exclude=rest)


def _schedule(store: PostgresStore, ops: list[tuple[str, int]]) -> None:
    reference = State(sandbox=store.sandbox)
    job = 0
    with store.lock() as writer:
        state = writer.read()
        for op, i in ops:
            job += 1
            if op == "reread":
                state = writer.read()
                continue
            if op == "all":  # a head written with changed=None: every address compared
                _apply(state, "run", i, job)
                _apply(reference, "run", i, job)
                state = writer.write(state)
            elif op == "whole":
                whole = writer.read_history()
                assert whole == reference
                address = _apply(whole, "run", i, job)
                _apply(reference, "run", i, job)
                state = writer.write(whole)
            else:
                address = _apply(state, op, i, job)
                _apply(reference, op, i, job)
                if address is None:
                    continue
                state = writer.write(state, [address])
            reference.serial = state.serial
            reference.lineage = state.lineage
    assert store.read_history() == reference
    _check_head(store.read(), reference)
    assert set(store.read().claimed_job_ids()) == set(reference.claimed_job_ids())


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=_OPS)
def test_any_write_schedule_reads_back_whole(
    pg_target: PgTarget, ops: list[tuple[str, int]]
) -> None:
    _schedule(PostgresStore(pg_target, f"p{uuid.uuid4().hex[:12]}"), ops)


@pytest.mark.slow
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=_OPS)
def test_any_write_schedule_reads_back_whole_many(
    pg_target: PgTarget, ops: list[tuple[str, int]]
) -> None:
    _schedule(PostgresStore(pg_target, f"p{uuid.uuid4().hex[:12]}"), ops)


def test_a_long_schedule_archives_retires_and_re_imports(pg_target: PgTarget) -> None:
    grow = [("run", 0), ("settle", 0)] * 6
    ops = [
        ("import", 0),
        ("import", 1),
        *grow,
        ("forget", 0),
        ("import", 0),
        *grow,
        ("whole", 1),
        ("reread", 0),
        ("run", 0),
        ("rm", 0),
        ("import", 0),
        ("run", 1),
        ("settle", 1),
    ]
    store = PostgresStore(pg_target, "long")
    _schedule(store, ops)
    head = store.read()
    held = [ej(e.resource).archivedRuns for e in head.retired]
    assert len(held) == 2 and all(n >= HEAD_RUNS for n in held)
    whole = store.read_history()
    runs = [*whole.resources.values(), *(e.resource for e in whole.retired)]
    count = sum(len(r.runs) for r in runs if isinstance(r, ExportJobResource))
    assert head.is_head and len(rows(pg_target, "long")) == count


def test_state_init_migrates_schema_2_to_3(pg_env: dict[str, str]) -> None:
    target = pg_target(pg_env)
    assert init_schema(target, upto=2) == (0, 2)
    assert init_schema(target) == (2, 3)
    with psycopg.connect(target.conninfo, options=target.params["options"]) as conn:
        [(on_update,)] = conn.execute(
            "SELECT confupdtype FROM pg_constraint WHERE conname = 'batches_run_fkey' "
            "AND connamespace = current_schema()::regnamespace"
        ).fetchall()
        assert on_update == "c"  # batches follow their run's key
        assert conn.execute("SELECT to_regclass('runs_sandbox_job_id')").fetchone() != (None,)
    store = PostgresStore(target, "prod")
    with store.lock() as writer:
        writer.replace(whole_state(resources=1))
        head = writer.read()
        head.retire("exportjob/e0", reason="forget", at=T0)
        writer.write(head, ["exportjob/e0"])
    assert ej(store.read_history().retired[0].resource).run_count == 30


def test_an_edited_retired_list_keeps_each_entry_s_rows(pg_store: PostgresStore) -> None:
    whole = whole_state(resources=1, per=5)
    for name, count in (("a", 25), ("b", 3), ("c", 30)):
        whole.resources[f"exportjob/{name}"] = job_resource([run() for _ in range(count)])
        whole.retire(f"exportjob/{name}", reason="forget", at=T0 + timedelta(hours=count))
    with pg_store.lock() as writer:
        writer.replace(whole)
        before = rows(pg_store.target)
        edited = writer.read_history()
        edited.retired = [edited.retired[2], edited.retired[0]]  # reordered, b (no history) gone
        head = writer.write(edited)
        after = rows(pg_store.target)
    assert pg_store.read_history() == edited.model_copy(
        update={"serial": head.serial, "lineage": head.lineage}
    )
    # a's rows went from seq 1 to 2 and c's from 3 to 1, by UPDATE (recorded_at kept)
    moved = {(a, {1: 2, 3: 1}[s], p): v for (a, s, p), v in before.items() if s in (1, 3)}
    assert {k: v for k, v in after.items() if k[1]} == moved
    assert [ej(e.resource).archivedRuns for e in pg_store.read().retired] == [20, 15]


def test_the_claims_index_answers_for_its_own_sandbox_only(pg_target: PgTarget) -> None:
    prod, dev = PostgresStore(pg_target, "prod"), PostgresStore(pg_target, "dev")
    mine, theirs = whole_state(resources=1), whole_state(resources=1)  # theirs: higher ids
    with prod.lock() as writer:
        writer.replace(mine)
    with dev.lock() as writer:
        writer.replace(theirs)
    claims = prod.read().claimed_job_ids()
    oldest = job(theirs, "exportjob/e0").runs[0].jobId
    assert claims.max() == max(r.jobId for r in job(mine, "exportjob/e0").runs) < oldest
    assert claims.among([oldest]) == set() and oldest in dev.read().claimed_job_ids()
