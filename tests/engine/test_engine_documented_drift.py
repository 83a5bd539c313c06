"""Under the documented profile, a converged sandbox checks clean: the platform's own system
datasets are not drift, and `--refresh-only --detailed-exitcode` exits 0 after an apply."""

from __future__ import annotations

from engine_harness import Project

BOTH_PROFILES = True


def test_a_converged_sandbox_has_no_drift(project: Project, emulator_profile: str) -> None:
    applied = project.run("apply", "--auto-approve", "--wait")
    assert applied.code == 0, applied.out + applied.err
    drift = project.run("plan", "--refresh-only", "--detailed-exitcode")
    assert drift.code == 0, drift.out + drift.err
    assert "unmanaged" not in drift.out
    audit = project.run("audit", "--format", "json")
    assert audit.code == 0, audit.err  # the audit still lists every dataset, the system ones too
    if emulator_profile == "documented":
        assert "Profile Snapshot Export" in audit.out
