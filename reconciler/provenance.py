"""Who and what made a run: the specs repository's commit, the actor, the CI run, the tool's version.

Read once per command from the environment and the project's git work tree (issue 16); a run
records it when this tool starts or adopts it. Nothing here is a secret: no token, no URL with
credentials (a CI URL carrying `user:password@` is dropped).
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from reconciler import __version__

GIT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Provenance:
    commit: str | None = None  # the specs repository's HEAD, when it is a git work tree
    commitDirty: bool | None = None  # uncommitted changes in that work tree when the run began
    actor: str | None = None  # GITHUB_ACTOR, GITLAB_USER_LOGIN, else the OS user
    ciRun: str | None = None  # the CI run's URL, where the environment names one
    toolVersion: str = __version__

    def run_fields(self) -> dict[str, str | bool]:
        """The non-empty fields, as a state run stores them."""
        values = {
            "commit": self.commit,
            "commitDirty": self.commitDirty,
            "actor": self.actor,
            "ciRun": self.ciRun,
            "toolVersion": self.toolVersion,
        }
        return {k: v for k, v in values.items() if v is not None}


def current_provenance(project_dir: Path, env: Mapping[str, str] | None = None) -> Provenance:
    """The provenance of runs started now, from `project_dir` and the environment."""
    environ = os.environ if env is None else env
    commit, dirty = _git_commit(project_dir)
    return Provenance(
        commit=commit, commitDirty=dirty, actor=_actor(environ), ciRun=_ci_run(environ)
    )


def _actor(env: Mapping[str, str]) -> str | None:
    for name in ("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILDKITE_BUILD_CREATOR"):
        value = env.get(name, "").strip()
        if value:
            return value
    try:
        return getpass.getuser() or None
    except (OSError, KeyError):  # no name for this uid (a container's)
        return None


def _ci_run(env: Mapping[str, str]) -> str | None:
    url: str | None = None
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        url = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
        attempt = env.get("GITHUB_RUN_ATTEMPT", "").strip()
        if attempt and attempt != "1":
            url += f"/attempts/{attempt}"
    else:
        for name in ("CI_JOB_URL", "CI_PIPELINE_URL", "BUILDKITE_BUILD_URL", "CIRCLE_BUILD_URL"):
            if env.get(name, "").strip():
                url = env[name].strip()
                break
        else:
            url = env.get("BUILD_URL", "").strip() or None  # Jenkins
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None  # not a URL, or one carrying credentials: never stored
    # a query or fragment may carry a token (Jenkins' ?token=...): the run's page needs neither
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _git_commit(project_dir: Path) -> tuple[str | None, bool | None]:
    git = shutil.which("git")
    if git is None:
        return None, None
    try:
        head = subprocess.run(
            [git, "-C", str(project_dir), "rev-parse", "--verify", "-q", "HEAD"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
        if head.returncode != 0:
            return None, None  # not a work tree, or no commit yet
        status = subprocess.run(
            [git, "-C", str(project_dir), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    commit = head.stdout.strip() or None
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return commit, dirty
