"""Plan-time checks of a job's destination, from the refresh's own Catalog listing (no request)."""

from __future__ import annotations

from plan_fixtures import NOW, job_doc, specs

from reconciler.engine.model import LiveDataset, LiveSnapshot, Plan
from reconciler.engine.planner import make_plan
from reconciler.spec.models import PROFILE_UNION_SCHEMA
from reconciler.state import State

TARGET = "5b020a27e7040801dedba61b"


def _plan(*datasets: LiveDataset) -> Plan:
    job = job_doc("daily", dataset_id=TARGET)
    live = LiveSnapshot(datasets={d.id: d for d in datasets}, full=True)
    return make_plan(specs(job), State(), live, now=NOW)


def test_a_dataset_id_the_catalog_does_not_list_blocks_the_job() -> None:
    plan = _plan()
    assert plan.actions == ()
    (finding,) = plan.findings
    assert (finding.address, finding.finding) == ("exportjob/daily", "blocked")
    assert f"its destination dataset {TARGET} does not exist in this sandbox" in finding.reason
    assert "fix spec.destination.datasetId" in finding.reason


def test_a_destination_of_another_schema_blocks_the_job() -> None:
    events = "https://ns.adobe.com/xdm/context/experienceevent"
    plan = _plan(LiveDataset(id=TARGET, name="events", schema_id=events))
    assert plan.actions == ()
    (finding,) = plan.findings
    assert finding.finding == "blocked" and f"is based on {events}" in finding.reason


def test_an_existing_profile_dataset_is_written_into() -> None:
    plan = _plan(LiveDataset(id=TARGET, name="crm", schema_id=PROFILE_UNION_SCHEMA))
    assert [(a.address, a.action) for a in plan.actions] == [("exportjob/daily", "create")]
