"""The bad-document corpus: every file gives its located error, no traceback, exit 1.

Each `bad/*.yaml` starts with `# expect: LINE:COL: message` (binary files have a `.expect`
sidecar instead); `# schema: reject` marks the cases the JSON Schema must reject as well.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BAD = Path(__file__).parent / "bad"
CASES = sorted(p.name for p in BAD.glob("*.yaml"))


def expectation(path: Path) -> str:
    """The `LINE:COL: message` the file must produce."""
    sidecar = path.with_name(path.name + ".expect")
    if sidecar.exists():
        return sidecar.read_text(encoding="utf-8").strip()
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    assert first.startswith("# expect: "), f"{path.name} has no '# expect:' line"
    return first.removeprefix("# expect: ")


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", CASES)
def test_bad_document_gives_located_error(tmp_path: Path, name: str) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "reconciler.yaml").write_text("specs: [specs]\n", encoding="utf-8")
    shutil.copy(BAD / name, tmp_path / "specs" / name)
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert f"specs/{name}:{expectation(BAD / name)}" in lines
    assert lines[-1] == "error: 1 error in 1 file"
    assert result.stdout == ""
