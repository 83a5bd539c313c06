"""Which state backend a workflow job uses: PostgreSQL when the RECONCILER_STATE_URL secret is
given, the reconciler-state branch otherwise (docs/gitops.md); the workflows wire it so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.config import load_settings
from reconciler.state import StateStore
from reconciler.state.backends import BackendChoiceError, open_store
from reconciler.state.postgres import PostgresStore

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
SECRET = "postgresql://ci:s3cret@db.example.com/states"


def state_backend(project: Path, env: dict[str, str]) -> dict[str, str]:
    """The command as a workflow step runs it: its GITHUB_OUTPUT lines as a dict."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "PG"))}
    done = subprocess.run(
        [sys.executable, "-m", "reconciler.gitops", "state-backend", "--project-dir", str(project)],
        capture_output=True,
        text=True,
        check=True,
        env={**clean, **env},
    )
    assert "s3cret" not in done.stdout + done.stderr and "db.example.com" not in done.stdout
    return dict(line.split("=", 1) for line in done.stdout.splitlines())


@pytest.mark.parametrize(
    "configured", ["", "state: {backend: local}\n", "state: {backend: postgres}\n"]
)
def test_the_secret_chooses_postgres_whatever_the_file_says(
    tmp_path: Path, configured: str
) -> None:
    (tmp_path / "reconciler.yaml").write_text(f"sandbox: prod\n{configured}")
    assert state_backend(tmp_path, {"RECONCILER_STATE_URL": SECRET}) == {
        "backend": "postgres",
        "reason": "",
    }


def test_without_the_secret_the_state_branch(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text("sandbox: prod\n")
    assert state_backend(tmp_path, {"RECONCILER_STATE_URL": ""})["backend"] == "local"
    assert state_backend(tmp_path / "missing", {})["backend"] == "local"


def test_a_postgres_project_without_the_secret_says_why(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text("state:\n  backend: postgres\n")
    found = state_backend(tmp_path, {"RECONCILER_STATE_URL": "  "})
    assert found["backend"] == "none"
    assert "RECONCILER_STATE_URL is not set" in found["reason"] and "fork" in found["reason"]


def test_the_environment_overrides_reconciler_yaml(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text("sandbox: prod\n")
    settings = load_settings(tmp_path, env={})
    env = {"RECONCILER_STATE_URL": SECRET}
    assert isinstance(open_store(settings, env), StateStore)
    assert isinstance(
        open_store(settings, {**env, "RECONCILER_STATE_BACKEND": "postgres"}), PostgresStore
    )
    (tmp_path / "reconciler.yaml").write_text("sandbox: prod\nstate: {backend: postgres}\n")
    settings = load_settings(tmp_path, env={})
    assert isinstance(
        open_store(settings, {**env, "RECONCILER_STATE_BACKEND": "local"}), StateStore
    )
    with pytest.raises(BackendChoiceError, match="'pg', not a state backend"):
        open_store(settings, {**env, "RECONCILER_STATE_BACKEND": "pg"})


def _workflow(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize("name", ["apply.yml", "plan.yml", "drift.yml"])
def test_each_workflow_uses_the_branch_only_for_the_local_backend(name: str) -> None:
    for job_name, job in _workflow(name)["jobs"].items():
        steps = job.get("steps", [])
        restores = [s for s in steps if "state-branch.sh" in str(s.get("run", ""))]
        if not restores:
            continue
        assert job["env"]["RECONCILER_STATE_URL"] == "${{ secrets.RECONCILER_STATE_URL }}"
        chooser = next(s for s in steps if s.get("id") == "state")
        assert "reconciler.gitops state-backend" in chooser["run"]
        assert steps.index(chooser) < steps.index(restores[0])
        for step in restores:
            assert "steps.state.outputs.backend == 'local'" in step["if"], (job_name, step)
        commands = [
            s
            for s in steps
            if "reconciler -C" in str(s.get("run", "")) and " validate " not in s["run"]
        ]
        assert commands, job_name
        for step in commands:  # every command that reads the state runs on the chosen backend
            assert "RECONCILER_STATE_BACKEND" in step.get("env", {}), (job_name, step["name"])
        for step in steps:  # the URL is never echoed
            assert "RECONCILER_STATE_URL" not in str(step.get("run", "")), step["name"]
