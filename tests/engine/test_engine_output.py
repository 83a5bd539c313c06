"""What plan and apply say: where they work (the text's first line), one closing line after --wait."""

from __future__ import annotations

from engine_harness import Project


def test_plan_and_apply_name_the_sandbox_platform_and_state(project: Project) -> None:
    where = (
        f"Sandbox {project.sandbox} on the local platform at {project.base_url}; "
        f"state {project.state_path}"
    )
    plan = project.run("plan")
    assert plan.code == 0 and plan.out.splitlines()[0] == where
    as_json = project.run("plan", "--format", "json")
    assert as_json.out.lstrip().startswith("{")  # machine formats carry no header
    applied = project.run("apply", "--auto-approve", "--wait")
    assert applied.code == 0, applied.err
    assert applied.out.splitlines()[0] == where


def test_apply_wait_closes_with_one_summary_and_no_repeated_status(project: Project) -> None:
    applied = project.run("apply", "--auto-approve", "--wait")
    assert applied.code == 0, applied.err
    lines = applied.out.splitlines()
    assert "4 actions done; following the runs to their end (--wait)." in lines
    assert lines[-1].startswith("Apply complete: 4 actions done; 2 runs followed: 2 succeeded (")
    succeeded = [line for line in lines if line.endswith(" SUCCEEDED")]
    assert len(succeeded) == len(set(succeeded)) == 2  # each status said once
    assert sum(" wrote batch " in line for line in lines) == 2
