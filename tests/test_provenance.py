"""`current_provenance`: the specs repository's commit, the actor, the CI run, the tool's version.

Real git work trees (clean, dirty, none, no git at all) and the variables of GitHub Actions,
GitLab CI and Jenkins; a CI URL carrying credentials or a token is never kept.
"""

from __future__ import annotations

import getpass
import shutil
import subprocess
from pathlib import Path

import pytest

from reconciler import __version__
from reconciler.provenance import Provenance, current_provenance

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")


def _git(root: Path, *args: str) -> str:
    assert GIT is not None
    done = subprocess.run(
        [GIT, "-C", str(root), *args],
        capture_output=True,
        text=True,
        check=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
            "HOME": str(root),
            "PATH": "/usr/bin:/bin",
        },
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str]:
    """A specs repository with one commit; (its root, the commit)."""
    root = tmp_path / "specs-repo"
    (root / "specs").mkdir(parents=True)
    (root / "specs" / "daily.yaml").write_text("kind: ExportJob\n", encoding="utf-8")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "specs")
    return root, _git(root, "rev-parse", "HEAD")


@needs_git
def test_a_clean_work_tree_names_its_commit(repo: tuple[Path, str]) -> None:
    root, head = repo
    found = current_provenance(root, {})
    assert (found.commit, found.commitDirty) == (head, False)
    # a project folder below the repository's root is in the same work tree
    assert current_provenance(root / "specs", {}).commit == head


@needs_git
def test_a_dirty_work_tree_says_so(repo: tuple[Path, str]) -> None:
    root, head = repo
    (root / "specs" / "daily.yaml").write_text("kind: ExportJob\n# edited\n", encoding="utf-8")
    found = current_provenance(root, {})
    assert (found.commit, found.commitDirty) == (head, True)
    # an untracked file is not a change to the specs that were committed
    _git(root, "checkout", "--", "specs/daily.yaml")
    (root / "notes.txt").write_text("x", encoding="utf-8")
    assert current_provenance(root, {}).commitDirty is False


@needs_git
def test_a_repository_without_commits_and_a_plain_folder_have_no_commit(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    _git(empty, "init", "-q")
    plain = tmp_path / "plain"
    plain.mkdir()
    for folder in (empty, plain):
        found = current_provenance(folder, {})
        assert (found.commit, found.commitDirty) == (None, None)
    assert current_provenance(tmp_path / "missing", {}).commit is None


def test_no_git_on_path_has_no_commit(
    repo: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = repo
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    found = current_provenance(root, {"GITHUB_ACTOR": "octo"})
    assert (found.commit, found.commitDirty, found.actor) == (None, None, "octo")
    assert found.run_fields() == {"actor": "octo", "toolVersion": __version__}


def test_github_actions_names_actor_and_run(tmp_path: Path) -> None:
    env = {
        "GITHUB_ACTOR": "octo-engineer",
        "GITLAB_USER_LOGIN": "not-this-one",
        "GITHUB_SERVER_URL": "https://github.example.com/",
        "GITHUB_REPOSITORY": "data/specs",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": "1",
    }
    found = current_provenance(tmp_path, env)
    assert found.actor == "octo-engineer"
    assert found.ciRun == "https://github.example.com/data/specs/actions/runs/4242"
    found = current_provenance(tmp_path, {**env, "GITHUB_RUN_ATTEMPT": "3"})
    assert found.ciRun == "https://github.example.com/data/specs/actions/runs/4242/attempts/3"
    del env["GITHUB_SERVER_URL"]
    assert current_provenance(tmp_path, env).ciRun == (
        "https://github.com/data/specs/actions/runs/4242"
    )


def test_gitlab_ci_names_user_and_job(tmp_path: Path) -> None:
    env = {
        "GITLAB_USER_LOGIN": "gl-user",
        "CI_JOB_URL": "https://gitlab.example.com/data/specs/-/jobs/99",
        "CI_PIPELINE_URL": "https://gitlab.example.com/data/specs/-/pipelines/7",
    }
    found = current_provenance(tmp_path, env)
    assert (found.actor, found.ciRun) == ("gl-user", env["CI_JOB_URL"])
    del env["CI_JOB_URL"]
    assert current_provenance(tmp_path, env).ciRun == env["CI_PIPELINE_URL"]


def test_jenkins_names_its_build_and_the_os_user_acts(tmp_path: Path) -> None:
    found = current_provenance(tmp_path, {"BUILD_URL": "https://ci.example.com/job/specs/12/"})
    assert found.ciRun == "https://ci.example.com/job/specs/12/"
    assert found.actor == getpass.getuser()
    assert found.toolVersion == __version__


@pytest.mark.parametrize(
    "url",
    [
        "https://deploy:s3cret@ci.example.com/job/specs/12/",
        "https://s3cret@ci.example.com/job/specs/12/",
        "ftp://ci.example.com/job/12",
        "not a url",
        "https:///no-host",
    ],
)
def test_a_ci_url_with_credentials_or_not_http_is_dropped(tmp_path: Path, url: str) -> None:
    found = current_provenance(tmp_path, {"BUILD_URL": url})
    assert found.ciRun is None
    assert "s3cret" not in repr(found)


def test_a_token_in_a_ci_urls_query_is_not_kept(tmp_path: Path) -> None:
    found = current_provenance(
        tmp_path, {"BUILD_URL": "https://ci.example.com/job/specs/12/?token=s3cret#top"}
    )
    assert found.ciRun == "https://ci.example.com/job/specs/12/"


def test_run_fields_leave_out_what_is_unknown() -> None:
    assert Provenance(toolVersion="1.0").run_fields() == {"toolVersion": "1.0"}
    full = Provenance(commit="c" * 40, commitDirty=False, actor="a", ciRun="https://x/1")
    assert full.run_fields() == {
        "commit": "c" * 40,
        "commitDirty": False,
        "actor": "a",
        "ciRun": "https://x/1",
        "toolVersion": __version__,
    }
