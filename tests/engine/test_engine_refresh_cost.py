"""Refresh cost follows the work: a steady-state plan reads a handful of things, not every run."""

from __future__ import annotations

import re

from engine_harness import Project

JOBS = 110  # more than one listing page (100), so a full refresh needs two


def test_steady_state_plan_does_not_reread_finished_runs(project: Project) -> None:
    for index in range(JOBS):
        project.write(
            f"specs/exports/bulk-{index}.yaml",
            "apiVersion: reconciler/v1\nkind: ExportJob\n"
            f"metadata: {{name: bulk-{index}}}\nspec:\n"
            f"  fields: identities.id,x{index}\n"
            "  mergePolicy: {id: timestampOrdered-none-mp, version: 1}\n"
            "  destination: {dataset: crm-profiles}\n  schema: {name: _xdm.context.profile}\n",
        )
    applied = project.run("apply", "--auto-approve", "--wait", "--timeout", "60s")
    assert applied.code == 0, applied.err
    assert project.run("apply", "--auto-approve").code == 0  # records the watermark

    incremental = project.run("-v", "plan", "--detailed-exitcode")
    assert incremental.code == 0, incremental.out + incremental.err
    calls = requests_made(incremental.err)
    # token + one dataset listing + one job listing page since the watermark
    assert calls <= 4, incremental.err
    assert "GET /data/core/ups/export/jobs/" not in incremental.err  # no per-run GET

    full = project.run("-v", "plan", "--refresh=full", "--detailed-exitcode")
    assert full.code == 0, full.out + full.err
    assert requests_made(full.err) > calls  # full lists every job: a second page


def requests_made(log: str) -> int:
    match = re.search(r"^http: (\d+) requests$", log, re.MULTILINE)
    assert match, log
    return int(match.group(1))
