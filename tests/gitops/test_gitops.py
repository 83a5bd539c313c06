"""The workflows' scripted steps: comment and issue assembly, truncation, matrix, state branch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from reconciler.gitops import (
    GITHUB_BODY_LIMIT,
    StepResult,
    discover_projects,
    drift_issue,
    plan_comment,
    plan_marker,
    truncate_markdown,
)

ROOT = Path(__file__).resolve().parents[2]
STATE_SCRIPT = ROOT / ".github" / "scripts" / "state-branch.sh"


def test_plan_comment_starts_with_sticky_marker_and_shows_plan() -> None:
    body = plan_comment(
        "prod",
        StepResult(0),
        StepResult(2, output="| action | count |\n|---|---|\n| create | 2 |\n"),
        footer="Commit abc",
    )
    assert body.startswith(plan_marker("prod"))
    assert "Changes or drift found" in body
    assert "| create | 2 |" in body
    assert body.rstrip().endswith("Commit abc")


def test_plan_comment_no_changes() -> None:
    body = plan_comment("prod", StepResult(0), StepResult(0, output="No changes."))
    assert "**No changes.**" in body


def test_validation_failure_shows_located_errors_and_no_plan() -> None:
    errors = "specs/crm.yaml:14:7: exportjob/daily-emails: spec.destination.dataset: no Dataset named 'x'\n"
    body = plan_comment("prod", StepResult(1, log=errors), StepResult(None, output="IGNORED"))
    assert "Validation failed" in body
    assert "specs/crm.yaml:14:7" in body
    assert "IGNORED" not in body


def test_plan_failure_and_skip() -> None:
    failed = plan_comment("prod", StepResult(0), StepResult(1, log="error: token refused"))
    assert "Plan failed" in failed and "token refused" in failed
    skipped = plan_comment("prod", StepResult(0), StepResult(None), skipped="no credentials")
    assert "Plan skipped:** no credentials" in skipped


def test_huge_plan_is_cut_with_a_note_under_githubs_limit() -> None:
    rows = "".join(f"| exportjob/job-{i:06d} | create | new document |\n" for i in range(5000))
    plan_md = "<details><summary>Details</summary>\n\n```diff\n" + rows * 2 + "```\n</details>\n"
    assert len(plan_md) > GITHUB_BODY_LIMIT
    body = plan_comment("prod", StepResult(0), StepResult(2, output=plan_md), footer="f")
    assert len(body) <= GITHUB_BODY_LIMIT
    assert "Truncated" in body and "artifact `plan-prod`" in body
    assert body.count("```") % 2 == 0
    assert body.count("<details>") == body.count("</details>")


@given(
    st.text(alphabet=st.sampled_from(list("ab\n`<>details/")), max_size=3000),
    st.integers(200, 2000),
)
def test_truncation_fits_the_budget(text: str, budget: int) -> None:
    cut = truncate_markdown(text, budget, "artifact")
    if len(text) <= budget:
        assert cut == text
    else:
        assert len(cut) <= budget + 40  # closing fences/details may add a few characters
        assert "Truncated" in cut


def test_drift_verdicts() -> None:
    found = drift_issue("prod", StepResult(2, output="- failed: exportjob/daily-emails"))
    assert found.action == "open" and "exportjob/daily-emails" in found.body
    assert found.body.startswith("<!-- aep-export-reconciler:drift:prod -->")
    gone = drift_issue("prod", StepResult(0))
    assert gone.action == "close"
    broken = drift_issue("prod", StepResult(1, log="error: boom"))
    assert broken.action == "error" and "boom" in broken.body


def test_cli_plan_comment_and_drift(tmp_path: Path) -> None:
    (tmp_path / "plan.md").write_text("Plan: 1 to create\n", encoding="utf-8")
    out = tmp_path / "comment.md"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "reconciler.gitops",
            "plan-comment",
            "--project",
            "prod",
            "--validate-exit",
            "0",
            "--plan-exit",
            "2",
            "--plan-output",
            str(tmp_path / "plan.md"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout == ""
    assert "Plan: 1 to create" in out.read_text(encoding="utf-8")
    drift = subprocess.run(
        [
            sys.executable,
            "-m",
            "reconciler.gitops",
            "drift-issue",
            "--project",
            "prod",
            "--exit",
            "0",
            "--out",
            str(tmp_path / "issue.md"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "action=close" in drift.stdout.splitlines()


def test_matrix_discovers_root_and_sandboxes(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text("sandbox: prod\n", encoding="utf-8")
    for name in ("dev", "stage"):
        (tmp_path / "sandboxes" / name).mkdir(parents=True)
        (tmp_path / "sandboxes" / name / "reconciler.yaml").write_text(
            f"sandbox: {name}\n", encoding="utf-8"
        )
    assert discover_projects(tmp_path) == [
        {"dir": ".", "name": "prod"},
        {"dir": "sandboxes/dev", "name": "dev"},
        {"dir": "sandboxes/stage", "name": "stage"},
    ]
    out = subprocess.run(
        [sys.executable, "-m", "reconciler.gitops", "matrix", "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)[0] == {"dir": ".", "name": "prod"}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
            "PATH": "/usr/bin:/bin:/usr/local/bin",
            "HOME": str(cwd),
        },
    ).stdout


def _clone(origin: Path, into: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(origin), str(into)], check=True)
    return into


def test_state_branch_round_trip(tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    seed = tmp_path / "seed"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    subprocess.run(["git", "init", "-q", str(seed)], check=True)
    (seed / "README").write_text("x", encoding="utf-8")
    _git(seed, "add", "README")
    _git(seed, "commit", "-qm", "init")
    _git(seed, "push", "-q", str(origin), "HEAD:refs/heads/main")

    first = _clone(origin, tmp_path / "runner1")
    restore = subprocess.run(
        ["bash", str(STATE_SCRIPT), "restore", "."], cwd=first, capture_output=True, text=True
    )
    assert restore.returncode == 0 and "empty state" in restore.stdout
    state_dir = first / ".reconciler" / "state"
    (state_dir / "prod.json").write_text('{"serial": 3}', encoding="utf-8")
    (state_dir / "prod.json.journal").write_text('{"base": 3, "serial": 4}\n', encoding="utf-8")
    (state_dir / "prod.json.lock").write_text("pid 1", encoding="utf-8")
    # the runs moved out of the head, and their claimed job ids (binary)
    (state_dir / "prod.json.history").write_text('{"from": 0}\n', encoding="utf-8")
    (state_dir / "prod.json.claims").write_bytes(b"\x07\x00\x00\x00\x00\x00\x00\x00")
    save = subprocess.run(
        ["bash", str(STATE_SCRIPT), "save", "."],
        cwd=first,
        capture_output=True,
        text=True,
        env=_env(first),
    )
    assert save.returncode == 0, save.stderr

    # A second project saves beside it without clobbering the first.
    (first / "sandboxes" / "dev" / ".reconciler" / "state").mkdir(parents=True)
    (first / "sandboxes" / "dev" / ".reconciler" / "state" / "dev.json").write_text(
        '{"serial": 1}', encoding="utf-8"
    )
    save2 = subprocess.run(
        ["bash", str(STATE_SCRIPT), "save", "sandboxes/dev"],
        cwd=first,
        capture_output=True,
        text=True,
        env=_env(first),
    )
    assert save2.returncode == 0, save2.stderr

    second = _clone(origin, tmp_path / "runner2")
    for project, name, serial in ((".", "prod", 3), ("sandboxes/dev", "dev", 1)):
        got = subprocess.run(
            ["bash", str(STATE_SCRIPT), "restore", project],
            cwd=second,
            capture_output=True,
            text=True,
        )
        assert got.returncode == 0, got.stderr
        restored = second / project / ".reconciler" / "state" / f"{name}.json"
        assert json.loads(restored.read_text(encoding="utf-8")) == {"serial": serial}
    journal = second / ".reconciler" / "state" / "prod.json.journal"
    assert journal.read_text(encoding="utf-8") == '{"base": 3, "serial": 4}\n'
    restored_dir = second / ".reconciler" / "state"
    assert (restored_dir / "prod.json.history").read_text(encoding="utf-8") == '{"from": 0}\n'
    assert (restored_dir / "prod.json.claims").read_bytes() == b"\x07" + b"\x00" * 7
    assert not (second / ".reconciler" / "state" / "prod.json.lock").exists()


def _env(home: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(home)}
