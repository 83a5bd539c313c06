"""Bad input and platform failures: one-line errors, exit 1, and a truthful state."""

from __future__ import annotations

from engine_harness import Project

from reconciler.engine.connect import LOCAL_ENDPOINT_ENV


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_an_unknown_merge_policy_holds_the_job_back_with_a_truthful_state(
    project: Project,
) -> None:
    # Caught at plan time (issue 14): the plan names the id, apply does the rest and exits 1.
    project.write(
        "specs/exports/bad.yaml",
        "apiVersion: reconciler/v1\nkind: ExportJob\nmetadata: {name: bad}\nspec:\n"
        "  mergePolicy: {id: no-such-merge-policy, version: 1}\n"
        "  destination: {dataset: crm-profiles}\n  schema: {name: _xdm.context.profile}\n",
    )
    result = project.run("apply", "--auto-approve")
    assert result.code == 1
    message = one_line_error(result.err)
    assert "exportjob/bad" in message and "held back" in message
    assert "no-such-merge-policy" in result.out
    state = project.state()
    assert state.pending == []  # the failed POST left no intent behind
    assert state.dataset("dataset/crm-profiles") is not None  # done before the failure: recorded
    assert state.export_job("exportjob/bad") is None


def test_platform_adobe_without_credentials_names_the_variable(project: Project) -> None:
    project.write("reconciler.yaml", f"platform: adobe\nsandbox: {project.sandbox}\n")
    result = project.run("plan")
    assert result.code == 1
    assert "AEP_" in one_line_error(result.err)


def test_bad_local_endpoint_is_a_clear_error(project: Project) -> None:
    for value, expected in (
        ("not a url", LOCAL_ENDPOINT_ENV),
        ("http://127.0.0.1:9", "no emulator answers at http://127.0.0.1:9"),
    ):
        result = Project(project.root, project.sandbox, value).run("plan")
        assert result.code == 1
        assert expected in one_line_error(result.err)


def test_unknown_target_and_bad_timeout(project: Project) -> None:
    result = project.run("plan", "--target", "exportjob/nope")
    assert result.code == 1 and "exportjob/nope" in one_line_error(result.err)
    result = project.run("apply", "--auto-approve", "--wait", "--timeout", "soon")
    assert result.code == 1 and "--timeout" in one_line_error(result.err)


def test_corrupt_state_is_named(project: Project) -> None:
    project.state_path.parent.mkdir(parents=True, exist_ok=True)
    project.state_path.write_text("{not json")
    result = project.run("plan")
    assert result.code == 1 and str(project.state_path) in one_line_error(result.err)


def test_targeted_apply_pulls_in_its_dataset_only(project: Project) -> None:
    result = project.run("apply", "--auto-approve", "--target", "exportjob/daily-emails")
    assert result.code == 0, result.err
    assert set(project.state().resources) == {"dataset/crm-profiles", "exportjob/daily-emails"}


def test_allow_large_names_an_export_job_document_and_not_with_a_saved_plan(
    project: Project,
) -> None:
    result = project.run("apply", "--auto-approve", "--allow-large", "exportjob/daily-email")
    assert result.code == 1
    assert "did you mean exportjob/daily-emails?" in one_line_error(result.err)
    assert project.state().resources == {}  # refused before anything was done
    saved = project.root / "saved.plan"
    assert project.run("plan", "--out", str(saved)).code == 0
    result = project.run("apply", str(saved), "--allow-large", "exportjob/daily-emails")
    assert result.code == 1
    assert "--allow-large cannot be combined with a saved plan" in one_line_error(result.err)
