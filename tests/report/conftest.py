"""Fixtures for the report tests: one emulator and one applied example project per module.

The project is the repository's example specs after two applies: the first with the emulator
failing its first job (a FAILED run), the second rerunning it (every document then has a
SUCCEEDED run), plus a dataset and a job made outside the tool.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

from engine_harness import Project, emulator_with_short_jobs, make_project

from reconciler.engine.workflow import SETTLE_ENV
from reconciler.state import ExportJobResource

PROFILE_SCHEMA = {
    "id": "https://ns.adobe.com/xdm/context/profile__union",
    "contentType": "application/vnd.adobe.xed+json;version=1",
}


def out_of_band(project: Project, into: str | None = None) -> tuple[str, str]:
    """An export job made in the platform UI (into `into`, else a new UI dataset); ids."""
    dataset = project.admin(
        "POST", "/dataSets", {"name": "Made in the UI", "schemaRef": PROFILE_SCHEMA}
    )
    dataset_id = str(dataset[0]).rsplit("/", 1)[-1]
    job = project.admin(
        "POST",
        "/exportJobs",
        {
            "fields": "identities.id",
            "destination": {"datasetId": into or dataset_id, "segmentPerBatch": False},
            "schema": {"name": "_xdm.context.profile"},
        },
    )["id"]
    return str(job), dataset_id


@pytest.fixture(scope="module", params=["cooperative", "documented"])
def applied_project(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Project]:
    """The example specs applied (one FAILED run, SUCCEEDED ones), plus UI objects; per profile."""
    mp = pytest.MonkeyPatch()
    mp.setenv(SETTLE_ENV, "1")
    emu = emulator_with_short_jobs(tmp_path_factory.mktemp("emulator"), profile=request.param)
    try:
        project = make_project(tmp_path_factory.mktemp("repo") / "repo", emu.base_url)
        project.admin("POST", "/faults", {"endpoint": "*", "jobs": {"fail": 1}})
        try:
            first = project.run("apply", "--auto-approve", "--wait", "--timeout", "60s")
        finally:
            project.admin("DELETE", "/faults")
        assert first.code == 1 and "FAILED" in first.out, first.out + first.err
        state = project.state()
        failed = [
            a
            for a, res in state.resources.items()
            if isinstance(res, ExportJobResource) and res.runs and res.runs[-1].status == "FAILED"
        ]
        assert len(failed) == 1, failed
        if failed[0] == "exportjob/daily-emails":  # onFailure: retry runs it again
            second = project.run("apply", "--auto-approve", "--wait", "--timeout", "60s")
            assert second.code == 0, second.out + second.err
        # (newsletter-audience has onFailure: report: its FAILED run stays the newest)
        crm = project.state().dataset("dataset/crm-profiles")
        assert crm is not None
        out_of_band(project, into=crm.datasetId)
        yield project
    finally:
        emu.stop()
        mp.undo()
