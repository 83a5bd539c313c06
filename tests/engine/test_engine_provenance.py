"""Every run this tool starts, adopts or imports records who and what made it (issue 16)."""

from __future__ import annotations

import json
import subprocess

import pytest
from engine_harness import Project

from reconciler import __version__

BOTH_PROFILES = True

CI = {
    "GITHUB_ACTOR": "octo-engineer",
    "GITHUB_SERVER_URL": "https://github.example.com",
    "GITHUB_REPOSITORY": "data/specs",
    "GITHUB_RUN_ID": "4242",
}


def _git(project: Project, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(project.root), *args],
        capture_output=True,
        text=True,
        check=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
            "PATH": "/usr/bin:/bin",
            "HOME": str(project.root),
        },
    )
    return done.stdout.strip()


@pytest.fixture
def committed(project: Project, monkeypatch: pytest.MonkeyPatch) -> tuple[Project, str]:
    """The project as a git work tree with one commit, applied from a GitHub Actions run."""
    (project.root / ".gitignore").write_text(".reconciler/\n", encoding="utf-8")
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "specs")
    for name, value in CI.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GITHUB_RUN_ATTEMPT", raising=False)
    return project, _git(project, "rev-parse", "HEAD")


def test_apply_records_commit_actor_ci_run_and_version(committed: tuple[Project, str]) -> None:
    project, head = committed
    applied = project.run("apply", "--auto-approve")
    assert applied.code == 0, applied.err
    runs = [
        run
        for address, res in project.state().resources.items()
        if address.startswith("exportjob/")
        for run in getattr(res, "runs", [])
    ]
    assert len(runs) == 2
    for run in runs:
        assert run.commit == head and run.commitDirty is False
        assert run.actor == "octo-engineer"
        assert run.ciRun == "https://github.example.com/data/specs/actions/runs/4242"
        assert run.toolVersion == __version__
    # status and audit show it: JSON carries each field, text says who and at which commit
    status = json.loads(project.run("status", "--format", "json").out)["resources"]
    jobs = [r for r in status if r["kind"] == "exportjob"]
    assert {(r["commit"], r["actor"], r["ciRun"], r["toolVersion"]) for r in jobs} == {
        (head, "octo-engineer", runs[0].ciRun, __version__)
    }
    assert f"octo-engineer at {head[:7]}" in project.run("status").out
    objects = json.loads(project.run("audit", "--format", "json").out)["objects"]
    managed = [o for o in objects if o["type"] == "exportjob" and o["managedBy"]]
    assert len(managed) == 2 and {o["actor"] for o in managed} == {"octo-engineer"}
    assert {o["commit"] for o in managed} == {head}


def test_a_replace_records_the_new_commit_and_an_import_its_own(
    committed: tuple[Project, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, first = committed
    assert project.run("apply", "--auto-approve", "--wait").code == 0
    spec = project.root / "specs" / "exports" / "daily-emails.yaml"
    spec.write_text(
        spec.read_text(encoding="utf-8").replace(
            "fields: identities.id,personalEmail.address",
            "fields: identities.id,personalEmail.address,person.name",
        ),
        encoding="utf-8",
    )
    _git(project, "commit", "-q", "-am", "one more field")
    second = _git(project, "rev-parse", "HEAD")
    monkeypatch.setenv("GITHUB_ACTOR", "someone-else")
    again = project.run("apply", "--auto-approve")
    assert again.code == 0, again.err
    res = project.state().export_job("exportjob/daily-emails")
    assert res is not None and len(res.runs) == 2
    old, new = sorted(res.runs, key=lambda r: r.jobId)
    assert (old.commit, old.actor) == (first, "octo-engineer")
    assert (new.commit, new.actor) == (second, "someone-else")
    # import: a run adopted by hand records who adopted it
    assert project.run("state", "rm", "exportjob/daily-emails").code == 0
    imported = project.run("import", "exportjob/daily-emails", str(new.jobId))
    assert imported.code == 0, imported.err
    res = project.state().export_job("exportjob/daily-emails")
    assert res is not None
    [run] = res.runs
    assert (run.commit, run.actor, run.toolVersion) == (second, "someone-else", __version__)
