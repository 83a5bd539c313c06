"""`reconciler show PLANFILE`: a saved plan rendered in every format, with no platform call."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_show_renders_a_saved_plan(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    (tmp_path / "reconciler.yaml").write_text("platform: local\nspecs: [specs]\n")
    planned = _run(tmp_path, "plan", "--out", "plan.json")
    assert planned.returncode == 0, planned.stderr
    text = _run(tmp_path, "show", "plan.json")
    assert text.returncode == 0, text.stderr
    # the plan's text starts with where it was made (sandbox, platform, state); the rest is the plan
    header, rest = planned.stdout.split("\n", 1)
    assert header.startswith("Sandbox prod on the embedded local platform; state ")
    assert text.stdout == rest
    as_json = json.loads(_run(tmp_path, "show", "plan.json", "--format", "json").stdout)
    assert as_json["formatVersion"] == 1 and len(as_json["actions"]) == 4
    markdown = _run(tmp_path, "show", "plan.json", "--format", "markdown")
    assert markdown.returncode == 0 and "exportjob/daily-emails" in markdown.stdout


def test_show_refuses_what_is_not_a_plan(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text("{}")
    bad = _run(tmp_path, "show", "plan.json")
    assert bad.returncode == 1
    assert bad.stderr.splitlines() == [
        "error: plan.json is not a saved plan (formatVersion is None, this reconciler reads 1); "
        "create it with 'reconciler plan --out'"
    ]
    missing = _run(tmp_path, "show", "nope.json")
    assert missing.returncode == 1
    assert "cannot read the saved plan nope.json" in missing.stderr
