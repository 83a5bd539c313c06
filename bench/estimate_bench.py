"""What impact estimates cost a plan (issue 17): a steady-state plan sends no estimate request at
all; a plan with 50 creates on 10 distinct segment sets sends at most 10 preview jobs.

    python bench/estimate_bench.py [--quick]

The real CLI in a subprocess against an emulator in another process (bench/emulator_proc.py);
requests are counted by the emulator's /_emulator/stats, reset before each measured plan. The
emulator seeds four segment definitions, so the 10 distinct audiences are 10 distinct sets of
them (each estimated as the union of its segments, one preview per set). `SCENARIOS` registers
it with bench/run.py.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure, Scenario
from emulator_proc import EmulatorProcess, run_cli
from engine_projects import dataset_doc, write_specs

from reconciler.emulator import defaults
from reconciler.engine.plan_reads import NO_ESTIMATE_ENV

CREATES = 50
SEGMENT_SETS = 10
# Routes of the previews-and-estimates endpoints and the sample status (Profile API).
_ESTIMATE_ROUTES = ("/data/core/ups/preview", "/data/core/ups/estimate", "/previewsamplestatus")


def segment_sets(count: int) -> list[tuple[str, ...]]:
    """`count` distinct non-empty sets of the emulator's seeded segment ids."""
    ids = [str(s["id"]) for s in defaults.SEGMENTS]
    sets = [c for n in range(1, len(ids) + 1) for c in itertools.combinations(ids, n)]
    if count > len(sets):
        raise ValueError(f"only {len(sets)} distinct segment sets of {len(ids)} segments")
    return sets[:count]


def audience_doc(name: str, segments: tuple[str, ...]) -> str:
    listed = ", ".join(f"{{segmentId: {s}}}" for s in segments)
    return (
        "apiVersion: reconciler/v1\nkind: ExportJob\n"
        f"metadata: {{name: {name}}}\n"
        "spec:\n"
        "  fields: identities.id,personalEmail.address\n"
        f"  filter: {{segments: [{listed}]}}\n"
        "  destination: {dataset: audiences, segmentPerBatch: false}\n"
        "  schema: {name: _xdm.context.profile}\n"
    )


def estimate_requests(emu: EmulatorProcess) -> tuple[int, int]:
    """(preview jobs started, every estimate-related request) since the last stats reset."""
    routes: dict[str, Any] = emu.admin("GET", "stats")["routes"]
    previews = int(routes.get("POST /data/core/ups/preview", 0))
    related = sum(int(n) for r, n in routes.items() if any(p in r for p in _ESTIMATE_ROUTES))
    return previews, related


def scenario_estimates(quick: bool) -> list[Figure]:
    """Estimate requests of a 50-create plan and of the steady plan after applying it."""
    name = "estimates"
    env = {k: v for k, v in os.environ.items() if k != NO_ESTIMATE_ENV}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with EmulatorProcess(tmp / "emulator") as emu:
            emu.configure(job_new_seconds=0, job_processing_seconds=0)
            # The settle time is the platform's, not the tool's: the guide's 10-15 s is
            # waited for in the cooperative profile's 2 s here.
            emu.admin("POST", "behaviour", {"estimate_settle_seconds": 2})
            project = tmp / "project"
            sets = segment_sets(SEGMENT_SETS)
            docs = [dataset_doc("audiences")]
            docs += [audience_doc(f"aud-{i:03d}", sets[i % len(sets)]) for i in range(CREATES)]
            write_specs(project, "audiences.yaml", docs)
            run_env = {**emu.env(), **env}
            emu.reset_stats()
            planned = run_cli(project, ["plan", "--format", "json"], run_env)
            previews, related = estimate_requests(emu)
            ready = planned.stdout.count('"state": "ready"')
            run_cli(project, ["apply", "--auto-approve"], run_env)
            emu.reset_stats()
            steady = run_cli(project, ["plan", "--detailed-exitcode"], run_env, ok=(0,))
            _, steady_related = estimate_requests(emu)
            steady_total = emu.requests_since_reset()
    return [
        Figure(
            name,
            f"plan: {CREATES} creates on {SEGMENT_SETS} segment sets, preview jobs",
            previews,
            "jobs",
            CREATES,
            "one per create",
            f"<= {SEGMENT_SETS}",
            previews <= SEGMENT_SETS,
            f"{ready} of {CREATES} ready, {related} estimate requests, {planned.seconds:.1f} s",
        ),
        Figure(
            name,
            "steady-state plan: estimate requests",
            steady_related,
            "req",
            steady_total,
            "all its requests",
            "0",
            steady_related == 0,
            f"plan took {steady.seconds:.2f} s",
        ),
    ]


SCENARIOS: dict[str, Scenario] = {"estimates": scenario_estimates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for figure in scenario_estimates(args.quick):
        print(f"{figure.figure}: {figure.measured:g} {figure.unit} ({figure.note})")


if __name__ == "__main__":
    main()
