"""Scenarios 3 to 6 of issue 9: plan, history, rate limit and memory, each against the emulator.

Every command is the real CLI in a subprocess (`python -m reconciler -C project ...`) pointed at
an emulator in another process through RECONCILER_LOCAL_ENDPOINT; requests are counted by the
emulator's /_emulator/stats, reset before each measured command.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from common import Figure, Scenario
from emulator_proc import CliRun, EmulatorProcess, run_cli
from engine_projects import (
    Built,
    build_live,
    client_for,
    count_runs,
    job_doc,
    save_state,
    steady_documents,
    with_history,
    write_specs,
)

from reconciler.spec.canonical import normalize_request
from reconciler.state import ExportJobResource, Run, State, StateStore

LATENCY_MS = 20
RATE_LIMIT = 50


def _fresh_emulator(tmp: Path) -> EmulatorProcess:
    emu = EmulatorProcess(tmp / "emulator")
    # Jobs finish the moment they are created, so "all runs finished" needs no waiting.
    emu.configure(job_new_seconds=0, job_processing_seconds=0)
    return emu


def _steady_project(tmp: Path, emu: EmulatorProcess, jobs: int) -> Built:
    """`jobs` datasets and jobs, live and in state; checked steady by the tool's own plan."""
    project = tmp / "project"
    write_specs(project, "steady.yaml", steady_documents(jobs))
    built = build_live(project, emu.base_url)
    _check_steady(project, emu)
    return built


def _check_steady(project: Path, emu: EmulatorProcess) -> None:
    checked = run_cli(project, ["plan", "--detailed-exitcode"], emu.env())
    if checked.returncode != 0:
        raise RuntimeError(f"the bench's steady state is not steady:\n{checked.stdout[-600:]}")


def _timed_plans(project: Path, emu: EmulatorProcess, repeat: int) -> tuple[int, float]:
    """Requests of one `plan` and its median wall time over `repeat` runs."""
    counts, times = [], []
    for _ in range(repeat):
        emu.reset_stats()
        done = run_cli(project, ["plan"], emu.env())
        counts.append(emu.requests_since_reset())
        times.append(done.seconds)
    if len(set(counts)) != 1:
        raise RuntimeError(f"the same plan sent different request counts: {counts}")
    return counts[0], statistics.median(times)


def _naive_refresh(emu: EmulatorProcess, job_ids: list[int], repeat: int) -> tuple[int, float]:
    """One GET per recorded run on the engine's pool of 8: requests and median wall time."""
    counts, times = [], []
    for _ in range(repeat):
        emu.reset_stats()
        start = time.perf_counter()
        with client_for(emu.base_url) as client:
            records = client.map(client.get_export_job, job_ids)
        times.append(time.perf_counter() - start)
        counts.append(emu.requests_since_reset())
        if any(record is None for record in records):
            raise RuntimeError("the naive refresh did not find every recorded run")
    return counts[0], statistics.median(times)


def _runs(state: State) -> list[Run]:
    return [
        run
        for res in state.resources.values()
        if isinstance(res, ExportJobResource)
        for run in res.runs
    ]


def scenario_plan_steady(quick: bool) -> list[Figure]:
    """3. `plan` over N finished jobs at 20 ms latency vs one GET per recorded run; then runs in flight."""
    jobs, flying, repeat = (50, 10, 1) if quick else (1000, 50, 3)
    name = "plan-steady"
    with tempfile.TemporaryDirectory() as tmp_name, _fresh_emulator(Path(tmp_name)) as emu:
        tmp = Path(tmp_name)
        built = _steady_project(tmp, emu, jobs)
        emu.set_fault(endpoint="*", latency_ms=LATENCY_MS)
        plan_requests, plan_wall = _timed_plans(built.project, emu, repeat)
        naive_requests, naive_wall = _naive_refresh(
            emu, [run.jobId for run in _runs(built.state)], repeat
        )

        # Runs in flight: the first `flying` jobs change, so apply replaces them with new runs
        # that stay PROCESSING; a second apply records the listing's watermark past them.
        emu.clear_faults()
        emu.set_fault(jobs={"stuck": flying})
        changed = steady_documents(jobs)
        for i in range(flying):
            changed[2 * i + 1] = changed[2 * i + 1].replace("personalEmail.address,", "")
        write_specs(built.project, "steady.yaml", changed)
        run_cli(built.project, ["apply", "--auto-approve"], emu.env())
        run_cli(built.project, ["apply", "--auto-approve"], emu.env())
        in_flight = [
            run
            for run in _runs(StateStore(built.state_path, "prod").read())
            if run.status not in ("SUCCEEDED", "FAILED", "CANCELLED")
        ]
        if len(in_flight) != flying:
            raise RuntimeError(f"expected {flying} runs in flight, the state has {len(in_flight)}")
        emu.set_fault(endpoint="*", latency_ms=LATENCY_MS)
        flying_requests, flying_wall = _timed_plans(built.project, emu, repeat)
    growth = flying_requests - plan_requests
    how = "CLI `plan` in a subprocess; naive = client GET of every recorded run id, 8 threads, "
    return [
        Figure(
            name,
            f"plan requests, {jobs:,} finished jobs",
            plan_requests,
            "",
            naive_requests,
            "naive refresh",
            "<= 2% of naive",
            plan_requests <= 0.02 * naive_requests,
            how
            + f"{LATENCY_MS} ms latency on every request"
            + (
                "; at this size the fixed floor (token, one dataset page, one job page) exceeds "
                "2%: the budget is for 1,000 jobs"
                if quick
                else ""
            ),
        ),
        Figure(
            name,
            f"plan wall, {jobs:,} finished jobs",
            plan_wall,
            "s",
            naive_wall,
            "naive refresh",
            "< 1.5 s",
            plan_wall < 1.5,
            "plan includes interpreter start-up and spec loading; the naive refresh does not",
        ),
        Figure(
            name,
            f"plan request growth, {flying} runs in flight",
            growth,
            "",
            flying,
            "runs in flight",
            f"about {flying} (<= {round(flying * 1.2)}), not {jobs:,}",
            flying * 0.8 <= growth <= flying * 1.2,
            f"{plan_requests} -> {flying_requests} requests; plan wall {flying_wall:.3f} s",
        ),
    ]


def _new_jobs(project: Path, count: int, datasets: int) -> None:
    write_specs(
        project,
        "new.yaml",
        [job_doc(f"new-{i:05d}", dataset=f"ds-{i % datasets:05d}") for i in range(count)],
    )


def _median_load(path: Path, repeat: int) -> tuple[float, State]:
    """Median wall time of StateStore.read, and the state it read."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        state = StateStore(path, "prod").read()
        times.append(time.perf_counter() - start)
    return statistics.median(times), state


@dataclass(frozen=True)
class HistoryRun:
    """One project of scenario 4: its state's size and load time, and the plan and apply of new jobs."""

    runs: int
    size_mb: float
    load_s: float
    plan: CliRun
    apply: CliRun
    writes: int  # state writes of the apply (the serial's increase)


def _history_run(jobs: int, runs_per_job: int, new: int) -> HistoryRun:
    """Build with `runs_per_job` runs per job, then plan and apply `new` more jobs at 20 ms."""
    with tempfile.TemporaryDirectory() as tmp_name, _fresh_emulator(Path(tmp_name)) as emu:
        tmp = Path(tmp_name)
        built = _steady_project(tmp, emu, jobs)
        state = with_history(built.state, runs_per_job)
        save_state(built, state)
        _check_steady(built.project, emu)
        load, before = _median_load(built.state_path, 3)
        size_mb = built.state_path.stat().st_size / 1e6
        _new_jobs(built.project, new, jobs)
        emu.set_fault(endpoint="*", latency_ms=LATENCY_MS)
        planned = run_cli(built.project, ["plan", "--detailed-exitcode"], emu.env(), ok=(2,))
        applied = run_cli(built.project, ["apply", "--auto-approve"], emu.env())
        after = StateStore(built.state_path, "prod").read()
        made = sum(1 for i in range(new) if after.export_job(f"exportjob/new-{i:05d}"))
        if made != new:
            raise RuntimeError(f"apply recorded {made} of {new} new jobs")
        return HistoryRun(
            count_runs(state), size_mb, load, planned, applied, after.serial - before.serial
        )


def scenario_long_history(quick: bool) -> list[Figure]:
    """4. A state of 100,000 runs: its load time, and what it adds to a plan and an apply of 100 jobs."""
    jobs, per_job, new = (50, 40, 10) if quick else (1000, 100, 100)
    name = "long-history"
    small = _history_run(jobs, 1, new)
    large = _history_run(jobs, per_job, new)
    extra = large.apply.seconds - small.apply.seconds
    cost = extra / small.apply.seconds
    baseline_name = f"{small.runs:,} runs"
    return [
        Figure(
            name,
            f"state load, {large.runs:,} runs ({large.size_mb:.0f} MB)",
            large.load_s,
            "s",
            small.load_s,
            baseline_name,
            "< 1 s",
            large.load_s < 1.0,
            "StateStore.read in the bench process, median of 3",
        ),
        Figure(
            name,
            f"plan {new} new jobs, {large.runs:,}-run history",
            large.plan.seconds,
            "s",
            small.plan.seconds,
            baseline_name,
            "info (no budget)",
            None,
            f"{LATENCY_MS} ms latency; baseline: the same {jobs:,} jobs with one run each",
        ),
        Figure(
            name,
            f"apply {new} new jobs, {large.runs:,}-run history",
            large.apply.seconds,
            "s",
            small.apply.seconds,
            baseline_name,
            "history adds <= 20%",
            cost <= 0.20,
            f"the history adds {cost:.0%}; {large.writes} state writes, "
            f"{extra / max(large.writes, 1):.3f} s more each than with {small.runs:,} runs",
        ),
    ]


def _rate_limited_apply(count: int, rate: float | None) -> tuple[CliRun, int, int, int]:
    """Apply `count` creates (rate-limited if `rate`): (run, 429 answers, failed, duplicates)."""
    with tempfile.TemporaryDirectory() as tmp_name, _fresh_emulator(Path(tmp_name)) as emu:
        tmp = Path(tmp_name)
        answer = emu.admin(
            "POST",
            "dataSets",
            {
                "name": "bench rate-limit target",
                "schemaRef": {
                    "id": "https://ns.adobe.com/xdm/context/profile__union",
                    "contentType": "application/vnd.adobe.xed+json;version=1",
                },
            },
        )
        dataset_id = answer[0].rsplit("/", 1)[-1]
        project = tmp / "project"
        write_specs(
            project,
            "jobs.yaml",
            [job_doc(f"rl-{i:05d}", dataset_id=dataset_id) for i in range(count)],
        )
        if rate is not None:
            emu.set_fault(endpoint="*", rate_limit_per_second=rate)
            # The tool's own pacing, just under the platform's limit (reconciler.yaml).
            settings = project / "reconciler.yaml"
            settings.write_text(settings.read_text() + f"requestsPerSecond: {rate - 1}\n")
        applied = run_cli(project, ["-v", "apply", "--auto-approve"], emu.env(), ok=(0, 1))
        emu.clear_faults()
        refused = sum(1 for line in applied.stderr.splitlines() if " 429 " in line)
        state = StateStore(project / ".reconciler" / "state" / "prod.json", "prod").read()
        recorded = sum(
            1
            for i in range(count)
            if (res := state.export_job(f"exportjob/rl-{i:05d}")) and res.runs
        )
        with client_for(emu.base_url) as client:
            listed = Counter(
                json.dumps(normalize_request(r.raw()), sort_keys=True)
                for r in client.iter_export_jobs()
            )
        duplicates = sum(n - 1 for n in listed.values())
        if applied.returncode and recorded == count:
            raise RuntimeError(f"apply failed after recording every job: {applied.stderr[-300:]}")
        return applied, refused, count - recorded, duplicates


def scenario_rate_limited(quick: bool) -> list[Figure]:
    """5. N creates with the emulator answering 429 above 50 requests per second."""
    count = 100 if quick else 1000
    name = "apply-rate-limited"
    bound = count / RATE_LIMIT
    free, _, free_failed, free_dupes = _rate_limited_apply(count, None)
    limited, refused, failed, dupes = _rate_limited_apply(count, RATE_LIMIT)
    return [
        Figure(
            name,
            f"failed creates of {count:,}",
            failed,
            "",
            free_failed,
            "no limit",
            "0",
            failed == 0,
            f"{refused} answers were 429 and retried by the client; apply exited {limited.returncode}",
        ),
        Figure(
            name,
            "duplicate jobs",
            dupes,
            "",
            free_dupes,
            "no limit",
            "0",
            dupes == 0,
            "every listed job's normalized request counted",
        ),
        Figure(
            name,
            f"apply {count:,} creates at {RATE_LIMIT}/s (wall)",
            limited.seconds,
            "s",
            bound,
            f"{count:,}/{RATE_LIMIT} s",
            "<= 1.25x",
            limited.seconds <= 1.25 * bound,
            f"project sets requestsPerSecond: {RATE_LIMIT - 1} (client-side pacing)",
        ),
        Figure(
            name,
            f"apply {count:,} creates, no limit (wall)",
            free.seconds,
            "s",
            bound,
            f"{count:,}/{RATE_LIMIT} s",
            "info (no budget)",
            None,
            "what the apply costs without any 429",
        ),
    ]


def scenario_memory(quick: bool) -> list[Figure]:
    """6. Peak RSS of scenario 3's `plan` with scenario 4's history."""
    jobs, per_job = (50, 40) if quick else (1000, 100)
    with tempfile.TemporaryDirectory() as tmp_name, _fresh_emulator(Path(tmp_name)) as emu:
        tmp = Path(tmp_name)
        built = _steady_project(tmp, emu, jobs)
        small = run_cli(built.project, ["plan"], emu.env())
        state = with_history(built.state, per_job)
        save_state(built, state)
        large = run_cli(built.project, ["plan", "--detailed-exitcode"], emu.env())
        runs = count_runs(state)
    return [
        Figure(
            "memory",
            f"plan peak RSS, {jobs:,} jobs, {runs:,} runs",
            large.max_rss_mb,
            "MB",
            small.max_rss_mb,
            f"{jobs:,} runs",
            "< 300 MB",
            large.max_rss_mb < 300,
            "ru_maxrss of the plan process (os.wait4 in a small launcher, not the bench)",
        ),
    ]


SCENARIOS: dict[str, Scenario] = {
    "plan-steady": scenario_plan_steady,
    "long-history": scenario_long_history,
    "apply-rate-limited": scenario_rate_limited,
    "memory": scenario_memory,
}
