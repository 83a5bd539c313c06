"""The workflows' scripted steps on real CLI output against the emulator (docs/gitops.md).

Golden files: docs/gitops-example-comment.md (the PR comment for the example specs) and
tests/render/golden/drift-issue.md (a drift report); regenerate with UPDATE_GOLDEN=1 and review.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from engine_harness import ROOT, Project

from reconciler.gitops import GITHUB_BODY_LIMIT, StepResult, drift_issue, plan_comment

FOOTER = "Commit 0123abc · workflow run · saved plan: artifact `plan-prod`"


def golden(path: Path, text: str) -> None:
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8")


def scrub(text: str, project: Project) -> str:
    """Replace what differs between runs (ids, the sandbox name, ages) with stable names."""
    state = project.state()
    for address, res in sorted(state.resources.items()):
        dataset_id = getattr(res, "datasetId", None)
        if dataset_id and address.startswith("dataset/"):
            text = text.replace(dataset_id, f"<{address.split('/')[1]}-id>")
    text = re.sub(r"\b\d{5,}\b", "<job-id>", text)
    text = re.sub(r"\b[0-9a-f]{32}\b", "<batch-id>", text)
    return text.replace(project.sandbox, "<sandbox>")


def test_pr_comment_for_the_example_specs(project: Project) -> None:
    validate = project.run("validate")
    plan = project.run("plan", "--format", "markdown", "--detailed-exitcode")
    assert validate.code == 0 and plan.code == 2, plan.err
    body = plan_comment(
        "prod",
        StepResult(validate.code, log=validate.err),
        StepResult(plan.code, output=plan.out, log=plan.err),
        footer=FOOTER,
    )
    assert "Changes or drift found" in body and "exportjob/daily-emails" in body
    golden(ROOT / "docs" / "gitops-example-comment.md", scrub(body, project))


def test_pr_comment_for_a_broken_spec_shows_located_errors(project: Project) -> None:
    project.write("specs/exports/broken.yaml", "apiVersion: reconciler/v1\nkind: ExportJob\n")
    validate = project.run("validate")
    assert validate.code == 1
    body = plan_comment("prod", StepResult(validate.code, log=validate.err), StepResult(None))
    assert "Validation failed" in body
    assert re.search(r"specs/exports/broken\.yaml:\d+:\d+: ", body)


def test_drift_issue_for_out_of_band_changes(project: Project) -> None:
    result = project.run("apply", "--auto-approve", "--wait", "--timeout", "60s")
    assert result.code == 0, result.err
    clean = project.run("plan", "--refresh-only", "--detailed-exitcode", "--format", "markdown")
    assert clean.code == 0, clean.err
    assert drift_issue("prod", StepResult(clean.code, output=clean.out)).action == "close"

    state = project.state()
    crm = state.dataset("dataset/crm-profiles")
    audience = state.dataset("dataset/audience-exports")
    assert crm is not None and audience is not None
    project.admin("PATCH", f"/dataSets/{crm.datasetId}", {"name": "Renamed in the UI"})
    project.admin("DELETE", f"/dataSets/{audience.datasetId}")
    drift = project.run("plan", "--refresh-only", "--detailed-exitcode", "--format", "markdown")
    assert drift.code == 2, drift.err
    verdict = drift_issue("prod", StepResult(drift.code, output=drift.out), footer="workflow run")
    assert verdict.action == "open"
    assert "dataset/crm-profiles" in verdict.body and "dataset/audience-exports" in verdict.body
    assert "modified" in verdict.body and "missing" in verdict.body
    golden(ROOT / "tests" / "render" / "golden" / "drift-issue.md", scrub(verdict.body, project))


def test_a_plan_too_long_for_one_comment_is_cut_with_a_note(project: Project) -> None:
    jobs = "---\n".join(
        "apiVersion: reconciler/v1\nkind: ExportJob\n"
        f"metadata: {{name: bulk-export-with-a-long-descriptive-name-{n:04d}}}\n"
        "spec:\n  fields: identities.id,personalEmail.address,person.name.firstName\n"
        "  mergePolicy: {id: timestampOrdered-none-mp, version: 1}\n"
        "  destination: {dataset: crm-profiles}\n  schema: {name: _xdm.context.profile}\n"
        for n in range(700)
    )
    project.write("specs/exports/bulk.yaml", jobs)
    plan = project.run("plan", "--format", "markdown", "--detailed-exitcode")
    assert plan.code == 2, plan.err
    full = project.run("plan", "--format", "json")
    assert len(full.out) > GITHUB_BODY_LIMIT  # the whole plan would not fit in one comment
    body = plan_comment("prod", StepResult(0), StepResult(2, output=plan.out), footer=FOOTER)
    assert len(body) <= GITHUB_BODY_LIMIT
    assert "cut" in body.lower() and body.rstrip().endswith(FOOTER)
