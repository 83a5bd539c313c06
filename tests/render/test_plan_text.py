"""Text plans: requests listed for creates, failed runs apart from drift, reasons said once."""

from __future__ import annotations

from reconciler.engine.model import Action, DriftFinding, Plan
from reconciler.render.plan import render_plan

REQUEST = {
    "destination": {"dataset": "crm-profiles", "segmentPerBatch": False},
    "fields": "identities.id,personalEmail.address",
    "filter": {"segments": [{"segmentId": "seg-a", "status": ["realized"]}]},
    "schema": {"name": "_xdm.context.profile"},
}
FAILED = DriftFinding(
    "exportjob/hourly",
    "failed",
    "job 30 FAILED",
    {
        "jobId": 30,
        "errors": [
            {
                "code": "0090000009",
                "msg": "Export failed: the merge policy could not be read " + "x" * 300,
                "callStack": "org.apache.spark.SparkException: boom\n\tat a.b.C(D.java:1)",
            }
        ],
    },
)


def _plan(*actions: Action, findings: tuple[DriftFinding, ...] = ()) -> Plan:
    return Plan(actions, findings, "l", 1, "a" * 64, "b" * 64)


def test_a_create_lists_its_request_attributes() -> None:
    create = Action("exportjob/daily", "exportjob", "create", "new document", request=REQUEST)
    text = render_plan(_plan(create), "text")
    assert "        request:\n" in text
    assert '          destination.dataset = "crm-profiles"\n' in text
    assert '          fields = "identities.id,personalEmail.address"\n' in text
    assert '          filter.segments[0].status = ["realized"]\n' in text


def test_a_rerun_reason_does_not_repeat_the_word() -> None:
    rerun = Action("exportjob/h", "exportjob", "rerun", "rerun: failed (onFailure: retry)")
    text = render_plan(_plan(rerun), "text")
    assert "rerun: failed (onFailure: retry)" in text
    assert "rerun: rerun:" not in text


def test_failed_runs_are_not_drift_and_show_the_whole_message() -> None:
    text = render_plan(_plan(findings=(FAILED,)), "text")
    assert "Failed runs:\n" in text and "Drift:" not in text
    msg = FAILED.evidence["errors"][0]["msg"]
    assert f"error 0090000009: {msg}\n" in text
    assert "callStack" not in text and "SparkException" not in text
    verbose = render_plan(_plan(findings=(FAILED,)), "text", verbose=True)
    assert "org.apache.spark.SparkException: boom" in verbose
