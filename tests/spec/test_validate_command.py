"""`reconciler validate`: OK summary on stdout, located errors and a summary on stderr, exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from spec.helpers import DATASET, EXPORT_JOB, make_project

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_repository_examples_are_valid() -> None:
    result = run("validate")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "4 documents in 3 files: OK\n"


def test_errors_sorted_then_summary(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        {
            "specs/b.yaml": EXPORT_JOB.replace("crm-profiles", "crm-profile"),
            "specs/a.yaml": DATASET + "  colour: red\n",
        },
    )
    result = run("-C", str(tmp_path), "validate")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "specs/a.yaml:6:3: dataset/crm-profiles: spec.colour: unknown key 'colour'; "
        "allowed keys: name, description, schemaRef, fileDescription, tags, deletionPolicy",
        "specs/b.yaml:6:26: exportjob/daily-emails: spec.destination.dataset: "
        "no Dataset named 'crm-profile'; did you mean 'crm-profiles'?",
        "error: 2 errors in 2 files",
    ]


def test_bad_settings_are_reported_the_same_way(tmp_path: Path) -> None:
    make_project(tmp_path, {"reconciler.yaml": "platform: aws\n", "specs/a.yaml": DATASET})
    result = run("validate", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "reconciler.yaml:1:11: platform: the string 'aws' is not allowed; use one of: local, adobe",
        "error: 1 error in 1 file",
    ]


def test_bad_sandbox_flag_is_one_line(tmp_path: Path) -> None:
    make_project(tmp_path, {"reconciler.yaml": "specs: [specs]\n", "specs/a.yaml": DATASET})
    result = run("--sandbox", "../etc", "validate", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "error: sandbox '../etc' from --sandbox is not a valid sandbox name; "
        "use lowercase letters, digits and '-'\n"
    )


def test_validate_imports_nothing_heavy() -> None:
    code = (
        "import sys; from reconciler.cli import main\n"
        "try:\n    main(['-C', sys.argv[1], 'validate'])\nexcept SystemExit:\n    pass\n"
        "heavy = {'requests', 'fastapi', 'deepdiff', 'pyarrow', 'uvicorn'} & set(sys.modules)\n"
        "print(sorted(heavy), file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, timeout=60
    )
    assert result.stderr.strip().splitlines()[-1] == "[]"
