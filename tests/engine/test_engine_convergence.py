"""Property: after random spec edits and out-of-band events, two applies converge, with no twin runs."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from engine_harness import ROOT, Project, make_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.emulator.server import RunningEmulator

BOTH_PROFILES = True  # conftest: every test runs under cooperative and documented

DAILY = "specs/exports/daily-emails.yaml"
AUDIENCE = "specs/exports/audiences.yaml"
DATASETS = "specs/datasets.yaml"
FIELDS = ("identities.id,personalEmail.address", "identities.id", "identities.id,homeAddress")
EVENTS = (
    "edit",
    "remove-audience",
    "restore-audience",
    "rename-dataset",
    "delete-dataset",
    "fail-in-flight",
    "cancel-in-flight",
    "apply-no-wait",
)
_projects = itertools.count()


def newest_job(project: Project, address: str) -> int | None:
    res = project.state().export_job(address)
    newest = res.newest_run() if res is not None else None
    return newest.jobId if newest is not None else None


def in_flight(project: Project, event: str, variant: int) -> None:
    """Start a run that stays in flight (frozen clock), then fail or cancel it from outside."""
    project.admin("POST", "/clock", {"freeze": True})
    try:
        edit(project, variant)
        assert project.run("apply", "--auto-approve").code == 0
        job = newest_job(project, "exportjob/daily-emails")
        assert job is not None
        status = project.state().export_job("exportjob/daily-emails").newest_run().status  # type: ignore[union-attr]
        if status not in ("SUCCEEDED", "FAILED", "CANCELLED"):
            project.admin("POST", f"/exportJobs/{job}/{'fail' if 'fail' in event else 'cancel'}")
    finally:
        project.admin("POST", "/clock", {"freeze": False})


def edit(project: Project, variant: int) -> None:
    text = (project.root / DAILY).read_text()
    for fields in FIELDS:
        text = text.replace(f"fields: {fields}\n", f"fields: {FIELDS[variant]}\n")
    project.write(DAILY, text)


def remove_audience(project: Project, variant: int) -> None:
    """Remove the audience job's document and, for odd variants, its dataset's document too."""
    (project.root / AUDIENCE).unlink(missing_ok=True)
    if variant % 2:
        text = (ROOT / DATASETS).read_text()
        project.write(DATASETS, text[: text.index("---")])  # only crm-profiles is left


def restore_audience(project: Project) -> None:
    """Bring both documents back as the example has them (a re-created document)."""
    project.write(AUDIENCE, (ROOT / AUDIENCE).read_text())
    project.write(DATASETS, (ROOT / DATASETS).read_text())


def happen(project: Project, event: str, variant: int) -> None:
    """Make one thing happen: a spec edit, an out-of-band change, or an apply."""
    if event == "edit":
        edit(project, variant)
    elif event == "remove-audience":
        remove_audience(project, variant)
    elif event == "restore-audience":
        restore_audience(project)
    elif event in ("rename-dataset", "delete-dataset"):
        res = project.state().dataset("dataset/crm-profiles")
        if res is None:
            return
        live = project.client().get_dataset(res.datasetId)
        if live is None:
            return
        if event == "rename-dataset":
            project.admin("PATCH", f"/dataSets/{res.datasetId}", {"name": f"renamed {variant}"})
        else:
            project.admin("DELETE", f"/dataSets/{res.datasetId}")
    elif event in ("fail-in-flight", "cancel-in-flight"):
        in_flight(project, event, variant)
    else:
        assert project.run("apply", "--auto-approve").code == 0


def assert_no_unasked_twins(project: Project) -> None:
    """Consecutive runs of one address share a fingerprint only when a rerun was asked for."""
    for address, res in project.state().resources.items():
        runs = getattr(res, "runs", [])
        ordered = sorted(runs, key=lambda r: (r.createdAt, r.jobId))
        for before, after in itertools.pairwise(ordered):
            if before.fingerprint == after.fingerprint:
                asked = before.status in ("FAILED", "CANCELLED") or after.reason.startswith(
                    ("rerun", "replace")
                )
                assert asked, f"{address}: jobs {before.jobId} and {after.jobId} are twins"


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    events=st.lists(
        st.tuples(st.sampled_from(EVENTS), st.integers(0, len(FIELDS) - 1)),
        min_size=1,
        max_size=4,
    )
)
def test_two_applies_converge_after_any_events(
    tmp_path: Path, emulator: RunningEmulator, events: list[tuple[str, int]]
) -> None:
    project = make_project(tmp_path / f"repo{next(_projects)}", emulator.base_url)
    assert project.run("apply", "--auto-approve", "--wait", "--timeout", "60s").code == 0
    for event, variant in events:
        happen(project, event, variant)

    for _ in range(2):
        result = project.run("apply", "--auto-approve", "--wait", "--timeout", "60s")
        assert result.code == 0, result.out + result.err
        if project.run("plan", "--detailed-exitcode").code == 0:
            break
    final = project.run("plan", "--detailed-exitcode")
    assert final.code == 0, f"not converged after two applies ({events}):\n{final.out}"
    assert project.state().pending == []
    assert_no_unasked_twins(project)
    # Everything live was made by this repository, so nothing is unmanaged, a removed
    # document's runs and orphaned dataset included, however much the refresh lists.
    for mode in ("incremental", "full"):
        shown = project.run("plan", "--format", "json", f"--refresh={mode}")
        assert project.own_findings(json.loads(shown.out)["findings"]) == [], (
            mode,
            events,
            shown.out,
        )
