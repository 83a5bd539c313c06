"""A document the plan holds back (here: a destination the platform would refuse) is found at
plan time, never halfway through apply: apply carries out the rest and exits 1 naming it."""

from __future__ import annotations

import json

from engine_harness import Project

AUDIENCE = "specs/exports/audiences.yaml"
MISSING = "5b020a27e7040801dedba61b"


def test_a_missing_dataset_id_is_held_back_and_apply_does_the_rest(project: Project) -> None:
    text = (project.root / AUDIENCE).read_text()
    project.write(AUDIENCE, text.replace("dataset: audience-exports", f"datasetId: {MISSING}"))
    plan = project.run("plan", "--format", "json")
    assert plan.code == 0, plan.err
    findings = {f["address"]: f for f in json.loads(plan.out)["findings"]}
    held = findings["exportjob/newsletter-audience"]
    assert held["finding"] == "blocked" and MISSING in held["reason"]
    applied = project.run("apply", "--auto-approve")
    assert applied.code == 1
    assert applied.err.splitlines()[-1] == (
        "error: 1 address held back (exportjob/newsletter-audience); the other actions were "
        "carried out; the plan's findings above say what settles each"
    )
    state = project.state()
    assert state.export_job("exportjob/daily-emails") is not None  # the rest was done
    assert state.export_job("exportjob/newsletter-audience") is None  # nothing was sent
    with project.client() as client:
        assert not [j for j in client.iter_export_jobs() if j.destination.datasetId == MISSING]
