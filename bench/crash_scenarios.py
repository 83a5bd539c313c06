"""Scenario 7 (issue 13): a SIGKILL loop over apply under the emulator's documented profile.

    python bench/run.py --only sigkill-loop

20 applies (8 with --quick), each a subprocess killed with SIGKILL at a random point (0 to 1 s) once
it holds the state lock (every other one after a spec edit, so replaces and cancels pile up), while
job POSTs are slowed so kills land inside them; then one apply to completion. Counted after it:
duplicate jobs (two live jobs of one full request), unmapped jobs (live, recorded nowhere in
state), intents the kills left behind, and whether `plan --detailed-exitcode` is clean.
The documented profile answers job records tersely: the five jobs below differ only in what a
terse record does not carry (additionalFields), the hardest case for recognising a lost create.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import Figure, Scenario
from emulator_proc import EmulatorProcess, run_cli
from engine_projects import client_for

from reconciler.spec.canonical import normalize_request
from reconciler.state import StateStore

JOBS = 5
SETTLE_S = "1"  # the create protocol's settle window for this run (RECONCILER_SETTLE_SECONDS)


def _job_doc(index: int, version: int) -> str:
    return (
        "apiVersion: reconciler/v1\nkind: ExportJob\n"
        f"metadata: {{name: job-{index}}}\n"
        "spec:\n"
        "  fields: identities.id,personalEmail.address\n"
        "  mergePolicy: {id: timestampOrdered-none-mp, version: 1}\n"
        "  additionalFields:\n"
        "    eventList:\n"
        "      fields: environment.browserDetails.name\n"
        f'      filter: {{fromIngestTimestamp: "2020-01-01T00:{index:02d}:{version:02d}Z"}}\n'
        "  destination: {dataset: crm-profiles}\n"
        "  schema: {name: _xdm.context.profile}\n"
    )


_DATASET = (
    "apiVersion: reconciler/v1\nkind: Dataset\nmetadata: {name: crm-profiles}\n"
    "spec: {name: CRM profile export}\n"
)


def _write(project: Path, version: int) -> None:
    specs = project / "specs"
    specs.mkdir(parents=True, exist_ok=True)
    (project / "reconciler.yaml").write_text("platform: local\nsandbox: prod\nspecs: [specs]\n")
    (specs / "datasets.yaml").write_text(_DATASET)
    for index in range(JOBS):
        (specs / f"job-{index}.yaml").write_text(_job_doc(index, version))


def sigkill_loop(kills: int, seed: int = 20261202) -> dict[str, float]:
    """Run the loop once; the counts it ends with."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with EmulatorProcess(tmp / "emulator") as emu:
            emu.admin("POST", "profile", {"name": "documented"})
            emu.admin("POST", "behaviour", {"cancel_delay_seconds": 0.5})
            emu.configure(job_new_seconds=0.2, job_processing_seconds=0.3)
            emu.set_fault(endpoint="POST /data/core/ups/export/jobs", latency_ms=60)
            project = tmp / "project"
            _write(project, 0)
            env = {**emu.env(), "RECONCILER_SETTLE_SECONDS": SETTLE_S}
            store = StateStore(project / ".reconciler" / "state" / "prod.json", "prod")
            landed = interrupted = 0
            started = time.perf_counter()
            for attempt in range(kills):
                if attempt % 2:
                    _write(project, attempt)  # a spec change between kills: replaces pile up
                command = ["-m", "reconciler", "-C", str(project), "apply", "--auto-approve"]
                process = subprocess.Popen(
                    [sys.executable, *command],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                deadline = time.monotonic() + 20
                while (
                    store.holder() is None
                    and process.poll() is None
                    and time.monotonic() < deadline
                ):
                    time.sleep(0.005)
                time.sleep(rng.uniform(0.0, 1.0))
                landed += process.poll() is None
                process.kill()
                process.wait(timeout=60)
                interrupted += bool(store.read().pending)
            loop_s = time.perf_counter() - started
            emu.clear_faults()
            final = run_cli(
                project, ["apply", "--auto-approve", "--wait", "--timeout", "120s"], env, ok=(0, 1)
            )
            plan = run_cli(project, ["plan", "--detailed-exitcode"], env, ok=(0, 1, 2))
            emu.admin("POST", "behaviour", {"echo": "full"})  # full records: tell twins apart
            with client_for(emu.base_url) as client:
                records = list(client.iter_export_jobs())
            state = store.read()
            listed = Counter(
                json.dumps(normalize_request(r.raw()), sort_keys=True) for r in records
            )
            return {
                "kills": kills,
                "kills_mid_apply": landed,
                "intents_left": interrupted,
                "duplicates": sum(n - 1 for n in listed.values()),
                "unmapped": len({r.id for r in records} - state.claimed_job_ids()),
                "pending_after": len(state.pending),
                "final_apply_code": final.returncode,
                "final_apply_s": final.seconds,
                "plan_code": plan.returncode,
                "loop_s": loop_s,
                "jobs": len(records),
            }


def scenario_sigkill_loop(quick: bool) -> list[Figure]:
    """7. SIGKILL loop over apply (documented profile), then one apply to completion."""
    kills = 8 if quick else 20
    got = sigkill_loop(kills)
    name = "sigkill-loop"
    note = (
        f"{got['kills_mid_apply']:.0f}/{kills} kills inside an apply, {got['intents_left']:.0f} "
        f"left an intent; {got['jobs']:.0f} jobs; final apply exit {got['final_apply_code']:.0f}, "
        f"plan exit {got['plan_code']:.0f}"
    )
    clean = got["plan_code"] == 0 and got["final_apply_code"] == 0 and got["pending_after"] == 0
    return [
        Figure(
            name,
            "duplicate jobs after the loop",
            got["duplicates"],
            "",
            0,
            "none",
            "= 0",
            got["duplicates"] == 0,
            note,
        ),
        Figure(
            name,
            "live jobs not in state",
            got["unmapped"],
            "",
            0,
            "none",
            "= 0",
            got["unmapped"] == 0,
        ),
        Figure(
            name,
            "final apply to completion (wall)",
            got["final_apply_s"],
            "s",
            None,
            "-",
            "converges",
            clean,
        ),
    ]


SCENARIOS: dict[str, Scenario] = {"sigkill-loop": scenario_sigkill_loop}

if __name__ == "__main__":  # python bench/crash_scenarios.py [--quick]
    print(json.dumps(sigkill_loop(8 if "--quick" in sys.argv else 20), indent=2))
    os._exit(0)
