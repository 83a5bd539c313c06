"""Segment and merge-policy ids the platform does not know are found at plan time (issue 14).

Over real HTTP against the emulator in both behaviour profiles: the plan holds the address back
with a `blocked` finding naming the id and the file, apply carries out the rest and exits 1
naming it, and the checks cost one segment listing and one GET per merge policy, only when an
action starts a run (a steady-state plan asks nothing).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from engine_harness import Project

from reconciler.engine.connect import local_credentials, local_endpoints
from reconciler.engine.model import Action, Plan
from reconciler.engine.references import ReferenceCheckError, check_references
from reconciler.engine.workflow import settings_for
from reconciler.platform import PlatformClient
from reconciler.spec.loader import load_specs

BOTH_PROFILES = True
SLOW_ONLY_WITH_M_SLOW = True  # the CLI's failed listing waits out the client's 60 s retry budget

AUDIENCE_FILE = "specs/exports/audiences.yaml"
DAILY_FILE = "specs/exports/daily-emails.yaml"
AUDIENCE = "exportjob/newsletter-audience"
DAILY = "exportjob/daily-emails"
SEGMENT = "52c26d0d-45f2-47a2-ab30-ed06abc981ff"
NO_SEGMENT = "00000000-dead-4bad-beef-000000000000"
POLICY = "e5bc94de-cd14-4cdf-a2bc-88b6e8cbfac2"
DEFAULT_POLICY = "0bf16e61-90e9-4204-b8fa-ad250360957b"  # the emulator's default policy
OTHER_POLICY = "7972e3d6-96ea-4ece-9627-cbfd62709c5d"
SEGMENTS_GET = "GET /data/core/ups/segment/definitions"
POLICY_GET = "GET /data/core/ups/config/mergePolicies/{}"


@pytest.fixture(autouse=True)
def no_faults_left(project: Project) -> Iterator[None]:
    yield
    project.admin("DELETE", "/faults")


def edit(project: Project, relative: str, old: str, new: str) -> None:
    text = (project.root / relative).read_text()
    assert old in text
    project.write(relative, text.replace(old, new))


def plan_json(project: Project, *extra: str) -> dict[str, Any]:
    result = project.run("plan", "--format", "json", "--no-estimate", *extra)
    assert result.code == 0, result.err
    return dict(json.loads(result.out))


def finding_of(plan: dict[str, Any], address: str) -> dict[str, Any]:
    (found,) = [f for f in plan["findings"] if f["address"] == address]
    return dict(found)


def reference_reads(project: Project) -> dict[str, int]:
    routes = project.admin("GET", "/stats")["routes"]
    return {k: v for k, v in routes.items() if k.startswith((SEGMENTS_GET, POLICY_GET[:-3]))}


def test_a_segment_that_does_not_exist_blocks_its_job_and_apply_does_the_rest(
    project: Project,
) -> None:
    edit(project, AUDIENCE_FILE, SEGMENT, NO_SEGMENT)
    plan = plan_json(project)
    held = finding_of(plan, AUDIENCE)
    assert held["finding"] == "blocked"
    assert held["evidence"]["segmentIds"] == [NO_SEGMENT]
    assert (
        f"segment {NO_SEGMENT} (spec.filter.segments[0].segmentId) does not exist"
        in (held["reason"])
    )
    assert f"create the segment or fix filter.segments in {AUDIENCE_FILE}" in held["reason"]
    assert AUDIENCE not in {a["address"] for a in plan["actions"]}
    assert DAILY in {a["address"] for a in plan["actions"]}  # the rest of the plan is kept

    text = project.run("plan", "--no-estimate")
    assert text.code == 0 and f"{AUDIENCE}  blocked: the create is held back" in text.out
    # other actions exist: --detailed-exitcode says changes are present
    assert project.run("plan", "--no-estimate", "--detailed-exitcode").code == 2

    applied = project.run("apply", "--auto-approve", "--no-estimate")
    assert applied.code == 1
    assert applied.err.splitlines()[-1] == (
        f"error: 1 address held back ({AUDIENCE}); the other actions were carried out; the "
        "plan's findings above say what settles each"
    )
    state = project.state()
    assert state.export_job(DAILY) is not None
    assert state.export_job(AUDIENCE) is None
    assert state.dataset("dataset/audience-exports") is not None  # its dataset was made
    with project.client() as client:
        assert all(not j.filter or not j.filter.get("segments") for j in client.iter_export_jobs())
    # only the held-back document is left: not converged, so --detailed-exitcode still says 2
    # (a plan exiting 0 before an apply that exits 1 would surprise a pipeline)
    rest = project.run("plan", "--no-estimate", "--detailed-exitcode")
    assert rest.code == 2, rest.out + rest.err
    assert project.run("plan", "--no-estimate").code == 0


def test_a_merge_policy_that_does_not_exist_blocks_its_job(project: Project) -> None:
    edit(project, DAILY_FILE, POLICY, "no-such-policy")
    plan = plan_json(project)
    held = finding_of(plan, DAILY)
    assert held["finding"] == "blocked" and held["evidence"]["mergePolicyId"] == "no-such-policy"
    assert "merge policy no-such-policy (spec.mergePolicy.id) does not exist" in held["reason"]
    assert f"fix spec.mergePolicy in {DAILY_FILE}" in held["reason"]
    assert [a["address"] for a in plan["actions"] if a["kind"] == "exportjob"] == [AUDIENCE]
    applied = project.run("apply", "--auto-approve", "--no-estimate")
    assert applied.code == 1 and DAILY in applied.err.splitlines()[-1]
    assert project.state().export_job(DAILY) is None
    assert project.state().export_job(AUDIENCE) is not None


def test_a_merge_policy_version_newer_than_the_policy_blocks_its_job(project: Project) -> None:
    edit(project, DAILY_FILE, f"{{id: {POLICY}, version: 1}}", f"{{id: {POLICY}, version: 7}}")
    held = finding_of(plan_json(project), DAILY)
    assert held["finding"] == "blocked"
    assert f"merge policy {POLICY} has no version 7" in held["reason"]


def test_a_spec_change_to_a_missing_segment_keeps_the_old_run(project: Project) -> None:
    applied = project.run("apply", "--auto-approve", "--no-estimate", "--wait", "--timeout", "60s")
    assert applied.code == 0, applied.err
    before = project.state().export_job(AUDIENCE)
    assert before is not None
    edit(project, AUDIENCE_FILE, SEGMENT, NO_SEGMENT)
    held = finding_of(plan_json(project), AUDIENCE)
    assert held["reason"].startswith(
        "the replace is held back, the platform would refuse the job: segment "
    )
    assert "cancelJobId" not in held["evidence"]  # the old run had ended: nothing to cancel
    applied = project.run("apply", "--auto-approve", "--no-estimate")
    assert applied.code == 1
    after = project.state().export_job(AUDIENCE)
    assert after is not None and [r.jobId for r in after.runs] == [r.jobId for r in before.runs]
    assert not any(r.cancelledAt for r in after.runs)  # the old run was not cancelled


def test_an_in_flight_run_is_not_cancelled_for_a_run_that_cannot_start(project: Project) -> None:
    project.admin("POST", "/faults", {"jobs": {"stuck": 2}})
    assert project.run("apply", "--auto-approve", "--no-estimate").code == 0
    res = project.state().export_job(AUDIENCE)
    assert res is not None
    old = res.runs[-1].jobId
    edit(project, AUDIENCE_FILE, SEGMENT, NO_SEGMENT)
    held = finding_of(plan_json(project), AUDIENCE)
    assert held["evidence"]["cancelJobId"] == old
    assert f"the replace is held back (job {old} is not cancelled)" in held["reason"]
    project.admin("DELETE", "/stats")
    assert project.run("apply", "--auto-approve", "--no-estimate").code == 1
    routes = project.admin("GET", "/stats")["routes"]
    assert "DELETE /data/core/ups/export/jobs/{}" not in routes
    with project.client() as client:
        job = client.get_export_job(old)
    assert job is not None and job.status.upper() in ("NEW", "PROCESSING")


def test_reads_only_what_the_actions_need_and_nothing_in_steady_state(project: Project) -> None:
    project.admin("DELETE", "/stats")
    plan_json(project)  # a fresh project: both jobs are created
    # one listing of segments (one page), one GET for each of the two merge policies
    assert reference_reads(project) == {
        SEGMENTS_GET: 1,
        POLICY_GET: 2,
    }
    applied = project.run("apply", "--auto-approve", "--no-estimate", "--wait", "--timeout", "60s")
    assert applied.code == 0, applied.err
    project.admin("DELETE", "/stats")
    steady = project.run("plan", "--no-estimate", "--detailed-exitcode")
    assert steady.code == 0, steady.out + steady.err
    assert reference_reads(project) == {}


def test_a_job_without_segments_or_policy_reads_nothing(project: Project) -> None:
    edit(project, DAILY_FILE, f"  mergePolicy: {{id: {POLICY}, version: 1}}\n", "")
    project.run("apply", "--auto-approve", "--no-estimate", "--target", "dataset/crm-profiles")
    project.admin("DELETE", "/stats")
    plan = plan_json(project, "--target", DAILY)
    assert [a["action"] for a in plan["actions"]] == ["create"]
    assert reference_reads(project) == {}


def adoption_plan(project: Project, live_policy: str | None) -> dict[str, Any]:
    """daily-emails without mergePolicy; a job made outside the tool from it, with `live_policy`."""
    edit(project, DAILY_FILE, f"  mergePolicy: {{id: {POLICY}, version: 1}}\n", "")
    applied = project.run(
        "apply", "--auto-approve", "--no-estimate", "--target", "dataset/crm-profiles"
    )
    assert applied.code == 0, applied.err
    dataset = project.state().dataset("dataset/crm-profiles")
    assert dataset is not None
    body: dict[str, Any] = {
        "fields": "identities.id,personalEmail.address",
        "additionalFields": {
            "eventList": {
                "fields": "environment.browserDetails.name,environment.browserDetails.version",
                "filter": {"fromIngestTimestamp": "2018-10-25T13:22:04-07:00"},
            }
        },
        "destination": {"datasetId": dataset.datasetId, "segmentPerBatch": False},
        "schema": {"name": "_xdm.context.profile"},
    }
    if live_policy is not None:
        body["mergePolicy"] = {"id": live_policy, "version": 1}
    project.admin("POST", "/exportJobs", body)
    return plan_json(project, "--target", DAILY)


@pytest.mark.parametrize("live_policy", [None, DEFAULT_POLICY])
def test_a_document_without_policy_adopts_a_job_of_the_default_policy(
    project: Project, live_policy: str | None
) -> None:
    plan = adoption_plan(project, live_policy)
    assert [a["action"] for a in plan["actions"]] == ["adopt"]


def test_a_document_without_policy_does_not_adopt_a_job_of_another_policy(
    project: Project,
) -> None:
    plan = adoption_plan(project, OTHER_POLICY)
    assert plan["actions"] == []  # neither adopted nor created beside it: not guessed
    held = finding_of(plan, DAILY)
    assert held["finding"] == "blocked" and held["evidence"]["mergePolicyId"] == OTHER_POLICY
    assert f"the job used {OTHER_POLICY}" in held["reason"]
    assert "exports with the default merge policy" in held["reason"]
    assert f"'reconciler import {DAILY} {held['evidence']['jobId']}'" in held["reason"]
    assert f"or set spec.mergePolicy in {DAILY_FILE}" in held["reason"]


def test_a_listing_that_fails_is_one_error_line_not_a_guess(project: Project) -> None:
    project.admin(
        "POST", "/faults", {"endpoint": SEGMENTS_GET, "error_rate": 1.0, "error_status": 503}
    )
    specs = load_specs(settings_for(project.root, None, project.env))
    plan = Plan(
        actions=(Action(AUDIENCE, "exportjob", "create", "new document"),),
        findings=(),
        state_lineage="",
        state_serial=0,
        spec_digest=specs.digest,
        live_digest="",
    )
    client = PlatformClient(
        local_endpoints(project.base_url), local_credentials(), project.sandbox, retry_budget=0.5
    )
    with client, pytest.raises(ReferenceCheckError) as raised:
        check_references(client, plan, specs)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"cannot check the segment ids of {AUDIENCE} (listing the segment")
    assert "HTTP 503" in message and message.endswith("nothing was changed")


@pytest.mark.slow
def test_plan_whose_segment_listing_keeps_failing_exits_1_with_one_error_line(
    project: Project,
) -> None:
    project.admin(
        "POST", "/faults", {"endpoint": SEGMENTS_GET, "error_rate": 1.0, "error_status": 503}
    )
    for command in (("plan",), ("apply", "--auto-approve")):
        result = project.run(*command, "--no-estimate")
        assert result.code == 1
        last = result.err.splitlines()[-1]
        assert last.startswith(f"error: cannot check the segment ids of {AUDIENCE} ")
        assert "HTTP 503" in last and last.endswith("nothing was changed")
        assert "Traceback" not in result.err
    assert project.state().resources == {}  # apply changed nothing
