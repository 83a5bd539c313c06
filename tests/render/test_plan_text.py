"""Text plans: requests listed for creates, failed runs apart from drift, reasons said once."""

from __future__ import annotations

from reconciler.engine.impact_model import Impact, LastRun
from reconciler.engine.model import Action, DriftFinding, Plan
from reconciler.render.impact import size_text
from reconciler.render.plan import render_plan
from reconciler.render.plan_markdown import MARKDOWN_LIMIT

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


def _estimated(address: str, impact: Impact, action: str = "create") -> Action:
    return Action(address, "exportjob", action, "new document", request=REQUEST, impact=impact)  # type: ignore[arg-type]


def test_each_estimated_action_has_one_impact_line_under_it() -> None:
    plan = _plan(
        _estimated("exportjob/a", Impact("failed", "segments", reason="unknown segment x")),
        _estimated(
            "exportjob/b", Impact("skipped", "store", reason="--no-estimate", max_profiles=9)
        ),
        _estimated("exportjob/c", Impact("ready", "segments", profiles=40, low=40, high=40)),
        Action("dataset/d", "dataset", "create", "new document"),
        # skipped without a limit to leave unchecked: nothing to say
        _estimated("exportjob/e", Impact("skipped", "store", reason="--no-estimate")),
    )
    lines = render_plan(plan, "text").splitlines()
    impacts = [i for i, line in enumerate(lines) if line.startswith("        impact: ")]
    assert [lines[i - 1].split()[1] for i in impacts] == [
        "exportjob/a",
        "exportjob/b",
        "exportjob/c",
    ]
    assert lines[impacts[0]] == "        impact: estimate failed (unknown segment x)"
    assert lines[impacts[1]] == (
        "        impact: not estimated (--no-estimate), maxProfiles 9 not checked"
    )
    assert lines[impacts[2]] == "        impact: 40 profiles"


def test_impact_lines_survive_color_and_a_last_run_without_counts() -> None:
    impact = Impact(
        "ready",
        "store",
        profiles=9,
        low=9,
        high=9,
        last_run=LastRun(4),
        max_profiles=1,
        allowed=True,
    )
    text = render_plan(_plan(_estimated("exportjob/a", impact, "rerun")), "text", color=True)
    assert (
        "\x1b[33mimpact: 9 profiles (the whole store), last run (job 4) shows no record count, "
        "over maxProfiles 1, allowed by --allow-large\x1b[0m"
    ) in text


def test_sizes_read_as_decimal_units() -> None:
    assert [size_text(n) for n in (0, 999, 1_000, 3_100_000, 2_500_000_000)] == [
        "0 B",
        "999 B",
        "1.0 kB",
        "3.1 MB",
        "2.5 GB",
    ]


def test_the_comment_stays_under_its_limit_with_thousands_of_estimates() -> None:
    impact = Impact(
        "ready", "segments", profiles=12_345, low=12_100, high=12_590, max_profiles=10**6
    )
    plan = _plan(*(_estimated(f"exportjob/job-{i:05d}", impact) for i in range(3000)))
    text = render_plan(plan, "markdown")
    assert len(text) <= MARKDOWN_LIMIT
    assert "more estimated actions in `reconciler plan`." in text
    assert text.index("**Impact**") < text.index("| | Address | Action | Reason |")
    # A plan without estimates has no impact table.
    assert "**Impact**" not in render_plan(
        _plan(Action("dataset/d", "dataset", "create", "x")), "markdown"
    )
